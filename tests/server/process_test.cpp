// ligerbenchd as a real process on loopback: SIGKILL mid-job and restart, SIGTERM, bad configs.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include <fstream>
#include <map>

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
    keys.insert(cr.key());
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
