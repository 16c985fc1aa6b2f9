// ligerbenchd as a real process on loopback: SIGKILL mid-job and restart, SIGTERM, bad configs.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <fstream>
#include <map>

#include "ligerbench/report.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

std::vector<std::string> daemon_args(const TempDir& dir) {
  return {"--listen", "127.0.0.1:0", "--metrics-listen", "off", "--db", dir.file("d.db"), "--devices", "cpu",
          "--debug-kernels"};
}

TEST(Process, SigkillMidJobLosesNoFinishedResultAndTheJobResumes) {
  TempDir dir;
  std::string id;
  std::map<int, v1::CaseResult> before;  // case index -> result seen before the kill
  {
    Daemon d(daemon_args(dir));
    ASSERT_GT(d.port(), 0) << d.first_line();
    Client c(d.port());
    id = c.submit_ok(sleepy_spec(6, 150));
    // Read events until three cases have finished, then kill the server without warning.
    v1::WatchJobRequest req;
    req.set_job_id(id);
    auto ctx = c.ctx();
    auto reader = c.stub().WatchJob(ctx.get(), req);
    v1::JobEvent e;
    while (before.size() < 3 && reader->Read(&e))
      if (e.has_case_result()) before[e.case_index()] = e.case_result();
    ASSERT_EQ(before.size(), 3u);
    const int status = d.stop(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ctx->TryCancel();
    reader->Finish();
  }
  Daemon d(daemon_args(dir));
  ASSERT_GT(d.port(), 0) << d.first_line();
  Client c(d.port());
  const auto r = c.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  EXPECT_EQ(r.job().attempts(), 2);
  ASSERT_EQ(r.result().cases_size(), 12) << "every case once: none lost, none twice";
  EXPECT_EQ(r.job().done_cases(), 12);
  std::set<std::string> keys;
  for (const auto& cr : r.result().cases()) {
    EXPECT_TRUE(cr.ok()) << cr.error();
    keys.insert(cr.spec().key());
  }
  EXPECT_EQ(keys.size(), 12u);
  // What a client saw before the kill is stored as it was (at least those; the server may
  // have stored one more case before it died).
  for (const auto& [i, seen] : before)
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r.result().cases(i), seen)) << "case " << i;
  // The event log reads as one story without gaps: queued, running, cases, re-queued, running, ..., finished.
  const auto events = c.watch(id);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq(), static_cast<int64_t>(i + 1));
  int case_events = 0, requeued = 0;
  for (const auto& e : events) {
    case_events += e.has_case_result();
    requeued += e.has_state_change() && e.state_change() == v1::JOB_STATE_QUEUED;
  }
  EXPECT_EQ(case_events, 12);
  EXPECT_EQ(requeued, 2);  // submitted, then re-queued after the restart
  EXPECT_EQ(events.back().state_change(), v1::JOB_STATE_FINISHED);
}

TEST(Process, SigtermStopsCleanlyAndRequeuesTheRunningJob) {
  TempDir dir;
  std::string id;
  {
    Daemon d(daemon_args(dir));
    ASSERT_GT(d.port(), 0) << d.first_line();
    Client c(d.port());
    id = c.submit_ok(sleepy_spec(10, 100));
    while (c.get(id).job().done_cases() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int status = d.stop(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << d.rest();
  }
  Daemon d(daemon_args(dir));
  Client c(d.port());
  const auto r = c.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED);
  EXPECT_EQ(r.result().cases_size(), 20);
}

TEST(Process, BadConfigAndUnsafeListenAreRefused) {
  TempDir dir;
  {
    std::ofstream(dir.file("bad.yaml")) << "listen: 127.0.0.1:0\nlisten_port: 5\n";
    Daemon d({"--config", dir.file("bad.yaml")});
    const int status = d.stop(0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    EXPECT_NE(d.first_line().find("bad.yaml:2: key 'listen_port': unknown key"), std::string::npos) << d.first_line();
  }
  {
    Daemon d({"--listen", "0.0.0.0:0", "--db", dir.file("x.db")});
    const int status = d.stop(0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    EXPECT_NE(d.first_line().find("--insecure-listen-any"), std::string::npos) << d.first_line();
  }
  {
    Daemon d({"--listen", "0.0.0.0:0", "--insecure-listen-any", "--metrics-listen", "off", "--db", dir.file("y.db")});
    EXPECT_GT(d.port(), 0) << "told to, it serves on every address: " << d.first_line();
  }
}

}  // namespace

namespace {

// Runs a shell command; returns its exit status and fills *out with stdout and stderr.
int run(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  out->clear();
  while (fgets(buf, sizeof buf, p)) *out += buf;
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Process, CliAgainstARealServer) {
  TempDir dir;
  Daemon d(daemon_args(dir));
  ASSERT_GT(d.port(), 0) << d.first_line();
  const std::string cli = std::string(LIGERBENCH_CLI_PATH) + " ";
  const std::string server = " --server 127.0.0.1:" + std::to_string(d.port());
  std::ofstream(dir.file("tiny.yaml")) << R"(name: tiny
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0}
cases:
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)";
  std::string out;
  ASSERT_EQ(run(cli + "submit " + dir.file("tiny.yaml") + server + " --wait --out " + dir.file("r.json"), &out), 0) << out;
  EXPECT_NE(out.find("2 cases, 0 failed"), std::string::npos) << out;
  EXPECT_EQ(read_result_file(dir.file("r.json")).cases_size(), 2);
  const std::string id = out.substr(0, out.find('\n'));
  ASSERT_EQ(id.rfind("j-", 0), 0u) << out;

  EXPECT_EQ(run(cli + "status " + id + server, &out), 0) << out;
  EXPECT_NE(out.find("finished"), std::string::npos) << out;
  EXPECT_NE(out.find("cases 2/2, failed 0"), std::string::npos) << out;
  EXPECT_EQ(run(cli + "jobs" + server + " --state finished --label suite=none", &out), 0) << out;
  EXPECT_EQ(out.find(id), std::string::npos) << "the label filter excludes it: " << out;
  EXPECT_EQ(run(cli + "jobs" + server + " --state finished", &out), 0) << out;
  EXPECT_NE(out.find(id), std::string::npos) << out;
  EXPECT_EQ(run(cli + "results " + id + server + " --out " + dir.file("again.json"), &out), 0) << out;
  EXPECT_EQ(read_result_file(dir.file("again.json")).cases_size(), 2);

  // A finished job cannot be cancelled: the server refuses (exit 3) and says why.
  EXPECT_EQ(run(cli + "cancel " + id + server, &out), 3) << out;
  EXPECT_NE(out.find("has already ended"), std::string::npos) << out;
  // The server's validation comes back as the suite's file and line (exit 2).
  std::ofstream(dir.file("bad.yaml")) << "name: bad\ncases:\n  - kernel: rms_norm\n    dtypes: [fp8]\n";
  EXPECT_EQ(run(cli + "submit " + dir.file("bad.yaml") + server, &out), 2) << out;
  EXPECT_NE(out.find("bad.yaml:4: key 'cases[0].dtypes[0]'"), std::string::npos) << out;
  // No server there: exit 3.
  EXPECT_EQ(run(cli + "status " + id + " --server 127.0.0.1:1", &out), 3) << out;
}

}  // namespace
