#include "format/crypt_config.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cctype>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

constexpr std::string_view kIdKeySalt = "_id_key";
constexpr int kIdKeyIterations = 10;
constexpr std::string_view kFingerprintLabel = "Proxmox Backup Encryption Key Fingerprint";

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// SHA-256(first ‖ second) without concatenating the two.
std::array<uint8_t, 32> Sha256Of(std::string_view first, std::string_view second) {
  std::array<uint8_t, 32> out{};
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), first.data(), first.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), second.data(), second.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    // Only on memory exhaustion; an all-zero digest matches nothing real.
    out.fill(0);
  }
  return out;
}

std::string_view AsChars(const RawKey& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

}  // namespace

absl::StatusOr<CryptConfig> CryptConfig::FromRawKey(std::string_view raw_key) {
  RawKey key{};
  if (raw_key.size() != key.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("an encryption key is 32 bytes, got ", raw_key.size(), " bytes"));
  }
  std::memcpy(key.data(), raw_key.data(), key.size());
  return FromRawKey(key);
}

CryptConfig CryptConfig::FromRawKey(const RawKey& raw_key) {
  CryptConfig config;
  config.enc_key_ = raw_key;
  // Deterministic derivations over valid inputs: OpenSSL cannot fail here short of memory
  // exhaustion, which would leave the zero-initialized keys and make every check fail.
  PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(raw_key.data()), static_cast<int>(raw_key.size()),
                    reinterpret_cast<const unsigned char*>(kIdKeySalt.data()),
                    static_cast<int>(kIdKeySalt.size()), kIdKeyIterations, EVP_sha256(),
                    static_cast<int>(config.id_key_.size()), config.id_key_.data());
  config.fingerprint_ = Sha256Of(Sha256(kFingerprintLabel).AsBytes(), AsChars(config.id_key_));
  return config;
}

std::string CryptConfig::FingerprintText() const {
  std::vector<std::string> parts;
  parts.reserve(fingerprint_.size());
  for (uint8_t byte : fingerprint_) {
    parts.push_back(
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(&byte), 1)));
  }
  return absl::StrJoin(parts, ":");
}

ChunkDigest CryptConfig::ChunkDigestOf(std::string_view plaintext) const {
  ChunkDigest digest;
  digest.bytes = Sha256Of(plaintext, AsChars(id_key_));
  return digest;
}

RawKey CryptConfig::AuthTag(std::string_view message) const {
  RawKey tag{};
  unsigned int tag_len = 0;
  HMAC(EVP_sha256(), id_key_.data(), static_cast<int>(id_key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), tag.data(),
       &tag_len);
  return tag;
}

absl::StatusOr<RawKey> ParseFingerprintText(std::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(text), ':');
  RawKey fingerprint{};
  bool well_formed = parts.size() == fingerprint.size();
  for (size_t i = 0; well_formed && i < parts.size(); ++i) {
    well_formed = parts[i].size() == 2 &&
                  std::isxdigit(static_cast<unsigned char>(parts[i][0])) != 0 &&
                  std::isxdigit(static_cast<unsigned char>(parts[i][1])) != 0;
    if (well_formed) fingerprint[i] = static_cast<uint8_t>(absl::HexStringToBytes(parts[i])[0]);
  }
  if (!well_formed) {
    return absl::InvalidArgumentError(
        absl::StrCat("key fingerprint '", absl::CHexEscape(ToAbsl(text.substr(0, 200))),
                     "' is not 32 colon-separated hex bytes (like 0e:ab:d4:…)"));
  }
  return fingerprint;
}

ChunkDigest ChunkDigestOf(std::string_view plaintext, const CryptConfig* key) {
  return key != nullptr ? key->ChunkDigestOf(plaintext) : Sha256(plaintext);
}

}  // namespace chunkcache
