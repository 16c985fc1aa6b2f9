// The fused-linear losses (liger::fused_linear_jsd, liger::fused_linear_cross_entropy) with mixed
// input/weight dtypes and under autocast, on CPU and CUDA: 16-bit activations with fp32 (master)
// weights compute (the GEMMs in the activations' dtype) and match float64 of the same operands;
// each gradient comes back in its own tensor's dtype; with autocast on, fp32 activations are cast
// to autocast's dtype exactly as an explicit cast would (same loss, same gradients, bit for bit),
// and both ops have kernels for the AutocastCPU and AutocastCUDA keys.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>

#include "autocast_guard.h"
#include "cross_entropy_case.h"
#include "divergence_case.h"
#include "liger/fused_linear_cross_entropy.h"
#include "liger/fused_linear_jsd.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

// The float64 operand a GEMM in `dtype` sees: the tensor rounded to dtype, as a leaf.
at::Tensor f64_as(const at::Tensor& t, at::ScalarType dtype) {
  return t.detach().to(dtype).cpu().to(at::kDouble).requires_grad_(true);
}

class FusedLinearAutocast : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, FusedLinearAutocast, ::testing::ValuesIn(test_devices()), string_param_name);

struct JsdProblem {
  at::Tensor xs, ws, xt, wt, labels;
};

// torch.rand values, as Liger's FLJSD tests use; activations in `act`, weights in `weight`.
JsdProblem jsd_problem(const at::Device& dev, at::ScalarType act, at::ScalarType weight) {
  at::manual_seed(31);
  JsdProblem p;
  p.xs = at::rand({37, 24}).to(dev, act).requires_grad_(true);
  p.ws = at::rand({301, 24}).to(dev, weight).requires_grad_(true);
  p.xt = at::rand({37, 40}).to(dev, act);
  p.wt = at::rand({301, 40}).to(dev, weight);
  p.labels = labels_with_ignored(37, 301, 5, -100).to(dev);
  return p;
}

TEST_P(FusedLinearAutocast, JsdWithFp32WeightsAndHalfInputsMatchesFloat64) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(device_str + " " + dtype_label(dtype));
    const JsdProblem p = jsd_problem(dev, dtype, at::kFloat);
    const at::Tensor loss = liger::fused_linear_jsd(p.xs, p.ws, p.xt, p.wt, p.labels, 0.5, -100, 2.0);
    const auto g = torch::autograd::grad({loss}, {p.xs, p.ws}, {at::full({}, 1.3, loss.options())});
    EXPECT_EQ(g[0].scalar_type(), dtype) << "d student_input in the input's dtype";
    EXPECT_EQ(g[1].scalar_type(), at::kFloat) << "d student_weight in the weight's dtype";
    at::Tensor xs = f64(p.xs).requires_grad_(true), ws = f64_as(p.ws, dtype);
    const at::Tensor ref = fused_linear_jsd_reference(xs, ws, f64(p.xt), f64_as(p.wt, dtype).detach(),
                                                      p.labels.cpu(), 0.5, -100, 2.0);
    const auto rg = torch::autograd::grad({ref}, {xs, ws}, {at::full({}, 1.3, at::kDouble)});
    expect_close("loss", loss, ref, dtype);
    expect_close("d student_input", g[0], rg[0], dtype);
    expect_close("d student_weight", g[1], rg[1], dtype);
  }
}

TEST_P(FusedLinearAutocast, FlceWithFp32WeightAndBiasAndHalfInputMatchesFloat64) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(device_str + " " + dtype_label(dtype));
    at::manual_seed(32);
    const at::Tensor x = at::randn({53, 40}).to(dev, dtype).requires_grad_(true);
    const at::Tensor w = (0.1 * at::randn({257, 40})).to(dev).requires_grad_(true);
    const at::Tensor b = (0.1 * at::randn({257})).to(dev).requires_grad_(true);
    const at::Tensor t = make_targets(53, 257, -100, 0.2, at::TensorOptions().device(dev));
    // chunk_size 16: several chunks, so dW accumulates across them in fp32.
    const at::Tensor loss = std::get<0>(liger::fused_linear_cross_entropy(
        x, w, t, b, c10::nullopt, -100, 0.0, 0.0, "mean", c10::nullopt, false, c10::nullopt, false, false, false, 16));
    const auto g = torch::autograd::grad({loss}, {x, w, b}, {at::full({}, 0.7, loss.options())});
    EXPECT_EQ(g[0].scalar_type(), dtype);
    EXPECT_EQ(g[1].scalar_type(), at::kFloat);
    EXPECT_EQ(g[2].scalar_type(), at::kFloat);
    at::Tensor x64 = f64(x).requires_grad_(true), w64 = f64_as(w, dtype), b64 = f64(b).requires_grad_(true);
    const at::Tensor ref = ce_reference(at::addmm(b64, x64, w64.t()), t.cpu(), at::Tensor(), CeOptions{});
    const auto rg = torch::autograd::grad({ref}, {x64, w64, b64}, {at::full({}, 0.7, at::kDouble)});
    expect_close("loss", loss, ref, dtype);
    expect_close("dX", g[0], rg[0], dtype);
    expect_close("dW", g[1], rg[1], dtype);
    expect_close("db", g[2], rg[2], dtype);
  }
}

// Autocast on and everything fp32: the same numbers as the explicit cast of the activations
// (weights left fp32), and gradients in fp32 for every tensor; not the fp32 computation.
TEST_P(FusedLinearAutocast, UnderAutocastActivationsAreCastAsAutocastWould) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  const at::ScalarType low = liger::compat::autocast_dtype(dev.type());
  const JsdProblem p = jsd_problem(dev, at::kFloat, at::kFloat);
  at::Tensor auto_loss;
  std::vector<at::Tensor> auto_grads;
  {
    const AutocastOn on(dev.type());
    auto_loss = liger::fused_linear_jsd(p.xs, p.ws, p.xt, p.wt, p.labels);
    auto_grads = torch::autograd::grad({auto_loss}, {p.xs, p.ws});
  }
  EXPECT_EQ(auto_grads[0].scalar_type(), at::kFloat);
  EXPECT_EQ(auto_grads[1].scalar_type(), at::kFloat);
  at::Tensor xs_low = p.xs.detach().to(low).requires_grad_(true), ws = p.ws.detach().requires_grad_(true);
  const at::Tensor loss = liger::fused_linear_jsd(xs_low, ws, p.xt.to(low), p.wt, p.labels);
  const auto grads = torch::autograd::grad({loss}, {xs_low, ws});
  EXPECT_TRUE(at::equal(auto_loss, loss)) << auto_loss.item<double>() << " vs " << loss.item<double>();
  EXPECT_TRUE(at::equal(auto_grads[0], grads[0].to(at::kFloat)));
  EXPECT_TRUE(at::equal(auto_grads[1], grads[1]));
  const at::Tensor fp32_loss = liger::fused_linear_jsd(p.xs, p.ws, p.xt, p.wt, p.labels);
  EXPECT_FALSE(at::equal(auto_loss, fp32_loss)) << "autocast did not change the computation";

  at::manual_seed(33);
  const at::Tensor x = at::randn({29, 40}, dev).requires_grad_(true), w = (0.1 * at::randn({130, 40}, dev)).requires_grad_(true);
  const at::Tensor t = make_targets(29, 130, -100, 0.1, at::TensorOptions().device(dev));
  at::Tensor ce_auto;
  std::vector<at::Tensor> ce_auto_grads;
  {
    const AutocastOn on(dev.type());
    ce_auto = std::get<0>(liger::fused_linear_cross_entropy(x, w, t));
    ce_auto_grads = torch::autograd::grad({ce_auto}, {x, w});
  }
  EXPECT_EQ(ce_auto_grads[0].scalar_type(), at::kFloat);
  EXPECT_EQ(ce_auto_grads[1].scalar_type(), at::kFloat);
  at::Tensor x_low = x.detach().to(low).requires_grad_(true), w2 = w.detach().requires_grad_(true);
  const at::Tensor ce = std::get<0>(liger::fused_linear_cross_entropy(x_low, w2, t));
  const auto ce_grads = torch::autograd::grad({ce}, {x_low, w2});
  EXPECT_TRUE(at::equal(ce_auto, ce));
  EXPECT_TRUE(at::equal(ce_auto_grads[0], ce_grads[0].to(at::kFloat)));
  EXPECT_TRUE(at::equal(ce_auto_grads[1], ce_grads[1]));
}

TEST(FusedLinearAutocastRegistration, BothLossesHaveAutocastKernels) {
  for (const char* name : {"liger::fused_linear_jsd", "liger::fused_linear_cross_entropy"}) {
    const auto op = c10::Dispatcher::singleton().findOp({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCUDA)) << name;
  }
}

}  // namespace
