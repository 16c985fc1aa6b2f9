// liger::fused_linear_jsd against float64 and against the unfused composition (GEMM +
// log_softmax + liger::jsd, differentiated by autograd) on CPU and CUDA: the loss, d/d
// student_input and d/d student_weight for (temperature, beta) in {(1, 0.5), (2, 0.1), (1, 0),
// (1, 1)}, every dtype, with and without shift_labels, a student hidden size different from
// the teacher's, several chunks (accum_dtype none and fp32), every row ignored, the gradient
// flags; peak memory bounded by a chunk on CUDA; finite differences, options and errors.
#include "liger/fused_linear_jsd.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "divergence_case.h"
#include "expect_error.h"
#include "finite_diff.h"
#include "liger/jsd.h"
#include "liger/nn/fused_linear_jsd.h"
#include "ligerbench/measure.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Problem {
  int64_t bt;
  int64_t h_student;
  int64_t h_teacher;
  int64_t vocab;
};

struct Inputs {
  at::Tensor xs, ws, xt, wt, labels;  // labels undefined: none
};

// torch.rand inputs and weights, as Liger's tests build them (small H keeps the logits sane).
Inputs make_inputs(const Problem& p, at::ScalarType dtype, const at::Device& dev, int64_t ignored, int64_t ignore_index) {
  Inputs in;
  in.xs = at::rand({p.bt, p.h_student}).to(dev, dtype).requires_grad_(true);
  in.ws = at::rand({p.vocab, p.h_student}).to(dev, dtype).requires_grad_(true);
  in.xt = at::rand({p.bt, p.h_teacher}).to(dev, dtype);
  in.wt = at::rand({p.vocab, p.h_teacher}).to(dev, dtype);
  if (ignored >= 0) in.labels = labels_with_ignored(p.bt, p.vocab, ignored, ignore_index).to(dev);
  return in;
}


// The float64 reference of loss, d/d xs and d/d ws for a random upstream scalar g.
std::tuple<at::Tensor, at::Tensor, at::Tensor> reference(const Inputs& in, double beta, int64_t ignore_index,
                                                         double temperature, double g) {
  at::Tensor xs = f64(in.xs).requires_grad_(true), ws = f64(in.ws).requires_grad_(true);
  const at::Tensor loss = fused_linear_jsd_reference(xs, ws, f64(in.xt), f64(in.wt),
                                                     in.labels.defined() ? in.labels.cpu() : at::Tensor(), beta,
                                                     ignore_index, temperature);
  const auto grads = torch::autograd::grad({loss}, {xs, ws}, {at::scalar_tensor(g, at::kDouble)});
  return {loss.detach(), grads[0], grads[1]};
}

// The same loss unfused: the logits materialised in the input dtype, log_softmax in fp32 and
// liger::jsd, differentiated by autograd (which rounds d/d logits to the input dtype, as the
// fused kernel does).
at::Tensor unfused(const Inputs& in, double beta, int64_t ignore_index, double temperature) {
  // On the CPU, 16-bit GEMMs in fp32, rounded once, as the fused kernel's (specs.h says why).
  auto logits = [](const at::Tensor& x, const at::Tensor& w) { return ligerbench::specs::linear_fp32_accumulated(x, w); };
  const at::Tensor log_q = at::log_softmax(logits(in.xs, in.ws).to(at::kFloat) / temperature, -1);
  const at::Tensor log_p = at::log_softmax(logits(in.xt, in.wt).to(at::kFloat) / temperature, -1);
  return liger::jsd(log_q, log_p, optional_tensor(in.labels), beta, ignore_index);
}

// (device, dtype, (temperature, beta), ignored rows (-1: no labels))
using Param = std::tuple<std::string, at::ScalarType, std::pair<double, double>, int64_t>;

class FusedLinearJsdTest : public ::testing::TestWithParam<Param> {};

TEST_P(FusedLinearJsdTest, MatchesFloat64AndUnfused) {
  const auto& [device_str, dtype, temp_beta, ignored] = GetParam();
  const auto [temperature, beta] = temp_beta;
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(31 + static_cast<int64_t>(beta * 10) + ignored);
  const int64_t ignore_index = 2;
  const Inputs in = make_inputs({37, 24, 48, 1271}, dtype, dev, ignored, ignore_index);
  const double g = 0.61;

  at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, optional_tensor(in.labels), beta, ignore_index, temperature);
  ASSERT_EQ(loss.dim(), 0);
  EXPECT_EQ(loss.scalar_type(), at::kFloat) << "the loss is an fp32 scalar";
  const auto grads = torch::autograd::grad({loss}, {in.xs, in.ws}, {at::scalar_tensor(g).to(dev)});
  ASSERT_EQ(grads[0].scalar_type(), dtype);
  ASSERT_EQ(grads[1].scalar_type(), dtype);

  const auto [ref_loss, ref_dx, ref_dw] = reference(in, beta, ignore_index, temperature, g);
  expect_close("loss", loss, ref_loss, dtype);
  expect_close("grad_student_input", grads[0], ref_dx, dtype);
  expect_close("grad_student_weight", grads[1], ref_dw, dtype);

  at::Tensor loss_unfused = unfused(in, beta, ignore_index, temperature);
  const auto grads_unfused = torch::autograd::grad({loss_unfused}, {in.xs, in.ws}, {at::scalar_tensor(g).to(dev)});
  expect_close("loss vs unfused", loss, f64(loss_unfused), dtype);
  expect_close("grad_student_input vs unfused", grads[0], f64(grads_unfused[0]), dtype);
  expect_close("grad_student_weight vs unfused", grads[1], f64(grads_unfused[1]), dtype);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, temp_beta, ignored] = info.param;
  return device + "_" + dtype_label(dtype) + "_T" + std::to_string(static_cast<int>(temp_beta.first)) + "_beta" +
         std::to_string(static_cast<int>(temp_beta.second * 10)) +
         (ignored < 0 ? "_nolabels" : "_ignore" + std::to_string(ignored));
}

INSTANTIATE_TEST_SUITE_P(
    Options, FusedLinearJsdTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kBFloat16),
                       ::testing::Values(std::pair{1.0, 0.5}, std::pair{2.0, 0.1}, std::pair{1.0, 0.0},
                                         std::pair{1.0, 1.0}),
                       ::testing::Values(int64_t{-1}, int64_t{9})),
    param_name);

// fp16 without temperature 2: d loss / d logits (about Q / (n T)) is then mostly subnormal in
// fp16, where its rounding alone is a percent of the gradient (as in Liger, which stores it in
// the input dtype too).
INSTANTIATE_TEST_SUITE_P(
    Fp16, FusedLinearJsdTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kHalf),
                       ::testing::Values(std::pair{1.0, 0.5}, std::pair{1.0, 0.0}, std::pair{1.0, 1.0}),
                       ::testing::Values(int64_t{-1}, int64_t{9})),
    param_name);

// Several chunks (the accumulation of dW across chunks, the last chunk partial), with dW
// accumulated in the weight's dtype and in fp32.
TEST(FusedLinearJsd, SeveralChunks) {
  for (const std::string& device_str : visible_devices("SeveralChunks")) {
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      for (const auto accum : {c10::optional<at::ScalarType>(), c10::optional<at::ScalarType>(at::kFloat)}) {
        at::manual_seed(77);
        const Inputs in = make_inputs({2500, 8, 16, 67}, dtype, to_device(device_str), 300, -100);
        at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, in.labels, 0.5, -100, 1.0, accum);
        const auto grads = torch::autograd::grad({loss}, {in.xs, in.ws}, {at::scalar_tensor(1.3).to(in.xs.device())});
        const auto [ref_loss, ref_dx, ref_dw] = reference(in, 0.5, -100, 1.0, 1.3);
        SCOPED_TRACE(device_str + " " + dtype_label(dtype) + (accum ? " accum fp32" : " accum W dtype"));
        expect_close("loss", loss, ref_loss, dtype);
        expect_close("grad_student_input", grads[0], ref_dx, dtype);
        expect_close("grad_student_weight", grads[1], ref_dw, dtype);
        EXPECT_EQ(grads[1].scalar_type(), dtype) << "grad_weight returns in the weight's dtype";
      }
    }
  }
}

TEST(FusedLinearJsd, EveryRowIgnoredGivesZeroLossAndGradients) {
  for (const std::string& device_str : visible_devices("EveryRowIgnoredGivesZeroLossAndGradients")) {
    Inputs in = make_inputs({12, 8, 8, 50}, at::kFloat, to_device(device_str), -1, 42);
    in.labels = at::full({12}, 42, in.xs.options().dtype(at::kLong));
    at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, in.labels, 0.5, 42, 2.0);
    EXPECT_EQ(loss.item<float>(), 0.f);
    const auto grads = torch::autograd::grad({loss}, {in.xs, in.ws});
    EXPECT_TRUE(at::equal(grads[0], at::zeros_like(grads[0])));
    EXPECT_TRUE(at::equal(grads[1], at::zeros_like(grads[1])));
  }
}

TEST(FusedLinearJsd, GradientsOnlyWhereAsked) {
  at::manual_seed(2);
  Inputs in = make_inputs({6, 4, 5, 11}, at::kFloat, at::kCPU, -1, -100);
  in.xt.requires_grad_(true);
  in.wt.requires_grad_(true);
  at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt);
  const auto g = torch::autograd::grad({loss}, {in.xs, in.ws, in.xt, in.wt}, {}, true, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined() && g[1].defined());
  EXPECT_FALSE(g[2].defined() || g[3].defined()) << "the teacher gets no gradient";
  // The forward skips the GEMMs of gradients nobody asked for.
  auto [l, grad_input, grad_weight] =
      liger::fused_linear_jsd_forward(in.xs, in.ws, in.xt, in.wt, c10::nullopt, 0.5, -100, 1.0, c10::nullopt, true, false);
  EXPECT_TRUE(grad_input.defined());
  EXPECT_FALSE(grad_weight.defined());
  EXPECT_TRUE(at::allclose(grad_input, g[0]));
  // A second backward on the retained graph sees the same stored gradients.
  const auto again = torch::autograd::grad({loss}, {in.xs, in.ws}, {}, true);
  EXPECT_TRUE(at::equal(again[0], g[0]) && at::equal(again[1], g[1]));
}

TEST(FusedLinearJsd, EmptyBatch) {
  for (const std::string& device_str : visible_devices("EmptyBatch")) {
    const Inputs in = make_inputs({0, 4, 4, 9}, at::kFloat, to_device(device_str), -1, -100);
    at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt);
    EXPECT_EQ(loss.item<float>(), 0.f) << device_str;
    const auto g = torch::autograd::grad({loss}, {in.xs, in.ws});
    EXPECT_EQ(g[0].sizes(), in.xs.sizes());
    EXPECT_TRUE(at::equal(g[1], at::zeros_like(g[1]))) << device_str << ": no rows, dW is 0";
  }
}

TEST(FusedLinearJsd, FiniteDifferencesInFloat64) {
  at::manual_seed(12);
  const Inputs in = make_inputs({4, 3, 5, 7}, at::kDouble, at::kCPU, 1, -100);
  for (const auto& [temperature, beta] : {std::pair{1.0, 0.5}, std::pair{2.0, 0.0}, std::pair{0.5, 1.0}}) {
    auto f = [&](const std::vector<at::Tensor>& x) {
      return liger::fused_linear_jsd(x[0], x[1], in.xt, in.wt, in.labels, beta, -100, temperature);
    };
    EXPECT_EQ(f({in.xs, in.ws}).scalar_type(), at::kDouble);
    expect_gradients_match_finite_differences(
        "T " + std::to_string(temperature) + " beta " + std::to_string(beta), f, {in.xs, in.ws}, 1e-6, 1e-6, 1e-9);
  }
}

TEST(FusedLinearJsd, PeakMemoryBoundedByTheChunk) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  // 4096 rows in chunks of 1024 (at H 256 the smallest chunk): the logits of one chunk (student
  // + teacher, bf16) and the gradients, never the (BT, V) logits.
  const int64_t bt = 4096, h = 256, v = 32768;
  at::manual_seed(1);
  const Inputs in = make_inputs({bt, h, h, v}, at::kBFloat16, at::Device(at::kCUDA, 0), -1, -100);
  auto run = [&] {
    at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt);
    (void)torch::autograd::grad({loss}, {in.xs, in.ws}, {at::scalar_tensor(0.5).cuda()});
  };
  run();  // cuBLAS workspaces and the like are not the op's memory
  const double peak = ligerbench::peak_memory(run, in.xs.device()).peak_bytes();
  const double chunk_logits = 2.0 * 1024 * v * 2;  // student + teacher logits of one chunk
  const double grads = 2.0 * (v * h * 2 + bt * h * 2);  // stored and scaled dW, dX
  const double full_logits = static_cast<double>(bt) * v * 4;
  EXPECT_LE(peak, chunk_logits + grads + 8.0 * (1 << 20)) << "peak " << peak / 1e6 << " MB";
  EXPECT_LT(peak, full_logits) << "peak " << peak / 1e6 << " MB: no (BT, V) fp32 buffer";
}

TEST(FusedLinearJsd, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const Inputs in = make_inputs({40, 32, 32, 3001}, at::kFloat, at::kCPU, 6, -100);
  auto [l_cpu, dx_cpu, dw_cpu] = liger::fused_linear_jsd_forward(in.xs, in.ws, in.xt, in.wt, in.labels, 0.5, -100, 2.0,
                                                                 c10::nullopt, true, true);
  auto [l_gpu, dx_gpu, dw_gpu] =
      liger::fused_linear_jsd_forward(in.xs.cuda(), in.ws.cuda(), in.xt.cuda(), in.wt.cuda(), in.labels.cuda(), 0.5,
                                      -100, 2.0, c10::nullopt, true, true);
  EXPECT_NEAR(l_cpu.item<double>(), l_gpu.item<double>(), 1e-5 * std::abs(l_cpu.item<double>()));
  EXPECT_TRUE(at::allclose(dx_cpu, dx_gpu.cpu(), 1e-4, 1e-7));
  EXPECT_TRUE(at::allclose(dw_cpu, dw_gpu.cpu(), 1e-4, 1e-7));
}

TEST(FusedLinearJsd, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::fused_linear_jsd", "liger::fused_linear_jsd_forward",
                           "liger::fused_linear_jsd_backward", "liger::fused_linear_jsd_chunk"}));
  const Inputs in = make_inputs({3, 4, 4, 9}, at::kFloat, at::kCPU, -1, -100);
  at::Tensor loss = liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(loss, "FusedLinearJsdFunction"));
}

TEST(FusedLinearJsd, ClearErrors) {
  const Inputs in = make_inputs({4, 6, 8, 10}, at::kFloat, at::kCPU, -1, -100);
  expect_error([&] { liger::fused_linear_jsd(in.xs, at::rand({10, 7}), in.xt, in.wt); },
               "student_weight must have shape (V, 6)");
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, in.xt, at::rand({11, 8})); },
               "teacher_weight must have shape (10, 8)");
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, at::rand({5, 8}), in.wt); }, "teacher_input must have shape (4");
  // Mixed float dtypes are autocast's case (fused_linear_autocast_test.cpp); a non-float weight is an error.
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt.to(at::kInt)); },
               "teacher_weight must be floating point");
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, c10::nullopt, 0.5, -100, 0.0); },
               "temperature must be non-zero");
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, c10::nullopt, 2.0); }, "beta must be in [0, 1]");
  expect_error([&] { liger::fused_linear_jsd(in.xs, in.ws, in.xt, in.wt, at::zeros({3}, at::kLong)); },
               "shift_labels must have shape (4,)");
}

TEST(FusedLinearJsd, ModuleMirrorsLigerDefaults) {
  liger::LigerFusedLinearJSD loss_fn;
  EXPECT_EQ(loss_fn->options.jsd_beta(), 0.5);
  EXPECT_EQ(loss_fn->options.ignore_index(), -100);
  EXPECT_EQ(loss_fn->options.temperature(), 1.0);
  EXPECT_FALSE(loss_fn->options.accum_dtype().has_value());
  at::manual_seed(6);
  const Inputs in = make_inputs({5, 6, 4, 13}, at::kFloat, at::kCPU, 1, -100);
  EXPECT_NEAR(loss_fn(in.xs, in.ws, in.xt, in.wt, in.labels).item<double>(),
              fused_linear_jsd_reference(f64(in.xs), f64(in.ws), f64(in.xt), f64(in.wt), in.labels, 0.5, -100, 1.0)
                  .item<double>(),
              1e-6);
  liger::LigerFusedLinearJSD hot(liger::LigerFusedLinearJSDOptions().temperature(2.0).jsd_beta(0.0).ignore_index(3));
  EXPECT_NEAR(hot(in.xs, in.ws, in.xt, in.wt).item<double>(),
              fused_linear_jsd_reference(f64(in.xs), f64(in.ws), f64(in.xt), f64(in.wt), at::Tensor(), 0.0, 3, 2.0)
                  .item<double>(),
              1e-6);
  EXPECT_THROW(liger::LigerFusedLinearJSD(liger::LigerFusedLinearJSDOptions().temperature(0.0)), c10::Error);
}

}  // namespace
