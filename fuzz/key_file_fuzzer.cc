// Fuzzes key file parsing. Without a password the key derivations (deliberately slow) are
// never run, so the fuzzer stays fast while covering every field check.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/key_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)InspectKeyFile(input);
  (void)UnwrapKeyFile(input, std::nullopt);
  return 0;
}
