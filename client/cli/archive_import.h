// Splitting an input stream into chunks and storing them in a datastore, as a PBS backup
// client does: fixed 4 MiB chunks for an image (.fidx, the last chunk short) or content-defined
// chunks of 1–16 MiB (4 MiB average) for a stream (.didx). The input is read in pieces and never
// held whole in memory; each distinct chunk is encoded (compressed, and encrypted with a key)
// only when the datastore does not have it yet.
//
//   absl::StatusOr<ImportedArchive> fidx = ImportFixedImage(input.fd(), "disk.img", *writer, key);
//   writer->WriteSnapshotFile(snapshot, "drive-scsi0.img.fidx", fidx->file_bytes);
#ifndef CHUNKCACHE_CLIENT_CLI_ARCHIVE_IMPORT_H_
#define CHUNKCACHE_CLIENT_CLI_ARCHIVE_IMPORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "format/crypt_config.h"
#include "format/manifest.h"
#include "upstream/datastore_writer.h"

namespace chunkcache {

struct ImportStats {
  uint64_t chunks = 0;               // index entries
  uint64_t distinct_chunks = 0;      // distinct digests among them
  uint64_t new_chunks = 0;           // chunk files written (the others were already stored)
  uint64_t chunk_bytes_written = 0;  // bytes of those chunk files
};

struct ImportedArchive {
  std::string file_bytes;  // the index (or blob) file to store in the snapshot directory
  ManifestFile manifest_entry;
  ImportStats stats;
};

// `name` (the archive name) goes into the manifest entry; `input_name` into error messages.
absl::StatusOr<ImportedArchive> ImportFixedImage(int input_fd, std::string_view input_name,
                                                 std::string_view name, DatastoreWriter& writer,
                                                 const CryptConfig* key);
absl::StatusOr<ImportedArchive> ImportDynamicStream(int input_fd, std::string_view input_name,
                                                    std::string_view name, DatastoreWriter& writer,
                                                    const CryptConfig* key);
// A whole file as one blob archive (`.blob`, at most kMaxBlobFileSize before encoding).
absl::StatusOr<ImportedArchive> ImportBlobFile(int input_fd, std::string_view input_name,
                                               std::string_view name, const CryptConfig* key);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_ARCHIVE_IMPORT_H_
