// liger::rope against float64 on CPU and CUDA: q_rot, k_rot, dq, dk for every dtype, GQA and odd
// head counts, D = 92, q/k laid out as HF makes them (a transpose), contiguously and as slices of
// a fused qkv buffer, cos/sin with batch 1 or B and sliced from a longer table (position
// offsets), an empty batch; q-only back-propagation, caller's tensors untouched, errors.
#include "liger/rope.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

enum class Layout { kContiguous, kHF, kFusedQKV };

struct RopeCase {
  int64_t B, T, HQ, HKV, D;
  bool cos_batched;  // cos/sin (B, T, D) with different positions per batch, else (1, T, D)
  int64_t offset;    // first position: cos/sin are rows [offset, offset + T) of a longer table
  Layout layout;
};

void PrintTo(const RopeCase& c, std::ostream* os) {
  *os << "{B " << c.B << ", T " << c.T << ", heads " << c.HQ << "/" << c.HKV << ", D " << c.D
      << (c.cos_batched ? ", cos per batch" : ", cos shared") << ", offset " << c.offset << ", layout "
      << static_cast<int>(c.layout) << "}";
}

// HF's rotary table (theta 10000) for positions start[b] + [0, len), (len(start), len, D), fp32.
std::pair<at::Tensor, at::Tensor> rotary_table(const std::vector<int64_t>& start, int64_t len, int64_t D) {
  const at::Tensor inv_freq = 1.0 / at::pow(10000.0, at::arange(0, D, 2, at::kFloat) / static_cast<double>(D));
  std::vector<at::Tensor> c, s;
  for (int64_t st : start) {
    const at::Tensor freqs = at::outer(at::arange(st, st + len, at::kFloat), inv_freq);
    const at::Tensor emb = at::cat({freqs, freqs}, -1);
    c.push_back(emb.cos());
    s.push_back(emb.sin());
  }
  return {at::stack(c), at::stack(s)};
}

// (B, heads, T, D) in the requested memory layout, as a leaf requiring grad.
at::Tensor make_heads(int64_t B, int64_t H, int64_t T, int64_t D, Layout layout, const at::TensorOptions& o) {
  at::Tensor x;
  switch (layout) {
    case Layout::kContiguous: x = at::randn({B, H, T, D}, o); break;
    case Layout::kHF: x = at::randn({B, T, H, D}, o).transpose(1, 2); break;
    case Layout::kFusedQKV: x = at::randn({B, T, H + 3, D}, o).narrow(2, 1, H).transpose(1, 2); break;
  }
  return x.detach().requires_grad_(true);
}

// HF's apply_rotary_pos_emb in float64 (the rope spec's reference), with autograd's gradients for
// the given upstream grads: {q_rot, k_rot, dq, dk}.
std::vector<at::Tensor> reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                  const at::Tensor& sin, const at::Tensor& gq, const at::Tensor& gk) {
  const auto r = spec_reference_and_grads("rope", {{"q", q}, {"k", k}, {"cos", cos}, {"sin", sin}}, {gq, gk});
  return {r[0], r[1], r[2], r[3]};
}

using Param = std::tuple<std::string, at::ScalarType, RopeCase>;
class RopeTest : public ::testing::TestWithParam<Param> {};

TEST_P(RopeTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, rc] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(1000 + rc.T * 7 + rc.D);
  const auto o = at::TensorOptions().device(dev).dtype(dtype);
  at::Tensor q = make_heads(rc.B, rc.HQ, rc.T, rc.D, rc.layout, o);
  at::Tensor k = make_heads(rc.B, rc.HKV, rc.T, rc.D, rc.layout, o);
  std::vector<int64_t> starts = {0};
  if (rc.cos_batched) {
    starts.clear();
    for (int64_t b = 0; b < rc.B; ++b) starts.push_back(3 * b);  // each sequence at its own positions
  }
  auto [table_cos, table_sin] = rotary_table(starts, rc.T + rc.offset, rc.D);
  const at::Tensor cos = table_cos.to(o).narrow(1, rc.offset, rc.T);  // a strided slice with a storage offset
  const at::Tensor sin = table_sin.to(o).narrow(1, rc.offset, rc.T);
  const at::Tensor q_before = q.detach().clone(), k_before = k.detach().clone();

  auto [q_rot, k_rot] = liger::rope(q, k, cos, sin);
  ASSERT_EQ(q_rot.sizes(), q.sizes());
  ASSERT_EQ(k_rot.sizes(), k.sizes());
  ASSERT_EQ(q_rot.scalar_type(), dtype);
  ASSERT_EQ(k_rot.scalar_type(), dtype);
  if (rc.layout != Layout::kFusedQKV) EXPECT_EQ(q_rot.strides(), q.strides()) << "output keeps q's memory layout";
  const at::Tensor gq = at::randn(q.sizes(), o), gk = at::randn(k.sizes(), o);
  auto grads = torch::autograd::grad({q_rot, k_rot}, {q, k}, {gq, gk});
  const auto ref = reference(q, k, cos, sin, gq, gk);
  expect_close("q_rot", q_rot, ref[0], dtype);
  expect_close("k_rot", k_rot, ref[1], dtype);
  expect_close("dq", grads[0], ref[2], dtype);
  expect_close("dk", grads[1], ref[3], dtype);
  EXPECT_TRUE(at::equal(q.detach(), q_before) && at::equal(k.detach(), k_before)) << "the caller's q/k were modified";
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, rc] = info.param;
  const char* layout = rc.layout == Layout::kHF ? "hf" : rc.layout == Layout::kContiguous ? "contig" : "fusedqkv";
  return device + "_" + dtype_label(dtype) + "_B" + std::to_string(rc.B) + "_T" + std::to_string(rc.T) + "_q" +
         std::to_string(rc.HQ) + "_kv" + std::to_string(rc.HKV) + "_D" + std::to_string(rc.D) +
         (rc.cos_batched ? "_cosB" : "_cos1") + "_off" + std::to_string(rc.offset) + "_" + layout;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RopeTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                       ::testing::Values(RopeCase{1, 128, 32, 8, 64, false, 0, Layout::kHF},
                                         RopeCase{2, 128, 32, 32, 64, true, 0, Layout::kHF},
                                         RopeCase{2, 64, 32, 8, 64, false, 17, Layout::kContiguous},
                                         RopeCase{3, 23, 73, 213, 92, false, 5, Layout::kHF},
                                         RopeCase{3, 19, 73, 155, 92, true, 0, Layout::kFusedQKV},
                                         RopeCase{2, 33, 5, 3, 128, true, 9, Layout::kFusedQKV},
                                         RopeCase{1, 7, 1, 1, 2, false, 0, Layout::kContiguous},
                                         RopeCase{0, 16, 4, 2, 64, false, 0, Layout::kHF})),
    param_name);

// The benchmark's head geometry (vectorized CUDA path at full size).
INSTANTIATE_TEST_SUITE_P(
    BenchShape, RopeTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kBFloat16),
                       ::testing::Values(RopeCase{1, 1024, 32, 8, 128, false, 0, Layout::kHF})),
    param_name);

// Tests that run once per device (the CUDA instance skips loudly without a GPU).
class RopeOnDevice : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, RopeOnDevice, ::testing::Values("cpu", "cuda"), string_param_name);

TEST_P(RopeOnDevice, CosInFp32WithBf16Inputs) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const auto o = at::TensorOptions().device(to_device(device_str));
  at::Tensor q = at::randn({2, 4, 16, 64}, o.dtype(at::kBFloat16)).requires_grad_(true);
  at::Tensor k = at::randn({2, 2, 16, 64}, o.dtype(at::kBFloat16)).requires_grad_(true);
  auto [c, s] = rotary_table({0}, 16, 64);
  c = c.to(o);
  s = s.to(o);
  auto [qr, kr] = liger::rope(q, k, c, s);
  EXPECT_EQ(qr.scalar_type(), at::kBFloat16) << "outputs keep q's dtype";
  const at::Tensor gq = at::randn_like(qr), gk = at::randn_like(kr);
  auto g = torch::autograd::grad({qr, kr}, {q, k}, {gq, gk});
  const auto ref = reference(q, k, c, s, gq, gk);
  expect_close("q_rot", qr, ref[0], at::kBFloat16);
  expect_close("k_rot", kr, ref[1], at::kBFloat16);
  expect_close("dq", g[0], ref[2], at::kBFloat16);
  expect_close("dk", g[1], ref[3], at::kBFloat16);
}

TEST(Rope, OnlyQBackPropagated) {
  // Liger's benchmark: k_rot unused. dk is not computed (undefined, not a rotated zero tensor);
  // with k not requiring grad, k_rot does not either.
  at::Tensor q = at::randn({1, 4, 8, 32}).requires_grad_(true);
  at::Tensor k = at::randn({1, 2, 8, 32}).requires_grad_(true);
  auto [c, s] = rotary_table({0}, 8, 32);
  auto [qr, kr] = liger::rope(q, k, c, s);
  auto g = torch::autograd::grad({qr}, {q, k}, {at::ones_like(qr)}, false, false, /*allow_unused=*/true);
  EXPECT_TRUE(g[0].defined());
  EXPECT_FALSE(g[1].defined()) << "k got a gradient from an output nobody used";
  const auto ref = reference(q, k, c, s, at::ones_like(qr), at::zeros_like(kr));
  expect_close("dq", g[0], ref[2], at::kFloat);

  at::Tensor k_frozen = at::randn({1, 2, 8, 32});
  auto [qr2, kr2] = liger::rope(q, k_frozen, c, s);
  EXPECT_TRUE(qr2.requires_grad());
  EXPECT_FALSE(kr2.requires_grad()) << "k_rot requires grad although k does not";
}

TEST(Rope, RotaryPosEmbIgnoresPositionIdsAndUnsqueezeDim) {
  at::Tensor q = at::randn({2, 3, 5, 8}), k = at::randn({2, 1, 5, 8});
  auto [c, s] = rotary_table({0}, 5, 8);
  auto [q1, k1] = liger::rope(q, k, c, s);
  auto [q2, k2] = liger::liger_rotary_pos_emb(q, k, c, s, at::arange(100, 105).unsqueeze(0), 2);
  EXPECT_TRUE(at::equal(q1, q2) && at::equal(k1, k2));
}

TEST(Rope, FiniteDifferencesInFloat64) {
  at::manual_seed(11);
  at::Tensor q = at::randn({2, 3, 4, 6}, at::kDouble).requires_grad_(true);
  at::Tensor k = at::randn({2, 2, 4, 6}, at::kDouble).requires_grad_(true);
  auto [c, s] = rotary_table({0, 2}, 4, 6);
  c = c.to(at::kDouble);
  s = s.to(at::kDouble);
  // Both outputs in one tensor: the random weighting of the check covers q's and k's rotation.
  auto f = [&](const std::vector<at::Tensor>& in) {
    auto [qr, kr] = liger::rope(in[0], in[1], c, s);
    return at::cat({qr.reshape(-1), kr.reshape(-1)});
  };
  expect_gradients_match_finite_differences("rope", f, {q, k}, 1e-6, 1e-6, 1e-7);
}

TEST(Rope, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(5);
  const at::Tensor q = at::randn({2, 40, 7, 128}).transpose(1, 2).to(at::kBFloat16);  // (B, T, H, D) storage
  const at::Tensor k = at::randn({2, 40, 3, 128}).transpose(1, 2).to(at::kBFloat16);
  auto [c, s] = rotary_table({0, 4}, 40, 128);
  c = c.to(at::kBFloat16);
  s = s.to(at::kBFloat16);
  auto [qc, kc] = liger::rope_forward(q, k, c, s);
  auto [qg, kg] = liger::rope_forward(q.cuda(), k.cuda(), c.cuda(), s.cuda());
  // The same fp32 products, rounded once: identical but for fma contraction on the GPU.
  EXPECT_LE((qc.to(at::kFloat) - qg.cpu().to(at::kFloat)).abs().max().item<float>(), 0.0625f);
  EXPECT_LE((kc.to(at::kFloat) - kg.cpu().to(at::kFloat)).abs().max().item<float>(), 0.0625f);
  auto [dqc, dkc] = liger::rope_backward(qc, kc, c, s);
  auto [dqg, dkg] = liger::rope_backward(qg, kg, c.cuda(), s.cuda());
  EXPECT_LE((dqc.to(at::kFloat) - dqg.cpu().to(at::kFloat)).abs().max().item<float>(), 0.0625f);
  EXPECT_LE((dkc.to(at::kFloat) - dkg.cpu().to(at::kFloat)).abs().max().item<float>(), 0.0625f);
}

TEST(Rope, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::rope", "liger::rope_forward", "liger::rope_backward"}));
  at::Tensor q = at::randn({1, 2, 3, 4}).requires_grad_(true);
  auto [c, s] = rotary_table({0}, 3, 4);
  auto [qr, kr] = liger::rope(q, at::randn({1, 1, 3, 4}), c, s);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(qr, "LigerRopeFunction"));
}

// Issue 13's case: q, k (9, 41, 7, 41) fp32 and cos, sin (9, 7, 42) as HF's LlamaRotaryEmbedding
// builds them for head_dim 41. Every entry (the autograd op with and without gradients, the
// forward and backward ops) on every device must raise the head_dim error before touching data.
TEST_P(RopeOnDevice, OddHeadDimWithHfTableIsAClearErrorOnEveryEntry) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  auto [c0, s0] = rotary_table({0, 1, 2, 3, 4, 5, 6, 7, 8}, 7, 41);
  ASSERT_EQ(c0.sizes(), (std::vector<int64_t>{9, 7, 42}));
  const at::Tensor c = c0.to(dev), s = s0.to(dev);
  for (const bool grad : {false, true}) {
    const at::Tensor q = at::randn({9, 41, 7, 41}, dev).requires_grad_(grad);
    const at::Tensor k = at::randn({9, 41, 7, 41}, dev).requires_grad_(grad);
    expect_error([&] { liger::rope(q, k, c, s); }, "head_dim must be even");
    expect_error([&] { liger::liger_rotary_pos_emb(q, k, c, s); }, "head_dim must be even");
    expect_error([&] { liger::rope_forward(q.detach(), k.detach(), c, s); }, "head_dim must be even");
    expect_error([&] { liger::rope_backward(q.detach(), k.detach(), c, s); }, "head_dim must be even");
    expect_error([&] { liger::rope_backward(c10::nullopt, k.detach(), c, s); }, "head_dim must be even");
  }
  // Even head_dim with the odd table's cos/sin: the shape relation is named, with both shapes.
  const at::Tensor q = at::randn({9, 41, 7, 40}, dev), k = at::randn({9, 3, 7, 40}, dev);
  expect_error([&] { liger::rope(q, k, c, s); }, "(1 or batch, seq_len, head_dim) = (1 or 9, 7, 40), got [9, 7, 42]");
  expect_error([&] { liger::rope_backward(q, c10::nullopt, c, s); }, "got [9, 7, 42]");
  if (device_str == "cuda") {
    expect_error([&] { liger::rope(q, k, c.cpu().narrow(2, 0, 40), s.cpu().narrow(2, 0, 40)); },
                 "but the rotated tensors are on cuda");
  }
}

TEST(Rope, ClearErrors) {
  auto [c, s] = rotary_table({0}, 8, 64);
  const at::Tensor q = at::randn({2, 4, 8, 64}), k = at::randn({2, 2, 8, 64});
  expect_error([&] { liger::rope(at::randn({2, 4, 8, 63}), at::randn({2, 2, 8, 63}), c.narrow(2, 0, 63), s.narrow(2, 0, 63)); },
               "head_dim must be even");
  expect_error([&] { liger::rope(q, at::randn({2, 2, 8, 32}), c, s); }, "same batch, seq_len and head_dim");
  expect_error([&] { liger::rope(q, k.to(at::kDouble), c, s); }, "same dtype");
  expect_error([&] { liger::rope(q, k, c.narrow(1, 0, 7), s.narrow(1, 0, 7)); }, "(1 or batch, seq_len, head_dim)");
  expect_error([&] { liger::rope(q, k, at::cat({c, c, c}), at::cat({s, s, s})); }, "(1 or batch, seq_len, head_dim)");
  expect_error([&] { liger::rope(q.view({8, 8, 64}), k, c, s); }, "must be (batch, heads, seq_len, head_dim)");
  expect_error([&] { liger::rope(q.to(at::kLong), k.to(at::kLong), c, s); }, "floating point");
}

}  // namespace
