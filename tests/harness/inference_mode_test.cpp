// Mode `inference` (issue 17, "Loss forwards"): suites accept it and give it keys of its own;
// every loss in inference mode matches the float64 reference and allocates no buffer the size
// of a gradient, on CPU (counted by an allocator wrapped around LibTorch's CPU allocator) and
// on CUDA (the caching allocator's peak, through peak_memory).
#include <c10/core/CPUAllocator.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "input_error.h"
#include "ligerbench/measure.h"
#include "ligerbench/registry.h"
#include "ligerbench/runner.h"
#include "ligerbench/suite.h"
#include "measure_options.h"
#include "test_util.h"

namespace {

using namespace ligerbench;
using ligerbench::testing::error_of;

// --- The mode in suites -------------------------------------------------------------------

TEST(InferenceModeSuite, ValidatesAndHasKeysBesideTheTrainingModes) {
  const v1::JobSpec job = parse_suite(R"(cases:
  - kernel: cross_entropy
    shape: {BT: 8, V: 32}
    modes: [forward, backward, full, inference]
)",
                                      "suite.yaml");
  const auto cases = expand_cases(job, {"cpu"});
  ASSERT_EQ(cases.size(), 8u);  // 4 modes x (baseline, liger)
  std::set<std::string> keys;
  std::map<Mode, int> per_mode;
  for (const Case& c : cases) {
    keys.insert(c.case_spec.key());
    ++per_mode[c.mode];
  }
  EXPECT_EQ(keys.size(), cases.size()) << "every mode has keys of its own";
  EXPECT_EQ(per_mode[Mode::kInference], 2);
  const auto inference =
      std::find_if(cases.begin(), cases.end(), [](const Case& c) { return c.mode == Mode::kInference; });
  EXPECT_NE(inference->case_spec.key().find("|inference|"), std::string::npos) << inference->case_spec.key();
}

TEST(InferenceModeSuite, IsNotADefaultMode) {
  const v1::JobSpec job = parse_suite("cases:\n  - kernel: rms_norm\n    shape: {T: 4, H: 8}\n", "suite.yaml");
  const auto cases = expand_cases(job, {"cpu"});
  EXPECT_EQ(cases.size(), 6u);  // forward, backward, full x (baseline, liger)
  for (const Case& c : cases) EXPECT_NE(c.mode, Mode::kInference) << c.case_spec.key();
  EXPECT_EQ(sweep_case_count(job.cases(0), 1), cases.size()) << "the count agrees with the expansion";
}

TEST(InferenceModeSuite, EveryKernelOffersIt) {
  for (const KernelSpec& k : kernel_registry())
    if (!k.ops.empty())  // built-in kernels (tests may register op-less ones of their own)
      EXPECT_NE(std::find(k.modes.begin(), k.modes.end(), Mode::kInference), k.modes.end()) << k.name;
}

TEST(InferenceModeSuite, UnknownModeListsTheModesIncludingInference) {
  const std::string err = error_of("cases:\n  - kernel: jsd\n    modes: [inferance]\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].modes[0]': unknown mode 'inferance' for jsd "
                     "(modes: forward, backward, full, inference)"),
            std::string::npos)
      << err;
}

// --- The losses' allocations ------------------------------------------------------------

// Counts the bytes live through LibTorch's CPU allocator while a CountingScope is open, and their
// peak. One process-wide instance that is never destroyed: a tensor allocated in a scope may be
// freed after it closes (an output, an autograd node), and its release still finds the counter.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static CountingCpuAllocator& instance() {
    static auto* a = new CountingCpuAllocator(c10::GetCPUAllocator());
    return *a;
  }

// LibTorch 2.x made allocate non-const and added copy_data; Debian's 1.13 has neither.
#if TORCH_VERSION_MAJOR >= 2
  c10::DataPtr allocate(size_t n) override {
#else
  c10::DataPtr allocate(size_t n) const override {
#endif
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    auto* held = new Held{std::move(inner), n};
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_ += n;
      peak_ = std::max(peak_, live_);
    }
    return {data, held, &release, c10::Device(c10::kCPU)};
  }

#if TORCH_VERSION_MAJOR >= 2
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif

  void install() { c10::SetCPUAllocator(this, kPriority); }
  void uninstall() { c10::SetCPUAllocator(base_, kPriority); }
  // The peak of the bytes allocated since reset_peak, above what was live at it.
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    start_ = peak_ = live_;
  }
  int64_t peak_above_start() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(peak_ - start_);
  }

 private:
  explicit CountingCpuAllocator(c10::Allocator* base) : base_(base) {}
  static constexpr uint8_t kPriority = 255;  // above LibTorch's own registration
  struct Held {
    c10::DataPtr inner;  // frees the memory through the base allocator when deleted
    size_t bytes;
  };
  static void release(void* ctx) {
    auto* held = static_cast<Held*>(ctx);
    {
      CountingCpuAllocator& self = instance();
      std::lock_guard<std::mutex> lock(self.mu_);
      self.live_ -= held->bytes;
    }
    delete held;
  }

  c10::Allocator* base_;
  mutable std::mutex mu_;
  mutable size_t live_ = 0, peak_ = 0, start_ = 0;
};

// Counts CPU allocations while open; peak() is the peak above what was live at opening.
class CountingScope {
 public:
  CountingScope() {
    CountingCpuAllocator::instance().install();
    CountingCpuAllocator::instance().reset_peak();
  }
  ~CountingScope() { CountingCpuAllocator::instance().uninstall(); }
  CountingScope(const CountingScope&) = delete;
  CountingScope& operator=(const CountingScope&) = delete;
  int64_t peak() const { return CountingCpuAllocator::instance().peak_above_start(); }
  void reset_peak() { CountingCpuAllocator::instance().reset_peak(); }
};

TEST(InferenceModeAllocator, CountsAnAllocationAndItsRelease) {
  CountingScope counter;
  { at::Tensor t = at::empty({1 << 16}, at::kFloat); }
  EXPECT_EQ(counter.peak(), int64_t{4} << 16);
  counter.reset_peak();
  EXPECT_EQ(counter.peak(), 0) << "the tensor's release was counted";
}

struct LossCase {
  std::string kernel;
  std::vector<std::pair<std::string, int64_t>> shape;
  // Whether Liger's training forward computes the gradients (and so holds them): the control
  // that shows this test would see a gradient-sized buffer. cross_entropy writes its gradient
  // over the logits, kl_div computes its gradient in the backward: neither allocates one.
  bool training_forward_allocates_grad;
  std::string device;
};

void PrintTo(const LossCase& c, std::ostream* os) { *os << c.kernel << " " << c.device; }

// Shapes where a gradient is far larger than what the loss alone needs: for the fused-linear
// losses H >> V, so a chunk of logits (at most BT x V) is smaller than the input's gradient.
std::vector<LossCase> loss_cases() {
  const std::vector<std::pair<std::string, int64_t>> logits = {{"BT", 64}, {"V", 8192}};
  const std::vector<std::pair<std::string, int64_t>> fused = {{"BT", 64}, {"H", 2048}, {"V", 256}};
  const std::vector<std::pair<std::string, int64_t>> pref = {{"B", 2}, {"T", 32}, {"H", 2048}, {"V", 256}};
  std::vector<LossCase> out;
  for (const std::string device : {"cpu", "cuda"}) {
    out.push_back({"cross_entropy", logits, false, device});
    out.push_back({"jsd", logits, true, device});
    out.push_back({"kl_div", logits, false, device});
    out.push_back({"fused_linear_cross_entropy", fused, true, device});
    out.push_back({"fused_linear_jsd", fused, true, device});
    for (const char* k : {"fused_linear_cpo", "fused_linear_dpo", "fused_linear_orpo", "fused_linear_simpo"})
      out.push_back({k, pref, true, device});
  }
  return out;
}

std::string loss_case_name(const ::testing::TestParamInfo<LossCase>& info) {
  return info.param.kernel + "_" + info.param.device;
}

Case one_case(const LossCase& lc, Mode mode) {
  v1::JobSpec job;
  auto* sweep = job.add_cases();
  sweep->set_kernel(lc.kernel);
  for (const auto& [axis, value] : lc.shape) (*sweep->mutable_shape())[axis].add_values(value);
  sweep->add_dtypes("fp32");
  sweep->add_modes(mode_name(mode));
  sweep->add_providers("liger");
  auto cases = expand_cases(job, {lc.device == "cuda" ? "cuda:0" : "cpu"});
  EXPECT_EQ(cases.size(), 1u);
  return cases.front();
}

// Bytes of the smallest matrix gradient of a training step: the inputs (of two or more
// dimensions) that require grad there. A bias's gradient is too small to tell anything apart.
int64_t smallest_gradient_bytes(const KernelInputs& training) {
  int64_t bytes = INT64_MAX;
  for (const auto& t : training.tensors)
    if (t.defined() && t.requires_grad() && t.dim() >= 2) bytes = std::min<int64_t>(bytes, t.nbytes());
  return bytes;
}

// The peak bytes above the inputs while `fn` runs on `device`.
int64_t peak_of(const std::function<void()>& fn, const at::Device& device) {
  if (device.is_cuda()) {
    const v1::Memory m = peak_memory(fn, device);
    EXPECT_TRUE(m.measured());
    return m.peak_bytes();
  }
  CountingScope counter;
  fn();
  return counter.peak();
}

class InferenceModeLoss : public ::testing::TestWithParam<LossCase> {};

TEST_P(InferenceModeLoss, MatchesTheReference) {
  const LossCase& lc = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(lc.device);
  const Case c = one_case(lc, Mode::kInference);
  const v1::Accuracy acc = accuracy_of(c);
  ASSERT_TRUE(acc.checked());
  ASSERT_GE(acc.tensors_size(), 1);
  for (const auto& t : acc.tensors()) EXPECT_EQ(t.name().rfind("grad_", 0), std::string::npos) << t.name();
  EXPECT_TRUE(acc.passed()) << acc.DebugString();
}

TEST_P(InferenceModeLoss, AllocatesNoGradientSizedBuffer) {
  const LossCase& lc = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(lc.device);
  const Case c = one_case(lc, Mode::kInference);
  at::manual_seed(c.config.seed);
  const KernelInputs training = c.spec->make_inputs(c.config);
  const int64_t grad_bytes = smallest_gradient_bytes(training);
  ASSERT_LT(grad_bytes, INT64_MAX) << "the spec's inputs require no gradient";

  KernelInputs in = training;  // the values of a training step, requiring nothing
  for (auto& t : in.tensors)
    if (t.defined()) t = t.detach();
  auto inference_call = [&] {
    c10::InferenceMode guard;
    (void)c.spec->liger(in, c.config);
  };
  inference_call();  // lazy initialisation (thread pools, cuBLAS handles) is not the loss's memory
  const int64_t peak = peak_of(inference_call, c.config.device);
  EXPECT_LT(peak, grad_bytes / 2) << lc.kernel << ": the inference forward's peak (" << peak
                                  << " bytes above its inputs) is that of a gradient (" << grad_bytes << " bytes)";

  if (lc.training_forward_allocates_grad) {
    // The same forward with gradients wanted holds them: what the inference peak is told apart from.
    std::vector<at::Tensor> outs;
    const int64_t training_peak = peak_of([&] { outs = c.spec->liger(training, c.config); }, c.config.device);
    EXPECT_GE(training_peak, grad_bytes) << lc.kernel << ": the training forward should hold its gradients";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryLoss, InferenceModeLoss, ::testing::ValuesIn(loss_cases()), loss_case_name);

// The harness's inference region itself: no input requires grad and nothing records a graph.
TEST(InferenceModeRegion, RunsTheCaseWithoutGradients) {
  const LossCase lc{"jsd", {{"BT", 8}, {"V", 64}}, true, "cpu"};
  const Case c = one_case(lc, Mode::kInference);
  const v1::CaseResult r = run_case(c, ligerbench::testing::exact_samples(2));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.spec().mode(), "inference");
  EXPECT_TRUE(r.accuracy().passed());
  EXPECT_EQ(r.accuracy().tensors_size(), 1) << "the loss only, no gradient checked";
  // jsd's inference traffic is a read of log_q and log_p, not the training forward's gradient write.
  EXPECT_DOUBLE_EQ(r.throughput().bytes(), 2.0 * 4 * 8 * 64);
}

}  // namespace
