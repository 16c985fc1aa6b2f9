// liger::fused_linear_cross_entropy against the float64 reference (logits = X W^T + b, then Liger's
// cross entropy) and against its unfused composition (matmul + liger::cross_entropy) on CPU and
// CUDA: loss, dX, dW, db for every dtype and reduction (per-token upstream gradients for "none"),
// bias on and off, Liger's combined-options case, token scaling, fp32 accumulation, several chunks
// with a remainder; each tensor's own requires_grad; the chunk rule; peak memory on CUDA.
#include "liger/fused_linear_cross_entropy.h"

#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "cross_entropy_case.h"
#include "expect_error.h"
#include "liger/nn/fused_linear_cross_entropy.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Sizes {
  int64_t bt;
  int64_t hidden;
  int64_t vocab;
  int64_t chunk;  // 0: automatic
};

struct FlceCase {
  std::string name;
  CeOptions o;
  double ignore_fraction = 0.0;
  bool ce_weighted = false;
  c10::optional<at::ScalarType> accum_dtype;
  bool return_z_loss = false;
};

std::vector<FlceCase> cases() {
  std::vector<FlceCase> c;
  c.push_back({"plain", CeOptions{}});
  FlceCase ignore{"ignore", CeOptions{}, 0.25};
  c.push_back(ignore);
  // Liger's combined case: ce_weight, smoothing 0.1, ignore 42, z-loss 1e-4, softcap 30, fp32 accumulation.
  FlceCase all{"all", CeOptions{}, 0.25, true, at::kFloat, true};
  all.o.ignore_index = 42;
  all.o.label_smoothing = 0.1;
  all.o.lse_square_scale = 1e-4;
  all.o.softcap = 30.0;
  c.push_back(all);
  FlceCase token{"token_scaling", CeOptions{}, 0.25};
  token.o.token_scaling = true;
  c.push_back(token);
  FlceCase accum{"accum_fp32", CeOptions{}, 0.0, false, at::kFloat};
  c.push_back(accum);
  return c;
}


// Loss, dX, dW, db against float64 for one case.
void check_against_reference(const std::string& device_str, at::ScalarType dtype, const std::string& reduction,
                             const FlceCase& fc, bool has_bias, Sizes sz) {
  SCOPED_TRACE(device_str + " " + dtype_label(dtype) + " " + reduction + " " + fc.name + (has_bias ? " bias " : " ") +
               std::to_string(sz.bt) + "x" + std::to_string(sz.hidden) + "x" + std::to_string(sz.vocab) + " chunk " +
               std::to_string(sz.chunk));
  CeOptions o = fc.o;
  o.reduction = reduction;
  const auto opts = at::TensorOptions().device(to_device(device_str));
  at::manual_seed(31 + sz.bt);
  // Shapes and init of Liger's benchmark: x ~ N(0, 1), an nn.Linear(H, V) weight and bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(sz.hidden));
  at::Tensor x = at::randn({sz.bt, sz.hidden}, opts).to(dtype).requires_grad_(true);
  at::Tensor w = ((2 * at::rand({sz.vocab, sz.hidden}, opts) - 1) * bound).to(dtype).requires_grad_(true);
  at::Tensor b =
      has_bias ? ((2 * at::rand({sz.vocab}, opts) - 1) * bound).to(dtype).requires_grad_(true) : at::Tensor();
  const at::Tensor target = make_targets(sz.bt, sz.vocab, o.ignore_index, fc.ignore_fraction, opts);
  const at::Tensor ce_weight = fc.ce_weighted ? 0.5 + at::rand({sz.vocab}, opts) : at::Tensor();

  auto [loss, z_loss, accuracy, predicted] = liger::fused_linear_cross_entropy(
      x, w, target, optional_tensor(b), optional_tensor(ce_weight), o.ignore_index, o.lse_square_scale, o.label_smoothing, reduction, o.softcap,
      fc.return_z_loss, fc.accum_dtype, o.token_scaling, true, true, sz.chunk);
  ASSERT_EQ(loss.scalar_type(), at::kFloat) << "FLCE's loss is float32";
  ASSERT_EQ(loss.dim(), reduction == "none" ? 1 : 0);
  EXPECT_EQ(z_loss.defined(), fc.return_z_loss);
  if (fc.return_z_loss) EXPECT_EQ(z_loss.scalar_type(), dtype) << "z_loss keeps the input dtype";
  const at::Tensor g = reduction == "none" ? at::randn({sz.bt}, opts) : at::full({}, 0.7, opts);
  std::vector<at::Tensor> inputs = {x, w};
  if (has_bias) inputs.push_back(b);
  const auto grads = torch::autograd::grad({loss}, inputs, {g});

  auto dbl = [](const at::Tensor& t) { return t.detach().cpu().to(at::kDouble).requires_grad_(true); };
  const at::Tensor x64 = dbl(x), w64 = dbl(w), b64 = has_bias ? dbl(b) : at::Tensor();
  at::Tensor logits = at::matmul(x64, w64.t());
  if (has_bias) logits = logits + b64;
  const at::Tensor t_cpu = target.cpu();
  const at::Tensor ref =
      ce_reference(logits, t_cpu, fc.ce_weighted ? ce_weight.cpu().to(at::kDouble) : at::Tensor(), o);
  std::vector<at::Tensor> ref_inputs = {x64, w64};
  if (has_bias) ref_inputs.push_back(b64);
  const bool fp16_underflows = dtype == at::kHalf && o.token_scaling && reduction != "none";
  // The CPU standard for that case (see below): the float64 logits gradient rounded to fp16.
  const at::Tensor dlogits_fp16 =
      fp16_underflows && device_str == "cpu"
          ? torch::autograd::grad({ref}, {logits}, {g.cpu().to(at::kDouble)}, true)[0].to(at::kHalf).to(at::kDouble)
          : at::Tensor();
  const auto ref_grads = torch::autograd::grad({ref}, ref_inputs, {g.cpu().to(at::kDouble)});

  expect_close("loss", loss, ref.detach(), dtype);
  // fp16 with token scaling and a mean: the logits' gradients (p_y x softmax / N, about 1e-8 here)
  // lie below fp16's smallest subnormal (6e-8), so no fp16 implementation that stores them in the
  // input dtype (Liger's design, and ours) meets the float64 tolerance. There the standard is an
  // fp16 composition on the same device, and ours must be no worse than 1.5x its error: on CUDA
  // PyTorch's own; on CPU (LibTorch 1.13 has no CPU fp16 softmax) the float64 logits gradient
  // rounded to fp16, then float64 GEMMs: the best any such implementation can do.
  std::vector<at::Tensor> torch_grads;
  if (fp16_underflows && device_str == "cpu") {
    torch_grads = {dlogits_fp16.mm(w64.detach()), dlogits_fp16.t().mm(x64.detach())};
    if (has_bias) torch_grads.push_back(dlogits_fp16.sum(0));
  } else if (fp16_underflows) {
    auto low = [](const at::Tensor& t) { return t.detach().clone().requires_grad_(true); };
    const at::Tensor xl = low(x), wl = low(w), bl = has_bias ? low(b) : at::Tensor();
    at::Tensor logits_low = at::matmul(xl, wl.t());
    if (has_bias) logits_low = logits_low + bl;
    const at::Tensor torch_loss = ce_reference(logits_low, target, fc.ce_weighted ? ce_weight : at::Tensor(), o);
    std::vector<at::Tensor> low_inputs = {xl, wl};
    if (has_bias) low_inputs.push_back(bl);
    torch_grads = torch::autograd::grad({torch_loss}, low_inputs, {g.to(torch_loss.scalar_type())});
  }
  const std::vector<std::string> names = {"dX", "dW", "db"};
  for (size_t i = 0; i < grads.size(); ++i) {
    if (torch_grads.empty()) {
      expect_close(names[i], grads[i], ref_grads[i], dtype);
      continue;
    }
    const auto tol = ligerbench::tolerance_for(dtype);
    const auto ours = ligerbench::compare_tensors(names[i], grads[i].cpu(), ref_grads[i], tol);
    const auto theirs = ligerbench::compare_tensors(names[i], torch_grads[i].cpu(), ref_grads[i], tol);
    EXPECT_TRUE(ours.passed() || (ours.finite() && ours.rel_l2() <= 1.5 * theirs.rel_l2()))
        << names[i] << ": rel_l2 " << ours.rel_l2() << " vs fp16 composition " << theirs.rel_l2() << " (tol "
        << ours.rel_l2_tol() << ")";
  }
  ASSERT_EQ(grads[1].scalar_type(), dtype) << "dW is cast back to the weight's dtype";
  const at::Tensor valid = t_cpu != o.ignore_index;
  if (dtype == at::kFloat)  // low-precision logits may break near-ties differently from float64
    EXPECT_TRUE(at::equal(predicted.cpu(), at::where(valid, logits.detach().argmax(1), at::full_like(t_cpu, -1))))
        << "argmax of the logits";
}

// (device, dtype, reduction): every case, bias on and off, Liger's test shape (4 x 47 tokens, H 31,
// V 123) in one chunk and a shape in three chunks, the last one short; an empty batch.
using Param = DeviceDtypeReduction;

class FusedLinearCrossEntropyTest : public ::testing::TestWithParam<Param> {};

TEST_P(FusedLinearCrossEntropyTest, EveryOptionMatchesFloat64Reference) {
  const auto& [device_str, dtype, reduction] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  for (const FlceCase& fc : cases())
    for (const bool has_bias : {false, true})
      for (const Sizes sz : {Sizes{188, 31, 123, 0}, Sizes{96, 64, 1000, 40}})
        check_against_reference(device_str, dtype, reduction, fc, has_bias, sz);
  check_against_reference(device_str, dtype, reduction, cases()[0], true, Sizes{0, 16, 50, 0});
}

INSTANTIATE_TEST_SUITE_P(Options, FusedLinearCrossEntropyTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(at::kFloat, at::kBFloat16),
                                            ::testing::Values("mean", "sum", "none")),
                         device_dtype_reduction_name);

INSTANTIATE_TEST_SUITE_P(Half, FusedLinearCrossEntropyTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kHalf),
                                            ::testing::Values("mean", "none")),
                         device_dtype_reduction_name);

// The fused loop and its unfused composition (one matmul, then liger::cross_entropy) agree.
TEST(FusedLinearCrossEntropy, MatchesUnfusedComposition) {
  for (const std::string& device_str : visible_devices("MatchesUnfusedComposition")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    at::manual_seed(12);
    const at::Tensor x0 = at::randn({77, 48}, opts), w0 = 0.1 * at::randn({500, 48}, opts),
                     b0 = 0.1 * at::randn({500}, opts);
    const at::Tensor t = make_targets(77, 500, -100, 0.2, opts);
    const at::Tensor cw = 0.5 + at::rand({500}, opts);
    for (const std::string reduction : {"mean", "sum", "none"}) {
      at::Tensor x = x0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true),
                 b = b0.clone().requires_grad_(true);
      const at::Tensor fused =
          std::get<0>(liger::fused_linear_cross_entropy(x, w, t, b, cw, -100, 1e-4, 0.1, reduction, 30.0, false,
                                                        c10::nullopt, false, false, false, /*chunk_size=*/16));
      const at::Tensor g = reduction == "none" ? at::randn({77}, opts) : at::full({}, 1.7, opts);
      const auto fg = torch::autograd::grad({fused}, {x, w, b}, {g});
      at::Tensor xu = x0.clone().requires_grad_(true), wu = w0.clone().requires_grad_(true),
                 bu = b0.clone().requires_grad_(true);
      const at::Tensor logits = at::addmm(bu, xu, wu.t());
      const at::Tensor unfused =
          std::get<0>(liger::cross_entropy(logits, t, cw, -100, 1e-4, 0.1, reduction, 30.0)).to(at::kFloat);
      const auto ug = torch::autograd::grad({unfused}, {xu, wu, bu}, {g});
      EXPECT_TRUE(at::allclose(fused, unfused, 1e-5, 1e-6)) << reduction;
      const char* names[] = {"dX", "dW", "db"};
      for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(at::allclose(fg[i], ug[i], 1e-4, 1e-7)) << device_str << " " << reduction << " " << names[i];
    }
  }
}

// Liger's mean/sum path gives no weight gradient when the input is frozen; ours honours each flag.
TEST(FusedLinearCrossEntropy, EachTensorsOwnRequiresGrad) {
  at::manual_seed(13);
  const at::Tensor x0 = at::randn({20, 8}), w0 = 0.3 * at::randn({30, 8}), b0 = 0.1 * at::randn({30});
  const at::Tensor t = at::randint(0, 30, {20}, at::kLong);
  at::Tensor logits = at::addmm(b0.to(at::kDouble), x0.to(at::kDouble), w0.to(at::kDouble).t());
  for (const std::string reduction : {"mean", "none"}) {
    for (int mask = 1; mask < 8; ++mask) {
      const bool gx = mask & 1, gw = mask & 2, gb = mask & 4;
      at::Tensor x = x0.clone().requires_grad_(gx), w = w0.clone().requires_grad_(gw),
                 b = b0.clone().requires_grad_(gb);
      const at::Tensor loss =
          std::get<0>(liger::fused_linear_cross_entropy(x, w, t, b, c10::nullopt, -100, 0.0, 0.0, reduction));
      ASSERT_TRUE(loss.requires_grad());
      std::vector<at::Tensor> wanted;
      if (gx) wanted.push_back(x);
      if (gw) wanted.push_back(w);
      if (gb) wanted.push_back(b);
      const at::Tensor g = reduction == "none" ? at::ones({20}) : at::ones({});
      const auto grads = torch::autograd::grad({loss}, wanted, {g});
      for (const auto& gr : grads) EXPECT_TRUE(gr.defined() && gr.abs().sum().item<double>() > 0) << mask;
    }
    const at::Tensor frozen =
        std::get<0>(liger::fused_linear_cross_entropy(x0, w0, t, b0, c10::nullopt, -100, 0.0, 0.0, reduction));
    EXPECT_FALSE(frozen.requires_grad());
    expect_close("no-grad loss", frozen,
                 ce_reference(logits, t, at::Tensor(),
                              [&] {
                                CeOptions o;
                                o.reduction = reduction;
                                return o;
                              }()),
                 at::kFloat);
  }
}

// Backward twice through a retained graph: the stored dX, dW, db are rescaled, not compounded.
TEST(FusedLinearCrossEntropy, RetainedGraphBackwardTwice) {
  at::manual_seed(14);
  at::Tensor x = at::randn({12, 6}, at::kDouble).requires_grad_(true);
  at::Tensor w = (0.3 * at::randn({40, 6}, at::kDouble)).requires_grad_(true);
  at::Tensor b = (0.1 * at::randn({40}, at::kDouble)).requires_grad_(true);
  const at::Tensor t = at::randint(0, 40, {12}, at::kLong);
  const at::Tensor loss = std::get<0>(liger::fused_linear_cross_entropy(x, w, t, b));
  const at::Tensor x64 = x.detach().clone().requires_grad_(true), w64 = w.detach().clone().requires_grad_(true),
                   b64 = b.detach().clone().requires_grad_(true);
  const at::Tensor ref = ce_reference(at::addmm(b64, x64, w64.t()), t, at::Tensor(), CeOptions{});
  for (const double g : {2.0, -0.25, 1.0}) {
    const auto grads = torch::autograd::grad({loss}, {x, w, b}, {at::full({}, g, at::kDouble)}, true);
    const auto expected = torch::autograd::grad({ref}, {x64, w64, b64}, {at::full({}, g, at::kDouble)}, true);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(at::allclose(grads[i], expected[i], 1e-10, 1e-12)) << g << " " << i;
  }
}

TEST(FusedLinearCrossEntropy, ChunkRule) {
  // Liger's rule gives 256 rows at BT 8192, H 4096, V 128256; 512 MiB of bf16 logits hold 2048.
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(8192, 4096, 128256, 2, 0), 2048);
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(8192, 4096, 128256, 4, 0), 1024);
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(1024, 4096, 128256, 2, 0), 1024);
  // Liger's rule wins where it gives more rows (small V): here ceil(V/H) = 1, so all of BT.
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(1 << 20, 4096, 4000, 2, 0), 1 << 20);
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(100, 16, 50, 4, 7), 7);
  EXPECT_EQ(liger::fused_linear_cross_entropy_chunk_rows(5, 16, 50, 4, 7), 5);
}

// The extra memory of a training step grows with the chunk, never with BT x V.
TEST(FusedLinearCrossEntropy, PeakMemoryIsBoundedByTheChunk) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  const auto* gpu = ligerbench::gpu_backend();
  const auto opts = at::TensorOptions().device(at::kCUDA, 0).dtype(at::kBFloat16);
  const int64_t bt = 8192, hidden = 512, vocab = 32000, chunk = 512;
  at::Tensor x = at::randn({bt, hidden}, opts).requires_grad_(true);
  at::Tensor w = (0.05 * at::randn({vocab, hidden}, opts)).requires_grad_(true);
  const at::Tensor t = at::randint(0, vocab, {bt}, opts.dtype(at::kLong));
  auto step = [&] {
    const at::Tensor loss =
        std::get<0>(liger::fused_linear_cross_entropy(x, w, t, c10::nullopt, c10::nullopt, -100, 0.0, 0.0, "mean",
                                                      c10::nullopt, false, c10::nullopt, false, false, false, chunk));
    const auto grads = torch::autograd::grad({loss}, {x, w}, {at::full({}, 0.5, loss.options())});
    gpu->synchronize(0);
  };
  step();  // cuBLAS workspaces and other one-time allocations are not the loss's memory
  gpu->synchronize(0);
  const int64_t before = gpu->allocated_bytes(0);
  gpu->reset_peak_memory(0);
  step();
  const int64_t peak = gpu->peak_allocated_bytes(0) - before;
  const int64_t logits_bytes = bt * vocab * 2;
  // dX + dW + one chunk of logits (+ small buffers), far below the BT x V logits.
  const int64_t expected = bt * hidden * 2 + vocab * hidden * 2 + chunk * vocab * 2;
  EXPECT_LT(peak, expected + (int64_t{16} << 20)) << "peak " << peak << " bytes";
  EXPECT_LT(peak, logits_bytes / 3) << "peak " << peak << " bytes vs BT x V logits of " << logits_bytes;
}

TEST(FusedLinearCrossEntropy, ClearErrors) {
  const at::Tensor x = at::randn({4, 8}), w = at::randn({10, 8}), t = at::zeros({4}, at::kLong);
  expect_error(
      [&] {
        liger::fused_linear_cross_entropy(x, at::randn({10, 7}), t);
      },
      "weight must be (V, H) with H = 8");
  expect_error([&] { liger::fused_linear_cross_entropy(x, w, at::zeros({3}, at::kLong)); },
               "target must have shape (4,)");
  expect_error([&] { liger::fused_linear_cross_entropy(x, w, t, at::randn({9})); }, "bias must have shape (10,)");
  expect_error([&] { liger::fused_linear_cross_entropy(x, w, t, c10::nullopt, at::ones({3})); },
               "class weight must have shape (10,)");
  expect_error([&] { liger::fused_linear_cross_entropy(x, w, at::full({4}, 10, at::kLong)); }, "target[0] = 10");
  expect_error([&] { liger::fused_linear_cross_entropy(x, w, t, c10::nullopt, c10::nullopt, -100, 0.0, 0.0, "avg"); },
               "reduction must be");
}

// A bad target in a later chunk: on CUDA the check is deferred until every chunk is queued
// (liger::detail::DeferredTargetCheck), and must still raise the error naming that row, with and
// without gradients; the stream stays usable afterwards.
class FlceOnDevice : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Devices, FlceOnDevice, ::testing::ValuesIn(test_devices()), string_param_name);

TEST_P(FlceOnDevice, BadTargetInALaterChunkIsAClearError) {
  const std::string& device_str = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const auto opts = at::TensorOptions().device(to_device(device_str));
  at::manual_seed(5);
  for (const bool grad : {false, true}) {
    const at::Tensor x = at::randn({12, 16}, opts).requires_grad_(grad);
    const at::Tensor w = at::randn({40, 16}, opts).requires_grad_(grad);
    at::Tensor t = at::randint(0, 40, {12}, opts.dtype(at::kLong));
    t[9] = 40;
    t[11] = -7;
    try {
      liger::fused_linear_cross_entropy(x, w, t, c10::nullopt, c10::nullopt, -100, 0.0, 0.0, "mean", c10::nullopt,
                                        false, c10::nullopt, false, false, false, /*chunk_size=*/4);
      ADD_FAILURE() << device_str << ": target 40 was accepted";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("target[9] = 40"), std::string::npos) << e.what();
    }
    t[9] = 3;
    t[11] = 5;
    const at::Tensor loss = std::get<0>(liger::fused_linear_cross_entropy(x, w, t));
    EXPECT_TRUE(at::isfinite(loss).item<bool>()) << device_str << ": the next valid call";
  }
}

TEST(FusedLinearCrossEntropy, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(
      expect_ops_registered({"liger::fused_linear_cross_entropy", "liger::fused_linear_cross_entropy_forward"}));
  at::Tensor x = at::randn({3, 4}).requires_grad_(true);
  const at::Tensor loss =
      std::get<0>(liger::fused_linear_cross_entropy(x, at::randn({5, 4}), at::zeros({3}, at::kLong)));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(loss, "FusedLinearCrossEntropyFunction"));
}

TEST(FusedLinearCrossEntropy, ModuleTakesTheWeightFirst) {
  liger::LigerFusedLinearCrossEntropyLoss flce;
  EXPECT_EQ(flce->options.ignore_index(), -100);
  EXPECT_EQ(flce->options.reduction(), "mean");
  EXPECT_FALSE(flce->options.accum_dtype().has_value());
  EXPECT_FALSE(flce->options.use_token_scaling());
  at::manual_seed(15);
  const at::Tensor x = at::randn({6, 5}), w = at::randn({9, 5}), b = at::randn({9});
  const at::Tensor t = at::randint(0, 9, {6}, at::kLong);
  const liger::CrossEntropyOutput out = flce(w, x, t, b);
  EXPECT_TRUE(at::allclose(out.loss, at::cross_entropy_loss(at::addmm(b, x, w.t()), t), 1e-5, 1e-6));
  EXPECT_FALSE(out.z_loss.defined());
  liger::LigerFusedLinearCrossEntropyLoss with_acc(liger::LigerFusedLinearCrossEntropyLossOptions()
                                                       .ce_weight(0.5 + at::rand({9}))
                                                       .return_token_accuracy(true)
                                                       .return_predicted_tokens(true));
  EXPECT_TRUE(with_acc->named_buffers().contains("ce_weight"));
  const liger::CrossEntropyOutput acc = with_acc(w, x, t);
  EXPECT_EQ(acc.predicted_tokens.sizes(), at::IntArrayRef({6}));
  EXPECT_NEAR(acc.token_accuracy.item<double>(), (acc.predicted_tokens == t).to(at::kDouble).mean().item<double>(),
              1e-6);
  EXPECT_THROW(liger::LigerFusedLinearCrossEntropyLoss(liger::LigerFusedLinearCrossEntropyLossOptions().softcap(0.0)),
               c10::Error);
}

}  // namespace
