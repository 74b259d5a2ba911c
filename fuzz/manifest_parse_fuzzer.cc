// Fuzzes manifest parsing (JSON text, or a DataBlob holding it), canonical JSON, signature
// verification and the file checks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/crypt_config.h"
#include "format/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace chunkcache;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Manifest> manifest =
      PeekBlobKind(input).ok() ? Manifest::FromBlob(input) : Manifest::Parse(input);
  if (!manifest.ok()) return 0;

  static const CryptConfig key = [] {
    RawKey raw{};
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i);
    return CryptConfig::FromRawKey(raw);
  }();
  (void)manifest->VerifyKey(nullptr);
  (void)manifest->VerifyKey(&key);
  (void)manifest->SignedContent();
  (void)manifest->NeedsKey();
  for (const ManifestFile& file : manifest->files()) {
    if (manifest->FindFile(file.filename) == nullptr) __builtin_trap();
    (void)manifest->CheckBlobFile(file.filename, input);
  }

  // A manifest written from the parsed content parses back to the same content and verifies.
  ManifestContent content{manifest->backup_type(), manifest->backup_id(), manifest->backup_time(),
                          manifest->files()};
  absl::StatusOr<Manifest> again = Manifest::Parse(EncodeManifestJson(content, &key));
  if (!again.ok() || again->files().size() != manifest->files().size() ||
      !again->VerifyKey(&key).ok()) {
    __builtin_trap();
  }
  return 0;
}
