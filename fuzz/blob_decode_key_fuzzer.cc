// Fuzzes DataBlob decoding with a key and every expectation set (crypt mode, digest, size),
// and round-trips the input through encrypted encoding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/blob.h"
#include "format/crypt_config.h"

namespace {

const chunkcache::CryptConfig& VectorKey() {
  static const chunkcache::CryptConfig key = [] {
    chunkcache::RawKey raw{};
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i);
    return chunkcache::CryptConfig::FromRawKey(raw);
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const CryptConfig& key = VectorKey();

  BlobDecodeOptions options;
  options.key = &key;
  options.max_decoded_size = 1 << 20;
  options.expected_mode = size > 0 && (data[0] & 1) ? CryptMode::kEncrypt : CryptMode::kNone;
  options.expected_digest = key.ChunkDigestOf(input);
  options.expected_size = size > 0 ? data[size - 1] * 16 : 0;
  (void)DecodeBlob(input, options);
  std::string arena(4096, '\0');
  (void)DecodeBlobInto(input, options, absl::MakeSpan(arena));

  // Encrypt the input itself and decode it back with every check on.
  absl::StatusOr<std::string> encoded = EncodeBlob(input, {.compress = size % 2 == 0, .key = &key});
  if (!encoded.ok()) __builtin_trap();
  BlobDecodeOptions check;
  check.key = &key;
  check.expected_digest = key.ChunkDigestOf(input);
  check.expected_size = size;
  check.expected_mode = CryptMode::kEncrypt;
  absl::StatusOr<std::string> again = DecodeBlob(*encoded, check);
  if (!again.ok() || *again != input) __builtin_trap();
  return 0;
}
