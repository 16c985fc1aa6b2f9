// /metrics scraped over HTTP after a job with a passing, a crashing and an erroring case.
#include <gtest/gtest.h>

#include <map>

#include "metrics_text.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

TEST(Metrics, ScrapedOverHttpAndParsed) {
  TempDir dir;
  auto config = test_config(dir);
  config.set_metrics_listen("127.0.0.1:0");
  InProcess server(config);
  ASSERT_GT(server.server().metrics_port(), 0);
  Client c(server.port());
  const auto r = c.wait(c.submit_ok(spec_of(R"(
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0}
cases:
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
  - {kernel: debug_fault, params: {mode: abort}, providers: [liger]}
)")));
  ASSERT_EQ(r.job().state(), v1::JOB_STATE_FINISHED);

  const std::string resp = http_get(server.server().metrics_port(), "/metrics");
  ASSERT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp.substr(0, 200);
  const auto m = parse_metrics(resp.substr(resp.find("\r\n\r\n") + 4));
  const std::vector<std::string> liger = {"kernel=\"rms_norm\"", "provider=\"liger\"", "mode=\"forward\"",
                                          "dtype=\"fp32\"",      "shape=\"T=4,H=8\"",  "device=\"cpu\"", "version=\""};
  EXPECT_GT(find_metric(m, "ligerbench_kernel_latency_seconds", liger), 0);
  EXPECT_GT(find_metric(m, "ligerbench_kernel_speedup_ratio", liger), 0);
  EXPECT_GE(find_metric(m, "ligerbench_kernel_rel_error", liger), 0);
  EXPECT_LT(find_metric(m, "ligerbench_kernel_rel_error", liger), 1e-5);
  EXPECT_EQ(find_metric(m, "ligerbench_kernel_peak_memory_bytes", liger), -1) << "not measured on CPU, so not exported";
  EXPECT_EQ(find_metric(m, "ligerbench_kernel_accuracy_passed", liger), 1);
  EXPECT_GT(find_metric(m, "ligerbench_kernel_rel_error_tolerance", liger), find_metric(m, "ligerbench_kernel_rel_error", liger));
  EXPECT_EQ(find_metric(m, "ligerbench_kernel_size_matched_copy_ratio", liger), -1) << "no copy ceiling on CPU, so not exported";
  EXPECT_EQ(find_metric(m, "ligerbench_jobs_total", {"state=\"queued\""}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_jobs_total", {"state=\"running\""}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_jobs_total", {"state=\"finished\""}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_cases_total", {"outcome=\"passed\""}), 2);
  EXPECT_EQ(find_metric(m, "ligerbench_cases_total", {"outcome=\"error\""}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_worker_restarts_total", {}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_queue_depth", {}), 0);
  EXPECT_EQ(find_metric(m, "ligerbench_job_duration_seconds_count", {}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_queue_wait_seconds_count", {}), 1);
  EXPECT_EQ(find_metric(m, "ligerbench_job_duration_seconds_bucket", {"le=\"+Inf\""}), 1);
}

}  // namespace

// A metrics address that cannot be served fails server start-up with an error that names the
// address, the config key and civetweb's own reason (prometheus-cpp alone says "null context").
TEST(Metrics, PortInUseErrorNamesAddressAndCivetwebReason) {
  TempDir dir;
  auto first = test_config(dir);
  first.set_metrics_listen("127.0.0.1:0");
  InProcess holder(first);
  const int taken = holder.server().metrics_port();
  ASSERT_GT(taken, 0);

  TempDir dir2;
  auto second = test_config(dir2);
  const std::string address = "127.0.0.1:" + std::to_string(taken);
  second.set_metrics_listen(address);
  try {
    InProcess clash(second);
    FAIL() << "a second server started its metrics on the taken port " << address;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(address), std::string::npos) << what;
    EXPECT_NE(what.find("metrics_listen"), std::string::npos) << what;
    EXPECT_NE(what.find("civetweb error"), std::string::npos) << what;
    EXPECT_NE(what.find("bind"), std::string::npos) << "civetweb's reason is a bind failure: " << what;
  }
}
