#include "format/manifest.h"

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/canonical_json.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

using Json = nlohmann::json;

absl::Status ManifestError(std::string_view message) {
  return absl::DataLossError(absl::StrCat("manifest: ", ToAbsl(message)));
}

absl::StatusOr<Json> ParseObject(std::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return ManifestError("not valid JSON");
  if (!json.is_object()) return ManifestError("not a JSON object");
  return json;
}

absl::StatusOr<std::string> StringField(const Json& object, const char* name,
                                        std::string_view where) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) {
    return ManifestError(absl::StrCat(ToAbsl(where), "\"", name, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<ManifestFile> ParseFile(const Json& entry, size_t i) {
  const std::string where = absl::StrCat("files[", i, "].");
  if (!entry.is_object()) return ManifestError(absl::StrCat("files[", i, "] must be an object"));
  ManifestFile file;
  absl::StatusOr<std::string> filename = StringField(entry, "filename", where);
  if (!filename.ok()) return filename.status();
  file.filename = *std::move(filename);

  // Backups older than PBS 0.8 have no crypt-mode: they are unencrypted.
  if (auto it = entry.find("crypt-mode"); it != entry.end() && !it->is_null()) {
    absl::StatusOr<CryptMode> mode = it->is_string()
                                         ? ParseCryptMode(it->get_ref<const std::string&>())
                                         : absl::InvalidArgumentError("it is not a string");
    if (!mode.ok()) {
      return ManifestError(
          absl::StrCat(where, "\"crypt-mode\" is invalid: ", mode.status().message()));
    }
    file.crypt_mode = *mode;
  }

  auto size = entry.find("size");
  if (size == entry.end() || !size->is_number_unsigned()) {
    return ManifestError(absl::StrCat(where, "\"size\" must be a non-negative integer"));
  }
  file.size = size->get<uint64_t>();

  absl::StatusOr<std::string> csum_text = StringField(entry, "csum", where);
  if (!csum_text.ok()) return csum_text.status();
  absl::StatusOr<ChunkDigest> csum = ChunkDigest::FromHex(*csum_text);
  if (!csum.ok()) {
    return ManifestError(absl::StrCat(where, "\"csum\" is invalid: ", csum.status().message()));
  }
  file.csum = *csum;
  return file;
}

// The canonical JSON of the manifest without "unprotected" and "signature".
absl::StatusOr<std::string> SignedContentOf(Json json) {
  json.erase("unprotected");
  json.erase("signature");
  absl::StatusOr<std::string> canonical = CanonicalJson(json);
  if (!canonical.ok()) {
    return ManifestError(
        absl::StrCat("cannot compute the signed content: ", canonical.status().message()));
  }
  return canonical;
}

std::string HexTag(const RawKey& tag) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(tag.data()), tag.size()));
}

}  // namespace

absl::StatusOr<Manifest> Manifest::Parse(std::string_view json_text) {
  try {
    absl::StatusOr<Json> json = ParseObject(json_text);
    if (!json.ok()) return json.status();
    Manifest m;
    m.json_text_ = std::string(json_text);

    absl::StatusOr<std::string> type = StringField(*json, "backup-type", "");
    if (!type.ok()) return type.status();
    absl::StatusOr<std::string> id = StringField(*json, "backup-id", "");
    if (!id.ok()) return id.status();
    m.backup_type_ = *std::move(type);
    m.backup_id_ = *std::move(id);
    auto time = json->find("backup-time");
    if (time == json->end() || !time->is_number_integer() ||
        (time->is_number_unsigned() && time->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
      return ManifestError("\"backup-time\" must be an integer (unix seconds)");
    }
    m.backup_time_ = time->get<int64_t>();

    auto files = json->find("files");
    if (files == json->end() || !files->is_array()) {
      return ManifestError("\"files\" must be an array");
    }
    for (size_t i = 0; i < files->size(); ++i) {
      absl::StatusOr<ManifestFile> file = ParseFile((*files)[i], i);
      if (!file.ok()) return file.status();
      m.files_.push_back(*std::move(file));
    }

    if (auto unprotected = json->find("unprotected");
        unprotected != json->end() && !unprotected->is_null()) {
      if (!unprotected->is_object()) return ManifestError("\"unprotected\" must be an object");
      auto fingerprint = unprotected->find("key-fingerprint");
      if (fingerprint != unprotected->end() && !fingerprint->is_null()) {
        if (!fingerprint->is_string()) {
          return ManifestError("\"unprotected\".\"key-fingerprint\" must be a string");
        }
        m.key_fingerprint_ = fingerprint->get<std::string>();
      }
    }
    if (auto signature = json->find("signature");
        signature != json->end() && !signature->is_null()) {
      if (!signature->is_string()) return ManifestError("\"signature\" must be a string or null");
      m.signature_ = signature->get<std::string>();
    }
    return m;
  } catch (const std::exception& e) {
    return ManifestError(e.what());
  }
}

absl::StatusOr<Manifest> Manifest::FromBlob(std::string_view blob_bytes) {
  absl::StatusOr<BlobKind> kind = PeekBlobKind(blob_bytes);
  if (!kind.ok()) return kind.status();
  if (IsEncrypted(*kind)) {
    return ManifestError("index.json.blob is encrypted, but PBS never encrypts manifests");
  }
  BlobDecodeOptions options;
  options.max_decoded_size = kMaxBlobFileSize;
  options.label = "manifest index.json.blob";
  absl::StatusOr<std::string> json = DecodeBlob(blob_bytes, options);
  if (!json.ok()) return json.status();
  return Parse(*json);
}

const ManifestFile* Manifest::FindFile(std::string_view filename) const {
  for (const ManifestFile& file : files_) {
    if (file.filename == filename) return &file;
  }
  return nullptr;
}

bool Manifest::NeedsKey() const {
  if (key_fingerprint_.has_value()) return true;
  for (const ManifestFile& file : files_) {
    if (file.crypt_mode == CryptMode::kEncrypt) return true;
  }
  return false;
}

absl::Status Manifest::VerifyKey(const CryptConfig* key) const {
  if (key_fingerprint_.has_value()) {
    if (key == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("missing key - manifest was created with key ", *key_fingerprint_));
    }
    absl::StatusOr<RawKey> stored = ParseFingerprintText(*key_fingerprint_);
    if (!stored.ok()) {
      return ManifestError(
          absl::StrCat("\"key-fingerprint\" is invalid: ", stored.status().message()));
    }
    if (*stored != key->fingerprint()) {
      return absl::FailedPreconditionError(
          absl::StrCat("wrong key - manifest's key ", *key_fingerprint_,
                       " does not match provided key ", key->FingerprintText()));
    }
  }
  // Upstream accepts an unsigned manifest even with a key; so do we.
  if (key == nullptr || !signature_.has_value()) return absl::OkStatus();
  try {
    absl::StatusOr<Json> json = ParseObject(json_text_);
    if (!json.ok()) return json.status();
    absl::StatusOr<std::string> signed_content = SignedContentOf(*std::move(json));
    if (!signed_content.ok()) return signed_content.status();
    std::string expected = HexTag(key->AuthTag(*signed_content));
    if (expected != *signature_) {
      return absl::DataLossError(absl::StrCat("wrong signature in manifest (stored ",
                                              absl::CHexEscape(*signature_), ", computed ",
                                              expected, " with key ", key->FingerprintText(), ")"));
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return ManifestError(e.what());
  }
}

absl::Status Manifest::CheckIndex(std::string_view filename, const ChunkIndex& index) const {
  const ManifestFile* file = FindFile(filename);
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("manifest does not contain file '", ToAbsl(filename), "'"));
  }
  if (file->size != index.size()) {
    return absl::DataLossError(absl::StrCat("wrong size for file '", ToAbsl(filename), "' (",
                                            file->size, " != ", index.size(), ")"));
  }
  if (file->csum != index.index_csum()) {
    return absl::DataLossError(absl::StrCat("wrong checksum for file '", ToAbsl(filename),
                                            "' (manifest ", file->csum.Hex(), ", index ",
                                            index.index_csum().Hex(), ")"));
  }
  return absl::OkStatus();
}

absl::Status Manifest::CheckBlobFile(std::string_view filename, std::string_view raw_bytes) const {
  const ManifestFile* file = FindFile(filename);
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("manifest does not contain file '", ToAbsl(filename), "'"));
  }
  if (file->size != raw_bytes.size()) {
    return absl::DataLossError(absl::StrCat("wrong size for file '", ToAbsl(filename), "' (",
                                            file->size, " != ", raw_bytes.size(), ")"));
  }
  ChunkDigest computed = Sha256(raw_bytes);
  if (file->csum != computed) {
    return absl::DataLossError(absl::StrCat("wrong checksum for file '", ToAbsl(filename),
                                            "' (manifest ", file->csum.Hex(), ", file ",
                                            computed.Hex(), ")"));
  }
  return absl::OkStatus();
}

std::string Manifest::SignedContent() const {
  try {
    absl::StatusOr<Json> json = ParseObject(json_text_);
    if (!json.ok()) return "";
    absl::StatusOr<std::string> content = SignedContentOf(*std::move(json));
    return content.ok() ? *std::move(content) : "";
  } catch (const std::exception&) {
    return "";
  }
}

std::string EncodeManifestJson(const ManifestContent& content, const CryptConfig* key) {
  try {
    Json json = Json::object();
    json["backup-type"] = content.backup_type;
    json["backup-id"] = content.backup_id;
    json["backup-time"] = content.backup_time;
    json["files"] = Json::array();
    for (const ManifestFile& file : content.files) {
      json["files"].push_back(Json{{"filename", file.filename},
                                   {"crypt-mode", std::string(CryptModeName(file.crypt_mode))},
                                   {"size", file.size},
                                   {"csum", file.csum.Hex()}});
    }
    json["signature"] = nullptr;
    json["unprotected"] = Json::object();
    // Round-trip through text so that the signature covers exactly what a reader parses
    // (invalid UTF-8 in a name is replaced when writing).
    constexpr auto kReplace = Json::error_handler_t::replace;
    json = Json::parse(json.dump(-1, ' ', false, kReplace));
    if (key != nullptr) {
      absl::StatusOr<std::string> signed_content = SignedContentOf(json);
      if (signed_content.ok()) json["signature"] = HexTag(key->AuthTag(*signed_content));
      json["unprotected"]["key-fingerprint"] = key->FingerprintText();
    }
    return json.dump(2, ' ', false, kReplace) + "\n";
  } catch (const std::exception&) {
    // Only reachable on allocation failure: every value above is well-formed.
    return "";
  }
}

}  // namespace chunkcache
