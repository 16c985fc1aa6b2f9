// The stopping rule (sample_until_stable, time_region): which rule stops sampling, the median's
// confidence interval, the warm-up, bounded raw samples and the validation of the options.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "input_error.h"
#include "ligerbench/measure.h"
#include "ligerbench/suite.h"
#include "measure_options.h"

namespace {

using namespace ligerbench;
using ligerbench::testing::error_of;
using Clock = std::chrono::steady_clock;

// At least 20 samples, then the CI rule or max_time_s stops the sampling, not the count.
MeasureOptions ci_options() {
  MeasureOptions opt = ligerbench::testing::exact_samples(20);
  opt.warmup_runs = 1;
  opt.max_samples = 100000;
  opt.max_time_s = 2;
  opt.target_rel_ci = 0.01;
  return opt;
}

// A steady source: samples within +-0.2% of 1 ms (deterministic). The CI rule must stop it at
// the first check past min_samples, long before any other bound.
TEST(MeasureStopping, SteadySourceStopsEarlyOnTheCiRule) {
  int made = 0;
  const SampleBatch steady = [&](int runs) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i, ++made) ms.push_back(1.0 + 0.002 * ((made % 5) - 2) / 2);
    return ms;
  };
  const MeasureOptions opt = ci_options();
  const auto t = sample_until_stable(steady, opt);
  EXPECT_EQ(t.stop_reason(), "ci");
  EXPECT_GE(t.n(), opt.min_samples);
  EXPECT_LE(t.n(), opt.min_samples + 2) << "stopped at the first check the rule allows";
  EXPECT_EQ(t.n(), made);
  EXPECT_LE(t.ci_low_ms(), t.median_ms());
  EXPECT_GE(t.ci_high_ms(), t.median_ms());
  EXPECT_GT(t.ci_low_ms(), 0);
  EXPECT_LE(t.rel_ci(), opt.target_rel_ci);
  EXPECT_LT(t.sampling_s(), 1.0);
}

// A real steady CPU workload through time_region (warm-up, steady_clock): with a loose target
// it stops on the CI rule, well before max_time_s, even on a loaded machine.
TEST(MeasureStopping, SteadyCpuWorkloadStopsOnTheCiRule) {
  volatile double sink = 0;
  auto work = [&] {
    double x = 0;
    for (int i = 0; i < 20000; ++i) x += std::sqrt(static_cast<double>(i));
    sink = sink + x;
  };
  MeasureOptions opt = ci_options();
  opt.target_rel_ci = 0.05;
  opt.max_time_s = 3;
  opt.warmup_runs = 3;
  const auto t = time_region(work, at::Device(at::kCPU), opt);
  EXPECT_EQ(t.stop_reason(), "ci") << "rel_ci " << t.rel_ci() << " after " << t.n() << " samples";
  EXPECT_LT(t.sampling_s(), opt.max_time_s);
  EXPECT_GE(t.warmup_calls(), 3);
  EXPECT_EQ(t.clock(), "steady_clock");
}

// A noisy workload (random sleeps of 0.1 to 2 ms) never gets its median within 1%: it samples
// until max_time_s and says so.
TEST(MeasureStopping, NoisyWorkloadRunsToMaxTime) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> us(100, 2000);
  auto noisy = [&] { std::this_thread::sleep_for(std::chrono::microseconds(us(rng))); };
  MeasureOptions opt = ci_options();
  opt.max_time_s = 0.3;
  const auto t0 = Clock::now();
  const auto t = time_region(noisy, at::Device(at::kCPU), opt);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(t.stop_reason(), "max_time");
  EXPECT_GE(t.sampling_s(), 0.3);
  EXPECT_LT(wall, 1.0) << "stopped near max_time_s";
  EXPECT_GT(t.rel_ci(), opt.target_rel_ci);
  EXPECT_LT(t.n(), opt.max_samples);
  EXPECT_GT(t.ci_high_ms(), t.ci_low_ms());
}

TEST(MeasureStopping, TimeoutBoundsWarmupAndSampling) {
  auto sleepy = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
  MeasureOptions opt = ci_options();
  opt.warmup_s = 10;  // longer than the timeout: the timeout cuts the warm-up short
  opt.timeout_s = 0.2;
  const auto t0 = Clock::now();
  const auto t = time_region(sleepy, at::Device(at::kCPU), opt);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(t.stop_reason(), "timeout");
  EXPECT_GE(t.n(), 1) << "at least one sample after the warm-up";
  EXPECT_LT(wall, 0.5);
}

TEST(MeasureStopping, MaxSamplesAndMinTime) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> wide(0.5, 1.5);
  const SampleBatch noisy = [&](int runs) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) ms.push_back(wide(rng));
    return ms;
  };
  MeasureOptions opt = ci_options();
  opt.max_samples = 50;
  auto t = sample_until_stable(noisy, opt);
  EXPECT_EQ(t.stop_reason(), "max_samples");
  EXPECT_EQ(t.n(), 50);

  // A steady source still samples for min_time_s.
  const SampleBatch steady = [](int runs) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return std::vector<double>(runs, 1.0);
  };
  opt = ci_options();
  opt.min_time_s = 0.1;
  t = sample_until_stable(steady, opt);
  EXPECT_EQ(t.stop_reason(), "ci");
  EXPECT_GE(t.sampling_s(), 0.1);
  EXPECT_GT(t.n(), opt.min_samples);
}

TEST(MeasureStopping, RawSamplesAreTheLastThousand) {
  int made = 0;
  const SampleBatch counting = [&](int runs) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) ms.push_back(1.0 + (made++ % 2));  // 1, 2, 1, 2: CI never within 1%
    return ms;
  };
  MeasureOptions opt = ci_options();
  opt.max_samples = 2500;
  const auto t = sample_until_stable(counting, opt);
  EXPECT_EQ(t.n(), 2500);
  ASSERT_EQ(t.samples_ms_size(), kKeptSamples);
  EXPECT_DOUBLE_EQ(t.samples_ms(0), 1.0 + (2500 - kKeptSamples) % 2) << "the last ones, in run order";
  opt.keep_samples = false;
  made = 0;
  EXPECT_EQ(sample_until_stable(counting, opt).samples_ms_size(), 0);
}

// The order-statistic interval: with 100 samples 1..100 the 95% CI of the median is the
// 41st..61st order statistics (0-based indices floor(50 - 9.8) = 40 and ceil(50 + 9.8) = 60).
TEST(MeasureStopping, MedianCiIsTheOrderStatisticInterval) {
  std::vector<double> s;
  for (int i = 100; i >= 1; --i) s.push_back(i);
  const auto t = summarize(s);
  EXPECT_DOUBLE_EQ(t.median_ms(), 50.5);
  EXPECT_DOUBLE_EQ(t.ci_low_ms(), 41);
  EXPECT_DOUBLE_EQ(t.ci_high_ms(), 61);
  EXPECT_NEAR(t.rel_ci(), 10.5 / 50.5, 1e-12);
  EXPECT_NEAR(t.noise(), 10.0 / 50.5, 1e-12);
  EXPECT_EQ(summarize({1, 2, 3}).rel_ci(), -1) << "undefined below 5 samples";
}

TEST(MeasureOptionsFromJob, DefaultsAliasAndMinTime) {
  v1::MeasurementOptions m;
  auto o = resolve_options(m);
  EXPECT_DOUBLE_EQ(o.target_rel_ci, 0.01);
  EXPECT_DOUBLE_EQ(o.warmup_s, 0.025);
  EXPECT_DOUBLE_EQ(o.max_time_s, 2.0);
  m.set_max_noise(0.02);
  EXPECT_DOUBLE_EQ(resolve_options(m).target_rel_ci, 0.02) << "max_noise is the older name";
  m.set_target_rel_ci(0.03);
  EXPECT_DOUBLE_EQ(resolve_options(m).target_rel_ci, 0.03) << "target_rel_ci wins";
  m.set_min_time_s(7);
  EXPECT_DOUBLE_EQ(resolve_options(m).max_time_s, 7) << "a min_time_s past the default max_time_s raises it";
}

TEST(MeasureOptionsFromJob, NewKeysAreValidatedByName) {
  const std::string cases = "\ncases: [{kernel: rms_norm}]\n";
  for (const char* field : {"warmup_s", "target_rel_ci", "max_time_s"})
    for (const char* value : {".nan", ".inf", "-1", "1e10"}) {
      const std::string err = error_of(std::string("measurement: {") + field + ": " + value + "}" + cases);
      EXPECT_NE(err.find(std::string("suite.yaml:1: key 'measurement.") + field + "': must be a finite number in"),
                std::string::npos)
          << field << "=" << value << ": " << err;
    }
  EXPECT_NE(error_of("measurement: {target_rel_ci: 0}" + cases).find("(0, 1]"), std::string::npos);
  const std::string below = error_of("measurement: {min_time_s: 2, max_time_s: 1}" + cases);
  EXPECT_NE(below.find("key 'measurement.max_time_s': must be a finite number in [2, 3600], got 1"), std::string::npos)
      << below;
  EXPECT_EQ(error_of("measurement: {warmup_s: 0, target_rel_ci: 1, min_time_s: 1, max_time_s: 1}" + cases), "");
}

}  // namespace
