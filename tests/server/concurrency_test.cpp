// 20 clients submit 200 small jobs at once: every job finishes exactly once, every result stored.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "server_fixture.h"

namespace {

using namespace ligerbench;
using namespace ligerbench::testing;

TEST(Concurrency, TwentyClientsTwoHundredJobs) {
  TempDir dir;
  InProcess server(test_config(dir));
  constexpr int kClients = 20, kJobsEach = 10;
  std::mutex mu;
  std::vector<std::string> ids;
  std::atomic<int> submit_errors{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      Client c(server.port());  // a channel per client
      for (int j = 0; j < kJobsEach; ++j) {
        std::string id;
        if (!c.submit(tiny_spec("c" + std::to_string(t) + "j" + std::to_string(j)), &id).ok()) {
          ++submit_errors;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        ids.push_back(id);
      }
      // Each client follows its own jobs to their end over WatchJob.
    });
  for (auto& t : clients) t.join();
  ASSERT_EQ(submit_errors.load(), 0);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kClients * kJobsEach));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "job ids are unique";

  // Watch them all concurrently (20 threads), then check the store.
  std::atomic<int> next{0}, bad{0};
  std::vector<std::thread> watchers;
  for (int t = 0; t < kClients; ++t)
    watchers.emplace_back([&] {
      Client c(server.port());
      for (int i = next++; i < static_cast<int>(ids.size()); i = next++) {
        const auto events = c.watch(ids[i]);
        int finals = 0, cases = 0;
        for (const auto& e : events) {
          finals += e.has_state_change() && is_final(e.state_change());
          cases += e.has_case_result();
        }
        if (finals != 1 || cases != 2 || events.back().state_change() != v1::JOB_STATE_FINISHED) ++bad;
      }
    });
  for (auto& t : watchers) t.join();
  EXPECT_EQ(bad.load(), 0) << "jobs whose events did not show exactly one finish and two cases";

  Client c(server.port());
  for (const auto& id : ids) {
    const auto r = c.get(id, true);
    ASSERT_EQ(r.job().state(), v1::JOB_STATE_FINISHED) << id;
    ASSERT_EQ(r.job().attempts(), 1) << id;
    ASSERT_EQ(r.result().cases_size(), 2) << id;
    for (const auto& cr : r.result().cases()) ASSERT_TRUE(cr.ok()) << cr.error();
  }
  v1::ListJobsRequest req;
  req.set_page_size(1000);
  req.add_states(v1::JOB_STATE_FINISHED);
  v1::ListJobsResponse resp;
  auto ctx = c.ctx();
  ASSERT_TRUE(c.stub().ListJobs(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.jobs_size(), kClients * kJobsEach);
}

}  // namespace
