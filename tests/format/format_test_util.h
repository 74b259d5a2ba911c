// Helpers shared by the format tests: the vector key K, status message access, and raw
// DataBlob assembly for building malformed inputs.
#ifndef CHUNKCACHE_TESTS_FORMAT_FORMAT_TEST_UTIL_H_
#define CHUNKCACHE_TESTS_FORMAT_FORMAT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "format/crypt_config.h"
#include "format/digest.h"
#include "tests/testing/test_env.h"

namespace chunkcache::testing {

// The vectors' test key K = 00 01 02 … 1f.
inline RawKey VectorKey() {
  RawKey key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  return key;
}

inline std::string Message(const absl::Status& status) { return std::string(status.message()); }

inline ChunkDigest DigestFromHex(std::string_view hex) {
  absl::StatusOr<ChunkDigest> digest = ChunkDigest::FromHex(hex);
  EXPECT_TRUE(digest.ok()) << hex;
  return digest.value_or(ChunkDigest{});
}

inline std::string HexToBytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The magics of spec §1.1, as raw bytes.
inline constexpr std::string_view kPlainMagicHex = "42ab3807be8370a1";
inline constexpr std::string_view kZstdMagicHex = "31b958426fb6a37f";
inline constexpr std::string_view kEncryptedMagicHex = "7b6785be222d4cf0";
inline constexpr std::string_view kEncryptedZstdMagicHex = "e6591bbf0bbfd80b";

// A plain (12-byte header) DataBlob with a correct CRC over `payload`.
inline std::string PlainBlobWithCrc(std::string_view magic_hex, std::string_view payload) {
  std::string blob = HexToBytes(magic_hex);
  uint32_t crc = static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(payload.data()), payload.size()));
  for (int i = 0; i < 4; ++i) blob.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  blob.append(payload);
  return blob;
}

// Recomputes the CRC of an existing blob (after editing its payload).
inline void FixCrc(std::string& blob, size_t header_size) {
  uint32_t crc = static_cast<uint32_t>(crc32_z(
      0, reinterpret_cast<const Bytef*>(blob.data() + header_size), blob.size() - header_size));
  for (int i = 0; i < 4; ++i) blob[8 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_FORMAT_FORMAT_TEST_UTIL_H_
