#include "format/aes_gcm.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

namespace chunkcache {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// EVP_*Update takes an int length; feed large buffers in pieces.
constexpr size_t kUpdateStep = size_t{1} << 30;

const unsigned char* Bytes(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* Bytes(char* p) { return reinterpret_cast<unsigned char*>(p); }

// Sets up `ctx` for AES-256-GCM with a 16-byte IV. The IV length must be set before the key
// and IV, otherwise OpenSSL uses the 12-byte default and every PBS tag fails to verify.
bool InitGcm(EVP_CIPHER_CTX* ctx, bool encrypt, const std::array<uint8_t, 32>& key,
             const AesGcmIv& iv) {
  int enc = encrypt ? 1 : 0;
  return EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kGcmIvSize), nullptr) ==
             1 &&
         EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), iv.data(), enc) == 1;
}

bool UpdateAll(EVP_CIPHER_CTX* ctx, std::string_view in, char* out) {
  size_t done = 0;
  while (done < in.size()) {
    size_t step = std::min(kUpdateStep, in.size() - done);
    int written = 0;
    if (EVP_CipherUpdate(ctx, Bytes(out + done), &written, Bytes(in.data() + done),
                         static_cast<int>(step)) != 1 ||
        written != static_cast<int>(step)) {
      return false;
    }
    done += step;
  }
  return true;
}

}  // namespace

bool AesGcmEncrypt(const std::array<uint8_t, 32>& key, const AesGcmIv& iv,
                   std::string_view plaintext, absl::Span<char> out, AesGcmTag& tag) {
  if (out.size() < plaintext.size()) return false;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || !InitGcm(ctx.get(), true, key, iv)) return false;
  if (!UpdateAll(ctx.get(), plaintext, out.data())) return false;
  unsigned char final_block[16];
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), final_block, &final_len) != 1 || final_len != 0) {
    return false;
  }
  return EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()),
                             tag.data()) == 1;
}

bool AesGcmDecrypt(const std::array<uint8_t, 32>& key, const AesGcmIv& iv, const AesGcmTag& tag,
                   std::string_view ciphertext, absl::Span<char> out) {
  if (out.size() < ciphertext.size()) return false;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || !InitGcm(ctx.get(), false, key, iv)) return false;
  if (!UpdateAll(ctx.get(), ciphertext, out.data())) return false;
  // OpenSSL's API takes a non-const pointer for the expected tag; it only reads it.
  AesGcmTag expected = tag;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(expected.size()),
                          expected.data()) != 1) {
    return false;
  }
  unsigned char final_block[16];
  int final_len = 0;
  return EVP_DecryptFinal_ex(ctx.get(), final_block, &final_len) == 1;
}

bool RandomBytes(absl::Span<uint8_t> out) {
  if (out.size() > static_cast<size_t>(INT_MAX)) return false;
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

}  // namespace chunkcache
