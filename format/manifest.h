// Manifest: the snapshot's `index.json.blob` (spec §4.3).
//
//   absl::StatusOr<Manifest> m = Manifest::FromBlob(raw_blob_bytes);   // decode + parse
//   absl::Status ok = m->VerifyKey(&crypt);       // signature + fingerprint (or nullptr: no key)
//   const ManifestFile* f = m->FindFile("drive-scsi0.img.fidx");
#ifndef CHUNKCACHE_FORMAT_MANIFEST_H_
#define CHUNKCACHE_FORMAT_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/crypt_config.h"
#include "format/digest.h"

namespace chunkcache {

struct ManifestFile {
  std::string filename;
  CryptMode crypt_mode = CryptMode::kNone;  // missing in the JSON means "none"
  uint64_t size = 0;  // index files: logical size; blob files: raw file length
  ChunkDigest csum;   // index files: SHA-256(file[4096:]); blob files: SHA-256(raw file)
};

class Manifest {
 public:
  // Parses the JSON text. DATA_LOSS naming the field on any missing or mistyped field.
  static absl::StatusOr<Manifest> Parse(std::string_view json_text);
  // Decodes the (never encrypted) DataBlob with the blob-file size cap, then parses.
  static absl::StatusOr<Manifest> FromBlob(std::string_view blob_bytes);

  const std::string& backup_type() const { return backup_type_; }
  const std::string& backup_id() const { return backup_id_; }
  int64_t backup_time() const { return backup_time_; }
  const std::vector<ManifestFile>& files() const { return files_; }
  // "key-fingerprint" from "unprotected", as text ("0e:ab:…"), if present.
  const std::optional<std::string>& key_fingerprint() const { return key_fingerprint_; }
  // Hex HMAC from "signature", if not null.
  const std::optional<std::string>& signature() const { return signature_; }

  const ManifestFile* FindFile(std::string_view filename) const;  // nullptr if absent

  // True when reading this snapshot needs a key: a fingerprint is present or any file is
  // crypt-mode encrypt.
  bool NeedsKey() const;

  // With a key: the fingerprint (if present) must match ("wrong key - …") and the signature
  // (if present) must equal HMAC-SHA256(id_key, canonical JSON) ("wrong signature in
  // manifest"). Without a key: FAILED_PRECONDITION "missing key -
  // manifest was created with key …" when a fingerprint is present.
  absl::Status VerifyKey(const CryptConfig* key) const;

  // Checks a downloaded index against this manifest's entry for `filename`: it must be listed
  // ("manifest does not contain file …"), and its size and csum must match.
  absl::Status CheckIndex(std::string_view filename, const ChunkIndex& index) const;
  // The same for a blob file: raw length and SHA-256 of the raw bytes.
  absl::Status CheckBlobFile(std::string_view filename, std::string_view raw_bytes) const;

  // The canonical JSON that the signature covers (spec §4.3): sorted keys, no whitespace,
  // without "unprotected" and "signature". Empty when there is none (a `null` in the signed
  // part, which VerifyKey reports as an error).
  std::string SignedContent() const;

 private:
  std::string json_text_;
  std::string backup_type_;
  std::string backup_id_;
  int64_t backup_time_ = 0;
  std::vector<ManifestFile> files_;
  std::optional<std::string> key_fingerprint_;
  std::optional<std::string> signature_;
};

// Builds the JSON text of a new manifest as the PBS server writes it (pretty, sorted keys).
// With a key, sets "signature" and unprotected "key-fingerprint".
struct ManifestContent {
  std::string backup_type;
  std::string backup_id;
  int64_t backup_time = 0;
  std::vector<ManifestFile> files;
};
std::string EncodeManifestJson(const ManifestContent& content, const CryptConfig* key);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_MANIFEST_H_
