// jsd: KERNELS.md section 16. Baseline: Liger's benchmark TorchJSD (KLDivLoss compositions in fp32).
#include "liger/jsd.h"

#include <torch/csrc/autograd/autograd.h>

#include "divergence_common.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

c10::optional<at::Tensor> labels_of(const KernelInputs& in) { return optional_input(in, 2); }

// Student and teacher log_softmax of randn, as Liger's benchmark builds them (the student a
// leaf here, so that the backward times the loss, not a log_softmax behind it).
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t bt = c.axis("BT"), v = c.axis("V");
  const auto opts = at::TensorOptions().device(c.device);
  KernelInputs in;
  in.tensors.push_back(at::log_softmax(at::randn({bt, v}, opts), -1).to(c.dtype).requires_grad_(true));
  in.tensors.push_back(at::log_softmax(at::randn({bt, v}, opts), -1).to(c.dtype));
  in.names = {"input", "target"};
  add_input(in, "shift_labels", make_shift_labels(c, bt, v));
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::jsd(in.tensors[0], in.tensors[1], labels_of(in), c.param_double("beta"),
                     std::stoll(c.param("ignore_index")))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const auto labels = labels_of(in);
  return {torch_jsd(in.tensors[0], in.tensors[1], labels ? *labels : at::Tensor(), c.param_double("beta"),
                    std::stoll(c.param("ignore_index")), in.tensors[0].scalar_type())};
}

// The exact formula in float64, in row chunks (autograd per chunk) to bound its memory.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor &log_q = in.tensors[0], &log_p = in.tensors[1];
  const auto labels = labels_of(in);
  const double beta = c.param_double("beta");
  const int64_t ignore_index = std::stoll(c.param("ignore_index"));
  const int64_t bt = log_q.size(0);
  const at::Tensor keep = labels ? labels->ne(ignore_index) : at::Tensor();
  const int64_t n = labels ? keep.sum().item<int64_t>() : bt;
  at::Tensor grad = at::zeros_like(log_q);
  double total = 0.0;
  const int64_t chunk = reference_chunk_rows(log_q.size(1));
  for (int64_t start = 0; start < bt && n > 0; start += chunk) {
    const int64_t rows = std::min(chunk, bt - start);
    at::Tensor q = log_q.narrow(0, start, rows).detach().requires_grad_(true);
    at::Tensor row_loss = jsd_rows(q, log_p.narrow(0, start, rows), beta);
    if (labels) row_loss = at::where(keep.narrow(0, start, rows), row_loss, at::zeros_like(row_loss));
    const at::Tensor loss = row_loss.sum();
    grad.narrow(0, start, rows).copy_(torch::autograd::grad({loss}, {q})[0]);
    total += loss.item<double>();
  }
  // Every row ignored (or none at all): loss 0, gradient 0.
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  return {attach_gradients(total * inv_n, {log_q}, {grad.mul_(inv_n)})};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double n = static_cast<double>(c.axis("BT")) * c.axis("V");
  const double es = at::elementSize(c.dtype);
  if (m == Mode::kInference) return {2 * es * n, 8 * n};  // read log_q and log_p: the loss only
  const Cost fwd{3 * es * n, 12 * n};  // read log_q and log_p, write the gradient
  const Cost bwd{2 * es * n, n};       // scale the gradient
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec jsd() {
  KernelSpec s = named_spec("jsd", "loss",
                            "generalised Jensen-Shannon divergence of student and teacher log-probabilities",
                            {"liger::jsd_forward", "liger::jsd_backward"});
  s.small_axes = {{"BT", 13}, {"V", 131}};
  s.axes = {{"BT", 1024, "rows (batch x sequence tokens)"}, {"V", 128256, "vocabulary size"}};
  s.params = {
      {"beta", "0.5", {}, validate_unit_interval},
      {"ignore_index", "-100", {}, validate_integer},
      // "none": no shift_labels (Liger's benchmark); a fraction: labels, that share of rows ignored.
      {"ignore_fraction", "none", {}, validate_fraction_or_none},
  };
  offer_float_dtypes(s, "fp32");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.backward_note = kRescaleOnlyBackward;
  // Inputs, the stored and the scaled gradient, and the baseline's fp32 temporaries.
  s.memory_estimate = [](const CaseConfig& c) {
    return static_cast<double>(c.axis("BT")) * c.axis("V") * (4 * at::elementSize(c.dtype) + 24);
  };
  return s;
}

}  // namespace ligerbench::specs
