// fused_linear_cross_entropy: KERNELS.md section 7. Baseline: the LM head and the loss as Liger's
// benchmark's torch provider writes them (nn.Linear, logits upcast to fp32, CrossEntropyLoss).
#include <cmath>

#include "cross_entropy_math.h"
#include "liger/fused_linear_cross_entropy.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

struct FlceInputs {
  at::Tensor input, weight, target, bias, ce_weight;
};

FlceInputs unpack(const KernelInputs& in) {
  FlceInputs f{in.tensors[0], in.tensors[1], in.tensors[2], at::Tensor(), at::Tensor()};
  for (std::size_t i = 3; i < in.tensors.size(); ++i) (in.names[i] == "bias" ? f.bias : f.ce_weight) = in.tensors[i];
  return f;
}

CeParams flce_params(const CaseConfig& c) {
  CeParams p = ce_params(c);
  p.token_scaling = c.param_bool("use_token_scaling");
  return p;
}

KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t bt = c.axis("BT"), hidden = c.axis("H"), vocab = c.axis("V");
  const auto opts = at::TensorOptions().device(c.device).dtype(c.dtype);
  // Liger's benchmark: randn hidden states, an nn.Linear(H, V) initialisation (uniform +-1/sqrt(H)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  KernelInputs in;
  in.tensors = {at::randn({bt, hidden}, opts).requires_grad_(true),
                ((2 * at::rand({vocab, hidden}, opts) - 1) * bound).requires_grad_(true), ce_targets(c, bt, vocab)};
  in.names = {"input", "weight", "target"};
  if (c.param_bool("bias")) add_input(in, "bias", ((2 * at::rand({vocab}, opts) - 1) * bound).requires_grad_(true));
  add_input(in, "ce_weight", ce_class_weights(c, vocab));
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  const FlceInputs f = unpack(in);
  const CeParams p = flce_params(c);
  const c10::optional<at::ScalarType> accum =
      c.param("accum_dtype") == "fp32" ? c10::optional<at::ScalarType>(at::kFloat) : c10::nullopt;
  return {std::get<0>(liger::fused_linear_cross_entropy(
      f.input, f.weight, f.target, optional_tensor(f.bias), optional_tensor(f.ce_weight), p.ignore_index,
      p.lse_square_scale, p.label_smoothing, p.reduction, p.softcap, false, accum, p.token_scaling))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  const FlceInputs f = unpack(in);
  const at::Tensor logits = linear_fp32_accumulated(f.input, f.weight, optional_tensor(f.bias)).to(at::kFloat);
  return {ce_baseline(logits, f.target, f.ce_weight, flce_params(c))};
}

std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const FlceInputs f = unpack(in);
  at::Tensor logits = at::matmul(f.input, f.weight.t());
  if (f.bias.defined()) logits = logits + f.bias;
  return {ce_reference(logits, f.target, f.ce_weight, flce_params(c))};
}

// The three GEMMs (logits, dX, dW), each 2 BT H V; traffic: X and W read, dX and dW written.
Cost cost(const CaseConfig& c, Mode m) {
  const double bt = c.axis("BT"), h = c.axis("H"), v = c.axis("V");
  const double es = at::elementSize(c.dtype);
  const Cost fwd{(bt * h + v * h) * es + 4 * bt, 2 * bt * h * v};
  const Cost bwd{2 * (bt * h + v * h) * es, 4 * bt * h * v};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec fused_linear_cross_entropy() {
  KernelSpec s = named_spec("fused_linear_cross_entropy", "loss",
                            "cross entropy of input @ weight^T + bias in row chunks, never materialising the (BT, V) "
                            "logits",
                            {"liger::fused_linear_cross_entropy_forward", "liger::cross_entropy_target_stats",
                             "liger::cross_entropy_forward", "liger::rescale_stored_grads_"});
  s.small_axes = {{"BT", 11}, {"H", 24}, {"V", 67}};
  s.axes = {
      {"BT", 1024, "rows (batch x sequence tokens)"}, {"H", 4096, "hidden size"}, {"V", 128256, "vocabulary size"}};
  s.params = ce_param_specs();
  s.params.push_back({"bias", "false", {"true", "false"}, nullptr});
  s.params.push_back({"accum_dtype", "none", {"none", "fp32"}, nullptr});
  s.params.push_back({"use_token_scaling", "false", {"true", "false"}, nullptr});
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.backward_note = kRescaleOnceBackward;
  // The baseline's fp32 logits, their softmax and gradient, plus inputs and weight gradient.
  s.memory_estimate = [](const CaseConfig& c) {
    const double bt = c.axis("BT"), h = c.axis("H"), v = c.axis("V");
    return 3.0 * bt * v * 4 + 3.0 * (bt * h + v * h) * at::elementSize(c.dtype);
  };
  return s;
}

}  // namespace ligerbench::specs
