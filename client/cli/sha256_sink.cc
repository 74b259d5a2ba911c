#include "client/cli/sha256_sink.h"

#include <array>

#include "absl/strings/escaping.h"

namespace chunkcache {

Sha256Hasher::Sha256Hasher() : context_(EVP_MD_CTX_new()) {
  ok_ = context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
}

void Sha256Hasher::Update(std::string_view bytes) {
  if (ok_ && !bytes.empty()) {
    ok_ = EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) == 1;
  }
}

std::string Sha256Hasher::HexDigest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
    ok_ = false;
    return "(SHA-256 unavailable: OpenSSL failed)";
  }
  ok_ = false;  // finalized
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

absl::Status Sha256Sink::Append(std::string_view bytes) {
  hasher_.Update(bytes);
  return inner_.Append(bytes);
}

}  // namespace chunkcache
