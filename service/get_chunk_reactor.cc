#include "service/get_chunk_reactor.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "chunkcache/v1/chunkcache.pb.h"
#include "format/decode_error.h"
#include "format/snapshot_name.h"
#include "service/chunk_response_encoder.h"
#include "service/request_decoding.h"
#include "service/rpc_event_log.h"

namespace chunkcache {
namespace {

absl::StatusOr<ChunkDigest> ParseLowercaseDigest(const std::string& hex) {
  const bool lowercase_hex =
      hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!lowercase_hex) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digest: expected 64 lowercase hex characters, got ", hex.size(), " characters"));
  }
  return ChunkDigest::FromHex(hex);
}

std::shared_ptr<const ChunkSource> SourceFor(const DatastoreRef& ref, CryptMode mode,
                                             const std::optional<SnapshotName>& snapshot,
                                             const std::string& archive) {
  auto source = std::make_shared<ChunkSource>();
  source->datastore = ref.name;
  source->upstream = ref.upstream;
  source->key = mode == CryptMode::kEncrypt ? ref.key : nullptr;
  source->crypt_mode = mode;
  source->snapshot = snapshot;
  source->archive = archive;
  return source;
}

// The snapshot the caller read the digest for (GetChunkRequest.snapshot), passed on to the
// upstream; unset when the request names none.
absl::StatusOr<std::optional<SnapshotName>> SnapshotHint(const v1::GetChunkRequest& request) {
  if (!request.has_snapshot()) return std::nullopt;
  const v1::SnapshotRef& ref = request.snapshot();
  absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(ref.namespace_(), ref.backup_type(),
                                                               ref.backup_id(), ref.backup_time());
  if (!name.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot: ", name.status().message()));
  }
  if (!ref.archive().empty()) {
    if (absl::Status valid = ValidateArchiveName(ref.archive()); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot.archive: ", valid.message()));
    }
  }
  return std::optional<SnapshotName>(*std::move(name));
}

// The blob was not of the crypt mode it was read as (or not a blob at all): worth reading as
// the other mode.
bool IsFormatError(const absl::Status& status) {
  return status.code() == absl::StatusCode::kDataLoss &&
         GetDecodeErrorReason(status) == DecodeErrorReason::kFormat;
}

}  // namespace

void GetChunkReactor::Begin(const grpc::ByteBuffer& request_bytes) {
  absl::StatusOr<v1::GetChunkRequest> request = DecodeRequest<v1::GetChunkRequest>(request_bytes);
  if (!request.ok()) return Complete(request.status());
  absl::StatusOr<DatastoreRequest> datastore =
      deps_.resolver->CheckDatastore(*context_, request->datastore(), "datastore");
  if (!datastore.ok()) return Complete(datastore.status());
  request_ = *std::move(datastore);
  absl::StatusOr<ChunkDigest> digest = ParseLowercaseDigest(request->digest());
  if (!digest.ok()) return Complete(digest.status());
  digest_ = *digest;
  absl::StatusOr<std::optional<SnapshotName>> snapshot = SnapshotHint(*request);
  if (!snapshot.ok()) return Complete(snapshot.status());
  const std::string archive = request->has_snapshot() ? request->snapshot().archive() : "";
  const auto source_for = [&](const DatastoreRef& ref, CryptMode mode) {
    return SourceFor(ref, mode, *snapshot, archive);
  };

  const DatastoreRef& ref = request_->datastore->ref;
  if (!request->crypt_mode().empty()) {
    // The caller knows the archive's crypt mode: one read, in that mode.
    absl::StatusOr<CryptMode> mode = ParseCryptMode(request->crypt_mode());
    if (!mode.ok()) {
      return Complete(
          absl::InvalidArgumentError(absl::StrCat("crypt_mode: ", mode.status().message())));
    }
    if (*mode == CryptMode::kEncrypt && ref.key == nullptr) return Complete(NoKeyError());
    attempts_ = {source_for(ref, *mode)};
  } else if (ref.key != nullptr && deps_.cache->Contains(CacheKeyFor(digest_, ref.key.get()))) {
    attempts_ = {source_for(ref, CryptMode::kEncrypt)};
  } else if (ref.key == nullptr || deps_.cache->Contains(digest_)) {
    attempts_ = {source_for(ref, CryptMode::kNone)};
  } else {
    attempts_ = {source_for(ref, CryptMode::kEncrypt), source_for(ref, CryptMode::kNone)};
  }
  Lookup(0);
}

void GetChunkReactor::Lookup(size_t attempt) {
  ChunkCache& cache = *deps_.cache;
  const ChunkRequest request = MakeChunkRequest(attempts_[attempt], digest_, std::nullopt);
  StartOperation(
      [this, attempt](absl::StatusOr<ChunkHandle> chunk) { OnChunk(attempt, std::move(chunk)); },
      [&cache, &request](CancellableChunkLookup::Callback on_result) {
        return cache.Lookup(request, std::move(on_result));
      });
}

void GetChunkReactor::OnChunk(size_t attempt, absl::StatusOr<ChunkHandle> chunk) {
  if (chunk.ok()) {
    deps_.metrics->AddReadBytes(chunk->size());
    *response_ = EncodeGetChunkResponse(*chunk, deps_.pins, reply_pins());
    return Complete(absl::OkStatus());
  }
  if (IsFormatError(chunk.status()) && attempt + 1 < attempts_.size()) return Lookup(attempt + 1);
  absl::Status status = chunk.status();
  if (IsFormatError(status) && request_->datastore->ref.key == nullptr &&
      absl::StrContains(status.message(), "blob is encrypted")) {
    status = NoKeyError();
  }
  Complete(status);
}

absl::Status GetChunkReactor::NoKeyError() const {
  return absl::FailedPreconditionError(
      absl::StrCat("chunk ", digest_.Hex(), " is encrypted and datastore '",
                   request_->datastore->ref.name, "' has no key on this server"));
}

void GetChunkReactor::LogFailure(const absl::Status& status) const {
  absl::Status logged = status;
  if (request_.has_value()) {
    logged = absl::Status(status.code(),
                          absl::StrCat("datastore ", request_->datastore->ref.name, " chunk ",
                                       digest_.Hex(), request_->client.empty() ? "" : " client ",
                                       request_->client, ": ", status.message()));
  }
  LogRpcFailure({Rpc::kGetChunk}, logged);
}

}  // namespace chunkcache
