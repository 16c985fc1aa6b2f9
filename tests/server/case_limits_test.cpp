// Per-case wall-clock limits, cancel of a running case, job timeouts that list what never ran,
// cancels that survive a restart, and the worker restarts those kills count.
#include <gtest/gtest.h>

#include "metrics_text.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A hanging liger case, then rms_norm's two cases.
v1::JobSpec hang_then_rms_norm(const std::string& measurement_extra = "") {
  return spec_of(R"(
measurement: {min_samples: 1, max_samples: 1, warmup_runs: 0, check_accuracy: false)" + measurement_extra + R"(}
cases:
  - {kernel: debug_fault, params: {mode: hang}, providers: [liger]}
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)");
}

double restarts(InProcess& server) {
  return find_metric(scrape_metrics(server.server().metrics_port()), "ligerbench_worker_restarts_total", {});
}

TEST(CaseLimits, AHangingCasePastItsDerivedLimitFailsAndTheJobGoesOn) {
  TempDir dir;
  auto config = test_config(dir);
  config.set_case_timeout_margin_s(0.5);  // limit: 0.5 + 3 x 0.5 = 2 s
  config.set_metrics_listen("127.0.0.1:0");
  InProcess server(config);
  Client c(server.port());
  const auto t0 = Clock::now();
  const auto r = c.wait(c.submit_ok(hang_then_rms_norm(", timeout_s: 0.5")), 60);
  EXPECT_LT(since(t0), 30) << "the hang was stopped by its limit, not by the job's hour";
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  ASSERT_EQ(r.result().cases_size(), 3);
  const auto& hung = r.result().cases(0);
  EXPECT_FALSE(hung.ok());
  EXPECT_NE(hung.error().find("ran past its limit of 2 s"), std::string::npos) << hung.error();
  EXPECT_NE(hung.error().find("worker was killed and replaced"), std::string::npos) << hung.error();
  EXPECT_TRUE(r.result().cases(1).ok()) << r.result().cases(1).error();
  EXPECT_TRUE(r.result().cases(2).ok()) << r.result().cases(2).error();
  EXPECT_EQ(r.job().failed_cases(), 1);
  EXPECT_EQ(r.job().skipped_cases_size(), 0);
  EXPECT_EQ(restarts(server), 1) << "the worker killed for the hang counts as a restart";
}

TEST(CaseLimits, TheServerMaximumCapsTheLimit) {
  TempDir dir;
  auto config = test_config(dir);
  config.set_max_case_timeout_s(1.5);  // below 60 + 3 x 5 s from the default options
  InProcess server(config);
  Client c(server.port());
  const auto r = c.wait(c.submit_ok(hang_then_rms_norm()), 60);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  ASSERT_EQ(r.result().cases_size(), 3);
  EXPECT_NE(r.result().cases(0).error().find("ran past its limit of 1.5 s"), std::string::npos) << r.result().cases(0).error();
  EXPECT_TRUE(r.result().cases(2).ok()) << r.result().cases(2).error();
}

TEST(CaseLimits, CancelKillsTheRunningCaseAndListsTheRest) {
  TempDir dir;
  auto config = test_config(dir);
  config.set_metrics_listen("127.0.0.1:0");
  InProcess server(config);
  Client c(server.port());
  const std::string id = c.submit_ok(hang_then_rms_norm());
  ASSERT_TRUE(c.wait_for_state(id, v1::JOB_STATE_RUNNING));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the hang has begun (the probe's worker runs it)
  v1::JobState state{};
  const auto t0 = Clock::now();
  ASSERT_TRUE(c.cancel(id, &state).ok());
  EXPECT_EQ(state, v1::JOB_STATE_RUNNING);
  const auto r = c.wait(id, 20);
  EXPECT_LT(since(t0), 10) << "a cancel does not wait for the hanging case";
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_CANCELLED);
  ASSERT_EQ(r.result().cases_size(), 1);
  EXPECT_NE(r.result().cases(0).error().find("cancelled by a client while this case ran"), std::string::npos)
      << r.result().cases(0).error();
  ASSERT_EQ(r.job().skipped_cases_size(), 2) << r.job().message();
  EXPECT_NE(r.job().skipped_cases(0).find("rms_norm"), std::string::npos);
  EXPECT_NE(r.job().message().find("2 cases never ran"), std::string::npos) << r.job().message();
  EXPECT_EQ(restarts(server), 1);
  // The device is free again and the next job runs on a fresh worker.
  EXPECT_EQ(c.wait(c.submit_ok(tiny_spec())).job().state(), v1::JOB_STATE_FINISHED);
}

TEST(CaseLimits, AJobTimeoutListsTheCasesThatNeverRan) {
  TempDir dir;
  InProcess server(test_config(dir));
  Client c(server.port());
  std::string id;
  ASSERT_TRUE(c.submit(hang_then_rms_norm(), &id, "", 1.0).ok());
  const auto r = c.wait(id, 30);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_TIMED_OUT);
  ASSERT_EQ(r.result().cases_size(), 1);
  EXPECT_NE(r.result().cases(0).error().find("the job's timeout of 1 s expired during this case"), std::string::npos)
      << r.result().cases(0).error();
  ASSERT_EQ(r.job().skipped_cases_size(), 2);
  EXPECT_NE(r.job().message().find("2 cases never ran"), std::string::npos) << r.job().message();
}

// A server that stops after a client cancelled a running job, before the job stopped, finds the
// cancel in its store on the next start and ends the job there instead of running it again.
TEST(CaseLimits, ACancelledJobStaysCancelledAcrossARestart) {
  TempDir dir;
  auto config = test_config(dir);
  {
    server::Store store(config.db());
    v1::Job job;
    job.set_id("j-cancelled-running");
    *job.mutable_spec() = hang_then_rms_norm();
    job.add_devices("cpu");
    job.set_state(v1::JOB_STATE_RUNNING);
    job.set_total_cases(3);
    job.set_timeout_s(3600);
    job.set_attempts(1);
    v1::JobEvent e;
    e.set_seq(1);
    e.set_job_id(job.id());
    e.set_state_change(v1::JOB_STATE_RUNNING);
    store.insert_job(job, e);
    store.request_cancel(job.id());
  }
  InProcess server(config);
  Client c(server.port());
  const auto r = c.wait("j-cancelled-running", 10);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(r.job().attempts(), 1) << "it did not start again";
  EXPECT_EQ(r.result().cases_size(), 0);
  EXPECT_EQ(r.job().skipped_cases_size(), 3);
  EXPECT_NE(r.job().message().find("cancelled by a client"), std::string::npos) << r.job().message();
}

// The same as real processes: cancel a hanging job, SIGKILL the server at once, start it again.
TEST(CaseLimits, CancelThenSigkillThenRestartLeavesTheJobCancelled) {
  TempDir dir;
  const std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--metrics-listen", "off", "--db", dir.file("d.db"),
                                         "--devices", "cpu", "--debug-kernels"};
  std::string id;
  {
    Daemon d(args);
    ASSERT_GT(d.port(), 0) << d.first_line();
    Client c(d.port());
    id = c.submit_ok(hang_then_rms_norm());
    ASSERT_TRUE(c.wait_for_state(id, v1::JOB_STATE_RUNNING));
    ASSERT_TRUE(c.cancel(id).ok());
    d.stop(SIGKILL);
  }
  Daemon d(args);
  ASSERT_GT(d.port(), 0) << d.first_line();
  Client c(d.port());
  const auto r = c.wait(id, 15);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_CANCELLED) << r.job().message();
  for (const auto& cr : r.result().cases()) EXPECT_NE(cr.spec().kernel(), "rms_norm") << "nothing ran after the cancel";
}

}  // namespace
