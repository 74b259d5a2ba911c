// A throwaway certificate authority for the client TLS tests: an EC P-256 CA, a server
// certificate for localhost / 127.0.0.1 and a client certificate, all signed by the CA and
// valid for a day, as PEM text. Made fresh in memory with OpenSSL; nothing is stored.
//
//   TestPki pki = MakeTestPki();
//   grpc::SslServerCredentialsOptions ssl;
//   ssl.pem_key_cert_pairs.push_back({pki.server_key_pem, pki.server_cert_pem});
#ifndef CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_PKI_H_
#define CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_PKI_H_

#include <string>

namespace chunkcache::testing {

struct TestPki {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Fails the current test (and returns empty strings) when OpenSSL fails.
TestPki MakeTestPki();

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_CLIENT_CLIENT_LIB_TEST_PKI_H_
