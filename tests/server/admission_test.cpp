// A large spec is admitted off gRPC's callback threads: health checks and other calls answer
// meanwhile, SIGTERM stops a server in the middle of an admission, and the admission backlog is
// bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "generic_calls.h"
#include "ligerbench/server/admission_queue.h"
#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// `n` one-case-pair sweeps of rms_norm (2n cases), about 45 bytes a sweep: each is validated,
// expanded and memory-estimated on admission.
v1::SubmitJobRequest many_sweeps(int n) {
  v1::SubmitJobRequest req;
  auto* spec = req.mutable_spec();
  spec->set_name("many-sweeps");
  spec->mutable_measurement()->set_min_samples(1);
  spec->mutable_measurement()->set_max_samples(1);
  spec->mutable_measurement()->set_warmup_runs(0);
  for (int i = 0; i < n; ++i) {
    auto* sw = spec->add_cases();
    sw->set_kernel("rms_norm");
    (*sw->mutable_shape())["T"].add_values(i + 1);
    (*sw->mutable_shape())["H"].add_values(8);
    sw->add_dtypes("fp32");
    sw->add_modes("forward");
  }
  return req;
}

TEST(Admission, HealthAndOtherCallsAnswerWhileLargeSpecsAreAdmitted) {
  TempDir dir;
  auto config = test_config(dir);
  config.set_max_cases_per_job(100000);
  InProcess server(config);
  const client::ClientOptions opts{"127.0.0.1:" + std::to_string(server.port())};
  const auto req = many_sweeps(40000);  // 80000 cases, about 1.8 MB

  std::atomic<int> in_flight{2};
  std::vector<std::future<std::pair<grpc::Status, std::string>>> submits;
  std::vector<double> submit_s(2);
  const auto t0 = Clock::now();
  for (int i = 0; i < 2; ++i)
    submits.push_back(std::async(std::launch::async, [&, i] {
      Client c(server.port());
      v1::SubmitJobResponse resp;
      auto ctx = c.ctx(120);
      const auto s = c.stub().SubmitJob(ctx.get(), req, &resp);
      submit_s[i] = since(t0);
      --in_flight;
      return std::make_pair(s, resp.job_id());
    }));
  // While both are being admitted: health checks and GetNodeInfo, each timed.
  double worst = 0;
  int checks = 0;
  Client c(server.port());
  while (in_flight.load() > 0) {
    const auto t = Clock::now();
    const auto health = health_check(opts, "", 20);
    v1::GetNodeInfoResponse node;
    auto ctx = c.ctx(20);
    const auto node_status = c.stub().GetNodeInfo(ctx.get(), {}, &node);
    worst = std::max(worst, since(t));
    ASSERT_TRUE(health.status.ok()) << health.status.error_message();
    ASSERT_TRUE(node_status.ok()) << node_status.error_message();
    if (in_flight.load() > 0) ++checks;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::string> ids;
  for (auto& f : submits) {
    const auto [s, id] = f.get();
    EXPECT_TRUE(s.ok()) << s.error_message();
    ids.push_back(id);
  }
  std::printf("[ admission ] 2 x %d sweeps (%zu bytes each): admitted in %.2f s and %.2f s; %d health+GetNodeInfo "
              "pairs meanwhile, slowest %.3f s\n",
              req.spec().cases_size(), req.ByteSizeLong(), submit_s[0], submit_s[1], checks, worst);
  EXPECT_GT(checks, 0) << "the admissions were too quick to overlap any call";
  EXPECT_LT(worst, 1.5) << "a health check waited for an admission";
  for (const auto& id : ids)
    if (!id.empty()) EXPECT_TRUE(c.cancel(id).ok());
}

TEST(Admission, SigtermStopsTheServerDuringAnAdmission) {
  TempDir dir;
  Daemon d({"--listen", "127.0.0.1:0", "--metrics-listen", "off", "--db", dir.file("d.db"), "--devices", "cpu"});
  ASSERT_GT(d.port(), 0) << d.first_line();
  const auto req = many_sweeps(45000);
  auto submit = std::async(std::launch::async, [&] {
    Client c(d.port());
    v1::SubmitJobResponse resp;
    auto ctx = c.ctx(60);
    return c.stub().SubmitJob(ctx.get(), req, &resp);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int status = 0;
  const auto t0 = Clock::now();
  ASSERT_TRUE(d.stop_within(SIGTERM, 30, &status)) << "ligerbenchd did not stop within 30 s of SIGTERM";
  std::printf("[ admission ] SIGTERM during an admission: stopped in %.2f s\n", since(t0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << d.rest();
  const auto s = submit.get();
  EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE) << s.error_code() << " " << s.error_message();
}

TEST(Admission, TheBacklogIsBoundedAndStopAnswersWhatWaits) {
  server::AdmissionQueue queue(1, 2);  // one thread, two may wait
  std::promise<void> started, release;
  std::atomic<int> ran{0}, refused{0};
  auto count = [&](bool run) { run ? ++ran : ++refused; };
  ASSERT_EQ(queue.post([&](bool run) {
              started.set_value();
              release.get_future().wait();
              count(run);
            }),
            server::AdmissionQueue::Posted::kQueued);
  started.get_future().wait();  // the thread is busy, the backlog empty
  EXPECT_EQ(queue.post(count), server::AdmissionQueue::Posted::kQueued);
  EXPECT_EQ(queue.post(count), server::AdmissionQueue::Posted::kQueued);
  EXPECT_EQ(queue.post(count), server::AdmissionQueue::Posted::kFull);
  std::thread stopper([&] { queue.stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran.load(), 1) << "only the task that had started did its work";
  EXPECT_EQ(refused.load(), 2) << "the two waiting tasks were told the queue stopped";
  EXPECT_EQ(queue.post(count), server::AdmissionQueue::Posted::kStopped);
}

}  // namespace
