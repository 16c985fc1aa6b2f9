// liger::embedding against float64 on CPU and CUDA: output and dW for every dtype, tables with
// unaligned rows, multi-dim and empty index tensors, the table's first and last rows, heavily
// repeated indices (fp32 accumulation), padding_idx (outputs 0, no gradient), out-of-range and
// negative indices (clear errors), int32 indices, the LigerEmbedding module, finite differences.
#include "liger/embedding.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "finite_diff.h"
#include "liger/nn/embedding.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct EmbCase {
  int64_t V, D;
  std::vector<int64_t> index_shape;
  c10::optional<int64_t> padding_idx;
};

void PrintTo(const EmbCase& c, std::ostream* os) {
  *os << "{V " << c.V << ", D " << c.D << ", indices " << at::IntArrayRef(c.index_shape) << ", padding_idx "
      << (c.padding_idx ? std::to_string(*c.padding_idx) : "none") << "}";
}

int64_t normalized(int64_t p, int64_t V) { return p < 0 ? p + V : p; }

// Uniform indices with the table's first and last rows present and, with padding, some padding.
at::Tensor make_indices(const EmbCase& c, const at::Device& dev) {
  at::Tensor idx = at::randint(0, c.V, c.index_shape, at::kLong);
  at::Tensor flat = idx.view(-1);
  if (flat.numel() >= 2) {
    flat[0] = 0;
    flat[flat.numel() - 1] = c.V - 1;
  }
  if (c.padding_idx && flat.numel() >= 8) flat.narrow(0, 1, flat.numel() / 8).fill_(normalized(*c.padding_idx, c.V));
  return idx.to(dev);
}

// (out, dW) in float64, the embedding spec's reference: rows gathered, padding positions forced to 0.
std::pair<at::Tensor, at::Tensor> reference(const at::Tensor& w, const at::Tensor& idx, const at::Tensor& dout,
                                            c10::optional<int64_t> pad) {
  // Normalized here: the spec resolves a negative padding_idx against its case's V axis.
  const std::string padding = pad ? std::to_string(normalized(*pad, w.size(0))) : "none";
  const auto r = spec_reference_and_grads("embedding", {{"weight", w}, {"indices", idx}}, {dout}, {{"padding_idx", padding}});
  return {r[0], r[1]};
}

using Param = std::tuple<std::string, at::ScalarType, EmbCase>;
class EmbeddingTest : public ::testing::TestWithParam<Param> {};

TEST_P(EmbeddingTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, ec] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  at::manual_seed(31 + ec.V + ec.D);
  at::Tensor w = at::randn({ec.V, ec.D}, at::TensorOptions().device(dev).dtype(dtype)).requires_grad_(true);
  const at::Tensor idx = make_indices(ec, dev);
  at::Tensor out = liger::embedding(w, idx, ec.padding_idx);
  std::vector<int64_t> shape = ec.index_shape;
  shape.push_back(ec.D);
  ASSERT_EQ(out.sizes(), at::IntArrayRef(shape));
  ASSERT_EQ(out.scalar_type(), dtype);
  const at::Tensor dout = at::randn(out.sizes(), out.options());
  const at::Tensor dw = torch::autograd::grad({out}, {w}, {dout})[0];
  ASSERT_EQ(dw.sizes(), w.sizes());
  ASSERT_EQ(dw.scalar_type(), dtype);
  const auto [out_ref, dw_ref] = reference(w, idx, dout, ec.padding_idx);
  // The forward copies rows: exact in every dtype.
  EXPECT_TRUE(at::equal(out.cpu().to(at::kDouble), out_ref)) << "gathered rows differ from the table's";
  expect_close("dw", dw, dw_ref, dtype);
  if (ec.padding_idx) {
    EXPECT_EQ(dw[normalized(*ec.padding_idx, ec.V)].abs().max().item<double>(), 0.0) << "the padding row got a gradient";
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, ec] = info.param;
  std::string s = device + "_" + dtype_label(dtype) + "_V" + std::to_string(ec.V) + "_D" + std::to_string(ec.D) + "_idx";
  for (int64_t d : ec.index_shape) s += "_" + std::to_string(d);
  if (ec.padding_idx) s += "_pad" + std::string(*ec.padding_idx < 0 ? "m" : "") + std::to_string(std::abs(*ec.padding_idx));
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Tables, EmbeddingTest,
    ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                       ::testing::Values(EmbCase{100, 64, {320}, c10::nullopt}, EmbCase{1000, 128, {4, 80}, c10::nullopt},
                                         EmbCase{100, 60, {320}, c10::nullopt}, EmbCase{1000, 500, {320}, c10::nullopt},
                                         EmbCase{5000, 96, {3, 7, 11}, 50}, EmbCase{100, 64, {320}, 0},
                                         EmbCase{7, 3, {1000}, c10::nullopt},  // every row repeated ~140 times
                                         EmbCase{129, 4096, {2, 9}, -1},       // negative padding_idx: row V-1
                                         EmbCase{50, 16, {0}, c10::nullopt}, EmbCase{50, 16, {2, 0}, 3})),
    param_name);

// Tests that run once per device (the CUDA instance skips loudly without a GPU).
class EmbeddingOnDevice : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, EmbeddingOnDevice, ::testing::Values("cpu", "cuda"), string_param_name);

TEST_P(EmbeddingOnDevice, RepeatedIndexAccumulatesInFp32) {
  // 4096 gradients of one token: summed in fp32 and rounded once, dW is within one bf16
  // rounding of the exact sum (bf16 atomics would drift by far more).
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const auto o = at::TensorOptions().device(to_device(device_str));
  at::Tensor w = at::randn({10, 32}, o.dtype(at::kBFloat16)).requires_grad_(true);
  const at::Tensor idx = at::full({4096}, 3, o.dtype(at::kLong));
  const at::Tensor dout = (1 + at::rand({4096, 32}, o)).to(at::kBFloat16);  // positive: no cancellation
  const at::Tensor dw = torch::autograd::grad({liger::embedding(w, idx)}, {w}, {dout})[0];
  const at::Tensor exact = reference(w, idx, dout, c10::nullopt).second[3];  // the sum of dout's rows
  const at::Tensor rel = (dw[3].cpu().to(at::kDouble) - exact).abs() / exact;
  EXPECT_LE(rel.max().item<double>(), 1.0 / 256) << device_str;
  EXPECT_EQ(dw.cpu().index_select(0, at::tensor({0, 1, 2, 4, 5, 6, 7, 8, 9})).abs().max().item<float>(), 0.f)
      << "rows no index points to must get exactly 0";
}

TEST_P(EmbeddingOnDevice, OutOfRangeIndicesAreClearErrors) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const auto o = at::TensorOptions().device(to_device(device_str));
  const at::Tensor w = at::randn({100, 8}, o);
  for (const int64_t bad : {int64_t{100}, int64_t{12345}, int64_t{-1}}) {
    at::Tensor idx = at::randint(0, 100, {64}, o.dtype(at::kLong));
    idx[17] = bad;
    try {
      liger::embedding(w, idx);
      ADD_FAILURE() << "index " << bad << " was accepted on " << device_str;
    } catch (const c10::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("index " + std::to_string(bad) + " is out of range"), std::string::npos) << msg;
      EXPECT_NE(msg.find("100 rows"), std::string::npos) << msg;
    }
  }
}

TEST(Embedding, PaddingIdxAndIndexTypes) {
  const at::Tensor w = at::randn({10, 4});
  const at::Tensor idx = at::tensor({0, 9, 9, 3}, at::kLong);
  // Liger forces outputs at padding_idx to 0 whatever the row holds (here it is not zero).
  const at::Tensor out = liger::embedding(w, idx, 9);
  EXPECT_EQ(out[1].abs().max().item<float>(), 0.f);
  EXPECT_TRUE(at::equal(out[0], w[0]) && at::equal(out[3], w[3]));
  EXPECT_TRUE(at::equal(liger::embedding(w, idx, -1), out)) << "padding_idx -1 is row V-1, as in nn.Embedding";
  EXPECT_TRUE(at::equal(liger::embedding(w, idx.to(at::kInt)), liger::embedding(w, idx))) << "int32 indices";
  try {
    liger::embedding(w, idx, 10);
    FAIL() << "padding_idx 10 accepted for 10 rows";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("padding_idx 10 must be within"), std::string::npos) << e.what();
  }
  try {
    liger::embedding(w, idx.to(at::kFloat));
    FAIL() << "float indices accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("indices must be int64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(liger::embedding(at::randn({10}), idx), c10::Error);
}

TEST(Embedding, ModuleMirrorsLiger) {
  at::manual_seed(2);
  liger::LigerEmbedding emb(liger::LigerEmbeddingOptions(2000, 64).padding_idx(-2));
  EXPECT_EQ(emb->options.padding_idx(), c10::optional<int64_t>(1998)) << "negative padding_idx normalised";
  ASSERT_EQ(emb->weight.sizes(), (std::vector<int64_t>{2000, 64}));
  EXPECT_EQ(emb->weight[1998].abs().max().item<float>(), 0.f) << "padding row zeroed at init";
  // Standard normal init (nn.Embedding's): mean ~0, std ~1 over 128k values.
  EXPECT_NEAR(emb->weight.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(emb->weight.std().item<double>(), 1.0, 0.02);
  const at::Tensor idx = at::tensor({5, 1998, 7, 1998, 0, 1999}, at::kLong).view({2, 3});
  const at::Tensor out = emb->forward(idx);
  EXPECT_TRUE(at::equal(out, liger::embedding(emb->weight, idx, 1998)));
  const at::Tensor dw = torch::autograd::grad({out}, {emb->weight}, {at::ones_like(out)})[0];
  EXPECT_EQ(dw[1998].abs().max().item<float>(), 0.f);
  EXPECT_TRUE(at::equal(dw[5], at::ones({64})));
  EXPECT_EQ(liger::LigerEmbedding(liger::LigerEmbeddingOptions(10, 4))->options.padding_idx(), c10::nullopt);
  EXPECT_THROW(liger::LigerEmbedding(liger::LigerEmbeddingOptions(10, 4).padding_idx(10)), c10::Error);
}

TEST(Embedding, FiniteDifferencesInFloat64) {
  at::manual_seed(8);
  const at::Tensor w = at::randn({6, 5}, at::kDouble).requires_grad_(true);
  const at::Tensor idx = at::tensor({1, 4, 1, 0, 5, 2}, at::kLong).view({2, 3});
  expect_gradients_match_finite_differences(
      "embedding", [&](const auto& in) { return liger::embedding(in[0], idx, 2); }, {w}, 1e-6, 1e-6, 1e-7);
}

TEST(Embedding, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(6);
  const at::Tensor w = at::randn({3000, 200});
  const at::Tensor idx = at::randint(0, 300, {16, 64}, at::kLong);  // many repeats
  const at::Tensor dout = at::randn({16, 64, 200});
  EXPECT_TRUE(at::equal(liger::embedding_forward(w, idx, 7), liger::embedding_forward(w.cuda(), idx.cuda(), 7).cpu()));
  // Both sum each index's rows in fp32 in position order: bitwise equal, and deterministic.
  const at::Tensor dw_cpu = liger::embedding_backward(dout, idx, 3000, 7);
  const at::Tensor dw_gpu = liger::embedding_backward(dout.cuda(), idx.cuda(), 3000, 7);
  EXPECT_TRUE(at::equal(dw_cpu, dw_gpu.cpu()));
  EXPECT_TRUE(at::equal(dw_gpu, liger::embedding_backward(dout.cuda(), idx.cuda(), 3000, 7)));
}

TEST(Embedding, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::embedding", "liger::embedding_forward", "liger::embedding_backward"}));
  const at::Tensor w = at::randn({4, 2}).requires_grad_(true);
  const at::Tensor out = liger::embedding(w, at::tensor({1, 2}, at::kLong));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(out, "LigerEmbeddingFunction"));
}

}  // namespace
