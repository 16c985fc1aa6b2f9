// liger::cross_entropy against a float64 reference on CPU and CUDA: loss and d(loss)/d(logits)
// for every dtype, reduction and option Liger's tests name (ignore_index incl. negative values,
// label smoothing, softcap, z-loss, class weights, upstream gradient != 1), the extra outputs,
// all-ignored rows, odd and Llama-3-size vocabularies, the in-place gradient, confident
// predictions, retained graphs, errors.
#include "liger/cross_entropy.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <limits>
#include <tuple>

#include "cross_entropy_case.h"
#include "expect_error.h"
#include "finite_diff.h"
#include "liger/nn/cross_entropy.h"
#include "test_helpers.h"
#include "test_util.h"

namespace {

using namespace ligerbench::testing;

struct Shape {
  int64_t rows;
  int64_t cols;
};

struct OptionSet {
  std::string name;
  CeOptions o;
  double ignore_fraction;
  bool weighted;
};

std::vector<OptionSet> option_sets() {
  std::vector<OptionSet> s;
  auto add = [&](const std::string& name, auto edit, double ignore_fraction = 0.0, bool weighted = false) {
    OptionSet set{name, CeOptions{}, ignore_fraction, weighted};
    edit(set.o);
    s.push_back(set);
  };
  add("plain", [](CeOptions&) {});
  add(
      "ignore", [](CeOptions&) {}, 0.25);
  add(
      "ignore2", [](CeOptions& o) { o.ignore_index = 2; }, 0.25);
  add(
      "ignore_neg123", [](CeOptions& o) { o.ignore_index = -123; }, 0.25);
  add(
      "ignore_neg300", [](CeOptions& o) { o.ignore_index = -300; }, 0.25);
  add("smooth01", [](CeOptions& o) { o.label_smoothing = 0.1; });
  add(
      "smooth02", [](CeOptions& o) { o.label_smoothing = 0.2; }, 0.25);
  add("softcap30", [](CeOptions& o) { o.softcap = 30.0; });
  add("zloss", [](CeOptions& o) { o.lse_square_scale = 1e-4; });
  add(
      "weights", [](CeOptions&) {}, 0.25, true);
  add(
      "all",
      [](CeOptions& o) {
        o.ignore_index = 42;
        o.label_smoothing = 0.1;
        o.lse_square_scale = 1e-4;
        o.softcap = 30.0;
      },
      0.25, true);
  return s;
}


// Liger's forward and gradient for one option set, checked against float64.
void check_against_reference(const std::string& device_str, at::ScalarType dtype, const std::string& reduction,
                             const OptionSet& set, Shape shape) {
  SCOPED_TRACE(device_str + " " + dtype_label(dtype) + " " + reduction + " " + set.name + " " +
               std::to_string(shape.rows) + "x" + std::to_string(shape.cols));
  CeOptions o = set.o;
  o.reduction = reduction;
  const auto opts = at::TensorOptions().device(to_device(device_str));
  at::manual_seed(100 + shape.cols);
  // Logits of a trained-looking spread, so softcap and smoothing matter.
  at::Tensor x = (4 * at::randn({shape.rows, shape.cols}, opts)).to(dtype).requires_grad_(true);
  const at::Tensor target = make_targets(shape.rows, shape.cols, o.ignore_index, set.ignore_fraction, opts);
  const at::Tensor weight = set.weighted ? 0.5 + at::rand({shape.cols}, opts) : at::Tensor();
  const at::Tensor x_ref = x.detach().to(at::kDouble).cpu().requires_grad_(true);

  auto [loss, z_loss, accuracy, predicted] =
      liger::cross_entropy(x, target, optional_tensor(weight), o.ignore_index, o.lse_square_scale, o.label_smoothing, reduction,
                           o.softcap, true, true, true);
  ASSERT_EQ(loss.scalar_type(), dtype) << "the loss keeps the input dtype";
  ASSERT_EQ(loss.dim(), reduction == "none" ? 1 : 0);
  // Upstream gradient != 1: the stored gradient must be rescaled.
  const at::Tensor g =
      reduction == "none" ? at::randn({shape.rows}, opts).to(dtype) : at::full({}, 0.7, opts.dtype(dtype));
  const at::Tensor grad = torch::autograd::grad({loss}, {x}, {g})[0];

  const at::Tensor t_cpu = target.cpu();
  const at::Tensor loss_ref =
      ce_reference(x_ref, t_cpu, weight.defined() ? weight.cpu().to(at::kDouble) : at::Tensor(), o);
  const at::Tensor grad_ref = torch::autograd::grad({loss_ref}, {x_ref}, {g.cpu().to(at::kDouble)})[0];
  expect_close("loss", loss, loss_ref.detach(), dtype);
  expect_close("grad", grad, grad_ref, dtype);
  if (reduction != "none" && shape.rows > 0)  // Liger's memory trick: the gradient lives in the logits
    EXPECT_EQ(grad.data_ptr(), x.data_ptr()) << "the gradient is not the logits' storage";

  // Extra outputs: z-loss (included in the loss), accuracy and argmax of the soft-capped logits.
  at::Tensor xs = x_ref.detach();
  if (o.softcap) xs = *o.softcap * at::tanh(xs / *o.softcap);
  const at::Tensor valid = t_cpu != o.ignore_index;
  const at::Tensor lse = at::logsumexp(xs, 1);
  const at::Tensor z_rows = at::where(valid, o.lse_square_scale * lse * lse, at::zeros_like(lse));
  const double n = valid.sum().item<double>();
  const at::Tensor pred_ref = at::where(valid, xs.argmax(1), at::full_like(t_cpu, -1));
  const at::Tensor hit = (pred_ref == t_cpu).to(at::kFloat) * valid.to(at::kFloat);
  ASSERT_EQ(predicted.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(predicted.cpu(), pred_ref)) << "predicted tokens differ from the argmax";
  ASSERT_EQ(accuracy.scalar_type(), at::kFloat);
  ASSERT_EQ(z_loss.scalar_type(), dtype);
  if (reduction == "none") {
    EXPECT_TRUE(at::equal(accuracy.cpu(), hit));
    expect_close("z_loss", z_loss, z_rows, dtype);
  } else if (n == 0) {
    EXPECT_TRUE(std::isnan(accuracy.item<double>())) << "token accuracy over no tokens is NaN";
  } else {
    EXPECT_NEAR(accuracy.item<double>(), hit.sum().item<double>() / n, 1e-6);
    expect_close("z_loss", z_loss, reduction == "mean" ? z_rows.sum() / n : z_rows.sum(), dtype);
  }
}

// (device, dtype, reduction): every option set at 23 x 1000.
using Param = DeviceDtypeReduction;

class CrossEntropyTest : public ::testing::TestWithParam<Param> {};

TEST_P(CrossEntropyTest, EveryOptionMatchesFloat64Reference) {
  const auto& [device_str, dtype, reduction] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  for (const OptionSet& set : option_sets())
    check_against_reference(device_str, dtype, reduction, set, Shape{23, 1000});
}

INSTANTIATE_TEST_SUITE_P(Options, CrossEntropyTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16),
                                            ::testing::Values("mean", "sum", "none")),
                         device_dtype_reduction_name);

// (device, shape): V not a multiple of any block or vector width (unaligned rows: the scalar CUDA
// path), the Llama-3 vocabulary with few rows, Liger's test vocabulary, a tiny one, an empty batch.
using SizeParam = std::tuple<std::string, Shape>;

class CrossEntropySizeTest : public ::testing::TestWithParam<SizeParam> {};

TEST_P(CrossEntropySizeTest, MatchesFloat64Reference) {
  const auto& [device_str, shape] = GetParam();
  LIGER_SKIP_IF_NO_DEVICE(device_str);
  const auto sets = option_sets();
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16})
    for (const std::string reduction : {"mean", "none"})
      for (const OptionSet& set : {sets.front(), sets.back()})
        check_against_reference(device_str, dtype, reduction, set, shape);
}

std::string size_name(const ::testing::TestParamInfo<SizeParam>& info) {
  const auto& [device, shape] = info.param;
  return device + "_" + std::to_string(shape.rows) + "x" + std::to_string(shape.cols);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CrossEntropySizeTest,
                         ::testing::Combine(::testing::Values("cpu", "cuda"),
                                            ::testing::Values(Shape{5, 32003}, Shape{2, 128256}, Shape{3, 32000},
                                                              Shape{9, 41}, Shape{0, 64})),
                         size_name);

// Every target ignored: loss 0 and gradient 0 (Liger), not NaN; accuracy 0/0 = NaN; predictions -1.
TEST(CrossEntropy, AllTargetsIgnored) {
  for (const std::string& device_str : visible_devices("AllTargetsIgnored")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    for (const std::string reduction : {"mean", "sum", "none"}) {
      at::Tensor x = at::randn({6, 77}, opts).requires_grad_(true);
      const at::Tensor target = at::full({6}, -100, opts.dtype(at::kLong));
      auto [loss, z, acc, pred] =
          liger::cross_entropy(x, target, c10::nullopt, -100, 1e-4, 0.1, reduction, 30.0, true, true, true);
      EXPECT_TRUE(at::all(loss == 0).item<bool>()) << reduction << ": " << loss;
      EXPECT_TRUE(at::all(z == 0).item<bool>()) << reduction;
      const at::Tensor g = torch::autograd::grad({loss.sum()}, {x})[0];
      EXPECT_TRUE(at::all(g == 0).item<bool>()) << reduction << ": gradient of ignored rows must be 0";
      EXPECT_TRUE(at::all(pred == -1).item<bool>());
      if (reduction == "none")
        EXPECT_TRUE(at::all(acc == 0).item<bool>());
      else
        EXPECT_TRUE(std::isnan(acc.item<float>())) << "token accuracy over no tokens is NaN";
    }
  }
}

// -inf logits (a masked vocabulary) add exp(-inf) = 0 and get a zero gradient; a row of -inf only,
// or with a NaN anywhere, gives NaN (as PyTorch), also when the NaNs fill whole 16-byte packs or
// one NaN shares its pack with finite logits.
TEST(CrossEntropy, NonFiniteLogits) {
  for (const std::string& device_str : visible_devices("NonFiniteLogits")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    at::manual_seed(21);
    at::Tensor base = at::randn({4, 64}, opts);
    base[0].narrow(0, 5, 15).fill_(-INFINITY);
    base[1].fill_(-INFINITY);
    base[2].narrow(0, 0, 8).fill_(NAN);
    base[3][37] = NAN;
    const at::Tensor t = at::tensor({30, 3, 40, 5}, opts.dtype(at::kLong));
    at::Tensor x = base.clone().requires_grad_(true);
    const at::Tensor loss = std::get<0>(liger::cross_entropy(x, t, c10::nullopt, -100, 0.0, 0.0, "none"));
    const at::Tensor grad = torch::autograd::grad({loss}, {x}, {at::ones({4}, opts)})[0].cpu();
    const at::Tensor l = loss.cpu();
    EXPECT_NEAR(
        l[0].item<double>(),
        at::cross_entropy_loss(base.narrow(0, 0, 1).cpu().to(at::kDouble), t.narrow(0, 0, 1).cpu()).item<double>(),
        1e-5);
    EXPECT_TRUE(std::isnan(l[1].item<double>())) << device_str << ": all -inf row";
    EXPECT_TRUE(std::isnan(l[2].item<double>())) << device_str << ": row with NaN logits";
    EXPECT_TRUE(std::isnan(l[3].item<double>())) << device_str << ": row with one NaN logit";
    EXPECT_TRUE(at::all(grad[0].narrow(0, 5, 15) == 0).item<bool>()) << "masked classes get no gradient";
    EXPECT_TRUE(at::all(at::isfinite(grad[0])).item<bool>());
    EXPECT_TRUE(at::all(at::isnan(grad[2])).item<bool>());
    EXPECT_TRUE(at::all(at::isnan(grad[3])).item<bool>());
  }
}

// The true-class entry p_y - 1 cancels when p_y -> 1: formed in fp32 and rounded once, its error
// in bf16/fp16 must be at most 4x torch's own low-precision error (Liger's test), here also when
// the target leads by 20 (torch's bf16 gradient is then 0 there).
TEST(CrossEntropy, ConfidentPredictionTrueClassGradient) {
  for (const std::string& device_str : visible_devices("ConfidentPredictionTrueClassGradient")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    for (const at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
      for (const double margin : {10.0, 20.0}) {
        at::manual_seed(11);
        const int64_t rows = 128, classes = 4096;
        at::Tensor logits = at::randn({rows, classes}, opts);
        const at::Tensor target = at::randint(0, classes, {rows}, opts.dtype(at::kLong));
        const at::Tensor row_max = std::get<0>(logits.max(1));
        logits.scatter_(1, target.unsqueeze(1), (row_max + margin).unsqueeze(1));
        const at::Tensor low = logits.to(dtype);
        // float64 reference from the same rounded logits (an fp32 reference is no judge here: on
        // CUDA its own p_y - 1 rounds to 0 at margin 20), and torch's own low-precision gradient.
        const at::Tensor x64 = low.to(at::kDouble).requires_grad_(true);
        const at::Tensor ref64 = torch::autograd::grad({at::cross_entropy_loss(x64, target)}, {x64})[0];
        const at::Tensor ref_y = ref64.gather(1, target.unsqueeze(1));
        const at::Tensor xt = low.clone().requires_grad_(true);
        at::Tensor torch_grad;
        try {
          torch_grad = torch::autograd::grad({at::cross_entropy_loss(xt, target)}, {xt})[0];
        } catch (const c10::Error&) {  // LibTorch 1.13 has no fp16 log_softmax on CPU
          std::cout << "[  NOTE    ] no torch " << dtype_label(dtype) << " cross entropy on " << device_str
                    << ": comparing with float64 only\n";
        }
        at::Tensor xl = low.clone().requires_grad_(true);
        const at::Tensor ours = torch::autograd::grad({std::get<0>(liger::cross_entropy(xl, target))}, {xl})[0];
        auto true_class_error = [&](const at::Tensor& g) {
          return (g.to(at::kDouble).gather(1, target.unsqueeze(1)) - ref_y).abs().max().item<double>();
        };
        if (torch_grad.defined()) {
          const double ours_err = true_class_error(ours), torch_err = true_class_error(torch_grad);
          EXPECT_LE(ours_err, 4 * torch_err) << device_str << " " << dtype_label(dtype) << " margin " << margin
                                             << ": ours " << ours_err << ", torch " << torch_err;
        }
        // Against float64: rounded once from an accurate fp32 value, so within one unit of the last
        // place (fp16 holds these tiny values as subnormals, spaced 6e-8 apart).
        const at::Tensor err_y = (ours.to(at::kDouble).gather(1, target.unsqueeze(1)) - ref_y).abs();
        const double ulp = dtype == at::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
        EXPECT_TRUE(at::all(err_y <= ulp * ref_y.abs() + (dtype == at::kHalf ? 6e-8 : 0.0)).item<bool>())
            << device_str << " " << dtype_label(dtype) << " margin " << margin << ": max error "
            << err_y.max().item<double>() << " at |g_y| up to " << ref_y.abs().max().item<double>();
      }
    }
  }
}

TEST(CrossEntropy, OutOfRangeTargetIsAClearError) {
  for (const std::string& device_str : visible_devices("OutOfRangeTargetIsAClearError")) {
    const auto opts = at::TensorOptions().device(to_device(device_str));
    for (const int64_t bad : {int64_t{50}, int64_t{-1}, int64_t{-101}}) {
      at::Tensor x = at::randn({6, 50}, opts).requires_grad_(true);
      at::Tensor target = at::tensor({1, 2, 3, 4, 5, 6}, opts.dtype(at::kLong));
      target[3] = bad;
      try {
        liger::cross_entropy(x, target);
        FAIL() << "target " << bad << " was accepted";
      } catch (const c10::Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("target[3] = " + std::to_string(bad)), std::string::npos) << msg;
        EXPECT_NE(msg.find("[0, 50)"), std::string::npos) << msg;
      }
    }
  }
}

TEST(CrossEntropy, ClearErrorsForBadArguments) {
  at::Tensor x = at::randn({4, 8});
  const at::Tensor t = at::zeros({4}, at::kLong);
  expect_error([&] { liger::cross_entropy(x, t, c10::nullopt, -100, 0.0, 1.5); }, "label_smoothing must be between");
  expect_error([&] { liger::cross_entropy(x, t, c10::nullopt, -100, 0.0, 0.0, "avg"); }, "reduction must be");
  expect_error([&] { liger::cross_entropy(x, t, c10::nullopt, -100, 0.0, 0.0, "mean", -1.0); }, "softcap must be");
  expect_error([&] { liger::cross_entropy(x, at::zeros({5}, at::kLong)); }, "target must have shape (4,)");
  expect_error([&] { liger::cross_entropy(x, t.to(at::kFloat)); }, "class indices");
  expect_error([&] { liger::cross_entropy(x, t, at::ones({7})); }, "class weight must have shape (8,)");
  expect_error([&] { liger::cross_entropy(at::randn({2, 4, 8}), t); }, "input must be 2-D");
  expect_error([] { liger::LigerCrossEntropyLoss(liger::LigerCrossEntropyLossOptions().reduction("avg")); },
               "reduction must be");
}

// Without grad, the logits are left untouched and the loss is the same.
TEST(CrossEntropy, NoGradLeavesLogitsAlone) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({16, 300});
  const at::Tensor before = x.clone();
  const at::Tensor t = at::randint(0, 300, {16}, at::kLong);
  const at::Tensor loss = std::get<0>(liger::cross_entropy(x, t));
  EXPECT_TRUE(at::equal(x, before));
  EXPECT_FALSE(loss.requires_grad());
  at::Tensor xg = before.clone().requires_grad_(true);
  at::Tensor loss_grad;
  {
    at::NoGradGuard no_grad;
    loss_grad = std::get<0>(liger::cross_entropy(xg, t));
  }
  EXPECT_TRUE(at::equal(xg.detach(), before)) << "no_grad must not overwrite the logits";
  EXPECT_TRUE(at::allclose(loss, loss_grad));
  expect_close("loss", loss, at::cross_entropy_loss(before.to(at::kDouble), t), at::kFloat);
}

// A transposed (column-strided) input is still overwritten by its gradient, as the schema says.
TEST(CrossEntropy, NonContiguousInput) {
  at::manual_seed(6);
  const at::Tensor base = at::randn({300, 12});
  at::Tensor x = base.clone().t().requires_grad_(true);  // (12, 300), column stride 12
  ASSERT_FALSE(x.is_contiguous());
  const at::Tensor t = at::randint(0, 300, {12}, at::kLong);
  const at::Tensor x_ref = base.t().to(at::kDouble).requires_grad_(true);
  const at::Tensor loss = std::get<0>(liger::cross_entropy(x, t));
  const at::Tensor g = torch::autograd::grad({loss}, {x}, {at::full({}, 1.3)})[0];
  const at::Tensor ref = ce_reference(x_ref, t, at::Tensor(), CeOptions{});
  expect_close("loss", loss, ref.detach(), at::kFloat);
  expect_close("grad", g, torch::autograd::grad({ref}, {x_ref}, {at::full({}, 1.3, at::kDouble)})[0], at::kFloat);
  expect_close("logits now hold the gradient", x.detach(), g, at::kFloat);
}

// Backward twice through a retained graph: the stored gradient was scaled in place by the first
// upstream gradient; the second must still get exactly its own.
TEST(CrossEntropy, RetainedGraphBackwardTwice) {
  at::manual_seed(8);
  const at::Tensor base = at::randn({10, 64}, at::kDouble);
  const at::Tensor t = at::randint(0, 64, {10}, at::kLong);
  at::Tensor x = base.clone().requires_grad_(true);
  const at::Tensor loss = std::get<0>(liger::cross_entropy(x, t, c10::nullopt, -100, 0.0, 0.1));
  const at::Tensor x_ref = base.clone().requires_grad_(true);
  CeOptions o;
  o.label_smoothing = 0.1;
  const at::Tensor ref = ce_reference(x_ref, t, at::Tensor(), o);
  for (const double g : {2.5, -0.5, 1.0, 0.0, 3.0}) {
    const at::Tensor grad = torch::autograd::grad({loss}, {x}, {at::full({}, g, at::kDouble)}, true)[0].clone();
    const at::Tensor expected = torch::autograd::grad({ref}, {x_ref}, {at::full({}, g, at::kDouble)}, true)[0];
    if (g == 3.0) {  // after a zero upstream gradient the buffer cannot be recovered: NaN, loudly
      EXPECT_TRUE(at::isnan(grad).any().item<bool>()) << "a lost gradient must not look valid";
    } else {
      EXPECT_TRUE(at::allclose(grad, expected, 1e-12, 1e-12)) << "upstream " << g;
    }
  }
}

// The logits' version counter is bumped: another node that saved them fails loudly at backward
// instead of silently using the gradient as its activation.
TEST(CrossEntropy, OverwrittenLogitsAreDetectedByAutograd) {
  const at::Tensor a = at::randn({4, 16}).requires_grad_(true);
  const at::Tensor logits = a.exp();  // ExpBackward saves its output
  const at::Tensor loss = std::get<0>(liger::cross_entropy(logits, at::randint(0, 16, {4}, at::kLong)));
  EXPECT_THROW(torch::autograd::grad({loss}, {a}), c10::Error);
  // Logits that nothing else saved (the LM head's output) are fine.
  const at::Tensor w = at::randn({16, 16}).requires_grad_(true);
  const at::Tensor head = at::matmul(a, w);
  const at::Tensor loss2 = std::get<0>(liger::cross_entropy(head, at::randint(0, 16, {4}, at::kLong)));
  EXPECT_NO_THROW(torch::autograd::grad({loss2}, {a, w}));
}

TEST(CrossEntropy, FiniteDifferencesInFloat64) {
  at::manual_seed(9);
  const at::Tensor x = (at::randn({4, 7}, at::kDouble) * 3).requires_grad_(true);
  const at::Tensor t = at::tensor({1, 6, 42, 0}, at::kLong);
  const at::Tensor w = 0.5 + at::rand({7}, at::kDouble);
  // On a copy: liger::cross_entropy overwrites logits that require grad with their gradient.
  for (const std::string reduction : {"mean", "sum", "none"}) {
    expect_gradients_match_finite_differences(
        reduction,
        [&](const auto& in) {
          return std::get<0>(liger::cross_entropy(in[0].clone(), t, w, 42, 1e-2, 0.2, reduction, 5.0));
        },
        {x}, 1e-6, 1e-5, 1e-7);
  }
}

TEST(CrossEntropy, CpuAndCudaAgree) {
  LIGER_SKIP_IF_NO_DEVICE("cuda");
  at::manual_seed(3);
  const at::Tensor x = at::randn({64, 5000}) * 3;
  const at::Tensor t = at::randint(0, 5000, {64}, at::kLong);
  const at::Tensor w = 0.5 + at::rand({5000});
  at::Tensor xc = x.clone().requires_grad_(true), xg = x.cuda().requires_grad_(true);
  auto run = [&](at::Tensor& in, const at::Tensor& tt, const at::Tensor& ww) {
    auto out = liger::cross_entropy(in, tt, ww, -100, 1e-4, 0.1, "sum", 30.0, true, true, true);
    return std::make_pair(out, torch::autograd::grad({std::get<0>(out)}, {in})[0]);
  };
  auto [cpu, g_cpu] = run(xc, t, w);
  auto [gpu, g_gpu] = run(xg, t.cuda(), w.cuda());
  EXPECT_TRUE(at::allclose(std::get<0>(cpu), std::get<0>(gpu).cpu(), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(g_cpu, g_gpu.cpu(), 1e-5, 1e-7));
  EXPECT_TRUE(at::equal(std::get<3>(cpu), std::get<3>(gpu).cpu()));
}

TEST(CrossEntropy, RegisteredWithTheDispatcher) {
  ASSERT_NO_FATAL_FAILURE(expect_ops_registered({"liger::cross_entropy", "liger::cross_entropy_forward",
                                                 "liger::cross_entropy_target_stats", "liger::rescale_stored_grads_"}));
  // The aliasing is part of the schema: input is written (the gradient replaces the logits).
  for (const char* name : {"liger::cross_entropy", "liger::cross_entropy_forward"}) {
    const auto& arg = c10::Dispatcher::singleton().findSchema({name, ""})->schema().arguments()[0];
    ASSERT_NE(arg.alias_info(), nullptr) << name;
    EXPECT_TRUE(arg.alias_info()->isWrite()) << name << ": input must be declared Tensor(a!)";
  }
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  const at::Tensor loss = std::get<0>(liger::cross_entropy(x, at::zeros({2}, at::kLong)));
  ASSERT_NO_FATAL_FAILURE(expect_grad_fn(loss, "CrossEntropyFunction"));
}

TEST(CrossEntropy, ModuleMirrorsLigerDefaults) {
  liger::LigerCrossEntropyLoss ce;
  EXPECT_EQ(ce->options.ignore_index(), -100);
  EXPECT_EQ(ce->options.reduction(), "mean");
  EXPECT_EQ(ce->options.label_smoothing(), 0.0);
  EXPECT_EQ(ce->options.lse_square_scale(), 0.0);
  EXPECT_FALSE(ce->options.softcap().has_value());
  EXPECT_FALSE(ce->options.return_z_loss());
  at::manual_seed(4);
  const at::Tensor x = at::randn({5, 11});
  const at::Tensor t = at::randint(0, 11, {5}, at::kLong);
  const liger::CrossEntropyOutput out = ce(x, t);
  EXPECT_FALSE(out.z_loss.defined());
  EXPECT_FALSE(out.token_accuracy.defined());
  EXPECT_TRUE(at::allclose(out.loss, at::cross_entropy_loss(x, t), 1e-5, 1e-6));
  const at::Tensor w = 0.5 + at::rand({11});
  liger::LigerCrossEntropyLoss weighted(
      liger::LigerCrossEntropyLossOptions().weight(w).label_smoothing(0.1).reduction("sum").return_z_loss(true));
  EXPECT_TRUE(weighted->named_buffers().contains("weight"));
  const liger::CrossEntropyOutput wo = weighted(x, t);
  EXPECT_TRUE(wo.z_loss.defined());
  EXPECT_TRUE(at::allclose(wo.loss, at::cross_entropy_loss(x, t, w, at::Reduction::Sum, -100, 0.1), 1e-5, 1e-6));
}

}  // namespace
