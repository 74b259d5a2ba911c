#include "upstream/grpc_upstream.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "format/blob.h"
#include "format/string_view_compat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "upstream/datastore_paths.h"

namespace chunkcache {
namespace {

// The largest reply: an index or blob file (kMaxBlobFileSize; a fixed index of a 64 TiB disk
// is 512 MiB, which no gRPC message carries) plus framing. A chunk blob is at most
// kMaxChunkSize plus its 44-byte header.
constexpr int kMaxReceiveBytes = static_cast<int>(kMaxBlobFileSize) + (1 << 20);

// The longest wait between attempts to reconnect to a remote that went away.
constexpr int kMaxReconnectBackoffMs = 1000;

absl::Status Remote(absl::StatusCode code, const std::string& where, const grpc::Status& status) {
  return absl::Status(code, absl::StrCat(where, ": ", status.error_message()));
}

// The remote's status, as the Upstream contract (upstream.h) names it.
absl::Status FromGrpc(const grpc::Status& status, const std::string& where) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::NOT_FOUND:
      return Remote(absl::StatusCode::kNotFound, where, status);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Remote(absl::StatusCode::kInvalidArgument, where, status);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Remote(absl::StatusCode::kDeadlineExceeded, where, status);
    case grpc::StatusCode::DATA_LOSS:
      return Remote(absl::StatusCode::kDataLoss, where, status);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Remote(absl::StatusCode::kFailedPrecondition, where, status);
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::FailedPreconditionError(
          absl::StrCat(where, " refused this server's credentials (check remote.token_file and ",
                       "the remote's clients[].allow): ", status.error_message()));
    default:
      // UNAVAILABLE, RESOURCE_EXHAUSTED, CANCELLED, ABORTED, INTERNAL, UNKNOWN...: retryable.
      return absl::UnavailableError(absl::StrCat(where, ": ", status.error_message()));
  }
}

bool ValidPort(std::string_view text) {
  uint32_t port = 0;
  return !text.empty() && text.size() <= 5 && absl::SimpleAtoi(ToAbsl(text), &port) && port >= 1 &&
         port <= 65535 && text.find_first_not_of("0123456789") == std::string_view::npos;
}

v1::SnapshotRef ToRef(const std::string& datastore, const SnapshotName& snapshot) {
  v1::SnapshotRef ref;
  ref.set_datastore(datastore);
  ref.set_namespace_(absl::StrJoin(snapshot.namespace_components, "/"));
  ref.set_backup_type(snapshot.backup_type);
  ref.set_backup_id(snapshot.backup_id);
  ref.set_backup_time(snapshot.backup_time);
  return ref;
}

}  // namespace

absl::Status ValidateGrpcTarget(std::string_view target, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": '", ToAbsl(target), "' ",
                                                   ToAbsl(why),
                                                   "; write HOST:PORT, [IPV6]:PORT or unix:/path"));
  };
  if (target.empty()) return bad("is empty");
  if (target.substr(0, 5) == "unix:") {
    return target.size() > 5 ? absl::OkStatus() : bad("names no socket");
  }
  if (target.find_first_of(" \t\r\n/") != std::string_view::npos) return bad("is not an address");
  const size_t colon = target.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = target.substr(0, colon);
  if (!ValidPort(target.substr(colon + 1))) return bad("has no valid port (1-65535)");
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("has a malformed IPv6 address");
  } else if (host.empty() || host.find(':') != std::string_view::npos) {
    return bad("has no host (IPv6 addresses go in brackets)");
  }
  return absl::OkStatus();
}

class GrpcUpstream::Stub {
 public:
  explicit Stub(std::shared_ptr<grpc::Channel> channel)
      : channel_(channel),
        chunkcache_(v1::ChunkCache::NewStub(channel)),
        health_(grpc::health::v1::Health::NewStub(channel)) {}

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ChunkCache::Stub> chunkcache_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

absl::StatusOr<std::unique_ptr<GrpcUpstream>> GrpcUpstream::Create(GrpcUpstreamOptions options) {
  if (absl::Status valid = ValidateGrpcTarget(options.target, "target"); !valid.ok()) {
    return valid;
  }
  if (options.datastore.empty()) return absl::InvalidArgumentError("datastore: empty");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  if (options.cert_pem.empty() != options.key_pem.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both its certificate and its key");
  }
  if (!options.cert_pem.empty() && options.ca_pem.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs TLS: give the CA that verifies the upstream");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.ca_pem.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.ca_pem;
    ssl.pem_cert_chain = options.cert_pem;
    ssl.pem_private_key = options.key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  // The remote's GetChunk replies reach several MiB; with many restores behind this node the
  // default would make them share a flow-control window too small to keep the link busy.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 1);
  // gRPC's reconnect backoff grows to 120 s: a remote down for 20 s was refused for 4-5 s more
  // after it served again (bench/RESULTS.md, "Reliability"). Retrying at least once a second
  // costs one connection attempt per second while it is down.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  auto channel = grpc::CreateCustomChannel(options.target, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("target: cannot use '", options.target, "'"));
  }
  return std::unique_ptr<GrpcUpstream>(
      new GrpcUpstream(std::move(options), std::make_unique<Stub>(std::move(channel))));
}

GrpcUpstream::GrpcUpstream(GrpcUpstreamOptions options, std::unique_ptr<Stub> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {}

GrpcUpstream::~GrpcUpstream() = default;

namespace {

void PrepareContext(grpc::ClientContext& context, const GrpcUpstreamOptions& options) {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(options.timeout));
  if (!options.bearer_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options.bearer_token);
  }
}

}  // namespace

absl::StatusOr<std::string> GrpcUpstream::ReadSnapshotFile(const SnapshotName& snapshot,
                                                           std::string_view file_name) {
  // Checked here too: a name the remote would read differently (a namespace component holding
  // a '/') must not reach it.
  if (absl::Status valid = SnapshotDirComponents(snapshot).status(); !valid.ok()) return valid;
  if (absl::Status valid = ValidateSnapshotFileName(file_name); !valid.ok()) return valid;
  v1::GetSnapshotFileRequest request;
  *request.mutable_snapshot() = ToRef(options_.datastore, snapshot);
  request.set_file_name(std::string(file_name));
  v1::GetSnapshotFileResponse response;
  grpc::ClientContext context;
  PrepareContext(context, options_);
  const grpc::Status status = stub_->chunkcache_->GetSnapshotFile(&context, request, &response);
  if (!status.ok()) {
    return FromGrpc(status,
                    absl::StrCat(Describe(), ": ", snapshot.RelativeDir(), "/", ToAbsl(file_name)));
  }
  return std::move(*response.mutable_data());
}

absl::StatusOr<std::string> GrpcUpstream::ReadChunk(const ChunkDigest& digest,
                                                    const ChunkReadOptions& options) {
  v1::GetChunkRequest request;
  request.set_datastore(options_.datastore);
  request.set_digest(digest.Hex());
  if (options.crypt_mode.has_value()) {
    request.set_crypt_mode(std::string(CryptModeName(*options.crypt_mode)));
  }
  if (options.snapshot.has_value()) {
    v1::SnapshotRef* ref = request.mutable_snapshot();
    ref->set_datastore(options_.datastore);
    ref->set_namespace_(options.snapshot->NamespaceName());
    ref->set_backup_type(options.snapshot->backup_type);
    ref->set_backup_id(options.snapshot->backup_id);
    ref->set_backup_time(options.snapshot->backup_time);
    ref->set_archive(options.archive);
  }
  v1::GetChunkResponse response;
  grpc::ClientContext context;
  PrepareContext(context, options_);
  const grpc::Status status = stub_->chunkcache_->GetChunk(&context, request, &response);
  if (!status.ok()) {
    return FromGrpc(status, absl::StrCat(Describe(), ": chunk ", digest.Hex()));
  }
  return std::move(*response.mutable_blob());
}

absl::StatusOr<std::vector<SnapshotName>> GrpcUpstream::ListSnapshots() {
  v1::ListSnapshotsRequest request;
  request.set_datastore(options_.datastore);
  v1::ListSnapshotsResponse response;
  grpc::ClientContext context;
  PrepareContext(context, options_);
  const grpc::Status status = stub_->chunkcache_->ListSnapshots(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, absl::StrCat(Describe(), ": listing snapshots"));
  std::vector<SnapshotName> snapshots;
  snapshots.reserve(response.snapshots_size());
  for (const v1::SnapshotRef& ref : response.snapshots()) {
    absl::StatusOr<SnapshotName> name = SnapshotName::FromFields(
        ref.namespace_(), ref.backup_type(), ref.backup_id(), ref.backup_time());
    if (!name.ok()) {
      return absl::UnavailableError(
          absl::StrCat(Describe(), " listed an invalid snapshot: ", name.status().message()));
    }
    snapshots.push_back(*std::move(name));
  }
  return snapshots;
}

absl::Status GrpcUpstream::CheckReadable() {
  grpc::ClientContext context;
  PrepareContext(context, options_);
  grpc::health::v1::HealthCheckRequest request;  // service "": the whole server
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub_->health_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, absl::StrCat(Describe(), ": health check"));
  if (response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat(Describe(), " is not SERVING"));
}

std::string GrpcUpstream::Describe() const {
  return absl::StrCat("grpc ", options_.target, "/", options_.datastore);
}

}  // namespace chunkcache
