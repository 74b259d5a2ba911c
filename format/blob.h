// DataBlob: the container of every chunk and `.blob` file (spec §1).
//
//   BlobDecodeOptions opts{.key = &crypt, .expected_digest = digest,
//                          .expected_size = 4194304, .expected_mode = CryptMode::kEncrypt};
//   absl::StatusOr<std::string> plain = DecodeBlob(raw_blob_bytes, opts);
//
// Decoding checks, in order: size and magic, CRC32, crypt mode against the index, AES-GCM tag
// (before any plaintext is used), zstd with an output cap (never trusting the frame's content
// size), decoded length, digest (keyed for an encrypted chunk, also when it comes as verified
// plaintext: BlobDecodeOptions::accept_verified_plaintext). Any failure is a DecodeError
// (decode_error.h); no input makes these functions throw or abort.
#ifndef CHUNKCACHE_FORMAT_BLOB_H_
#define CHUNKCACHE_FORMAT_BLOB_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache {

// Largest decoded chunk PBS accepts (upload API) and largest blob file (DataBlob::encode).
inline constexpr size_t kMaxChunkSize = 16 * 1024 * 1024;
inline constexpr size_t kMaxBlobFileSize = 128 * 1024 * 1024;

enum class BlobKind { kPlain, kZstd, kEncrypted, kEncryptedZstd };

// Crypt mode of an archive, from the manifest.
enum class CryptMode { kNone, kEncrypt, kSignOnly };
std::string_view CryptModeName(CryptMode mode);  // "none" | "encrypt" | "sign-only"
absl::StatusOr<CryptMode> ParseCryptMode(std::string_view name);

// Reads the magic only. DATA_LOSS (reason format) when too small or unknown.
absl::StatusOr<BlobKind> PeekBlobKind(std::string_view blob);
bool IsEncrypted(BlobKind kind);

// The decoded length a blob claims, read from its header without decoding: the payload length
// of an uncompressed blob (plain or encrypted: AES-GCM adds no padding), the content size the
// zstd frame declares for a compressed plain blob (PBS's encoder always declares it), nullopt
// for an encrypted compressed blob (the size is inside the ciphertext) or when unknown. A
// claim to size a buffer by, not a check: decoding verifies the bytes.
std::optional<size_t> ClaimedDecodedSize(std::string_view blob);

struct BlobDecodeOptions {
  // Needed for encrypted blobs (FAILED_PRECONDITION with reason decrypt when missing) and for
  // the digest of encrypted chunks.
  const CryptConfig* key = nullptr;
  // Chunks: the digest from the index. Blob files have none.
  std::optional<ChunkDigest> expected_digest;
  // Chunks: the length of the index range. When set, a different decoded length is an error.
  std::optional<size_t> expected_size;
  // Chunks: the archive's crypt mode from the manifest. kEncrypt requires an encrypted magic,
  // kNone/kSignOnly a plain one.
  std::optional<CryptMode> expected_mode;
  // Chunks from an upstream that sends verified plaintext (Upstream::DeliversPlaintext: another
  // chunkcache) rather than stored blobs. With expected_mode kEncrypt, such a chunk may then
  // also come as an unencrypted, uncompressed blob of its plaintext, whose digest is checked as
  // keyed, SHA-256(plaintext ‖ id_key) with `key` (required, as for an encrypted blob), against
  // `expected_digest` (required: FORMAT error without it). Only the key's holder can produce
  // plaintext with that digest. A compressed plain blob is still refused. Never set for blobs
  // read from a datastore: it holds encrypted archives' chunks encrypted.
  bool accept_verified_plaintext = false;
  // Output cap (zip-bomb guard): kMaxChunkSize for chunks, kMaxBlobFileSize for blob files.
  size_t max_decoded_size = kMaxChunkSize;
  // Used in error messages ("chunk 6ed2c655…: CRC mismatch …"); defaults to the digest or "blob".
  std::string_view label;
};

// Decodes into a new string.
absl::StatusOr<std::string> DecodeBlob(std::string_view blob, const BlobDecodeOptions& options);

// Decodes into caller-provided memory (e.g. a cache arena slot) and returns the decoded
// length. `out` must be at least min(expected_size, max_decoded_size) bytes; output that
// would not fit is a decompress error. On failure the contents of `out` are unspecified and
// must not be used.
absl::StatusOr<size_t> DecodeBlobInto(std::string_view blob, const BlobDecodeOptions& options,
                                      absl::Span<char> out);

struct BlobEncodeOptions {
  bool compress = true;              // zstd level 1; kept only if not larger than the input
  const CryptConfig* key = nullptr;  // encrypt (after compressing) when set
};

// Encodes like PBS ≥ 3.2.8 (one-shot zstd frame with content size, random 16-byte IV).
// INVALID_ARGUMENT when `data` exceeds kMaxBlobFileSize.
absl::StatusOr<std::string> EncodeBlob(std::string_view data, const BlobEncodeOptions& options);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_BLOB_H_
