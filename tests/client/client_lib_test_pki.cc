#include "tests/client/client_lib_test_pki.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>
#include <vector>

namespace chunkcache::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) return false;
  const bool added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when
// `issuer` is null), with the given extensions.
Cert MakeCert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
              long serial, const std::vector<std::pair<int, const char*>>& extensions) {
  Cert cert(X509_new());
  if (cert == nullptr) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions) {
    if (!AddExtension(cert.get(), signer, nid, value)) return nullptr;
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

std::string ToPem(X509* cert, EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  const bool written = cert != nullptr ? PEM_write_bio_X509(bio.get(), cert) == 1
                                       : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr,
                                                                  0, nullptr, nullptr) == 1;
  if (!written) return "";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

TestPki MakeTestPki() {
  Key ca_key(EVP_EC_gen("P-256"));
  Key server_key(EVP_EC_gen("P-256"));
  Key client_key(EVP_EC_gen("P-256"));
  if (ca_key == nullptr || server_key == nullptr || client_key == nullptr) {
    ADD_FAILURE() << "EC key generation failed";
    return {};
  }
  Cert ca = MakeCert(ca_key.get(), "chunkcache test CA", nullptr, ca_key.get(), 1,
                     {{NID_basic_constraints, "critical,CA:TRUE"},
                      {NID_key_usage, "critical,keyCertSign,cRLSign"},
                      {NID_subject_key_identifier, "hash"}});
  if (ca == nullptr) {
    ADD_FAILURE() << "CA certificate creation failed";
    return {};
  }
  Cert server = MakeCert(server_key.get(), "localhost", ca.get(), ca_key.get(), 2,
                         {{NID_basic_constraints, "critical,CA:FALSE"},
                          {NID_key_usage, "critical,digitalSignature"},
                          {NID_ext_key_usage, "serverAuth"},
                          {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                          {NID_authority_key_identifier, "keyid:always"}});
  Cert client = MakeCert(client_key.get(), "restore-agent", ca.get(), ca_key.get(), 3,
                         {{NID_basic_constraints, "critical,CA:FALSE"},
                          {NID_key_usage, "critical,digitalSignature"},
                          {NID_ext_key_usage, "clientAuth"},
                          {NID_authority_key_identifier, "keyid:always"}});
  if (server == nullptr || client == nullptr) {
    ADD_FAILURE() << "leaf certificate creation failed";
    return {};
  }
  TestPki pki;
  pki.ca_cert_pem = ToPem(ca.get(), nullptr);
  pki.server_cert_pem = ToPem(server.get(), nullptr);
  pki.server_key_pem = ToPem(nullptr, server_key.get());
  pki.client_cert_pem = ToPem(client.get(), nullptr);
  pki.client_key_pem = ToPem(nullptr, client_key.get());
  return pki;
}

}  // namespace chunkcache::testing
