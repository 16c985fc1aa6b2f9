// liger::multi_token_attention against the float64 PyTorch composition (KERNELS.md section 8) on
// CPU and CUDA: out, dscores, dweight and dbias in every dtype, softmax and sparsemax, kernel
// sizes 1, 3 and 5, lengths that are not a power of two, one above 1024 (Liger's limit), bias
// on and off, groups, stride and dilation (the spec's composition,
// harness/specs/multi_token_attention_math.h, with these conv options); finite differences in
// float64; the row operators' masked tail; registration, module and errors.
#include "liger/multi_token_attention.h"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/multi_token_attention.h"
#include "ligerbench/registry.h"
#include "../../harness/specs/multi_token_attention_math.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

using ligerbench::specs::mta_composition;
using Conv = ligerbench::specs::MtaConv;

struct Shape {
  int64_t B, C_in, C_out, L, K;
  Conv conv;
};

// Forward and every gradient of the op against the composition on float64 copies.
void check_case(const std::string& what, const at::Device& device, at::ScalarType dtype, const Shape& s, bool bias_on,
                bool sparse) {
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.C_in / s.conv.groups * s.K * s.K));
  at::Tensor scores = at::randn({s.B, s.C_in, s.L, s.L}, opts).requires_grad_(true);
  at::Tensor weight =
      at::empty({s.C_out, s.C_in / s.conv.groups, s.K, s.K}, opts).uniform_(-bound, bound).requires_grad_(true);
  at::Tensor bias = at::empty({s.C_out}, opts).uniform_(-bound, bound).requires_grad_(bias_on);
  const c10::optional<at::Tensor> b = bias_on ? c10::optional<at::Tensor>(bias) : c10::nullopt;
  const at::Tensor out = liger::multi_token_attention(scores, weight, b, s.conv.stride, s.conv.padding,
                                                      s.conv.dilation, s.conv.groups, sparse);
  ASSERT_EQ(out.scalar_type(), dtype) << what;
  const at::Tensor dout = at::randn(out.sizes(), opts);
  std::vector<at::Tensor> inputs = {scores, weight};
  if (bias_on) inputs.push_back(bias);
  const auto grads = torch::autograd::grad({out}, inputs, {dout});

  std::vector<at::Tensor> ref_in;
  for (const auto& t : inputs) ref_in.push_back(t.detach().cpu().to(at::kDouble).requires_grad_(true));
  const c10::optional<at::Tensor> b64 = bias_on ? c10::optional<at::Tensor>(ref_in[2]) : c10::nullopt;
  const at::Tensor ref = mta_composition(ref_in[0], ref_in[1], b64, s.conv, sparse);
  const auto ref_grads = torch::autograd::grad({ref}, ref_in, {dout.cpu().to(at::kDouble)});
  expect_close(what + " out", out, ref.detach(), dtype);
  expect_close(what + " dscores", grads[0], ref_grads[0], dtype);
  // dweight and dbias are sums over all B L'^2 output positions, computed by ATen's convolution
  // backward (as in PyTorch). Past about 2^16 terms its fp32 accumulation alone misses the fp32
  // rel_l2 of 1e-5 (L 1030: ~2e-5); there they must be as good as PyTorch's own fp32 composition.
  const bool long_fp32_sums = dtype == at::kFloat && out.numel() / out.size(1) > (1 << 16);
  std::vector<at::Tensor> torch_grads;
  if (long_fp32_sums) {
    std::vector<at::Tensor> t_in;
    for (const auto& t : inputs) t_in.push_back(t.detach().clone().requires_grad_(true));
    const c10::optional<at::Tensor> tb = bias_on ? c10::optional<at::Tensor>(t_in[2]) : c10::nullopt;
    torch_grads = torch::autograd::grad({mta_composition(t_in[0], t_in[1], tb, s.conv, sparse)}, t_in, {dout});
  }
  const char* names[] = {"", " dweight", " dbias"};
  for (std::size_t i = 1; i < grads.size(); ++i) {
    if (!long_fp32_sums) {
      expect_close(what + names[i], grads[i], ref_grads[i], dtype);
      continue;
    }
    const auto tol = ligerbench::tolerance_for(dtype);
    const auto ours = ligerbench::compare_tensors("ours", grads[i].cpu(), ref_grads[i], tol);
    const auto theirs = ligerbench::compare_tensors("torch", torch_grads[i].cpu(), ref_grads[i], tol);
    EXPECT_TRUE(ours.passed() || (ours.rel_l2() <= 2 * theirs.rel_l2() && ours.max_abs() <= 2 * theirs.max_abs()))
        << what << names[i] << ": rel_l2 " << ours.rel_l2() << " (PyTorch fp32: " << theirs.rel_l2() << "), max_abs "
        << ours.max_abs() << " (PyTorch fp32: " << theirs.max_abs() << ")";
  }
}

using Param = DeviceDtype;
class MultiTokenAttentionTest : public ::testing::TestWithParam<Param> {};

TEST_P(MultiTokenAttentionTest, MatchesFloat64Composition) {
  const auto& [device_str, dtype] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  // Liger's test shapes (B, C_in, C_out, L, K), then K 1 and 5, groups, C_out != C_in, stride and
  // dilation (L' != L), and rows longer than a block's 256 threads.
  std::vector<Shape> shapes = {
      {2, 4, 4, 8, 3, {1, 1, 1, 1}},  {1, 2, 2, 5, 1, {1, 0, 1, 1}},  {3, 6, 6, 6, 3, {1, 1, 1, 1}},
      {1, 2, 2, 13, 5, {1, 2, 1, 1}}, {1, 4, 4, 9, 3, {1, 1, 1, 2}},  {1, 2, 3, 7, 3, {1, 1, 1, 1}},
      {1, 2, 2, 11, 3, {2, 1, 1, 1}}, {1, 2, 2, 10, 3, {1, 2, 2, 1}}, {1, 1, 1, 301, 3, {1, 1, 1, 1}}};
  // On the GPU (the CPU case stays seconds for CI): L 1024 (16-byte packs in every dtype), then
  // lengths above Liger's limit of 1024, neither a power of two nor a multiple of a pack or the
  // block: L 1030 (K 3) and 2053 (K 5, two heads).
  if (device_str == "cuda") {
    shapes.push_back({1, 2, 2, 1024, 3, {1, 1, 1, 1}});
    shapes.push_back({1, 1, 1, 1030, 3, {1, 1, 1, 1}});
    shapes.push_back({1, 2, 2, 2053, 5, {1, 2, 1, 1}});
  }
  for (const bool sparse : {false, true}) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const Shape& s = shapes[i];
      const bool bias_on = i % 2 == 0;
      at::manual_seed(100 + i);
      check_case(device_str + " " + dtype_label(dtype) + (sparse ? " sparse" : " softmax") + " L " +
                     std::to_string(s.L) + " K " + std::to_string(s.K) + (bias_on ? " bias" : " no bias"),
                 to_device(device_str), dtype, s, bias_on, sparse);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, MultiTokenAttentionTest, every_device_and_dtype(), device_dtype_name);

TEST(MultiTokenAttention, FiniteDifferencesInFloat64) {
  at::manual_seed(5);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  // Spread scores: no sparsemax support boundary within the step.
  at::Tensor scores = (2 * at::randn({1, 2, 5, 5}, opts)).requires_grad_(true);
  at::Tensor weight = (0.3 * at::randn({2, 2, 3, 3}, opts)).requires_grad_(true);
  at::Tensor bias = (0.1 * at::randn({2}, opts)).requires_grad_(true);
  for (const bool sparse : {false, true}) {
    expect_gradients_match_finite_differences(
        sparse ? "sparse" : "softmax",
        [sparse](const auto& in) { return liger::multi_token_attention(in[0], in[1], in[2], 1, 1, 1, 1, sparse); },
        {scores, weight, bias});
  }
}

TEST(MultiTokenAttention, ProbabilitiesAreCausalAndNormalised) {
  // Straight from the row operator: rows sum to 1 over j <= i and are exactly 0 beyond.
  for (const auto& device_str : visible_devices("ProbabilitiesAreCausalAndNormalised")) {
    for (const bool sparse : {false, true}) {
      at::manual_seed(9);
      const at::Tensor s = at::randn({2, 3, 37, 37}, at::TensorOptions().device(to_device(device_str)));
      const at::Tensor p = liger::multi_token_attention_probs(s, sparse).cpu().to(at::kDouble);
      const at::Tensor future = at::ones({37, 37}, at::kBool).triu(1);
      EXPECT_EQ(p.masked_select(future).abs().sum().item<double>(), 0.0) << device_str << " sparse " << sparse;
      EXPECT_TRUE(at::allclose(p.sum(-1), at::ones({2, 3, 37}, at::kDouble), 1e-5, 1e-5)) << device_str;
      EXPECT_EQ(p[0][0][0][0].item<double>(), 1.0) << "query 0 sees key 0 alone";
      // dS of the tail is 0 whatever dP holds there; the backward overwrites its input.
      at::Tensor g = at::randn({2, 3, 37, 37}, s.options());
      const at::Tensor p_dev = p.to(s.device()).to(at::kFloat);
      at::Tensor& ds = liger::multi_token_attention_probs_backward_(g, p_dev, sparse);
      EXPECT_EQ(ds.data_ptr(), g.data_ptr()) << "the backward is in place";
      EXPECT_EQ(ds.cpu().masked_select(future).abs().sum().item<float>(), 0.f) << device_str;
    }
  }
}

TEST(MultiTokenAttention, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(21);
  const at::Tensor s = at::randn({2, 4, 300, 300});
  for (const bool sparse : {false, true}) {
    const at::Tensor p_cpu = liger::multi_token_attention_probs(s, sparse);
    const at::Tensor p_gpu = liger::multi_token_attention_probs(s.cuda(), sparse).cpu();
    EXPECT_TRUE(at::allclose(p_cpu, p_gpu, 1e-5, 1e-6)) << "sparse " << sparse;
    if (sparse) EXPECT_TRUE(at::equal(p_cpu > 0, p_gpu > 0)) << "the supports differ";
  }
}

TEST(MultiTokenAttention, RegisteredWithTheDispatcher) {
  // Its CPU and CUDA kernels: ConformanceBackends.EveryKernelHasA{Cpu,Cuda}Kernel (harness_tests).
  ASSERT_NE(ligerbench::find_kernel("multi_token_attention"), nullptr) << "not registered";
  at::Tensor s = at::randn({1, 2, 6, 6}).requires_grad_(true);
  const at::Tensor out = liger::multi_token_attention(s, at::randn({2, 2, 3, 3}), c10::nullopt, 1, 1);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(out, "MultiTokenAttentionFunction"));
}

TEST(MultiTokenAttention, ClearErrors) {
  const at::Tensor w = at::randn({2, 2, 3, 3});
  expect_error("3-D scores", [&] { liger::multi_token_attention(at::randn({2, 6, 6}), w); }, "must be 4-D (B, C, L, L)");
  expect_error("non-square scores", [&] { liger::multi_token_attention(at::randn({1, 2, 6, 7}), w); },
               "must be square");
  expect_error("integer scores", [&] { liger::multi_token_attention(at::ones({1, 2, 6, 6}, at::kLong), w); },
               "scores must be floating point");
  expect_error("dtype mismatch", [&] { liger::multi_token_attention(at::randn({1, 2, 6, 6}, at::kDouble), w); },
               "weight has dtype");
  expect_error("channels vs groups",
               [&] { liger::multi_token_attention(at::randn({1, 3, 6, 6}), at::randn({2, 1, 3, 3}), c10::nullopt, 1, 1, 1, 2); },
               "must be divisible by groups");
  expect_error("weight channels", [&] { liger::multi_token_attention(at::randn({1, 4, 6, 6}), w); },
               "weight expects 2 input channels");
  expect_error("bias shape", [&] { liger::multi_token_attention(at::randn({1, 2, 6, 6}), w, at::randn({3})); },
               "bias must be (C_out,)");
  expect_error("groups 0", [&] { liger::multi_token_attention(at::randn({1, 2, 6, 6}), w, c10::nullopt, 1, 1, 1, 0); },
               "groups must be >= 1");
  expect_error("stride 0", [&] { liger::multi_token_attention(at::randn({1, 2, 6, 6}), w, c10::nullopt, 0); },
               "stride and dilation must be >= 1");
  expect_error("module groups", [&] { liger::LigerMultiTokenAttention(liger::LigerMultiTokenAttentionOptions(3, 4, 3).groups(2)); },
               "must be divisible by groups");
}

TEST(MultiTokenAttention, ModuleMirrorsLiger) {
  liger::LigerMultiTokenAttention mta(liger::LigerMultiTokenAttentionOptions(4, 4, 3).padding(1));
  EXPECT_EQ(mta->weight.sizes(), (std::vector<int64_t>{4, 4, 3, 3}));
  ASSERT_TRUE(mta->bias.defined());
  EXPECT_EQ(mta->bias.abs().sum().item<float>(), 0.f) << "bias starts at zero";
  // kaiming_uniform(a = sqrt 5): bound 1/sqrt(fan_in) = 1/6 here.
  EXPECT_LE(mta->weight.abs().max().item<float>(), 1.f / 6 + 1e-6f);
  EXPECT_EQ(mta->parameters().size(), 2u);
  const at::Tensor s = at::randn({2, 4, 9, 9});
  EXPECT_TRUE(at::equal(mta(s), liger::multi_token_attention(s, mta->weight, mta->bias, 1, 1)));
  liger::LigerMultiTokenAttention sparse_no_bias(
      liger::LigerMultiTokenAttentionOptions(4, 2, 1).bias(false).sparse(true).groups(2));
  EXPECT_EQ(sparse_no_bias->parameters().size(), 1u);
  EXPECT_TRUE(at::equal(sparse_no_bias(s),
                        liger::multi_token_attention(s, sparse_no_bias->weight, c10::nullopt, 1, 0, 1, 2, true)));
}

}  // namespace
