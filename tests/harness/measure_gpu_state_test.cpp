// GPU state around a case: the throttle flag from injected NVML samples (a fake GpuStateSource,
// the seam NVML sits behind) before, during (GpuStateSampler's thread) and after the case, the
// table's mark, the node's identity, and the real NVML loader on this node (present on a GPU
// node, "nvml unavailable" elsewhere).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "ligerbench/gpu_state.h"
#include "ligerbench/report.h"

namespace {

using namespace ligerbench;

// NVML throttle-reason bits (nvml.h).
constexpr uint64_t kIdle = 0x1, kSwPowerCap = 0x4, kHwThermal = 0x40;

class FakeSource final : public GpuStateSource {
 public:
  std::string why;
  std::vector<uint64_t> reasons;  // one per sample, in call order
  mutable std::size_t calls = 0;
  std::string unavailable() const override { return why; }
  v1::GpuSample sample(const std::string&, int) const override {
    v1::GpuSample s;
    if (!why.empty()) return s;
    s.set_available(true);
    s.set_sm_clock_mhz(1980);
    s.set_throttle_reasons(reasons.at(calls++));
    return s;
  }
  GpuIdentity identity(const std::string&, int) const override { return {"NVIDIA H200", "GPU-1234", "570.86.15"}; }
};

v1::CaseResult sampled_case(const FakeSource& src) {
  v1::CaseResult r;
  r.mutable_spec()->set_key("rms_norm|T=8|bf16|forward|liger||cuda:0");
  r.set_ok(true);
  record_gpu_before(src, "0000:3b:00.0", 0, r);
  record_gpu_after(src, "0000:3b:00.0", 0, r);
  return r;
}

TEST(GpuState, ThrottleFlagFollowsTheSampledReasons) {
  FakeSource calm;
  calm.reasons = {kIdle, 0};
  auto r = sampled_case(calm);
  EXPECT_FALSE(r.throttled()) << "an idle GPU is not throttled";
  EXPECT_EQ(r.device_uuid(), "GPU-1234") << "the result names the physical GPU";
  EXPECT_TRUE(r.gpu_before().available());
  EXPECT_EQ(r.gpu_before().throttle_names(0), "gpu_idle");

  FakeSource hot;
  hot.reasons = {0, kHwThermal | kIdle};
  r = sampled_case(hot);
  EXPECT_TRUE(r.throttled()) << "thermal slowdown after the case";
  ASSERT_EQ(r.gpu_after().throttle_names_size(), 2);
  EXPECT_EQ(r.gpu_after().throttle_names(1), "hw_thermal");

  FakeSource capped;
  capped.reasons = {kSwPowerCap, 0};
  EXPECT_TRUE(sampled_case(capped).throttled()) << "power cap before the case";

  FakeSource absent;
  absent.why = "nvml unavailable: test";
  r = sampled_case(absent);
  EXPECT_FALSE(r.throttled());
  EXPECT_FALSE(r.gpu_before().available());
  EXPECT_EQ(r.device_uuid(), "") << "without NVML no UUID is made up";
}

TEST(GpuState, TableMarksAThrottledCase) {
  FakeSource hot;
  hot.reasons = {0, kHwThermal};
  v1::JobResult result;
  auto* r = result.add_cases();
  *r = sampled_case(hot);
  r->mutable_spec()->set_kernel("rms_norm");
  r->mutable_spec()->set_timing_kind("hot");
  r->mutable_timing()->set_median_ms(0.5);
  FakeSource calm;
  calm.reasons = {0, 0};
  auto* quiet = result.add_cases();
  *quiet = sampled_case(calm);
  quiet->mutable_spec()->set_kernel("softmax");
  quiet->mutable_timing()->set_median_ms(0.25);
  std::ostringstream os;
  print_table(os, result);
  const std::string table = os.str();
  EXPECT_NE(table.find("0.5000!"), std::string::npos) << table;
  EXPECT_EQ(table.find("0.2500!"), std::string::npos) << table;
  EXPECT_NE(table.find("! rms_norm|T=8|bf16|forward|liger||cuda:0: the GPU throttled during this case (hw_thermal)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find(" timing "), std::string::npos) << "the timing kind has a column: " << table;
}

// A source whose state the test changes while a sampler thread reads it.
class LiveSource final : public GpuStateSource {
 public:
  std::atomic<uint64_t> reasons{0};
  std::string why;
  mutable std::atomic<int> calls{0};
  std::string unavailable() const override { return why; }
  v1::GpuSample sample(const std::string&, int) const override {
    ++calls;
    v1::GpuSample s;
    s.set_available(true);
    s.set_sm_clock_mhz(1755);
    s.set_throttle_reasons(reasons.load());
    return s;
  }
  GpuIdentity identity(const std::string&, int) const override { return {"NVIDIA H200", "GPU-1234", "570.86.15"}; }
};

// Waits (at most 10 s: a loaded CI host may not run the sampler's thread for a while) until the
// source has been sampled `n` times.
bool wait_for_calls(const LiveSource& src, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (src.calls.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(GpuState, AThrottleSeenOnlyDuringTheCaseSetsTheFlag) {
  LiveSource src;
  v1::CaseResult r;
  r.mutable_spec()->set_key("cross_entropy|BT=8192,V=128256|fp32|full|liger||cuda:0");
  r.mutable_timing()->set_median_ms(3.0);
  record_gpu_before(src, "", 0, r);
  src.reasons = kSwPowerCap;  // the power cap holds the clocks down mid-case only
  GpuStateSampler sampler(src, "", 0, std::chrono::milliseconds(2), 64);
  ASSERT_TRUE(wait_for_calls(src, 3)) << "the sampler took no sample in 10 s";
  src.reasons = 0;
  record_gpu_after(src, "", 0, r, sampler.stop());
  EXPECT_FALSE(r.gpu_before().throttle_reasons() & kSwPowerCap);
  EXPECT_FALSE(r.gpu_after().throttle_reasons() & kSwPowerCap);
  ASSERT_GT(r.gpu_during_size(), 0);
  EXPECT_TRUE(r.throttled()) << "the cap during the case was missed";
  EXPECT_EQ(r.gpu_during(0).sm_clock_mhz(), 1755u);
  v1::JobResult job;
  *job.add_cases() = r;
  std::ostringstream os;
  print_table(os, job);
  EXPECT_NE(os.str().find("the GPU throttled during this case (sw_power_cap)"), std::string::npos) << os.str();

  // The same case with a calm GPU throughout is not flagged.
  LiveSource calm;
  v1::CaseResult q;
  record_gpu_before(calm, "", 0, q);
  GpuStateSampler quiet(calm, "", 0, std::chrono::milliseconds(2), 64);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  record_gpu_after(calm, "", 0, q, quiet.stop());
  EXPECT_FALSE(q.throttled());
}

TEST(GpuState, SamplesStayBoundedAndSpanALongCase) {
  LiveSource src;
  GpuStateSampler sampler(src, "", 0, std::chrono::milliseconds(1), 8);
  ASSERT_TRUE(wait_for_calls(src, 12)) << "the sampler took fewer than 12 samples in 10 s";
  const auto samples = sampler.stop();
  EXPECT_LE(samples.size(), 8u);
  EXPECT_GE(samples.size(), 3u) << "halving at the bound kept too few";
  // More calls were made than kept: the bound thinned them instead of stopping the sampling.
  EXPECT_GT(src.calls.load(), static_cast<int>(samples.size()));
}

TEST(GpuState, StopIsPromptAndAShortCaseHasNoSample) {
  LiveSource src;
  const auto t0 = std::chrono::steady_clock::now();
  GpuStateSampler sampler(src, "", 0, std::chrono::seconds(10), 64);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto samples = sampler.stop();
  EXPECT_TRUE(samples.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "stop waited for the next tick";

  LiveSource absent;
  absent.why = "nvml unavailable: test";
  GpuStateSampler none(absent, "", 0, std::chrono::milliseconds(1), 64);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(none.stop().empty());
  EXPECT_EQ(absent.calls.load(), 0) << "an unavailable source is never sampled";
}

TEST(GpuState, NodeIdentityOrWhyNot) {
  FakeSource ok;
  v1::NodeInfo n;
  record_gpu_identity(ok, "", 0, n);
  EXPECT_EQ(n.nvml(), "ok");
  EXPECT_EQ(n.gpu_name(), "NVIDIA H200");
  EXPECT_EQ(n.gpu_uuid(), "GPU-1234");
  EXPECT_EQ(n.gpu_driver_version(), "570.86.15");
  FakeSource absent;
  absent.why = "nvml unavailable: libnvidia-ml.so.1: cannot open shared object file";
  v1::NodeInfo m;
  record_gpu_identity(absent, "", 0, m);
  EXPECT_EQ(m.nvml(), absent.why);
  EXPECT_EQ(m.gpu_uuid(), "");
}

// The real loader: on a node with NVML, device 0 has clocks; without it, it says so and a
// sample is unavailable rather than a crash.
TEST(GpuState, NvmlLoadsOrSaysUnavailable) {
  const GpuStateSource& nvml = nvml_state_source();
  const v1::GpuSample s = nvml.sample("", 0);
  if (!nvml.unavailable().empty()) {
    EXPECT_EQ(nvml.unavailable().rfind("nvml unavailable: ", 0), 0u) << nvml.unavailable();
    EXPECT_FALSE(s.available());
    std::cout << "NVML on this node: " << nvml.unavailable() << "\n";
  } else {
    EXPECT_TRUE(s.available());
    EXPECT_GT(s.sm_clock_mhz(), 0u);
    EXPECT_EQ(nvml.identity("", 0).uuid.rfind("GPU-", 0), 0u);
  }
}

}  // namespace
