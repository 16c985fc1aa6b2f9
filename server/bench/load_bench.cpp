// ligerbench-loadbench: N client threads submit small CPU jobs to a running ligerbenchd and
// follow them to their end. Reports submit latency (p50, p99) and completed jobs per second.
//   ligerbench-loadbench [--server HOST:PORT] [--clients 20] [--jobs 200]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "args.h"  // the CLI's option parser (harness/cli)
#include "ligerbench/client/channel.h"
#include "ligerbench/suite.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace ligerbench;

// Two cases of a few milliseconds each: what the benchmark measures is the service around them.
constexpr const char* kSmallJob = R"(
name: loadbench
labels: {suite: loadbench}
measurement: {min_samples: 1, max_samples: 2, warmup_runs: 0, min_time_s: 0, check_accuracy: true}
cases:
  - {kernel: rms_norm, shape: {T: 4, H: 8}, dtypes: [fp32], modes: [forward]}
)";

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  client::ClientOptions opts;
  int clients = 0, jobs = 0;
  try {
    const cli::Args a = cli::parse_args(argc, argv, 1, {"--server", "--clients", "--jobs"}, {});
    if (!a.positional.empty()) throw InputError("unexpected argument '" + quote_truncated(a.positional[0]) + "'");
    opts.server = a.get("--server", opts.server);
    clients = static_cast<int>(cli::int_flag(a, "--clients", 20, 1, 1000));
    jobs = static_cast<int>(cli::int_flag(a, "--jobs", 200, 1, 1000000));
  } catch (const InputError& e) {
    std::fprintf(stderr, "ligerbench-loadbench: %s\nusage: ligerbench-loadbench [--server HOST:PORT] [--clients N] [--jobs N]\n",
                 e.what());
    return 2;
  }
  v1::SubmitJobRequest req;
  *req.mutable_spec() = parse_suite(kSmallJob, "loadbench");

  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<int> failed{0}, finished{0}, next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t)
    threads.emplace_back([&] {
      auto stub = v1::BenchService::NewStub(client::make_channel(opts));
      std::vector<std::string> mine;
      while (next++ < jobs) {
        v1::SubmitJobResponse resp;
        auto ctx = client::make_context(opts, 60);
        const auto t0 = Clock::now();
        const auto s = stub->SubmitJob(ctx.get(), req, &resp);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!s.ok()) {
          std::fprintf(stderr, "submit failed: %s\n", s.error_message().c_str());
          ++failed;
          continue;
        }
        mine.push_back(resp.job_id());
        std::lock_guard<std::mutex> lock(mu);
        latencies_ms.push_back(ms);
      }
      for (const auto& id : mine) {  // follow each job to its end
        v1::WatchJobRequest w;
        w.set_job_id(id);
        auto ctx = client::make_context(opts, 600);
        auto reader = stub->WatchJob(ctx.get(), w);
        v1::JobEvent e, last;
        while (reader->Read(&e)) last = e;
        if (reader->Finish().ok() && last.state() == v1::JOB_STATE_FINISHED) ++finished;
        else ++failed;
      }
    });
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("ligerbench-loadbench: %d clients, %d jobs (2 CPU cases each) against %s\n", clients, jobs,
              opts.server.c_str());
  std::printf("  submit latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", percentile(latencies_ms, 0.5),
              percentile(latencies_ms, 0.99), percentile(latencies_ms, 1.0));
  std::printf("  %d jobs finished in %.2f s: %.1f jobs/s (%d failed)\n", finished.load(), secs, finished / secs,
              failed.load());
  return failed == 0 ? 0 : 1;
}
