// liger::jsd against float64 on CPU and CUDA: the loss and d/d log_q for beta in {0, 0.1, 0.5,
// 0.9, 1}, every dtype, with and without shift_labels (some rows ignored, every row ignored),
// V that is not a multiple of any block or vector size, a V of 128256 with few rows, an empty
// batch; symmetry, retained-graph backward, finite differences, options and errors.
#include "liger/jsd.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "divergence_case.h"
#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/jsd.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// (device, dtype, beta, ignored rows (-1: no labels), shape)
using Param = std::tuple<std::string, at::ScalarType, double, int64_t, Shape>;

class JsdTest : public ::testing::TestWithParam<Param> {};

// log_softmax of randn for both, as Liger's tests and benchmark build them.
at::Tensor log_probs(Shape s, at::ScalarType dtype, const at::Device& dev) {
  return at::log_softmax(at::randn({s.rows, s.cols}), -1).to(dev, dtype);
}

TEST_P(JsdTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, beta, ignored, shape] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(21 + shape.rows * 3 + shape.cols + static_cast<int64_t>(beta * 10));
  at::Tensor log_q = log_probs(shape, dtype, dev).requires_grad_(true);
  const at::Tensor log_p = log_probs(shape, dtype, dev);
  const int64_t ignore_index = 42;
  const at::Tensor labels = ignored < 0 ? at::Tensor() : labels_with_ignored(shape.rows, shape.cols, ignored, ignore_index);
  const c10::optional<at::Tensor> labels_arg =
      labels.defined() ? c10::optional<at::Tensor>(labels.to(dev)) : c10::nullopt;

  at::Tensor loss = liger::jsd(log_q, log_p, labels_arg, beta, ignore_index);
  ASSERT_EQ(loss.dim(), 0);
  EXPECT_EQ(loss.scalar_type(), dtype) << "the loss comes back in log_q's dtype";
  const at::Tensor g = at::scalar_tensor(0.73).to(dev, dtype);  // not 1: the scaling must happen
  const at::Tensor grad = torch::autograd::grad({loss}, {log_q}, {g})[0];
  ASSERT_EQ(grad.scalar_type(), dtype);

  at::Tensor q64 = log_q.detach().cpu().to(at::kDouble).requires_grad_(true);
  const at::Tensor ref = jsd_reference(q64, log_p.cpu().to(at::kDouble), labels, beta, ignore_index);
  const at::Tensor ref_grad = torch::autograd::grad({ref}, {q64})[0];
  expect_close("loss", loss, ref, dtype);
  // The gradient is stored in log_q's dtype by the forward, then scaled by the upstream gradient
  // and rounded again (Liger's design); the reference takes the same two roundings, which
  // matter in fp16 where Q / n is subnormal (an absolute precision of 6e-8) for most elements.
  const at::Tensor expected = (ref_grad.to(dtype).to(at::kDouble) * g.cpu().to(at::kDouble)).to(dtype);
  expect_close("grad_log_q", grad, expected, dtype);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, beta, ignored, shape] = info.param;
  return device + "_" + dtype_label(dtype) + "_beta" + std::to_string(static_cast<int>(beta * 10)) +
         (ignored < 0 ? "_nolabels_" : "_ignore" + std::to_string(ignored) + "_") + std::to_string(shape.rows) + "x" +
         std::to_string(shape.cols);
}

INSTANTIATE_TEST_SUITE_P(
    Betas, JsdTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                       ::testing::Values(0.0, 0.1, 0.5, 0.9, 1.0), ::testing::Values(int64_t{-1}, int64_t{7}),
                       ::testing::Values(Shape{41, 1271}, Shape{16, 4096})),
    param_name);

// The benchmark's vocabulary with few rows, labels with a third of the rows ignored.
INSTANTIATE_TEST_SUITE_P(
    LargeVocab, JsdTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values(0.0, 0.5, 1.0), ::testing::Values(int64_t{-1}, int64_t{1}),
                       ::testing::Values(Shape{3, 128256})),
    param_name);

// Odd vocabularies (scalar paths and partial segments) and every row ignored.
INSTANTIATE_TEST_SUITE_P(
    OddSizes, JsdTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values(0.5), ::testing::Values(int64_t{-1}, int64_t{0}, int64_t{5}),
                       ::testing::Values(Shape{5, 1}, Shape{5, 3}, Shape{9, 4097}, Shape{2, 65539})),
    param_name);

TEST(Jsd, EveryRowIgnoredGivesZeroLossAndGradient) {
  for (const std::string& device_str : visible_devices("EveryRowIgnoredGivesZeroLossAndGradient")) {
    const at::Device dev = to_device(device_str);
    for (const double beta : {0.0, 0.5, 1.0}) {
      at::Tensor log_q = log_probs({6, 300}, at::kFloat, dev).requires_grad_(true);
      const at::Tensor labels = at::full({6}, 2, at::TensorOptions().dtype(at::kLong).device(dev));
      at::Tensor loss = liger::jsd(log_q, log_probs({6, 300}, at::kFloat, dev), labels, beta, 2);
      EXPECT_EQ(loss.item<float>(), 0.f) << device_str << " beta " << beta;
      const at::Tensor grad = torch::autograd::grad({loss}, {log_q})[0];
      EXPECT_TRUE(at::equal(grad, at::zeros_like(grad))) << device_str << " beta " << beta;
    }
  }
}

TEST(Jsd, EmptyBatch) {
  for (const std::string& device_str : visible_devices("EmptyBatch")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    at::Tensor log_q = at::zeros({0, 10}, opts).requires_grad_(true);
    at::Tensor loss = liger::jsd(log_q, at::zeros({0, 10}, opts));
    EXPECT_EQ(loss.item<float>(), 0.f) << "no rows: loss 0 (n = 0), not NaN";
    EXPECT_EQ(torch::autograd::grad({loss}, {log_q})[0].sizes(), log_q.sizes());
  }
}

TEST(Jsd, UnalignedViews) {
  // Contiguous views one element into their storage: not 16-byte aligned, so the CUDA kernel
  // takes its scalar path; the results must not change.
  for (const std::string& device_str : visible_devices("UnalignedViews")) {
    const at::Device dev = to_device(device_str);
    at::manual_seed(14);
    const int64_t rows = 6, cols = 4096;
    const at::Tensor storage = at::randn({2, rows * cols + 1}).to(dev);
    const at::Tensor q = at::log_softmax(storage[0].narrow(0, 1, rows * cols).view({rows, cols}), -1);
    const at::Tensor p = at::log_softmax(storage[1].narrow(0, 1, rows * cols).view({rows, cols}), -1);
    const at::Tensor q_view = at::empty({rows * cols + 1}, q.options()).narrow(0, 1, rows * cols).view({rows, cols}).copy_(q);
    const at::Tensor p_view = at::empty({rows * cols + 1}, p.options()).narrow(0, 1, rows * cols).view({rows, cols}).copy_(p);
    auto [loss_a, grad_a] = liger::jsd_forward(q_view, p_view, c10::nullopt, 0.5, -100);
    auto [loss_b, grad_b] = liger::jsd_forward(q, p, c10::nullopt, 0.5, -100);
    EXPECT_NEAR(loss_a.item<double>(), loss_b.item<double>(), 1e-6) << device_str;
    EXPECT_TRUE(at::equal(grad_a, grad_b)) << device_str;
  }
}

TEST(Jsd, SymmetricAtBetaHalf) {
  // Liger's test: JSD(P || Q) == JSD(Q || P) for beta 0.5.
  at::manual_seed(4);
  const at::Tensor a = log_probs({8, 777}, at::kFloat, at::kCPU), b = log_probs({8, 777}, at::kFloat, at::kCPU);
  EXPECT_NEAR(liger::jsd(a, b).item<double>(), liger::jsd(b, a).item<double>(), 1e-6);
}

TEST(Jsd, BackwardTwiceOnARetainedGraph) {
  // The saved gradient must not be scaled in place: a second backward sees the same values.
  at::Tensor log_q = log_probs({4, 100}, at::kFloat, at::kCPU).requires_grad_(true);
  at::Tensor loss = liger::jsd(log_q, log_probs({4, 100}, at::kFloat, at::kCPU));
  const at::Tensor g = at::scalar_tensor(3.0);
  const at::Tensor first = torch::autograd::grad({loss}, {log_q}, {g}, /*retain_graph=*/true)[0];
  const at::Tensor second = torch::autograd::grad({loss}, {log_q}, {g}, /*retain_graph=*/true)[0];
  EXPECT_TRUE(at::equal(first, second));
}

TEST(Jsd, FiniteDifferencesInFloat64) {
  at::manual_seed(8);
  const at::Tensor labels = at::tensor({1, -100, 3}, at::kLong);
  for (const double beta : {0.0, 0.3, 1.0}) {
    at::Tensor log_q = at::log_softmax(at::randn({3, 6}, at::kDouble), -1).requires_grad_(true);
    const at::Tensor log_p = at::log_softmax(at::randn({3, 6}, at::kDouble), -1);
    auto f = [&](const std::vector<at::Tensor>& in) { return liger::jsd(in[0], log_p, labels, beta); };
    EXPECT_EQ(f({log_q}).scalar_type(), at::kDouble);
    expect_gradients_match_finite_differences("beta " + std::to_string(beta), f, {log_q}, 1e-6, 1e-6, 1e-9);
  }
}

TEST(Jsd, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor q = log_probs({32, 5000}, at::kFloat, at::kCPU), p = log_probs({32, 5000}, at::kFloat, at::kCPU);
  const at::Tensor labels = labels_with_ignored(32, 5000, 5, -100);
  auto [loss_cpu, grad_cpu] = liger::jsd_forward(q, p, labels, 0.5, -100);
  auto [loss_gpu, grad_gpu] = liger::jsd_forward(q.cuda(), p.cuda(), labels.cuda(), 0.5, -100);
  EXPECT_NEAR(loss_cpu.item<double>(), loss_gpu.item<double>(), 1e-6 * std::abs(loss_cpu.item<double>()));
  // Entries that cancel (p close to q) differ by summation order alone: the absolute tolerance
  // is relative to the gradient's largest entry, not to each entry.
  const double scale = grad_cpu.abs().max().item<double>();
  const double max_diff = (grad_cpu - grad_gpu.cpu()).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(grad_cpu, grad_gpu.cpu(), 1e-5, 1e-6 * scale))
      << "max |cpu - cuda| " << max_diff << " with max |grad| " << scale;
}

TEST(Jsd, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::jsd", "liger::jsd_forward", "liger::jsd_backward"}));
  at::Tensor log_q = log_probs({2, 8}, at::kFloat, at::kCPU).requires_grad_(true);
  at::Tensor loss = liger::jsd(log_q, log_probs({2, 8}, at::kFloat, at::kCPU));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(loss, "JsdFunction"));
}

TEST(Jsd, ClearErrors) {
  const at::Tensor q = at::randn({4, 8});
  expect_error([&] { liger::jsd(q, at::randn({4, 9})); }, "target has shape");
  expect_error([&] { liger::jsd(q, q.to(at::kDouble)); }, "target has dtype");
  expect_error([&] { liger::jsd(q, q, at::zeros({5}, at::kLong)); }, "shift_labels must have shape (4,)");
  expect_error([&] { liger::jsd(q, q, at::zeros({4}, at::kInt)); }, "shift_labels must be int64");
  expect_error([&] { liger::jsd(q, q, c10::nullopt, 1.5); }, "beta must be in [0, 1]");
  expect_error([&] { liger::jsd(at::randn({8}), at::randn({8})); }, "input must be 2-D");
}

TEST(Jsd, ModuleMirrorsLigerDefaults) {
  liger::LigerJSD loss_fn;
  EXPECT_EQ(loss_fn->options.beta(), 0.5);
  EXPECT_EQ(loss_fn->options.ignore_index(), -100);
  const at::Tensor q = log_probs({3, 10}, at::kFloat, at::kCPU), p = log_probs({3, 10}, at::kFloat, at::kCPU);
  const at::Tensor labels = at::tensor({1, -100, 2}, at::kLong);
  EXPECT_NEAR(loss_fn(q, p, labels).item<double>(),
              jsd_reference(q.to(at::kDouble), p.to(at::kDouble), labels, 0.5, -100).item<double>(), 1e-6);
  liger::LigerJSD rkl(liger::LigerJSDOptions().beta(1.0).ignore_index(2));
  EXPECT_NEAR(rkl(q, p).item<double>(),
              jsd_reference(q.to(at::kDouble), p.to(at::kDouble), at::Tensor(), 1.0, 2).item<double>(), 1e-6);
  EXPECT_THROW(liger::LigerJSD(liger::LigerJSDOptions().beta(-0.1)), c10::Error);
}

}  // namespace
