// liger::swiglu and liger::geglu (one kernel family) against float64 on CPU and CUDA: c, da, db
// for every dtype, odd and non-power-of-two sizes (I = 431, vector tails), an empty batch,
// SwiGLU's multipliers; Liger's rounding points; the in-place backward (into autograd's
// intermediates only, never a caller's tensors); the MLP modules against HF's LlamaMLP; errors.
#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "expect_error.h"
#include "finite_diff.h"
#include "liger/geglu.h"
#include "liger/nn/geglu.h"
#include "liger/nn/swiglu.h"
#include "liger/swiglu.h"
#include "spec_reference.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

enum class Act { kSwiGLU, kGeGLU };

struct GluCase {
  std::vector<int64_t> shape;
  double gate_multiplier = 1.0;  // SwiGLU only
  double down_multiplier = 1.0;
};

void PrintTo(const GluCase& c, std::ostream* os) {
  *os << "{shape " << at::IntArrayRef(c.shape) << ", multipliers " << c.gate_multiplier << "/" << c.down_multiplier
      << "}";
}

at::Tensor call(Act act, const at::Tensor& a, const at::Tensor& b, const GluCase& gc, bool in_place = true) {
  return act == Act::kSwiGLU ? liger::swiglu(a, b, gc.gate_multiplier, gc.down_multiplier, in_place)
                             : liger::geglu(a, b, in_place);
}

std::string act_name(Act act) { return act == Act::kSwiGLU ? "swiglu" : "geglu"; }

// The exact math (float64), the spec's activation-scope reference act(a) * b with SwiGLU's
// multipliers around it: silu(a gm) b dm, or gelu_tanh(a) b.
at::Tensor exact(Act act, const at::Tensor& a, const at::Tensor& b, const GluCase& gc) {
  const at::Tensor ab = spec_reference(act_name(act), {{"a", a * gc.gate_multiplier}, {"b", b}},
                                       {{"scope", "activation"}})[0];
  return gc.down_multiplier == 1.0 ? ab : ab * gc.down_multiplier;
}

// (c, da, db) in float64 for upstream gradient dc.
std::vector<at::Tensor> reference(Act act, const at::Tensor& a, const at::Tensor& b, const at::Tensor& dc,
                                  const GluCase& gc) {
  at::Tensor a64 = f64(a).requires_grad_(true);
  at::Tensor b64 = f64(b).requires_grad_(true);
  at::Tensor c = exact(act, a64, b64, gc);
  auto g = torch::autograd::grad({c}, {a64, b64}, {f64(dc)});
  return {c.detach(), g[0], g[1]};
}

using Param = std::tuple<std::string, at::ScalarType, Act, GluCase>;
class GluTest : public ::testing::TestWithParam<Param> {};

TEST_P(GluTest, MatchesFloat64Reference) {
  const auto& [device_str, dtype, act, gc] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  at::manual_seed(77 + static_cast<int>(gc.shape.back()));
  const auto o = at::TensorOptions().device(to_device(device_str)).dtype(dtype);
  at::Tensor a = (2 * at::randn(gc.shape, o)).detach().requires_grad_(true);  // into silu's/gelu's tails too
  at::Tensor b = at::randn(gc.shape, o).requires_grad_(true);
  const at::Tensor a_before = a.detach().clone(), b_before = b.detach().clone();
  at::Tensor c = call(act, a, b, gc);
  ASSERT_EQ(c.sizes(), a.sizes());
  ASSERT_EQ(c.scalar_type(), dtype);
  const at::Tensor dc = at::randn(gc.shape, o);
  auto g = torch::autograd::grad({c}, {a, b}, {dc});
  const auto ref = reference(act, a, b, dc, gc);
  expect_close("c", c, ref[0], dtype);
  expect_close("da", g[0], ref[1], dtype);
  expect_close("db", g[1], ref[2], dtype);
  EXPECT_TRUE(at::equal(a.detach(), a_before) && at::equal(b.detach(), b_before))
      << "the backward overwrote the caller's own (leaf) tensors";
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [device, dtype, act, gc] = info.param;
  std::string s = device + "_" + dtype_label(dtype) + "_" + act_name(act);
  for (int64_t d : gc.shape) s += "_" + std::to_string(d);
  if (gc.gate_multiplier != 1.0 || gc.down_multiplier != 1.0) s += "_multipliers";
  return s;
}

const std::vector<GluCase> kShapes = {{{2, 8, 8}}, {{9, 7, 41}}, {{6, 42, 431}}, {{3, 1001}},
                                      {{1}},       {{0, 431}},   {{64, 4096}}};

INSTANTIATE_TEST_SUITE_P(Shapes, GluTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                                            ::testing::Values(Act::kSwiGLU, Act::kGeGLU), ::testing::ValuesIn(kShapes)),
                         param_name);

INSTANTIATE_TEST_SUITE_P(Multipliers, GluTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                                            ::testing::Values(Act::kSwiGLU),
                                            ::testing::Values(GluCase{{2, 8, 8}, 0.5, 2.0},
                                                              GluCase{{9, 7, 41}, 1.5, 0.25})),
                         param_name);

at::Tensor round_to(const at::Tensor& x, at::ScalarType t) { return x.to(t).to(at::kDouble); }

// The activation alone (float64): the spec's reference with b = 1, silu(a gm) or gelu_tanh(a).
at::Tensor activation(Act act, const at::Tensor& a64, double gate_multiplier = 1.0) {
  return exact(act, a64, at::ones_like(a64), GluCase{{}, gate_multiplier});
}

// Tests that run once per device (the CUDA instance skips loudly without a GPU).
class GluOnDevice : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, GluOnDevice, ::testing::Values("cpu", "cuda"), string_param_name);

// Liger rounds the activation to the storage dtype before multiplying by b (and SwiGLU's result
// again before down_multiplier); GeGLU's db uses the rounded activation. Emulated in float64,
// the kernels must agree bit for bit except where fp32 vs float64 activation values round to
// different neighbours (rare); without the intermediate rounding a large share would differ.
TEST_P(GluOnDevice, RoundingPointsAreLigers) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    at::manual_seed(21);
    const auto o = at::TensorOptions().device(to_device(device_str)).dtype(dtype);
    const at::Tensor a = 3 * at::randn({64, 1000}, o), b = 3 * at::randn({64, 1000}, o);
    const at::Tensor dc = at::randn({64, 1000}, o);
    const at::Tensor a64 = a.cpu().to(at::kDouble), b64 = b.cpu().to(at::kDouble), dc64 = dc.cpu().to(at::kDouble);
    auto mismatch = [](const at::Tensor& x, const at::Tensor& y) {
      return (x.cpu().to(at::kDouble) != y).to(at::kDouble).mean().item<double>();
    };
    const double gm = 0.75, dm = 1.5;
    const at::Tensor sw =
        round_to(round_to(round_to(activation(Act::kSwiGLU, a64, gm), dtype) * b64, dtype) * dm, dtype);
    EXPECT_LE(mismatch(liger::swiglu_forward(a, b, gm, dm), sw), 0.002) << device_str << " " << dtype;
    // GELU's left tail, 0.5 a (1 + tanh u) with tanh u near -1, cancels in fp32 (as in Liger):
    // kept out of this bitwise comparison.
    const at::Tensor ag = a.to(at::kFloat).clamp(-2, 4).to(dtype), ag64 = ag.cpu().to(at::kDouble);
    const at::Tensor ag_leaf = ag.cpu().to(at::kDouble).requires_grad_(true);
    const at::Tensor gelu_graph = activation(Act::kGeGLU, ag_leaf), gelu = gelu_graph.detach();
    EXPECT_LE(mismatch(liger::geglu_forward(ag, b), round_to(round_to(gelu, dtype) * b64, dtype)), 0.002);
    auto [da, db] = liger::geglu_backward(dc, ag, b, false);
    EXPECT_LE(mismatch(db, round_to(dc64 * round_to(gelu, dtype), dtype)), 0.002) << "geglu db";
    // da: dc * b rounded to the storage dtype before the derivative, as Liger's kernel and the
    // PyTorch MLP (mul's backward, then gelu's) round it; unrounded, about a third would differ.
    // gelu'(a) by autograd through the spec's gelu.
    const at::Tensor dgelu = torch::autograd::grad({gelu_graph}, {ag_leaf}, {at::ones_like(gelu)})[0];
    EXPECT_LE(mismatch(da, round_to(round_to(dc64 * b64, dtype) * dgelu, dtype)), 0.002) << "geglu da";
  }
}

// Liger's GeGLU MLP test: LigerGEGLUMLP against the same MLP in plain PyTorch bf16 (HF's LlamaMLP
// with gelu_pytorch_tanh), randn inputs and weights, elementwise |x - ref| <= 1e-2 + 1e-2 |ref|
// on y, dx and every weight gradient. The gate_proj gradient sums thousands of per-token gate
// gradients: a rounding point that differs from PyTorch's moves it out of this tolerance where
// the sum cancels. Liger's shapes on CUDA; on CPU a smaller one of the same kind (odd sizes),
// against the same MLP with CUDA's elementwise precision (each op in fp32, rounded once to bf16):
// CPU LibTorch 1.13's own bf16 gelu and gelu_backward round differently (about 10% of their
// values differ from the fp32 result rounded once), so the CPU's plain bf16 MLP is no reference.
// `terms`, where given, is the sum of the magnitudes of the products each element of `ref` adds up
// (|A| |B| for a product A B): where that sum cancels, the two sides' bf16 roundings of the
// factors (half an ulp, 2^-9 of each term) alone move it by up to 2^-8 of `terms`, which is then
// allowed too. Without it one element in 351571 of the CPU gate_proj gradient, on a machine whose
// LibTorch has no AVX-512 bf16 GEMM, lands 32 away from a reference near zero.
void expect_within(const std::string& what, const at::Tensor& x, const at::Tensor& ref, double atol, double rtol,
                   const at::Tensor& terms = at::Tensor()) {
  const at::Tensor a = x.detach().cpu().to(at::kDouble), r = ref.detach().cpu().to(at::kDouble);
  const at::Tensor diff = (a - r).abs();
  at::Tensor allowed = atol + rtol * r.abs();
  if (terms.defined()) allowed = allowed + terms.detach().cpu().to(at::kDouble) / 256;
  const at::Tensor bad = diff > allowed;
  const int64_t n = bad.sum().item<int64_t>();
  EXPECT_EQ(n, 0) << what << ": " << n << " of " << bad.numel() << " elements outside atol " << atol << " rtol "
                  << rtol << "; max abs diff " << diff.max().item<double>();
}

TEST_P(GluOnDevice, GegluMlpBf16MatchesPytorchBf16) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const at::Device dev = to_device(device_str);
  struct MlpShape { int64_t B, T, H, I; };
  const std::vector<MlpShape> shapes = device_str == "cuda"
                                           ? std::vector<MlpShape>{{2, 2048, 2048, 4096}, {9, 41, 341, 4231}}
                                           : std::vector<MlpShape>{{3, 41, 341, 1031}};
  for (const MlpShape& s : shapes) {
    SCOPED_TRACE(device_str + " (" + std::to_string(s.B) + ", " + std::to_string(s.T) + ", " + std::to_string(s.H) +
                 ", " + std::to_string(s.I) + ")");
    at::manual_seed(17);
    const auto o = at::TensorOptions().device(dev).dtype(at::kBFloat16);
    liger::LigerGEGLUMLP mlp(liger::LigerGEGLUMLPOptions(s.H, s.I));
    mlp->to(dev, at::kBFloat16);
    {
      at::NoGradGuard no_grad;
      for (auto& p : mlp->parameters()) p.normal_();
    }
    const at::Tensor x0 = at::randn({s.B, s.T, s.H}, o);
    at::Tensor x = x0.clone().requires_grad_(true), xr = x0.clone().requires_grad_(true);
    std::vector<at::Tensor> w, wr;
    for (const auto& p : {mlp->gate_proj->weight, mlp->up_proj->weight, mlp->down_proj->weight}) {
      w.push_back(p);
      wr.push_back(p.detach().clone().requires_grad_(true));
    }
    const at::Tensor y = mlp->forward(x);
    const at::Tensor gate = at::linear(xr, wr[0]), up = at::linear(xr, wr[1]);
    at::Tensor h;
    if (device_str == "cuda") {
      h = at::gelu(gate, "tanh") * up;
    } else {
      const at::Tensor g = at::gelu(gate.to(at::kFloat), "tanh").to(at::kBFloat16);
      h = (g.to(at::kFloat) * up.to(at::kFloat)).to(at::kBFloat16);
    }
    const at::Tensor yr = at::linear(h, wr[2]);
    const at::Tensor dy = at::randn_like(y);
    const auto g = torch::autograd::grad({y}, {x, w[0], w[1], w[2]}, {dy.clone()});
    const auto gr = torch::autograd::grad({yr}, {xr, wr[0], wr[1], wr[2], gate, up}, {dy.clone()});
    expect_within("y", y, yr, 1e-2, 1e-2);
    // The magnitudes each gradient sums (float64, from the reference's own factors).
    auto mag = [](const at::Tensor& t) { return t.detach().cpu().to(at::kDouble).abs().flatten(0, -2); };
    const at::Tensor dgate = mag(gr[4]), dup = mag(gr[5]), dy_ = mag(dy), h_ = mag(h), xm = mag(xr);
    const at::Tensor terms[] = {dgate.mm(mag(wr[0])) + dup.mm(mag(wr[1])), dgate.t().mm(xm), dup.t().mm(xm),
                                dy_.t().mm(h_)};
    const char* names[] = {"dx", "d gate_proj", "d up_proj", "d down_proj"};
    for (int i = 0; i < 4; ++i)
      expect_within(names[i], g[i], gr[i], 1e-2, 1e-2, i == 0 ? terms[0].view(g[0].sizes()) : terms[i]);
  }
}

TEST(Glu, InPlaceBackwardOnlyIntoIntermediates) {
  for (const Act act : {Act::kSwiGLU, Act::kGeGLU}) {
    for (const bool in_place : {true, false}) {
      at::Tensor a0 = at::randn({4, 33}).requires_grad_(true), b0 = at::randn({4, 33}).requires_grad_(true);
      at::Tensor a = a0 * 1.0, b = b0 * 1.0;  // what gate_proj/up_proj outputs are: autograd intermediates
      const at::Tensor a_before = a.detach().clone(), b_before = b.detach().clone();
      at::Tensor c = call(act, a, b, GluCase{}, in_place);
      const at::Tensor dc = at::randn_like(c);
      auto g = torch::autograd::grad({c}, {a0, b0}, {dc});
      const auto ref = reference(act, a_before, b_before, dc, GluCase{});
      expect_close("da", g[0], ref[1], at::kFloat);
      expect_close("db", g[1], ref[2], at::kFloat);
      if (in_place) {
        // Liger's memory saving: the gradients were written over the saved activations.
        EXPECT_TRUE(at::equal(a.detach(), g[0]) && at::equal(b.detach(), g[1])) << act_name(act);
      } else {
        EXPECT_TRUE(at::equal(a.detach(), a_before) && at::equal(b.detach(), b_before)) << act_name(act);
      }
    }
  }
}

TEST(Glu, AliasedAndStridedInputs) {
  for (const Act act : {Act::kSwiGLU, Act::kGeGLU}) {
    // The same tensor as a and b: no in-place reuse (the buffers overlap); d/da = da + db.
    at::Tensor x0 = at::randn({5, 17}).requires_grad_(true);
    at::Tensor x = x0 * 1.0;
    at::Tensor c = call(act, x, x, GluCase{});
    const at::Tensor dc = at::randn_like(c);
    const at::Tensor g = torch::autograd::grad({c}, {x0}, {dc})[0];
    const auto ref = reference(act, x0, x0, dc, GluCase{});
    expect_close("c(x, x)", c, ref[0], at::kFloat);
    expect_close("d(x, x)", g, ref[1] + ref[2], at::kFloat);
    // Halves of a fused gate_up projection (non-contiguous views) and a transposed b.
    at::Tensor gu0 = at::randn({6, 2 * 19}).requires_grad_(true);
    at::Tensor gu = gu0 * 1.0;
    at::Tensor a = gu.narrow(1, 0, 19), b = gu.narrow(1, 19, 19).t().contiguous().t();
    const at::Tensor a_val = a.detach().clone(), b_val = b.detach().clone();
    c = call(act, a, b, GluCase{});
    const at::Tensor dc2 = at::randn_like(c);
    const at::Tensor g2 = torch::autograd::grad({c}, {gu0}, {dc2})[0];
    const auto ref2 = reference(act, a_val, b_val, dc2, GluCase{});
    expect_close("c(strided)", c, ref2[0], at::kFloat);
    expect_close("da(strided)", g2.narrow(1, 0, 19), ref2[1], at::kFloat);
    expect_close("db(strided)", g2.narrow(1, 19, 19), ref2[2], at::kFloat);
  }
}

TEST(Glu, FiniteDifferencesInFloat64) {
  at::manual_seed(9);
  const at::Tensor a = at::randn({3, 7}, at::kDouble).requires_grad_(true);
  const at::Tensor b = at::randn({3, 7}, at::kDouble).requires_grad_(true);
  for (const Act act : {Act::kSwiGLU, Act::kGeGLU}) {
    const GluCase gc{{3, 7}, act == Act::kSwiGLU ? 0.7 : 1.0, act == Act::kSwiGLU ? 1.3 : 1.0};
    // in_place=false: the finite differences reuse a and b.
    expect_gradients_match_finite_differences(
        act_name(act), [&](const auto& in) { return call(act, in[0], in[1], gc, false); }, {a, b}, 1e-6, 1e-5, 1e-7);
  }
}

// HF's LlamaMLP in float64 with the module's weights: down(act(gate(x)) * up(x)), the spec's.
template <typename Module>
void check_mlp(Module& mlp, Act act, const std::string& device_str, at::ScalarType dtype) {
  const at::Device dev = to_device(device_str);
  mlp->to(dev, dtype);
  at::Tensor x = at::randn({2, 5, mlp->options.hidden_size()}, at::TensorOptions().device(dev).dtype(dtype)).requires_grad_(true);
  at::Tensor y = mlp->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  ASSERT_EQ(y.scalar_type(), dtype);
  const at::Tensor dy = at::randn_like(y);
  std::vector<at::Tensor> params = {x, mlp->gate_proj->weight, mlp->up_proj->weight, mlp->down_proj->weight};
  auto g = torch::autograd::grad({y}, params, {dy});
  // The spec's mlp-scope reference: y, then dx and the three weight gradients.
  const auto ref = spec_reference_and_grads(act_name(act),
                                            {{"input", params[0]}, {"gate_proj.weight", params[1]},
                                             {"up_proj.weight", params[2]}, {"down_proj.weight", params[3]}},
                                            {dy}, {{"scope", "mlp"}});
  expect_close("y", y, ref[0], dtype);
  const char* names[] = {"dx", "d gate_proj", "d up_proj", "d down_proj"};
  for (int i = 0; i < 4; ++i) expect_close(names[i], g[i], ref[1 + i], dtype);
}

TEST_P(GluOnDevice, MlpModulesMatchLlamaMlp) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  // CPU LibTorch 1.13 has no fp16 GEMM; the op itself is tested in fp16 above.
  std::vector<at::ScalarType> dtypes = {at::kFloat, at::kBFloat16};
  if (device_str == "cuda") dtypes.push_back(at::kHalf);
  for (const auto dtype : dtypes) {
    SCOPED_TRACE(device_str + " " + dtype_label(dtype));
    at::manual_seed(4);
    liger::LigerSwiGLUMLP swiglu(liger::LigerSwiGLUMLPOptions(64, 172));
    check_mlp(swiglu, Act::kSwiGLU, device_str, dtype);
    liger::LigerGEGLUMLP geglu(liger::LigerGEGLUMLPOptions(64, 172));
    check_mlp(geglu, Act::kGeGLU, device_str, dtype);
  }
}

TEST(Glu, ModulesMirrorLiger) {
  liger::LigerSwiGLUMLP mlp(liger::LigerSwiGLUMLPOptions(16, 40));
  EXPECT_EQ(mlp->options.hidden_act(), "silu");
  const auto named = mlp->named_parameters();
  ASSERT_EQ(named.size(), 3u) << "three bias-free linears";
  EXPECT_EQ(named["gate_proj.weight"].sizes(), (std::vector<int64_t>{40, 16}));
  EXPECT_EQ(named["up_proj.weight"].sizes(), (std::vector<int64_t>{40, 16}));
  EXPECT_EQ(named["down_proj.weight"].sizes(), (std::vector<int64_t>{16, 40}));
  EXPECT_NO_THROW(liger::LigerSwiGLUMLP(liger::LigerSwiGLUMLPOptions(16, 40).hidden_act("swish")));
  try {
    liger::LigerSwiGLUMLP(liger::LigerSwiGLUMLPOptions(16, 40).hidden_act("gelu"));
    FAIL() << "hidden_act 'gelu' was accepted by LigerSwiGLUMLP";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'gelu' not supported"), std::string::npos) << e.what();
  }
  // GeGLU ignores hidden_act (always the tanh approximation), as Liger does.
  liger::LigerGEGLUMLP geglu(liger::LigerGEGLUMLPOptions(16, 40).hidden_act("relu"));
  EXPECT_EQ(geglu->named_parameters().size(), 3u);
  at::Tensor x = at::randn({3, 16});
  const at::Tensor expected =
      geglu->down_proj(exact(Act::kGeGLU, f64(geglu->gate_proj(x)), f64(geglu->up_proj(x)), GluCase{}).to(at::kFloat));
  EXPECT_TRUE(at::allclose(geglu->forward(x), expected, 1e-5, 1e-6));
}

TEST(Glu, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor a = at::randn({37, 1003}).to(at::kBFloat16), b = at::randn({37, 1003}).to(at::kBFloat16);
  const at::Tensor dc = at::randn({37, 1003}).to(at::kBFloat16);
  auto max_diff = [](const at::Tensor& x, const at::Tensor& y) {
    return (x.to(at::kFloat) - y.cpu().to(at::kFloat)).abs().max().item<float>();
  };
  // Same fp32 formulas and rounding points; expf/tanhf differ by an ulp or so between libms.
  EXPECT_LE(max_diff(liger::swiglu_forward(a, b, 1.0, 1.0), liger::swiglu_forward(a.cuda(), b.cuda(), 1.0, 1.0)), 0.07f);
  EXPECT_LE(max_diff(liger::geglu_forward(a, b), liger::geglu_forward(a.cuda(), b.cuda())), 0.07f);
  auto [da_c, db_c] = liger::swiglu_backward(dc, a, b, 1.0, 1.0, false);
  auto [da_g, db_g] = liger::swiglu_backward(dc.cuda(), a.cuda(), b.cuda(), 1.0, 1.0, false);
  EXPECT_LE(max_diff(da_c, da_g), 0.07f);
  EXPECT_LE(max_diff(db_c, db_g), 0.07f);
}

TEST(Glu, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::swiglu", "liger::swiglu_forward", "liger::swiglu_backward",
                                                 "liger::geglu", "liger::geglu_forward", "liger::geglu_backward"}));
  at::Tensor a = at::randn({2, 8}).requires_grad_(true), b = at::randn({2, 8});
  const at::Tensor s = liger::liger_swiglu(a, b), g = liger::liger_geglu(a, b);
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(s, "LigerSiLUMulFunction"));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(g, "LigerGELUMulFunction"));
}

TEST(Glu, ClearErrors) {
  const at::Tensor a = at::randn({4, 8});
  expect_error([&] { liger::liger_swiglu(a, at::randn({4, 7})); }, "same shape");
  expect_error([&] { liger::liger_geglu(a, at::randn({4, 8}, at::kDouble)); }, "same dtype");
  expect_error([&] { liger::liger_swiglu(a.to(at::kInt), a.to(at::kInt)); }, "floating point");
  expect_error([&] { liger::swiglu_backward(at::randn({4, 9}), a, a, 1.0, 1.0, false); }, "grad_out has shape");
}

}  // namespace
