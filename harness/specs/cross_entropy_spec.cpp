// cross_entropy: KERNELS.md section 6. Baseline: at::cross_entropy_loss, what torch.nn.CrossEntropyLoss
// runs (log_softmax + nll_loss), with soft-capping and z-loss written as upstream model code does.
#include "cross_entropy_math.h"
#include "liger/cross_entropy.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

at::Tensor weight_of(const KernelInputs& in) { return in.tensors.size() > 2 ? in.tensors[2] : at::Tensor(); }

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t bt = c.axis("BT"), vocab = c.axis("V");
  // Liger's benchmark: randn logits, uniform targets.
  KernelInputs in = randn_input(c, {bt, vocab});
  add_input(in, "target", ce_targets(c, bt, vocab));
  add_input(in, "weight", ce_class_weights(c, vocab));
  return in;
}

// The logits are overwritten by their gradient when they require grad (Liger's memory trick).
std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  const CeParams p = ce_params(c);
  return {std::get<0>(liger::cross_entropy(in.tensors[0], in.tensors[1], optional_input(in, 2),
                                           p.ignore_index, p.lse_square_scale, p.label_smoothing, p.reduction,
                                           p.softcap))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  return {ce_baseline(in.tensors[0], in.tensors[1], weight_of(in), ce_params(c))};
}

std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  return {ce_reference(in.tensors[0], in.tensors[1], weight_of(in), ce_params(c))};
}

// A training step must read the logits and write their gradient once (forward, in Liger's design);
// backward reads and writes the gradient once more to apply an upstream scalar other than 1. Full
// mode is a training step (upstream gradient 1, runner.cpp), so its floor is the forward's traffic.
// Inference computes the loss only: one read of the logits.
Cost cost(const CaseConfig& c, Mode m) {
  const double n = static_cast<double>(c.axis("BT")) * static_cast<double>(c.axis("V"));
  const double es = at::elementSize(c.dtype);
  if (m == Mode::kInference) return {n * es, 4 * n};
  const Cost fwd{2 * n * es, 6 * n};
  const Cost bwd{2 * n * es, n};
  return cost_by_mode(m, fwd, bwd, fwd);
}

}  // namespace

KernelSpec cross_entropy() {
  KernelSpec s = named_spec("cross_entropy", "loss",
                            "cross entropy over (BT, V) logits; the gradient is computed in forward, in place of the "
                            "logits",
                            {"liger::cross_entropy_target_stats", "liger::cross_entropy_forward",
                             "liger::rescale_stored_grads_"});
  s.small_axes = {{"BT", 13}, {"V", 257}};
  s.axes = {{"BT", 1024, "rows (batch x sequence tokens)"}, {"V", 128256, "vocabulary size"}};
  s.params = ce_param_specs();
  offer_float_dtypes(s, "fp32");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.backward_note = kRescaleOnceBackward;
  // logits, the baseline's log-softmax and gradient, a spare.
  s.memory_estimate = [](const CaseConfig& c) {
    return 4.0 * static_cast<double>(c.axis("BT")) * static_cast<double>(c.axis("V")) * at::elementSize(c.dtype);
  };
  return s;
}

}  // namespace ligerbench::specs
