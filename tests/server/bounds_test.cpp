// Hostile and careless requests: job timeouts outside their range, a watch of a finished job
// past its last event, messages that would echo 100 KiB of input, unsafe settings refused.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;
using Clock = std::chrono::steady_clock;

class Bounds : public ::testing::Test {
 protected:
  Bounds() : server_(test_config(dir_)), client_(server_.port()) {}
  TempDir dir_;
  InProcess server_;
  Client client_;
};

TEST_F(Bounds, AJobTimeoutOutsideItsRangeIsRefusedNamingTheMaximum) {
  for (const double bad : {1e10, 604800.5, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    std::string id;
    const auto s = client_.submit(tiny_spec(), &id, "", bad);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_EQ(s.error_message().rfind("timeout_s: must be a finite number of seconds from 0 to 604800", 0), 0u)
        << s.error_message();
    EXPECT_TRUE(id.empty());
  }
  // The largest allowed timeout does not time the job out at once.
  std::string id;
  ASSERT_TRUE(client_.submit(tiny_spec(), &id, "", 604800).ok());
  const auto r = client_.wait(id);
  EXPECT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << r.job().message();
  EXPECT_EQ(r.job().timeout_s(), 604800);
}

TEST_F(Bounds, WatchingAFinishedJobFromItsLastEventOnEndsAtOnce) {
  const std::string id = client_.submit_ok(tiny_spec());
  client_.wait(id);
  const auto all = client_.watch(id);
  ASSERT_FALSE(all.empty());
  const int64_t last = all.back().seq();
  for (const int64_t after : {last, last + 1, last + 1000}) {
    const auto t0 = Clock::now();
    grpc::Status s;
    const auto events = client_.watch(id, after, &s);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(events.empty()) << "after_seq " << after;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5) << "after_seq " << after;
  }
  // One before the last: exactly the final event.
  const auto tail = client_.watch(id, last - 1);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].state_change(), v1::JOB_STATE_FINISHED);
}

TEST_F(Bounds, ErrorsQuoteOnlyTheStartOfHugeInput) {
  const std::string huge_id = "j-" + std::string(100 << 10, 'z');
  auto check = [&](const grpc::Status& s, grpc::StatusCode code, const std::string& starts) {
    EXPECT_EQ(s.error_code(), code) << s.error_message().substr(0, 200);
    EXPECT_EQ(s.error_message().rfind(starts, 0), 0u) << s.error_message().substr(0, 200);
    EXPECT_LT(s.error_message().size(), 200u);
    EXPECT_NE(s.error_message().find("(102402 bytes)"), std::string::npos) << s.error_message();
  };
  {
    v1::GetJobRequest req;
    req.set_job_id(huge_id);
    v1::GetJobResponse resp;
    auto ctx = client_.ctx();
    check(client_.stub().GetJob(ctx.get(), req, &resp), grpc::StatusCode::NOT_FOUND, "job_id: no job 'j-zzz");
  }
  check(client_.cancel(huge_id), grpc::StatusCode::NOT_FOUND, "job_id: no job 'j-zzz");
  {
    grpc::Status s;
    client_.watch(huge_id, 0, &s);
    check(s, grpc::StatusCode::NOT_FOUND, "job_id: no job 'j-zzz");
  }
  // A message built from other parts of a request is capped as a whole.
  v1::JobSpec spec = tiny_spec();
  spec.add_devices(std::string(100 << 10, 'd'));
  std::string id;
  const auto s = client_.submit(spec, &id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(s.error_message().size(), 1024u);
  EXPECT_EQ(s.error_message().rfind("spec.devices[0]", 0), 0u) << s.error_message().substr(0, 200);
}

TEST(Settings, AMultiLineOrSpacedTokenFileIsRefused) {
  TempDir dir;
  auto config = test_config(dir);
  for (const auto& [content, says] : std::vector<std::pair<std::string, std::string>>{
           {"first\nsecond\n", "more than one line"},
           {"two words\n", "space or control character at byte 4"},
           {"\n", "the file is empty"}}) {
    std::ofstream(dir.file("token"), std::ios::trunc) << content;
    config.set_auth_token_file(dir.file("token"));
    try {
      InProcess server(config);
      ADD_FAILURE() << "token file " << content << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("auth_token_file"), std::string::npos) << e.what();
    }
  }
}

TEST(Settings, MetricsOnANonLoopbackAddressNeedInsecureListenAny) {
  TempDir dir;
  {
    Daemon d({"--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0", "--db", dir.file("m.db")});
    int status = 0;
    ASSERT_TRUE(d.stop_within(0, 30, &status));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    EXPECT_NE(d.first_line().find("metrics_listen '0.0.0.0:0': /metrics is plain HTTP"), std::string::npos) << d.first_line();
    EXPECT_NE(d.first_line().find("--insecure-listen-any"), std::string::npos) << d.first_line();
  }
  {
    Daemon d({"--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0", "--insecure-listen-any", "--db",
              dir.file("n.db")});
    EXPECT_GT(d.metrics_port(), 0) << "told to, it serves /metrics on every address: " << d.first_line();
  }
}

}  // namespace
