// kl_div: KERNELS.md section 15. Baseline: nn.KLDivLoss, i.e. at::kl_div with its reduction
// ("batchmean" is a sum divided by BT), as Liger's benchmark_kl_div.py compares with.
#include "liger/kl_div.h"

#include <torch/csrc/autograd/autograd.h>

#include "divergence_common.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

// y_pred: log_softmax of randn (the one that gets a gradient); y_true: softmax of randn, or
// log_softmax with log_target; as Liger's benchmark builds them.
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t bt = c.axis("BT"), v = c.axis("V");
  const auto opts = at::TensorOptions().device(c.device);
  KernelInputs in;
  in.tensors.push_back(at::log_softmax(at::randn({bt, v}, opts), -1).to(c.dtype).requires_grad_(true));
  const at::Tensor logits = at::randn({bt, v}, opts);
  in.tensors.push_back((c.param_bool("log_target") ? at::log_softmax(logits, -1) : at::softmax(logits, -1)).to(c.dtype));
  in.names = {"y_pred", "y_true"};
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::kl_div(in.tensors[0], in.tensors[1], c.param("reduction"), c.param_bool("log_target"),
                        c.param_double("eps"))};
}

// torch.nn.functional.kl_div: "batchmean" sums then divides by the batch size.
std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& y_pred = in.tensors[0];
  const bool log_target = c.param_bool("log_target");
  const std::string& r = c.param("reduction");
  if (r == "batchmean") return {at::kl_div(y_pred, in.tensors[1], at::Reduction::Sum, log_target) / y_pred.size(0)};
  const int64_t red = r == "sum" ? at::Reduction::Sum : r == "mean" ? at::Reduction::Mean : at::Reduction::None;
  return {at::kl_div(y_pred, in.tensors[1], red, log_target)};
}

// Elementwise KL with Liger's eps clamp; y_true gets no gradient.
at::Tensor kl_elements(const at::Tensor& y_pred, const at::Tensor& y_true, bool log_target, double eps) {
  at::Tensor l = log_target ? y_true.clone() : at::log(at::clamp_min(y_true, eps));
  l = l - y_pred;
  return l.mul_(log_target ? at::exp(y_true) : y_true);
}

// The exact formula in float64. The reduced losses are evaluated in row chunks (autograd per
// chunk) so the reference needs one chunk's memory, not several (BT, V) float64 temporaries.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor &y_pred = in.tensors[0], &y_true = in.tensors[1];
  const bool log_target = c.param_bool("log_target");
  const double eps = c.param_double("eps");
  const std::string& r = c.param("reduction");
  if (r == "none") return {kl_elements(y_pred, y_true, log_target, eps)};
  const int64_t bt = y_pred.size(0), v = y_pred.size(1);
  const double divisor = r == "batchmean" ? bt : r == "mean" ? static_cast<double>(bt) * v : 1.0;
  at::Tensor grad = at::empty_like(y_pred);
  double total = 0.0;
  const int64_t chunk = reference_chunk_rows(v);
  for (int64_t start = 0; start < bt; start += chunk) {
    const int64_t rows = std::min(chunk, bt - start);
    at::Tensor p = y_pred.narrow(0, start, rows).detach().requires_grad_(true);
    const at::Tensor loss = kl_elements(p, y_true.narrow(0, start, rows), log_target, eps).sum();
    grad.narrow(0, start, rows).copy_(torch::autograd::grad({loss}, {p})[0]);
    total += loss.item<double>();
  }
  return {attach_gradients(total / divisor, {y_pred}, {grad.div_(divisor)})};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double n = static_cast<double>(c.axis("BT")) * c.axis("V");
  const double es = at::elementSize(c.dtype);
  const double out = c.param("reduction") == "none" ? 4 * n : 0;
  const Cost fwd{2 * es * n + out, 4 * n};      // read both, write the elementwise loss if any
  const Cost bwd{2 * es * n + out, 2 * n};      // read y_true (and the upstream), write the gradient
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec kl_div() {
  KernelSpec s = named_spec("kl_div", "loss",
                            "KL divergence KL(y_true || exp(y_pred)) with nn.KLDivLoss's reductions",
                            {"liger::kl_div_forward", "liger::kl_div_backward"});
  s.small_axes = {{"BT", 13}, {"V", 131}};
  s.axes = {{"BT", 1024, "rows (batch x sequence tokens)"}, {"V", 128256, "vocabulary size"}};
  s.params = {
      // Liger's benchmark uses batchmean; the module's default is "mean".
      {"reduction", "batchmean", {"batchmean", "sum", "mean", "none"}, nullptr},
      {"log_target", "false", {"true", "false"}, nullptr},
      {"eps", "1e-10", {}, validate_positive},
  };
  offer_float_dtypes(s, "fp32");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  // Inputs, the gradient and the baseline's elementwise temporaries.
  s.memory_estimate = [](const CaseConfig& c) {
    return static_cast<double>(c.axis("BT")) * c.axis("V") * (3 * at::elementSize(c.dtype) + 16);
  };
  return s;
}

}  // namespace ligerbench::specs
