#include "ligerbench/server/config.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "ligerbench/yaml_proto.h"

namespace ligerbench::server {

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(what + " '" + path + "': cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::ServerConfig parse_config(const std::string& yaml_text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(file_name + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  v1::ServerConfig config;
  yaml_to_message(root, &config, file_name, nullptr);
  return config;
}

v1::ServerConfig load_config(const std::string& path) { return parse_config(read_file(path, "config file"), path); }

void apply_defaults(v1::ServerConfig& c, const std::string& self_exe) {
  if (c.listen().empty()) c.set_listen("127.0.0.1:50051");
  if (c.metrics_listen().empty()) c.set_metrics_listen("127.0.0.1:9464");
  if (c.db().empty()) c.set_db("ligerbench.db");
  if (c.worker_path().empty()) {
    const auto slash = self_exe.find_last_of('/');
    c.set_worker_path((slash == std::string::npos ? std::string(".") : self_exe.substr(0, slash)) + "/ligerbench-worker");
  }
  if (c.max_request_bytes() == 0) c.set_max_request_bytes(4 << 20);
  if (c.default_job_timeout_s() == 0) c.set_default_job_timeout_s(3600);
  if (c.max_cases_per_job() == 0) c.set_max_cases_per_job(100000);
  if (c.max_queued_jobs() == 0) c.set_max_queued_jobs(10000);
  if (c.shutdown_grace_s() == 0) c.set_shutdown_grace_s(30);
  if (c.max_job_timeout_s() == 0) c.set_max_job_timeout_s(7 * 24 * 3600);
  if (c.max_case_timeout_s() == 0) c.set_max_case_timeout_s(900);
  if (c.case_timeout_margin_s() == 0) c.set_case_timeout_margin_s(60);
}

bool is_loopback_address(const std::string& host_port) {
  std::string host = host_port;
  if (!host.empty() && host[0] == '[') {  // [::1]:50051
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void check_config(const v1::ServerConfig& c) {
  const bool tls = !c.tls().cert_file().empty();
  if (tls != !c.tls().key_file().empty()) throw InputError("tls: cert_file and key_file go together");
  if (!c.tls().client_ca_file().empty() && !tls) throw InputError("tls.client_ca_file: needs cert_file and key_file");
  if (c.tls().require_client_cert() && c.tls().client_ca_file().empty())
    throw InputError("tls.require_client_cert: needs client_ca_file");
  if (!tls && !c.insecure_listen_any() && !is_loopback_address(c.listen()))
    throw InputError("listen '" + c.listen() +
                     "': a non-loopback address without TLS is refused; configure tls or pass --insecure-listen-any");
  // /metrics is plain HTTP whatever the gRPC side uses, so TLS does not excuse it.
  if (c.metrics_listen() != "off" && !c.insecure_listen_any() && !is_loopback_address(c.metrics_listen()))
    throw InputError("metrics_listen '" + c.metrics_listen() +
                     "': /metrics is plain HTTP; a non-loopback address is refused without --insecure-listen-any");
  if (c.max_request_bytes() < 1024) throw InputError("max_request_bytes: must be at least 1024");
  auto in_range = [](const char* key, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))  // also false for NaN
      throw InputError(std::string(key) + ": must be between " + format_number(lo) + " and " + format_number(hi));
  };
  in_range("max_job_timeout_s", c.max_job_timeout_s(), 1, 365.0 * 24 * 3600);
  in_range("default_job_timeout_s", c.default_job_timeout_s(), 0, c.max_job_timeout_s());
  in_range("max_case_timeout_s", c.max_case_timeout_s(), 1, 86400);
  in_range("case_timeout_margin_s", c.case_timeout_margin_s(), 0.1, 86400);
  in_range("shutdown_grace_s", c.shutdown_grace_s(), 0, 86400);
  if (c.max_cases_per_job() < 1) throw InputError("max_cases_per_job: must be at least 1");
  for (int i = 0; i < c.devices_size(); ++i) {
    const std::string& d = c.devices(i);
    if (d != "cpu" && d.rfind("cuda:", 0) != 0)
      throw InputError("devices[" + std::to_string(i) + "]: '" + d + "' (expected cpu or cuda:N)");
  }
}

}  // namespace ligerbench::server
