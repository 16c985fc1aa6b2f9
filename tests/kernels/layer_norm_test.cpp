// liger::layer_norm against float64 on CPU and CUDA: forward, dX, dW and dB for every dtype, odd
// and non-power-of-two widths, every CUDA size class, an empty batch, with and without the bias
// gradient, fp32 parameters beside 16-bit input; statistics dtype; finite differences;
// registration, module (Liger's bias quirk) and errors.
#include "liger/layer_norm.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/layer_norm.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

// Forward, dX, dW and (if it requires grad) dB of one configuration against float64.
void check_case(const std::string& device_str, at::ScalarType dtype, Shape shape, bool bias_grad, bool fp32_params) {
  const std::string what = device_str + " " + dtype_label(dtype) + " " + std::to_string(shape.rows) + "x" +
                           std::to_string(shape.cols) + (bias_grad ? "" : " no dB") + (fp32_params ? " fp32 params" : "");
  at::manual_seed(41 + shape.rows * 31 + shape.cols);
  const auto opts = at::TensorOptions().device(to_device(device_str));
  const auto pdt = fp32_params ? at::kFloat : dtype;
  // A mean away from 0 checks that the variance is not taken as E[x^2] - mean^2.
  at::Tensor x = (3 + 2 * at::randn({shape.rows, shape.cols}, opts)).to(dtype).requires_grad_(true);
  at::Tensor w = (1 + 0.1 * at::randn({shape.cols}, opts)).to(pdt).requires_grad_(true);
  at::Tensor b = (0.1 * at::randn({shape.cols}, opts)).to(pdt).requires_grad_(bias_grad);
  const at::Tensor dy = at::randn({shape.rows, shape.cols}, opts.dtype(dtype));
  const double eps = 1e-6;

  at::Tensor y = liger::layer_norm(x, w, b, eps);
  ASSERT_EQ(y.scalar_type(), dtype) << what;
  ASSERT_EQ(y.sizes(), x.sizes()) << what;
  std::vector<at::Tensor> inputs = {x, w};
  if (bias_grad) inputs.push_back(b);
  const auto grads = torch::autograd::grad({y}, inputs, {dy});

  // The layer_norm spec's float64 reference: y, then dX, dW, dB.
  const auto ref = spec_reference_and_grads("layer_norm", {{"input", x}, {"weight", w}, {"bias", b}}, {dy},
                                            {{"eps", param_value(eps)}});

  expect_close(what + " y", y, ref[0], dtype);
  expect_close(what + " dx", grads[0], ref[1], dtype);
  EXPECT_EQ(grads[1].scalar_type(), pdt) << what;
  expect_close(what + " dw", grads[1], ref[2], dtype);
  if (bias_grad) {
    EXPECT_EQ(grads[2].scalar_type(), pdt) << what;
    expect_close(what + " db", grads[2], ref[3], dtype);
  }
}

// (device, dtype); each case runs the whole list (one process per case under CTest).
using Param = DeviceDtype;

class LayerNormTest : public ::testing::TestWithParam<Param> {};

TEST_P(LayerNormTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  // Liger's test shapes ((2,8,64), (4,16,128), (1,1,1023), (3,7,256), (1,1,1500), (3,512,128)),
  // odd widths, an empty batch, then the larger CUDA size classes (the backward re-reads the row
  // past 16 elements a thread; the forward reads w and b from global memory past 48 KiB of them)
  // up to the longest rows the kernels take (16384).
  const std::vector<Shape> shapes = {{16, 64},   {64, 128}, {1, 1023}, {21, 256}, {1, 1500},  {1536, 128},
                                     {7, 1},     {63, 41},  {30, 123}, {33, 4096}, {5, 4097}, {0, 64},
                                     {20, 8192}, {3, 12345}, {6, 16384},
                                     // the CUDA warp-per-row forward: 4, 8 and 16 packs a lane;
                                     // 2048 and 1024 fill every lane (the kernels without bounds tests)
                                     {7, 520},   {9, 1032}, {6, 2048}, {5, 1024}};
  for (const Shape& shape : shapes) check_case(device_str, dtype, shape, /*bias_grad=*/true, /*fp32_params=*/false);
  // Without the bias gradient, and (16-bit input) with fp32 parameters.
  for (const Shape& shape : {Shape{40, 512}, Shape{9, 123}}) {
    check_case(device_str, dtype, shape, /*bias_grad=*/false, /*fp32_params=*/false);
    if (dtype != at::kFloat) {
      check_case(device_str, dtype, shape, /*bias_grad=*/true, /*fp32_params=*/true);
      check_case(device_str, dtype, shape, /*bias_grad=*/false, /*fp32_params=*/true);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, LayerNormTest, every_device_and_dtype(), device_dtype_name);

TEST(LayerNorm, MatchesTorchLayerNorm) {
  // Liger's functional test: against torch.nn.LayerNorm(eps=1e-6), here at::layer_norm.
  at::manual_seed(9);
  const at::Tensor x = at::randn({3, 512, 128});
  const at::Tensor w = 1 + 0.1 * at::randn({128}), b = 0.1 * at::randn({128});
  EXPECT_TRUE(at::allclose(liger::layer_norm(x, w, b, 1e-6), at::layer_norm(x, {128}, w, b, 1e-6), 1e-5, 1e-5));
}

// The saved mean and rstd are no output of the spec (its reference gives y only): checked here.
TEST(LayerNorm, StatisticsAreFp32) {
  for (const auto dtype : {at::kFloat, at::kHalf, at::kBFloat16, at::kDouble}) {
    const at::Tensor x = at::randn({2, 3, 40}).to(dtype);
    auto [y, mean, rstd] = liger::layer_norm_forward(x, at::ones({40}, dtype), at::zeros({40}, dtype), 1e-6);
    const auto expected = dtype == at::kDouble ? at::kDouble : at::kFloat;
    EXPECT_EQ(mean.scalar_type(), expected);
    EXPECT_EQ(rstd.scalar_type(), expected);
    EXPECT_EQ(mean.sizes(), (std::vector<int64_t>{2, 3}));
    const at::Tensor x64 = x.to(at::kDouble);
    EXPECT_TRUE(at::allclose(mean.to(at::kDouble), x64.mean(-1), 1e-6, 1e-6));
    EXPECT_TRUE(at::allclose(rstd.to(at::kDouble), at::rsqrt(x64.var(-1, false) + 1e-6), 1e-5, 1e-5));
  }
}

TEST(LayerNorm, BackwardComputesOnlyTheRequestedParameterGradients) {
  const at::Tensor x = at::randn({4, 16});
  const at::Tensor w = at::ones({16}), b = at::zeros({16});
  auto [y, mean, rstd] = liger::layer_norm_forward(x, w, b, 1e-6);
  const at::Tensor dy = at::randn_like(x);
  auto [dx, dw, db] = liger::layer_norm_backward(dy, x, w, b, mean, rstd, true, false);
  EXPECT_TRUE(dx.defined());
  EXPECT_TRUE(dw.defined());
  EXPECT_FALSE(db.defined());
  auto [dx2, dw2, db2] = liger::layer_norm_backward(dy, x, w, b, mean, rstd, false, true);
  EXPECT_FALSE(dw2.defined());
  EXPECT_TRUE(at::allclose(db2, dy.sum(0), 1e-5, 1e-5)) << "dB is the column sum of dY";
  EXPECT_TRUE(at::allclose(dx2, dx));
}

TEST(LayerNorm, FiniteDifferencesInFloat64) {
  at::manual_seed(7);
  at::Tensor x = at::randn({3, 7}, at::kDouble).requires_grad_(true);
  at::Tensor w = (1 + 0.1 * at::randn({7}, at::kDouble)).requires_grad_(true);
  at::Tensor b = (0.1 * at::randn({7}, at::kDouble)).requires_grad_(true);
  expect_gradients_match_finite_differences(
      "layer_norm", [](const auto& in) { return liger::layer_norm(in[0], in[1], in[2], 1e-6); }, {x, w, b});
}

TEST(LayerNorm, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor x = at::randn({128, 1000}), w = 1 + 0.1 * at::randn({1000}), b = 0.1 * at::randn({1000});
  auto [y_cpu, m_cpu, r_cpu] = liger::layer_norm_forward(x, w, b, 1e-6);
  auto [y_gpu, m_gpu, r_gpu] = liger::layer_norm_forward(x.cuda(), w.cuda(), b.cuda(), 1e-6);
  EXPECT_TRUE(at::allclose(m_cpu, m_gpu.cpu(), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(r_cpu, r_gpu.cpu(), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(y_cpu, y_gpu.cpu(), 1e-5, 1e-5));
  const at::Tensor dy = at::randn_like(x);
  auto [dx_c, dw_c, db_c] = liger::layer_norm_backward(dy, x, w, b, m_cpu, r_cpu, true, true);
  auto [dx_g, dw_g, db_g] =
      liger::layer_norm_backward(dy.cuda(), x.cuda(), w.cuda(), b.cuda(), m_gpu, r_gpu, true, true);
  EXPECT_TRUE(at::allclose(dx_c, dx_g.cpu(), 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(dw_c, dw_g.cpu(), 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(db_c, db_g.cpu(), 1e-4, 1e-4));
}

TEST(LayerNorm, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::layer_norm", "liger::layer_norm_forward", "liger::layer_norm_backward"}));
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor y = liger::layer_norm(x, at::ones({8}), at::zeros({8}));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(y, "LayerNormFunction"));
}

TEST(LayerNorm, ClearErrors) {
  const at::Tensor x = at::randn({4, 8});
  expect_error([&] { liger::layer_norm(x, at::ones({7}), at::zeros({8})); }, "weight must have shape (8,)");
  expect_error([&] { liger::layer_norm(x, at::ones({8}), at::zeros({2, 4})); }, "bias must have shape (8,)");
  expect_error([&] { liger::layer_norm(at::ones({4, 8}, at::kLong), at::ones({8}), at::zeros({8})); },
               "input must be floating point");
  expect_error([&] { liger::layer_norm(at::ones({4, 0}), at::ones({0}), at::zeros({0})); }, "last) dim of input is empty");
  auto [y, mean, rstd] = liger::layer_norm_forward(x, at::ones({8}), at::zeros({8}), 1e-6);
  expect_error([&] { liger::layer_norm_backward(at::ones({4, 7}), x, at::ones({8}), at::zeros({8}), mean, rstd, true, true); },
               "grad_out has shape");
  expect_error([&] { liger::layer_norm_backward(at::ones({4, 8}), x, at::ones({8}), at::zeros({8}), mean.slice(0, 1), rstd, true, true); },
               "mean and rstd must hold one value per row");
}

TEST(LayerNorm, ModuleMirrorsLigerDefaultsAndBiasQuirk) {
  liger::LigerLayerNorm norm(liger::LigerLayerNormOptions(64));
  EXPECT_EQ(norm->options.eps(), 1e-6);
  EXPECT_FALSE(norm->options.bias());
  EXPECT_EQ(norm->parameters().size(), 2u) << "weight and bias, even with bias=false";
  EXPECT_TRUE(at::equal(norm->weight, at::ones({64})));
  EXPECT_TRUE(at::equal(norm->bias, at::zeros({64})));
  EXPECT_TRUE(norm->bias.requires_grad()) << "Liger trains the bias even with bias=false";

  at::manual_seed(0);
  liger::LigerLayerNorm with_bias(liger::LigerLayerNormOptions(4096).bias(true).init_fn("zeros"));
  EXPECT_TRUE(at::equal(with_bias->weight, at::zeros({4096})));
  const double sd = with_bias->bias.std().item<double>(), mu = with_bias->bias.mean().item<double>();
  EXPECT_NEAR(sd, 1.0, 0.05) << "bias=true initialises the bias standard normal";
  EXPECT_NEAR(mu, 0.0, 0.05);

  const at::Tensor x = at::randn({2, 3, 64});
  EXPECT_TRUE(at::allclose(norm(x), at::layer_norm(x, {64}, norm->weight, norm->bias, 1e-6), 1e-5, 1e-5));
  EXPECT_THROW(liger::LigerLayerNorm(liger::LigerLayerNormOptions(8).init_fn("normal")), c10::Error);
}

}  // namespace
