// Sha256Sink: an ArchiveSink in front of another that hashes every byte passing through, so
// `restore --sha256` prints the SHA-256 of exactly what was written (holes of a sparse file
// included, as the zeros they read back as), in the same pass.
//
//   Sha256Sink hashing(*file_sink);
//   client->StreamArchive(ref, hashing, options);
//   hashing.HexDigest();   // 64 lowercase hex characters, as sha256sum prints
#ifndef CHUNKCACHE_CLIENT_CLI_SHA256_SINK_H_
#define CHUNKCACHE_CLIENT_CLI_SHA256_SINK_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "client/lib/archive_sink.h"

namespace chunkcache {

// Incremental SHA-256 (OpenSSL EVP).
class Sha256Hasher {
 public:
  Sha256Hasher();
  void Update(std::string_view bytes);
  // Ends the hash; the hasher must not be updated afterwards.
  std::string HexDigest();

 private:
  struct ContextFree {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, ContextFree> context_;
  bool ok_ = true;  // OpenSSL reported no error
};

class Sha256Sink final : public ArchiveSink {
 public:
  // `inner` must outlive this sink.
  explicit Sha256Sink(ArchiveSink& inner) : inner_(inner) {}

  absl::Status Begin(uint64_t total_size) override { return inner_.Begin(total_size); }
  absl::Status Append(std::string_view bytes) override;
  absl::Status Finish() override { return inner_.Finish(); }

  std::string HexDigest() { return hasher_.HexDigest(); }

 private:
  ArchiveSink& inner_;
  Sha256Hasher hasher_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_SHA256_SINK_H_
