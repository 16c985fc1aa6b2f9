// Timing kinds (hot, cold, graph): their case keys side by side, the options' validation, which
// flush a result used, graph timing refused on CPU and, on a GPU, captured or refused with a reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "input_error.h"
#include "ligerbench/measure.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"
#include "test_util.h"

namespace {

using namespace ligerbench;
using ligerbench::testing::error_of;

v1::JobSpec timing_job(const std::string& measurement_extra, const std::string& sweep_extra = "") {
  return parse_suite(
      "measurement: {min_samples: 3, max_samples: 5, min_time_s: 0, timeout_s: 2, warmup_runs: 1, warmup_s: 0" +
          measurement_extra + "}\ncases:\n  - kernel: rms_norm\n    shape: {T: 8, H: 64}\n    dtypes: [fp32]\n    modes: [forward]\n" +
          sweep_extra,
      "timing.yaml");
}

TEST(TimingKinds, HotColdAndGraphKeysCoexist) {
  const auto job = timing_job(", timing: [hot, cold, graph]");
  const auto cases = expand_cases(job, {"cpu", "cuda:0"});
  ASSERT_EQ(cases.size(), 12u);  // 2 devices x 3 timings x 2 providers
  EXPECT_EQ(job_case_count(job, 2), cases.size());
  std::set<std::string> keys;
  for (const auto& c : cases) keys.insert(c.case_spec.key());
  EXPECT_EQ(keys.size(), cases.size()) << "every timing kind has its own key";
  const Case& cold = *std::find_if(cases.begin(), cases.end(), [](const Case& c) {
    return c.case_spec.timing_kind() == "cold" && c.provider == Provider::kLiger && c.config.device.is_cpu();
  });
  const std::string& cold_key = cold.case_spec.key();
  EXPECT_EQ(cold_key.rfind("rms_norm|T=8,H=64|fp32|forward|liger|", 0), 0u) << cold_key;
  EXPECT_EQ(cold_key.substr(cold_key.size() - 4), "|cpu") << "cold keeps the key as it was: " << cold_key;
  EXPECT_TRUE(keys.count(cold_key + "|hot")) << cold_key;
  EXPECT_TRUE(keys.count(cold_key + "|graph")) << cold_key;
  for (std::size_t i = 0; i + 1 < cases.size(); i += 2) {
    EXPECT_EQ(cases[i].provider, Provider::kBaseline);
    EXPECT_EQ(cases[i].pair_key, cases[i + 1].pair_key) << "a pair shares its timing kind";
    EXPECT_EQ(cases[i].case_spec.timing_kind(), cases[i + 1].case_spec.timing_kind());
  }
}

TEST(TimingKinds, DefaultsOlderColdKeyAndSweepOverride) {
  EXPECT_EQ(expand_cases(timing_job(""), {"cpu"}).at(0).case_spec.timing_kind(), "cold")
      << "default [cold], as Liger's do_bench";
  EXPECT_EQ(expand_cases(timing_job(", cold: false"), {"cpu"}).at(0).case_spec.timing_kind(), "hot");
  EXPECT_EQ(expand_cases(timing_job(", cold: true"), {"cpu"}).at(0).case_spec.timing_kind(), "cold");
  const auto swept = expand_cases(timing_job(", timing: [cold]", "    timing: [hot]\n"), {"cpu"});
  ASSERT_EQ(swept.size(), 2u);
  EXPECT_EQ(swept[0].case_spec.timing_kind(), "hot") << "a sweep's own timing wins";
  EXPECT_EQ(swept[0].case_spec.key().substr(swept[0].case_spec.key().size() - 4), "|hot");
}

TEST(TimingKinds, BadTimingAndFlushNameTheKey) {
  const std::string cases = "\ncases: [{kernel: rms_norm}]\n";
  std::string err = error_of("measurement: {timing: [hot, warm]}" + cases);
  EXPECT_NE(err.find("key 'measurement.timing[1]': unknown timing 'warm' (timing kinds: hot, cold, graph)"),
            std::string::npos)
      << err;
  err = error_of("measurement: {timing: [hot, hot]}" + cases);
  EXPECT_NE(err.find("key 'measurement.timing[1]': timing 'hot' is listed twice"), std::string::npos) << err;
  err = error_of("cases: [{kernel: rms_norm, timing: [grap]}]\n");
  EXPECT_NE(err.find("key 'cases[0].timing[0]': unknown timing 'grap'"), std::string::npos) << err;
  err = error_of("measurement: {cold: true, timing: [hot]}" + cases);
  EXPECT_NE(err.find("key 'measurement.cold': is the older form of measurement.timing"), std::string::npos) << err;
  err = error_of("measurement: {flush: dirty}" + cases);
  EXPECT_NE(err.find("key 'measurement.flush': unknown flush 'dirty' (memset or clean)"), std::string::npos) << err;
  EXPECT_EQ(error_of("measurement: {flush: clean, timing: [hot, cold, graph]}" + cases), "");
}

TEST(TimingKinds, FlushOfEachKind) {
  MeasureOptions opt;
  EXPECT_EQ(flush_name(options_for_timing(opt, "cold")), "memset");
  EXPECT_EQ(flush_name(options_for_timing(opt, "hot")), "none");
  EXPECT_EQ(flush_name(options_for_timing(opt, "graph")), "none") << "graph replays run back to back";
  v1::MeasurementOptions m;
  m.set_flush("clean");
  EXPECT_EQ(flush_name(options_for_timing(resolve_options(m), "cold")), "clean");
}

// On CPU: hot and cold run; graph is reported as not applicable, per case, without a crash.
TEST(TimingKinds, GraphIsNotApplicableOnCpu) {
  const auto job = timing_job(", timing: [hot, cold, graph]");
  const auto result = run_cases(job, select_cases(job, {"cpu"}, "liger"), {});
  ASSERT_EQ(result.cases_size(), 3);
  for (const auto& r : result.cases()) {
    EXPECT_EQ(r.flush(), "none") << "no flush on CPU";
    if (r.spec().timing_kind() == "graph") {
      EXPECT_FALSE(r.ok());
      EXPECT_EQ(r.error(), "timing 'graph' is not applicable on cpu: CUDA graphs need a CUDA device");
      EXPECT_EQ(r.spec().key().substr(r.spec().key().size() - 6), "|graph");
    } else {
      EXPECT_TRUE(r.ok()) << r.spec().key() << ": " << r.error();
      EXPECT_GT(r.timing().median_ms(), 0) << r.spec().key();
      EXPECT_TRUE(r.accuracy().passed()) << r.spec().key();
    }
  }
  EXPECT_EQ(result.failed_cases(), 1);
}

// On a GPU: rms_norm's forward is captured and replayed; a region with a host synchronisation
// cannot be captured and says why instead of giving a time, and leaves the device's random
// generator as it was (a failed capture once left it in capture mode for every later case).
TEST(TimingKinds, GraphCapturesARegionOrSaysWhyNot) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  const auto job = timing_job(", timing: [hot, cold, graph], flush: clean");
  const auto result = run_cases(job, select_cases(job, {"cuda:0"}, ""), {});
  ASSERT_EQ(result.cases_size(), 6);
  for (const auto& r : result.cases()) {
    EXPECT_TRUE(r.ok()) << r.spec().key() << ": " << r.error();
    EXPECT_GT(r.timing().median_ms(), 0) << r.spec().key();
    EXPECT_EQ(r.flush(), r.spec().timing_kind() == "cold" ? "clean" : "none") << r.spec().key();
  }
  const GpuBackend* gpu = gpu_backend();
  at::Tensor x = at::ones({16}, at::TensorOptions().device(at::kCUDA, 0));
  auto syncing = [&] { (void)x.sum().item<float>(); };
  syncing();
  // The random stream a failed capture must leave untouched: what the next draw would have given.
  const at::TensorOptions on_gpu = at::TensorOptions().device(at::kCUDA, 0);
  at::manual_seed(1234);
  const at::Tensor expected_draw = at::randn({64}, on_gpu);
  at::manual_seed(1234);
  try {
    (void)gpu->capture_graph(0, syncing);
    ADD_FAILURE() << "a host synchronisation was captured";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be captured in a CUDA graph"), std::string::npos) << e.what();
  }
  at::Tensor draw;
  ASSERT_NO_THROW(draw = at::randn({64}, on_gpu)) << "random ops work after a failed capture";
  EXPECT_TRUE(at::equal(draw, expected_draw)) << "the generator kept its seed and offset";
  auto plain = [&] { x.mul_(1.0f); };
  EXPECT_NO_THROW(gpu->capture_graph(0, plain)()) << "the device is usable after a failed capture";
}

// hide_launch_gaps: a region whose host side (a 2 ms sleep, then a tiny kernel) outlasts its GPU
// work measures the host without a hold and the GPU's work with one.
TEST(LaunchGaps, HoldTimesTheGpuNotTheHost) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::Tensor x = at::ones({1024}, at::TensorOptions().device(at::kCUDA, 0));
  auto host_bound = [&] {
    x.mul_(1.0f);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    x.mul_(1.0f);
  };
  MeasureOptions opt;
  opt.min_samples = 10;
  opt.max_samples = 20;
  opt.min_time_s = 0;
  opt.warmup_s = 0;
  const v1::Timing eager = time_region(host_bound, at::Device(at::kCUDA, 0), opt);
  opt.hide_launch_gaps = true;
  const v1::Timing held = time_region(host_bound, at::Device(at::kCUDA, 0), opt);
  EXPECT_GE(eager.host_ms(), 2.0);
  EXPECT_EQ(eager.hold_ms(), 0);
  EXPECT_GE(eager.median_ms(), 1.9) << "without a hold the events span the host's sleep";
  EXPECT_GE(held.hold_ms(), hold_ms_for(2.0)) << "the hold covers the host time";
  EXPECT_LT(held.median_ms(), 0.5) << "held, the events span the two kernels only";
}

TEST(LaunchGaps, OptionAndHoldRule) {
  v1::MeasurementOptions m;
  EXPECT_FALSE(resolve_options(m).hide_launch_gaps) << "off by default, as do_bench";
  m.set_hide_launch_gaps(true);
  EXPECT_TRUE(resolve_options(m).hide_launch_gaps);
  EXPECT_DOUBLE_EQ(hold_ms_for(1.0), kHoldFactor * 1.0 + kHoldMarginMs);
  EXPECT_DOUBLE_EQ(hold_ms_for(1e6), kMaxHoldMs) << "bounded";
  EXPECT_EQ(error_of("measurement: {hide_launch_gaps: true}\ncases: [{kernel: rms_norm}]\n"), "");
  EXPECT_NE(error_of("measurement: {hide_launch_gaps: maybe}\ncases: [{kernel: rms_norm}]\n").find("hide_launch_gaps"),
            std::string::npos);
  // On CPU nothing is held and no host time is recorded: steady_clock already times the host.
  const v1::Timing cpu = time_region([] {}, at::Device(at::kCPU), resolve_options(m));
  EXPECT_EQ(cpu.hold_ms(), 0);
  EXPECT_EQ(cpu.host_ms(), 0);
}

}  // namespace
