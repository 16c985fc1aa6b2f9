// fused_linear_jsd: KERNELS.md section 17. Baseline: Liger's TorchLMHeadJSD as its tests write it
// (two nn.Linear lm_heads, logits upcast to fp32, log_softmax(logits / T), TorchJSD). Its
// benchmark's copy skips the upcast: log-probabilities rounded to bf16 put that baseline's own
// gradient 2% (relative L2) away from float64, at the edge of the bf16 tolerance.
#include "liger/fused_linear_jsd.h"

#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "divergence_common.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

c10::optional<at::Tensor> labels_of(const KernelInputs& in) { return optional_input(in, 4); }

c10::optional<at::ScalarType> accum_dtype(const CaseConfig& c) {
  if (c.param("accum_dtype") == "fp32") return at::kFloat;
  return c10::nullopt;
}

// Inputs torch.rand (uniform [0, 1), as Liger's benchmark); weights torch.rand centred and scaled
// by 12 / sqrt(H), so logits have mean 0 and a standard deviation of about 2. (Liger's uncentred
// torch.rand weights give logits of H / 4 +- 0.2 sqrt(H), about 1024 +- 14 at H 4096: bf16 rounds
// them in steps of 8, which no real model produces.)
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t bt = c.axis("BT"), h = c.axis("H"), v = c.axis("V");
  const auto opts = at::TensorOptions().device(c.device);
  const double scale = 12.0 / std::sqrt(static_cast<double>(h));
  auto weight = [&] { return ((at::rand({v, h}, opts) - 0.5) * scale).to(c.dtype); };
  KernelInputs in;
  in.tensors = {at::rand({bt, h}, opts).to(c.dtype).requires_grad_(true), weight().requires_grad_(true),
                at::rand({bt, h}, opts).to(c.dtype), weight()};
  in.names = {"student_input", "student_weight", "teacher_input", "teacher_weight"};
  add_input(in, "shift_labels", make_shift_labels(c, bt, v));
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  const auto& t = in.tensors;
  return {liger::fused_linear_jsd(t[0], t[1], t[2], t[3], labels_of(in), c.param_double("beta"),
                                  std::stoll(c.param("ignore_index")), c.param_double("temperature"), accum_dtype(c))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const auto& t = in.tensors;
  const double temperature = c.param_double("temperature");
  const at::Tensor student_prob = at::log_softmax(linear_fp32_accumulated(t[0], t[1]).to(at::kFloat) / temperature, -1);
  const at::Tensor teacher_prob = at::log_softmax(linear_fp32_accumulated(t[2], t[3]).to(at::kFloat) / temperature, -1);
  const auto labels = labels_of(in);
  return {torch_jsd(student_prob, teacher_prob, labels ? *labels : at::Tensor(), c.param_double("beta"),
                    std::stoll(c.param("ignore_index")), t[0].scalar_type())};
}

// The exact math in float64, in row chunks (autograd per chunk) to bound its memory: the
// (BT, V) float64 logits of a full-size case would not fit beside the case itself.
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const auto& t = in.tensors;
  const at::Tensor &xs = t[0], &ws = t[1], &xt = t[2], &wt = t[3];
  const auto labels = labels_of(in);
  const double beta = c.param_double("beta"), temperature = c.param_double("temperature");
  const int64_t ignore_index = std::stoll(c.param("ignore_index"));
  const int64_t bt = xs.size(0);
  const at::Tensor keep = labels ? labels->ne(ignore_index) : at::Tensor();
  const int64_t n = labels ? keep.sum().item<int64_t>() : bt;
  at::Tensor grad_x = at::zeros_like(xs), grad_w = at::zeros_like(ws);
  double total = 0.0;
  const int64_t chunk = reference_chunk_rows(ws.size(0));
  for (int64_t start = 0; start < bt && n > 0; start += chunk) {
    const int64_t rows = std::min(chunk, bt - start);
    at::Tensor x = xs.narrow(0, start, rows).detach().requires_grad_(true);
    at::Tensor w = ws.detach().requires_grad_(true);
    const at::Tensor log_q = at::log_softmax(at::mm(x, w.t()) / temperature, -1);
    const at::Tensor log_p = at::log_softmax(at::mm(xt.narrow(0, start, rows), wt.t()) / temperature, -1);
    at::Tensor row_loss = jsd_rows(log_q, log_p, beta);
    if (labels) row_loss = at::where(keep.narrow(0, start, rows), row_loss, at::zeros_like(row_loss));
    const at::Tensor loss = row_loss.sum();
    const auto g = torch::autograd::grad({loss}, {x, w});
    grad_x.narrow(0, start, rows).copy_(g[0]);
    grad_w.add_(g[1]);
    total += loss.item<double>();
  }
  const double inv_n = n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
  return {attach_gradients(total * inv_n, {xs, ws}, {grad_x.mul_(inv_n), grad_w.mul_(inv_n)})};
}

// The arithmetic of the math (two logits GEMMs forward, dX and dW backward; the fused kernel
// does all four in its forward) and the least traffic: weights and inputs read, gradients written.
Cost cost(const CaseConfig& c, Mode m) {
  const double bt = c.axis("BT"), h = c.axis("H"), v = c.axis("V");
  const double es = at::elementSize(c.dtype);
  const Cost fwd{es * (2 * v * h + 2 * bt * h), 4 * bt * v * h};
  const Cost bwd{es * (2 * v * h + 2 * bt * h), 4 * bt * v * h};
  return cost_by_mode(m, fwd, bwd, Cost{es * (3 * v * h + 3 * bt * h), fwd.flops + bwd.flops});
}

}  // namespace

KernelSpec fused_linear_jsd() {
  KernelSpec s = named_spec("fused_linear_jsd", "loss",
                            "student and teacher lm_head projections fused with their JSD, chunked over rows",
                            {"liger::fused_linear_jsd_forward", "liger::fused_linear_jsd_backward",
                             "liger::fused_linear_jsd_chunk"});
  s.small_axes = {{"BT", 11}, {"H", 24}, {"V", 67}};
  s.axes = {{"BT", 1024, "rows (batch x sequence tokens)"},
            {"H", 4096, "hidden size (student and teacher)"},
            {"V", 128256, "vocabulary size"}};
  s.params = {
      {"beta", "0.5", {}, validate_unit_interval},
      {"temperature", "1.0", {}, [](const std::string& v) {
         if (auto why = validate_number(v); !why.empty()) return why;
         return std::string(std::stod(v) != 0.0 ? "" : "must be non-zero");
       }},
      {"ignore_index", "-100", {}, validate_integer},
      {"ignore_fraction", "none", {}, validate_fraction_or_none},
      // dW accumulator across chunks: the weight's dtype (Liger's default) or fp32.
      {"accum_dtype", "none", {"none", "fp32"}, nullptr},
  };
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.backward_note = kRescaleOnlyBackward;
  // Weights and dW, and the baseline's (BT, V) logits, log-probabilities and their gradients.
  s.memory_estimate = [](const CaseConfig& c) {
    const double es = at::elementSize(c.dtype);
    return 3 * es * c.axis("V") * c.axis("H") + 14.0 * c.axis("BT") * c.axis("V") * es;
  };
  return s;
}

}  // namespace ligerbench::specs
