// The runner on CPU: a real case end to end, accuracy that can fail, errors that are recorded.
#include <gtest/gtest.h>

#include <sstream>

#include "ligerbench/registry.h"
#include "ligerbench/report.h"
#include "ligerbench/runner.h"
#include "ligerbench/device.h"
#include "ligerbench/oom_fallback.h"
#include "ligerbench/tolerance.h"

namespace {

using namespace ligerbench;

v1::JobSpec small_job(const std::string& extra = "") {
  return parse_suite(R"(
measurement: {min_samples: 3, max_samples: 5, min_time_s: 0, timeout_s: 2, warmup_runs: 1}
cases:
  - kernel: rms_norm
    shape: {T: 8, H: 33}
    dtypes: [fp32, bf16]
)" + extra, "small.yaml");
}

TEST(Runner, RunsRmsNormOnCpuWithAccuracyAndSpeedup) {
  const auto job = small_job();
  const auto cases = select_cases(job, {"cpu"}, "");
  ASSERT_EQ(cases.size(), 12u);  // 2 dtypes x 3 modes x 2 providers
  int progress = 0;
  RunCallbacks cb;
  cb.on_result = [&](int, int total, const v1::CaseResult&) {
    ++progress;
    EXPECT_EQ(total, 12);
  };
  const auto result = run_cases(job, cases, cb);
  EXPECT_EQ(progress, 12);
  ASSERT_EQ(result.cases_size(), 12);
  EXPECT_EQ(result.failed_cases(), 0);
  for (const auto& r : result.cases()) {
    EXPECT_TRUE(r.ok()) << r.spec().key() << ": " << r.error();
    EXPECT_TRUE(r.accuracy().checked());
    EXPECT_TRUE(r.accuracy().passed()) << r.spec().key();
    EXPECT_EQ(r.accuracy().reference_device(), "cpu");
    EXPECT_GE(r.timing().n(), 3);
    EXPECT_LE(r.timing().n(), 5);
    EXPECT_GT(r.timing().median_ms(), 0);
    EXPECT_EQ(r.timing().clock(), "steady_clock");
    EXPECT_GT(r.throughput().bytes(), 0);
    if (r.spec().provider() == "liger") {
      EXPECT_GT(r.speedup(), 0) << "liger rows carry the speedup over their baseline";
    }
    // Forward checks the output; backward and full also both gradients.
    EXPECT_EQ(r.accuracy().tensors_size(), r.spec().mode() == "forward" ? 1 : 3) << r.spec().key();
  }
}

// A loss that computes its gradient in the forward: its backward row times only a rescale, so it
// carries a note instead of a speedup or throughput, and the table says why.
TEST(Runner, RescaleOnlyBackwardRowsCarryANoteNotASpeedup) {
  const auto job = parse_suite(R"(
measurement: {min_samples: 3, max_samples: 5, min_time_s: 0, timeout_s: 2, warmup_runs: 1}
cases:
  - kernel: cross_entropy
    shape: {BT: 6, V: 50}
    dtypes: [fp32]
    modes: [forward, backward]
)",
                               "ce.yaml");
  const auto result = run_cases(job, select_cases(job, {"cpu"}, ""), {});
  ASSERT_EQ(result.cases_size(), 4);
  for (const auto& r : result.cases()) {
    ASSERT_TRUE(r.ok()) << r.spec().key() << ": " << r.error();
    const bool rescale_row = r.spec().mode() == "backward" && r.spec().provider() == "liger";
    EXPECT_EQ(r.note().empty(), !rescale_row) << r.spec().key();
    if (r.spec().provider() != "liger") continue;
    if (rescale_row) {
      EXPECT_EQ(r.speedup(), 0) << "no speedup against the baseline's real backward";
      EXPECT_FALSE(r.has_throughput());
    } else {
      EXPECT_GT(r.speedup(), 0);
    }
  }
  std::ostringstream table;
  print_table(table, result);
  EXPECT_NE(table.str().find("n/a*"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("* cross_entropy backward: backward times only the rescale"), std::string::npos)
      << table.str();
}

TEST(Runner, FilterSelectsByKey) {
  const auto job = small_job();
  EXPECT_EQ(select_cases(job, {"cpu"}, "bf16\\|full\\|liger").size(), 1u);
  EXPECT_THROW(select_cases(job, {"cpu"}, "(["), InputError);
}

TEST(Runner, CudaDeviceWithoutGpuIsAClearError) {
  if (gpu_backend() != nullptr) GTEST_SKIP() << "a GPU is visible; this checks the no-GPU message";
  try {
    resolve_devices(small_job(), {"cuda"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("device 'cuda:0' requested but no CUDA device is visible"), std::string::npos)
        << e.what();
  }
}

TEST(Runner, WrongKernelFailsItsAccuracyCheck) {
  // A copy of the rms_norm spec whose "liger" side is off by 1%: the check must fail it.
  KernelSpec broken = *find_kernel("rms_norm");
  auto good = broken.liger;
  broken.liger = [good](const KernelInputs& in, const CaseConfig& c) {
    auto out = good(in, c);
    out[0] = out[0] * 1.01;
    return out;
  };
  Case c = select_cases(small_job(), {"cpu"}, "fp32\\|forward\\|liger").at(0);
  c.spec = &broken;
  MeasureOptions opt;
  opt.min_samples = 1;
  opt.max_samples = 1;
  const auto r = run_case(c, opt);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.accuracy().passed());
  EXPECT_GT(r.accuracy().tensors(0).max_rel(), 0.009);
}

TEST(Runner, KernelErrorIsRecordedNotThrown) {
  KernelSpec throwing = *find_kernel("rms_norm");
  throwing.liger = [](const KernelInputs&, const CaseConfig&) -> std::vector<at::Tensor> {
    TORCH_CHECK(false, "deliberate failure");
  };
  Case c = select_cases(small_job(), {"cpu"}, "fp32\\|forward\\|liger").at(0);
  c.spec = &throwing;
  const auto r = run_case(c, MeasureOptions{});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("deliberate failure"), std::string::npos) << r.error();
}

TEST(Runner, NaNNeverPasses) {
  const auto e = compare_tensors("x", at::full({4}, NAN), at::zeros({4}, at::kDouble), tolerance_for(at::kFloat));
  EXPECT_FALSE(e.passed());
  EXPECT_FALSE(e.finite());
  const auto same = compare_tensors("x", at::ones({4}), at::ones({4}, at::kDouble), tolerance_for(at::kFloat));
  EXPECT_TRUE(same.passed());
}

// fp16 cannot hold values below 6.1e-5 to better than 6e-8: the relative-L2 tolerance grows by
// twice the error of the reference rounded to fp16, and not otherwise.
TEST(Tolerance, Fp16SubnormalFloorWidensRelL2OnlyThere) {
  at::manual_seed(5);
  const at::Tensor tiny = at::randn({4096}, at::kDouble) * 1e-7;  // subnormal in fp16
  const at::Tensor tiny_rounded_twice = (tiny + at::randn({4096}, at::kDouble) * 2e-8).to(at::kHalf);
  const auto sub = compare_tensors("tiny", tiny_rounded_twice, tiny, tolerance_for(at::kHalf));
  EXPECT_GT(sub.rel_l2(), tolerance_for(at::kHalf).rel_l2) << "the case must exercise the floor";
  EXPECT_TRUE(sub.passed()) << "rel_l2 " << sub.rel_l2() << " tol " << sub.rel_l2_tol();
  // Normal-range values with a 2% error still fail: the floor there is ~3e-4.
  const at::Tensor unit = at::randn({4096}, at::kDouble);
  const auto off = compare_tensors("unit", (unit * 1.02).to(at::kHalf), unit, tolerance_for(at::kHalf));
  EXPECT_LT(off.rel_l2_tol(), 2 * tolerance_for(at::kHalf).rel_l2);
  EXPECT_FALSE(off.passed()) << "rel_l2 " << off.rel_l2() << " tol " << off.rel_l2_tol();
  // Values that overflow fp16 do not make the tolerance infinite.
  const auto big = compare_tensors("big", at::full({4}, 1e6).to(at::kHalf), at::full({4}, 1e6, at::kDouble),
                                   tolerance_for(at::kHalf));
  EXPECT_FALSE(big.passed());
  EXPECT_TRUE(std::isfinite(big.rel_l2_tol()));
}

// A device out of memory for the float64 reference: the work runs again on the CPU; an OOM on the
// CPU itself, or any other error, propagates. (No GPU needed: the device is only a value here.)
TEST(OomFallback, RetriesOnTheCpuOnlyAfterADeviceOom) {
  std::vector<std::string> tried;
  const at::Device gpu(at::kCUDA, 0);
  const std::string where = on_device_or_cpu(gpu, [&](const at::Device& d) {
    tried.push_back(d.str());
    if (!d.is_cpu()) C10_THROW_ERROR(OutOfMemoryError, "fake: CUDA out of memory");
    return d.str();
  });
  EXPECT_EQ(where, "cpu");
  EXPECT_EQ(tried, (std::vector<std::string>{"cuda:0", "cpu"}));
  tried.clear();
  EXPECT_THROW(on_device_or_cpu(at::Device(at::kCPU),
                                [&](const at::Device& d) -> int {
                                  tried.push_back(d.str());
                                  C10_THROW_ERROR(OutOfMemoryError, "fake: host out of memory");
                                }),
               c10::OutOfMemoryError);
  EXPECT_EQ(tried.size(), 1u) << "no second try on the CPU";
  EXPECT_THROW(on_device_or_cpu(gpu, [](const at::Device&) -> int { throw std::runtime_error("not an OOM"); }),
               std::runtime_error);
}

TEST(Measure, SummaryStatistics) {
  const auto t = summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(t.n(), 5);
  EXPECT_DOUBLE_EQ(t.median_ms(), 3);
  EXPECT_DOUBLE_EQ(t.min_ms(), 1);
  EXPECT_DOUBLE_EQ(t.max_ms(), 5);
  EXPECT_DOUBLE_EQ(t.mean_ms(), 3);
  EXPECT_NEAR(t.p20_ms(), 1.8, 1e-12);
  EXPECT_EQ(t.samples_ms_size(), 5);
  EXPECT_DOUBLE_EQ(t.samples_ms(0), 5) << "raw samples keep their order";
}

}  // namespace
