#include "format/key_file.h"

#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <exception>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "format/aes_gcm.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

using Json = nlohmann::json;

constexpr size_t kMinPasswordLength = 5;
// Upstream allows scrypt up to 1025 MiB of memory (N=65536, r=8 needs 64 MiB).
constexpr uint64_t kScryptMaxMemory = 1025ull * 1024 * 1024;
// What PBS writes for new keys (spec §5.1).
constexpr uint64_t kNewScryptN = 65536, kNewScryptR = 8, kNewScryptP = 1;
constexpr uint64_t kNewPbkdf2Iterations = 65535;
constexpr size_t kNewSaltSize = 32;
// `data` of a wrapped key: IV(16) ‖ TAG(16) ‖ AES-256-GCM(raw key).
constexpr size_t kWrappedKeySize = kGcmIvSize + kGcmTagSize + 32;

absl::Status KeyFileError(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("key file: ", ToAbsl(message)));
}

std::string_view AsChars(const RawKey& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

// The kdf parameters a wrapped key file carries.
struct KdfParams {
  KeyDerivation kdf = KeyDerivation::kNone;
  std::string salt;
  uint64_t n = 0, r = 0, p = 0;  // scrypt
  uint64_t iterations = 0;       // PBKDF2
};

absl::StatusOr<uint64_t> UnsignedField(const Json& object, const char* name,
                                       std::string_view where) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_number_unsigned()) {
    return KeyFileError(absl::StrCat(ToAbsl(where), ".", name, " must be a non-negative integer"));
  }
  return it->get<uint64_t>();
}

absl::StatusOr<std::string> SaltField(const Json& object, std::string_view where) {
  auto it = object.find("salt");
  std::string salt;
  if (it == object.end() || !it->is_string() ||
      !absl::Base64Unescape(it->get_ref<const std::string&>(), &salt)) {
    return KeyFileError(absl::StrCat(ToAbsl(where), ".salt must be a base64 string"));
  }
  return salt;
}

absl::StatusOr<KdfParams> ParseKdf(const Json& kdf) {
  KdfParams params;
  if (kdf.is_null()) return params;
  if (!kdf.is_object() || kdf.size() != 1) {
    return KeyFileError("\"kdf\" must be null, {\"Scrypt\": {…}} or {\"PBKDF2\": {…}}");
  }
  if (auto it = kdf.find("Scrypt"); it != kdf.end() && it->is_object()) {
    params.kdf = KeyDerivation::kScrypt;
    absl::StatusOr<uint64_t> n = UnsignedField(*it, "n", "kdf.Scrypt");
    absl::StatusOr<uint64_t> r = UnsignedField(*it, "r", "kdf.Scrypt");
    absl::StatusOr<uint64_t> p = UnsignedField(*it, "p", "kdf.Scrypt");
    absl::StatusOr<std::string> salt = SaltField(*it, "kdf.Scrypt");
    for (const absl::Status& s : {n.status(), r.status(), p.status(), salt.status()}) {
      if (!s.ok()) return s;
    }
    params.n = *n, params.r = *r, params.p = *p, params.salt = *std::move(salt);
    return params;
  }
  if (auto it = kdf.find("PBKDF2"); it != kdf.end() && it->is_object()) {
    params.kdf = KeyDerivation::kPbkdf2;
    absl::StatusOr<uint64_t> iterations = UnsignedField(*it, "iter", "kdf.PBKDF2");
    if (!iterations.ok()) return iterations.status();
    absl::StatusOr<std::string> salt = SaltField(*it, "kdf.PBKDF2");
    if (!salt.ok()) return salt.status();
    params.iterations = *iterations;
    params.salt = *std::move(salt);
    return params;
  }
  return KeyFileError(absl::StrCat("unknown kdf \"", kdf.begin().key().substr(0, 64),
                                   "\" (expected null, \"Scrypt\" or \"PBKDF2\", "
                                   "case-sensitive, with an object of parameters)"));
}

absl::StatusOr<Json> ParseJsonObject(std::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return KeyFileError("not valid JSON");
  if (!json.is_object()) return KeyFileError("not a JSON object");
  return json;
}

absl::StatusOr<std::optional<std::string>> OptionalString(const Json& json, const char* name) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return KeyFileError(absl::StrCat("\"", name, "\" must be a string"));
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<KeyFileInfo> Inspect(const Json& json) {
  KeyFileInfo info;
  auto kdf_field = json.find("kdf");
  if (kdf_field == json.end()) return KeyFileError("missing \"kdf\"");
  absl::StatusOr<KdfParams> kdf = ParseKdf(*kdf_field);
  if (!kdf.ok()) return kdf.status();
  info.kdf = kdf->kdf;
  for (auto [name, field] :
       {std::pair{"fingerprint", &info.fingerprint_text}, std::pair{"hint", &info.hint}}) {
    absl::StatusOr<std::optional<std::string>> value = OptionalString(json, name);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  for (auto [name, field] :
       {std::pair{"created", &info.created}, std::pair{"modified", &info.modified}}) {
    absl::StatusOr<std::optional<std::string>> value = OptionalString(json, name);
    if (!value.ok()) return value.status();
    *field = value->value_or("");
  }
  return info;
}

absl::StatusOr<RawKey> Unwrap(const Json& json, std::optional<std::string_view> password) {
  absl::StatusOr<KeyFileInfo> info = Inspect(json);
  if (!info.ok()) return info.status();
  // Inspect has checked that "kdf" is present and well-formed.
  absl::StatusOr<KdfParams> kdf = ParseKdf(*json.find("kdf"));
  if (!kdf.ok()) return kdf.status();

  auto data_it = json.find("data");
  std::string data;
  if (data_it == json.end() || !data_it->is_string() ||
      !absl::Base64Unescape(data_it->get_ref<const std::string&>(), &data)) {
    return KeyFileError("\"data\" must be a base64 string");
  }

  RawKey raw_key{};
  if (kdf->kdf == KeyDerivation::kNone) {
    if (data.size() != raw_key.size()) {
      return KeyFileError(
          absl::StrCat("\"data\" of an unprotected key (kdf null) must be 32 "
                       "bytes, got ",
                       data.size()));
    }
    std::memcpy(raw_key.data(), data.data(), raw_key.size());
  } else {
    if (!password.has_value()) {
      return absl::FailedPreconditionError(
          "key file: the key is protected by a password (kdf " +
          std::string(kdf->kdf == KeyDerivation::kScrypt ? "Scrypt" : "PBKDF2") +
          "), but none was given");
    }
    if (password->size() < kMinPasswordLength) {
      return absl::InvalidArgumentError(absl::StrCat("key file: password is too short (",
                                                     password->size(), " bytes, at least ",
                                                     kMinPasswordLength, " are needed)"));
    }
    if (data.size() != kWrappedKeySize) {
      return KeyFileError(absl::StrCat("\"data\" of a password-protected key must be ",
                                       kWrappedKeySize, " bytes (IV, tag, key), got ",
                                       data.size()));
    }
    absl::StatusOr<RawKey> derived =
        kdf->kdf == KeyDerivation::kScrypt
            ? DeriveKeyScrypt(*password, kdf->salt, kdf->n, kdf->r, kdf->p)
            : DeriveKeyPbkdf2(*password, kdf->salt, kdf->iterations);
    if (!derived.ok()) return derived.status();
    AesGcmIv iv;
    AesGcmTag tag;
    std::memcpy(iv.data(), data.data(), iv.size());
    std::memcpy(tag.data(), data.data() + kGcmIvSize, tag.size());
    std::string_view ciphertext = std::string_view(data).substr(kGcmIvSize + kGcmTagSize);
    char plain[32];
    if (!AesGcmDecrypt(*derived, iv, tag, ciphertext, absl::MakeSpan(plain))) {
      return absl::PermissionDeniedError(
          info->hint.has_value()
              ? absl::StrCat(
                    "key file: unable to decrypt the key (wrong password? hint: ", *info->hint, ")")
              : "key file: unable to decrypt the key (wrong password?)");
    }
    std::memcpy(raw_key.data(), plain, raw_key.size());
  }

  if (info->fingerprint_text.has_value()) {
    absl::StatusOr<RawKey> stored = ParseFingerprintText(*info->fingerprint_text);
    if (!stored.ok()) return KeyFileError(ToStd(stored.status().message()));
    CryptConfig config = CryptConfig::FromRawKey(raw_key);
    if (*stored != config.fingerprint()) {
      return absl::DataLossError(
          absl::StrCat("key file contains wrong fingerprint ", *info->fingerprint_text,
                       ", contained key has fingerprint ", config.FingerprintText()));
    }
  }
  return raw_key;
}

}  // namespace

absl::StatusOr<KeyFileInfo> InspectKeyFile(std::string_view json_text) {
  try {
    absl::StatusOr<Json> json = ParseJsonObject(json_text);
    if (!json.ok()) return json.status();
    return Inspect(*json);
  } catch (const std::exception& e) {
    return KeyFileError(e.what());
  }
}

absl::StatusOr<RawKey> UnwrapKeyFile(std::string_view json_text,
                                     std::optional<std::string_view> password) {
  try {
    absl::StatusOr<Json> json = ParseJsonObject(json_text);
    if (!json.ok()) return json.status();
    return Unwrap(*json, password);
  } catch (const std::exception& e) {
    return KeyFileError(e.what());
  }
}

absl::StatusOr<RawKey> DeriveKeyScrypt(std::string_view password, std::string_view salt, uint64_t n,
                                       uint64_t r, uint64_t p) {
  RawKey key{};
  // A non-null salt pointer even for an empty salt, which upstream's own test uses.
  const unsigned char empty = 0;
  const unsigned char* salt_bytes =
      salt.empty() ? &empty : reinterpret_cast<const unsigned char*>(salt.data());
  if (EVP_PBE_scrypt(password.data(), password.size(), salt_bytes, salt.size(), n, r, p,
                     kScryptMaxMemory, key.data(), key.size()) != 1) {
    return KeyFileError(absl::StrCat("scrypt with n=", n, " r=", r, " p=", p,
                                     " failed (n must be a power of two > 1 and the memory "
                                     "needed at most 1025 MiB)"));
  }
  return key;
}

absl::StatusOr<RawKey> DeriveKeyPbkdf2(std::string_view password, std::string_view salt,
                                       uint64_t iterations) {
  RawKey key{};
  if (iterations == 0 || iterations > static_cast<uint64_t>(INT_MAX) ||
      password.size() > static_cast<size_t>(INT_MAX) ||
      salt.size() > static_cast<size_t>(INT_MAX)) {
    return KeyFileError(absl::StrCat("PBKDF2 iteration count ", iterations,
                                     " is out of range (1 to ", INT_MAX, ")"));
  }
  const unsigned char empty = 0;
  const unsigned char* salt_bytes =
      salt.empty() ? &empty : reinterpret_cast<const unsigned char*>(salt.data());
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt_bytes,
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(key.size()), key.data()) != 1) {
    return absl::InternalError("PBKDF2-HMAC-SHA256 failed in OpenSSL");
  }
  return key;
}

absl::StatusOr<std::string> CreateKeyFile(const RawKey& raw_key, KeyDerivation kdf,
                                          std::optional<std::string_view> password,
                                          std::string_view now_rfc3339) {
  try {
    nlohmann::ordered_json file;
    if (kdf == KeyDerivation::kNone) {
      file["kdf"] = nullptr;
      file["created"] = std::string(now_rfc3339);
      file["modified"] = std::string(now_rfc3339);
      file["data"] = absl::Base64Escape(ToAbsl(AsChars(raw_key)));
    } else {
      if (!password.has_value() || password->size() < kMinPasswordLength) {
        return absl::InvalidArgumentError(absl::StrCat("key file: a password of at least ",
                                                       kMinPasswordLength,
                                                       " bytes is needed to protect the key"));
      }
      std::string salt(kNewSaltSize, '\0');
      AesGcmIv iv;
      if (!RandomBytes(absl::MakeSpan(reinterpret_cast<uint8_t*>(salt.data()), salt.size())) ||
          !RandomBytes(absl::MakeSpan(iv))) {
        return absl::InternalError("cannot get random bytes for the key file from OpenSSL");
      }
      absl::StatusOr<RawKey> derived =
          kdf == KeyDerivation::kScrypt
              ? DeriveKeyScrypt(*password, salt, kNewScryptN, kNewScryptR, kNewScryptP)
              : DeriveKeyPbkdf2(*password, salt, kNewPbkdf2Iterations);
      if (!derived.ok()) return derived.status();
      std::string data(kWrappedKeySize, '\0');
      AesGcmTag tag;
      if (!AesGcmEncrypt(*derived, iv, AsChars(raw_key),
                         absl::MakeSpan(data).subspan(kGcmIvSize + kGcmTagSize), tag)) {
        return absl::InternalError("AES-256-GCM encryption of the key failed in OpenSSL");
      }
      std::memcpy(data.data(), iv.data(), iv.size());
      std::memcpy(data.data() + kGcmIvSize, tag.data(), tag.size());
      nlohmann::ordered_json params;
      if (kdf == KeyDerivation::kScrypt) {
        params["n"] = kNewScryptN;
        params["r"] = kNewScryptR;
        params["p"] = kNewScryptP;
        params["salt"] = absl::Base64Escape(salt);
        file["kdf"]["Scrypt"] = params;
      } else {
        params["iter"] = kNewPbkdf2Iterations;
        params["salt"] = absl::Base64Escape(salt);
        file["kdf"]["PBKDF2"] = params;
      }
      file["created"] = std::string(now_rfc3339);
      file["modified"] = std::string(now_rfc3339);
      file["data"] = absl::Base64Escape(data);
    }
    file["fingerprint"] = CryptConfig::FromRawKey(raw_key).FingerprintText();
    return file.dump(2) + "\n";
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("key file: cannot write JSON: ", e.what()));
  }
}

absl::StatusOr<RawKey> TryGenerateRawKey() {
  RawKey key{};
  if (!RandomBytes(absl::MakeSpan(key))) {
    return absl::InternalError("cannot get 32 random bytes for a new key from OpenSSL");
  }
  return key;
}

RawKey GenerateRawKey() {
  // RAND_bytes fails only when the OS CSPRNG is unusable; retry, then return the obviously
  // broken all-zero key (TryGenerateRawKey reports the error instead).
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<RawKey> key = TryGenerateRawKey();
    if (key.ok()) return *key;
  }
  return RawKey{};
}

}  // namespace chunkcache
