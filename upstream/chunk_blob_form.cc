#include "upstream/chunk_blob_form.h"

#include <string_view>

#include "format/blob.h"

namespace chunkcache {
namespace {

// Magic (8 bytes) and CRC32 (4 bytes) of an unencrypted blob (spec §1).
constexpr size_t kPlainBlobHeaderBytes = 12;

}  // namespace

std::string RestoreEncryptedForm(std::string blob, const ChunkDigest& digest,
                                 const CryptConfig* key) {
  if (key == nullptr) return blob;
  absl::StatusOr<BlobKind> kind = PeekBlobKind(blob);
  if (!kind.ok() || *kind != BlobKind::kPlain || blob.size() < kPlainBlobHeaderBytes) return blob;
  const std::string_view plaintext = std::string_view(blob).substr(kPlainBlobHeaderBytes);
  // A plain chunk is the common case and needs no key: check it first.
  if (Sha256(plaintext) == digest) return blob;
  if (key->ChunkDigestOf(plaintext) != digest) return blob;
  absl::StatusOr<std::string> encrypted = EncodeBlob(plaintext, {.compress = false, .key = key});
  return encrypted.ok() ? *std::move(encrypted) : blob;
}

}  // namespace chunkcache
