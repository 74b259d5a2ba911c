// Fuzzes DataBlob decoding without a key (plain and zstd paths, the zstd cap, caller memory
// smaller than the data) and checks that whatever decodes re-encodes and decodes the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/blob.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  std::string_view blob(reinterpret_cast<const char*>(data), size);

  BlobDecodeOptions options;
  options.max_decoded_size = 1 << 20;  // keeps bombs cheap while still crossing the cap
  absl::StatusOr<std::string> decoded = DecodeBlob(blob, options);

  // Into caller memory, with the first byte choosing a small output size.
  std::string arena(size > 0 ? data[0] * 64 : 0, '\0');
  absl::StatusOr<size_t> written = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
  if (written.ok() && (!decoded.ok() || *written != decoded->size() ||
                       std::string_view(arena.data(), *written) != *decoded)) {
    __builtin_trap();  // the two entry points disagree
  }

  if (decoded.ok()) {
    absl::StatusOr<std::string> encoded = EncodeBlob(*decoded, {});
    if (!encoded.ok()) __builtin_trap();
    BlobDecodeOptions check;
    check.expected_digest = Sha256(*decoded);
    check.expected_size = decoded->size();
    check.expected_mode = CryptMode::kNone;
    absl::StatusOr<std::string> again = DecodeBlob(*encoded, check);
    if (!again.ok() || *again != *decoded) __builtin_trap();
  }
  return 0;
}
