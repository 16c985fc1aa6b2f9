// ServerConfig from YAML: unknown keys name file:line:key; defaults; the listen-address rule.
#include <gtest/gtest.h>

#include <cmath>

#include "ligerbench/input_error.h"
#include "ligerbench/server/config.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::server;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ServerConfig, ShippedConfigParsesAndDefaultsServeALaptop) {
  auto c = load_config(std::string(LIGERBENCH_SOURCE_DIR) + "/configs/server.yaml");
  apply_defaults(c, "/opt/lb/bin/ligerbenchd");
  EXPECT_EQ(c.listen(), "127.0.0.1:50051");
  EXPECT_EQ(c.metrics_listen(), "127.0.0.1:9464");
  EXPECT_EQ(c.db(), "ligerbench.db");
  EXPECT_FALSE(c.debug_kernels());
  EXPECT_EQ(c.worker_path(), "/opt/lb/bin/ligerbench-worker");
  EXPECT_NO_THROW(check_config(c));

  v1::ServerConfig empty;
  apply_defaults(empty, "ligerbenchd");
  EXPECT_EQ(empty.listen(), "127.0.0.1:50051");
  EXPECT_EQ(empty.max_request_bytes(), 4 << 20);
  EXPECT_EQ(empty.worker_path(), "./ligerbench-worker");
}

TEST(ServerConfig, UnknownKeysAndBadValuesNameFileLineAndKey) {
  EXPECT_EQ(error_of([] { parse_config("listen: 127.0.0.1:1\nlisten_port: 5\n", "s.yaml"); }).rfind(
                "s.yaml:2: key 'listen_port': unknown key", 0),
            0u);
  EXPECT_EQ(error_of([] { parse_config("tls:\n  cert: a.pem\n", "s.yaml"); }).rfind("s.yaml:2: key 'tls.cert': unknown key", 0),
            0u);
  EXPECT_EQ(error_of([] { parse_config("max_request_bytes: lots\n", "s.yaml"); }),
            "s.yaml:1: key 'max_request_bytes': expected an integer, got 'lots'");
}

TEST(ServerConfig, NonLoopbackWithoutTlsNeedsInsecureListenAny) {
  v1::ServerConfig c;
  apply_defaults(c, "");
  for (const char* ok : {"127.0.0.1:1", "localhost:1", "[::1]:1", "127.3.4.5:0"}) {
    c.set_listen(ok);
    EXPECT_NO_THROW(check_config(c)) << ok;
  }
  c.set_listen("0.0.0.0:50051");
  EXPECT_NE(error_of([&] { check_config(c); }).find("--insecure-listen-any"), std::string::npos);
  c.set_insecure_listen_any(true);
  EXPECT_NO_THROW(check_config(c));
  c.set_insecure_listen_any(false);
  c.mutable_tls()->set_cert_file("s.pem");
  EXPECT_EQ(error_of([&] { check_config(c); }), "tls: cert_file and key_file go together");
  c.mutable_tls()->set_key_file("s.key");
  EXPECT_NO_THROW(check_config(c)) << "TLS may listen anywhere";
  c.mutable_tls()->set_require_client_cert(true);
  EXPECT_EQ(error_of([&] { check_config(c); }), "tls.require_client_cert: needs client_ca_file");
}

TEST(ServerConfig, MetricsOffLoopbackAndTimeLimitsOutsideTheirRangeAreRefused) {
  v1::ServerConfig c;
  apply_defaults(c, "");
  EXPECT_EQ(c.max_job_timeout_s(), 604800);
  EXPECT_EQ(c.max_case_timeout_s(), 900);
  EXPECT_EQ(c.case_timeout_margin_s(), 60);
  EXPECT_NO_THROW(check_config(c));
  c.set_metrics_listen("0.0.0.0:9464");
  EXPECT_NE(error_of([&] { check_config(c); }).find("metrics_listen '0.0.0.0:9464': /metrics is plain HTTP"),
            std::string::npos);
  c.mutable_tls()->set_cert_file("s.pem");
  c.mutable_tls()->set_key_file("s.key");
  EXPECT_NE(error_of([&] { check_config(c); }).find("metrics_listen"), std::string::npos) << "TLS does not cover /metrics";
  c.set_insecure_listen_any(true);
  EXPECT_NO_THROW(check_config(c));
  c.set_metrics_listen("off");
  c.set_insecure_listen_any(false);
  EXPECT_NO_THROW(check_config(c));

  c.set_default_job_timeout_s(1e10);
  EXPECT_EQ(error_of([&] { check_config(c); }), "default_job_timeout_s: must be between 0 and 604800");
  c.set_default_job_timeout_s(3600);
  c.set_max_case_timeout_s(std::nan(""));
  EXPECT_EQ(error_of([&] { check_config(c); }), "max_case_timeout_s: must be between 1 and 86400");
}

}  // namespace
