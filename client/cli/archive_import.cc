#include "client/cli/archive_import.h"

#include <ctime>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "client/cli/fd_io.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/chunker.h"
#include "format/digest.h"

namespace chunkcache {
namespace {

constexpr size_t kStreamReadSize = 1024 * 1024;

// Stores chunks, counting them and skipping those already seen or already in the datastore.
class ChunkSink {
 public:
  ChunkSink(DatastoreWriter& writer, const CryptConfig* key) : writer_(writer), key_(key) {}

  absl::StatusOr<ChunkDigest> Store(std::string_view data) {
    const ChunkDigest digest = ChunkDigestOf(data, key_);
    ++stats_.chunks;
    if (!seen_.insert(digest).second) return digest;
    ++stats_.distinct_chunks;
    absl::StatusOr<bool> present = writer_.HasChunk(digest);
    if (!present.ok()) return present.status();
    if (*present) return digest;
    absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = true, .key = key_});
    if (!blob.ok()) return blob.status();
    absl::StatusOr<bool> written = writer_.WriteChunk(digest, *blob);
    if (!written.ok()) return written.status();
    if (*written) {
      ++stats_.new_chunks;
      stats_.chunk_bytes_written += blob->size();
    }
    return digest;
  }

  const ImportStats& stats() const { return stats_; }

 private:
  DatastoreWriter& writer_;
  const CryptConfig* key_;
  absl::flat_hash_set<ChunkDigest> seen_;
  ImportStats stats_;
};

IndexHeaderFields NewHeader() {
  IndexHeaderFields header;
  header.uuid = NewIndexUuid();
  header.ctime = static_cast<int64_t>(std::time(nullptr));
  return header;
}

ImportedArchive FinishIndex(std::string file_bytes, std::string_view name, uint64_t size,
                            const CryptConfig* key, const ImportStats& stats) {
  ImportedArchive archive;
  archive.manifest_entry.filename = std::string(name);
  archive.manifest_entry.crypt_mode = key != nullptr ? CryptMode::kEncrypt : CryptMode::kNone;
  archive.manifest_entry.size = size;
  // Index files: the checksum covers the digest region after the 4 KiB header (spec §4.3).
  archive.manifest_entry.csum = Sha256(std::string_view(file_bytes).substr(kIndexHeaderSize));
  archive.file_bytes = std::move(file_bytes);
  archive.stats = stats;
  return archive;
}

}  // namespace

absl::StatusOr<ImportedArchive> ImportFixedImage(int input_fd, std::string_view input_name,
                                                 std::string_view name, DatastoreWriter& writer,
                                                 const CryptConfig* key) {
  ChunkSink sink(writer, key);
  std::vector<ChunkDigest> digests;
  std::string buffer(kFixedChunkSize, '\0');
  uint64_t size = 0;
  while (true) {
    absl::StatusOr<size_t> n = ReadUpTo(input_fd, buffer.data(), buffer.size(), input_name);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    absl::StatusOr<ChunkDigest> digest = sink.Store(std::string_view(buffer.data(), *n));
    if (!digest.ok()) return digest.status();
    digests.push_back(*digest);
    size += *n;
    if (*n < buffer.size()) break;  // end of input: that was the short last chunk
  }
  absl::StatusOr<std::string> index =
      EncodeFixedIndex(size, kFixedChunkSize, digests, NewHeader());
  if (!index.ok()) return index.status();
  return FinishIndex(std::move(*index), name, size, key, sink.stats());
}

absl::StatusOr<ImportedArchive> ImportDynamicStream(int input_fd, std::string_view input_name,
                                                    std::string_view name,
                                                    DatastoreWriter& writer,
                                                    const CryptConfig* key) {
  ChunkSink sink(writer, key);
  ContentChunker chunker;
  std::vector<DynamicEntry> entries;
  std::string pending;  // bytes of the chunk being cut, at most the chunker's maximum
  pending.reserve(chunker.max_size());
  std::string buffer(kStreamReadSize, '\0');
  uint64_t size = 0;
  auto emit = [&]() -> absl::Status {
    absl::StatusOr<ChunkDigest> digest = sink.Store(pending);
    if (!digest.ok()) return digest.status();
    size += pending.size();
    entries.push_back({.end = size, .digest = *digest});
    pending.clear();
    return absl::OkStatus();
  };
  while (true) {
    absl::StatusOr<size_t> n = ReadUpTo(input_fd, buffer.data(), buffer.size(), input_name);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    std::string_view rest(buffer.data(), *n);
    while (!rest.empty()) {
      const size_t cut = chunker.Scan(rest);
      if (cut == 0) {
        pending.append(rest);
        break;
      }
      pending.append(rest.substr(0, cut));
      rest.remove_prefix(cut);
      absl::Status stored = emit();
      if (!stored.ok()) return stored;
    }
    if (*n < buffer.size()) break;
  }
  if (!pending.empty()) {
    absl::Status stored = emit();
    if (!stored.ok()) return stored;
  }
  absl::StatusOr<std::string> index = EncodeDynamicIndex(entries, NewHeader());
  if (!index.ok()) return index.status();
  return FinishIndex(std::move(*index), name, size, key, sink.stats());
}

absl::StatusOr<ImportedArchive> ImportBlobFile(int input_fd, std::string_view input_name,
                                               std::string_view name, const CryptConfig* key) {
  std::string data;
  std::string buffer(kStreamReadSize, '\0');
  while (true) {
    absl::StatusOr<size_t> n = ReadUpTo(input_fd, buffer.data(), buffer.size(), input_name);
    if (!n.ok()) return n.status();
    data.append(buffer.data(), *n);
    if (data.size() > kMaxBlobFileSize) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s is larger than %d bytes, the most a blob archive can hold; store it as a .didx "
          "archive with --stream",
          input_name, kMaxBlobFileSize));
    }
    if (*n < buffer.size()) break;
  }
  absl::StatusOr<std::string> blob = EncodeBlob(data, {.compress = true, .key = key});
  if (!blob.ok()) return blob.status();
  ImportedArchive archive;
  archive.manifest_entry.filename = std::string(name);
  archive.manifest_entry.crypt_mode = key != nullptr ? CryptMode::kEncrypt : CryptMode::kNone;
  // Blob files: size and checksum of the encoded file itself (spec §4.3).
  archive.manifest_entry.size = blob->size();
  archive.manifest_entry.csum = Sha256(*blob);
  archive.file_bytes = std::move(*blob);
  return archive;
}

}  // namespace chunkcache
