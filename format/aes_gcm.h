// AES-256-GCM with PBS's 16-byte IV (spec §1.5, §5.2), shared by the blob codec and the key
// file code. Internal to format/: other folders go through blob.h and key_file.h.
//
//   AesGcmTag tag;
//   if (!AesGcmEncrypt(key, iv, plaintext, ciphertext_out, tag)) ...
//   if (!AesGcmDecrypt(key, iv, tag, ciphertext, plaintext_out)) ...   // false: tag mismatch
//
// Ciphertext and plaintext have the same length (GCM is a stream mode); the AAD is empty.
#ifndef CHUNKCACHE_FORMAT_AES_GCM_H_
#define CHUNKCACHE_FORMAT_AES_GCM_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/types/span.h"

namespace chunkcache {

inline constexpr size_t kGcmIvSize = 16;
inline constexpr size_t kGcmTagSize = 16;
using AesGcmIv = std::array<uint8_t, kGcmIvSize>;
using AesGcmTag = std::array<uint8_t, kGcmTagSize>;

// Encrypts `plaintext` into `out` (at least plaintext.size() bytes) and sets `tag`.
// Returns false only when OpenSSL fails.
bool AesGcmEncrypt(const std::array<uint8_t, 32>& key, const AesGcmIv& iv,
                   std::string_view plaintext, absl::Span<char> out, AesGcmTag& tag);

// Decrypts `ciphertext` into `out` (at least ciphertext.size() bytes) and checks `tag`.
// Returns false when the tag does not match (wrong key or altered bytes); `out` must then be
// ignored.
bool AesGcmDecrypt(const std::array<uint8_t, 32>& key, const AesGcmIv& iv, const AesGcmTag& tag,
                   std::string_view ciphertext, absl::Span<char> out);

// Fills `out` from the OS CSPRNG; false when OpenSSL cannot.
bool RandomBytes(absl::Span<uint8_t> out);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_AES_GCM_H_
