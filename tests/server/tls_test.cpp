// TLS with a certificate made in the test (OpenSSL), the bearer token, and mutual TLS.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>

#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

// A self-signed P-256 certificate for localhost and 127.0.0.1, written as PEM files.
void make_certificate(const std::string& cert_path, const std::string& key_path, const std::string& cn) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
                            std::pair{NID_ext_key_usage, "serverAuth,clientAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(x, key, EVP_sha256()), 0);
  FILE* f = fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  fclose(f);
  f = fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

grpc::Status list_kernels(Client& c) {
  v1::ListKernelsResponse resp;
  auto ctx = c.ctx(10);
  return c.stub().ListKernels(ctx.get(), {}, &resp);
}

TEST(Tls, ServerCertificateAndBearerToken) {
  TempDir dir;
  make_certificate(dir.file("server.pem"), dir.file("server.key"), "localhost");
  std::ofstream(dir.file("token")) << "s3cret-token\n";
  auto config = test_config(dir);
  config.mutable_tls()->set_cert_file(dir.file("server.pem"));
  config.mutable_tls()->set_key_file(dir.file("server.key"));
  config.set_auth_token_file(dir.file("token"));
  InProcess server(config);
  const std::string addr = "127.0.0.1:" + std::to_string(server.port());

  client::ClientOptions good{addr, true, dir.file("server.pem")};
  good.token = "s3cret-token";
  Client ok(good);
  EXPECT_TRUE(list_kernels(ok).ok()) << list_kernels(ok).error_message();
  // The whole path works over TLS: submit, run, results.
  const auto r = ok.wait(ok.submit_ok(tiny_spec()));
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED);
  EXPECT_EQ(r.result().cases_size(), 2);

  auto no_token = good;
  no_token.token.clear();
  Client c1(no_token);
  const auto s1 = list_kernels(c1);
  EXPECT_EQ(s1.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s1.error_message().find("Bearer"), std::string::npos);
  grpc::Status ws;
  c1.watch("j-any", 0, &ws);
  EXPECT_EQ(ws.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "streams check the token too";

  auto wrong = good;
  wrong.token = "s3cret-tokeN";
  Client c2(wrong);
  EXPECT_EQ(list_kernels(c2).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  Client plaintext(client::ClientOptions{addr});
  EXPECT_EQ(list_kernels(plaintext).error_code(), grpc::StatusCode::UNAVAILABLE) << "no plaintext on a TLS port";

  auto unknown_ca = good;
  unknown_ca.ca_file.clear();  // the system roots do not know the test certificate
  Client c3(unknown_ca);
  EXPECT_EQ(list_kernels(c3).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(Tls, ClientCertificatesWhenRequired) {
  TempDir dir;
  make_certificate(dir.file("server.pem"), dir.file("server.key"), "localhost");
  make_certificate(dir.file("client.pem"), dir.file("client.key"), "ligerbench-client");
  auto config = test_config(dir);
  config.mutable_tls()->set_cert_file(dir.file("server.pem"));
  config.mutable_tls()->set_key_file(dir.file("server.key"));
  config.mutable_tls()->set_client_ca_file(dir.file("client.pem"));  // self-signed: its own CA
  config.mutable_tls()->set_require_client_cert(true);
  InProcess server(config);
  const std::string addr = "127.0.0.1:" + std::to_string(server.port());

  client::ClientOptions with_cert{addr, true, dir.file("server.pem"), dir.file("client.pem"), dir.file("client.key")};
  Client ok(with_cert);
  EXPECT_TRUE(list_kernels(ok).ok()) << list_kernels(ok).error_message();

  Client without(client::ClientOptions{addr, true, dir.file("server.pem")});
  EXPECT_EQ(list_kernels(without).error_code(), grpc::StatusCode::UNAVAILABLE);

  // A certificate the server's client CA did not sign is refused too.
  client::ClientOptions other = with_cert;
  other.cert_file = dir.file("server.pem");
  other.key_file = dir.file("server.key");
  Client stranger(other);
  EXPECT_EQ(list_kernels(stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
