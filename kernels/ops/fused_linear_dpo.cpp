// fused_linear_dpo: schemas, registrations and the C++ API; the algorithm is the preference
// family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_dpo.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "fused_linear_preference.h"

namespace liger {
namespace {

using OptT = c10::optional<at::Tensor>;
// ref_input, ref_weight, ref_bias, ref_chosen_logps, ref_rejected_logps, ignore_index, beta, alpha,
// compute_nll_loss, use_ref_model, average_log_prob, chunk_size, loss_type, label_smoothing,
// discopop_tau
using Kernels = detail::PreferenceKernels<const OptT&, const OptT&, const OptT&, const OptT&, const OptT&, int64_t,
                                          double, double, bool, bool, bool, int64_t, c10::string_view, double, double>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const OptT& bias, const OptT& ref_input,
                                              const OptT& ref_weight, const OptT& ref_bias,
                                              const OptT& ref_chosen_logps, const OptT& ref_rejected_logps,
                                              int64_t ignore_index, double beta, double alpha, bool compute_nll_loss,
                                              bool use_ref_model, bool average_log_prob, int64_t chunk_size,
                                              c10::string_view loss_type, double label_smoothing,
                                              double discopop_tau, std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o;
  o.method = detail::PreferenceMethod::kDPO;
  o.op = "liger::fused_linear_dpo";
  o.ignore_index = ignore_index;
  o.beta = beta;
  o.alpha = alpha;
  o.compute_nll_loss = compute_nll_loss;
  o.use_ref_model = use_ref_model;
  o.average_log_prob = average_log_prob;
  o.chunk_size = chunk_size;
  o.loss_type = detail::parse_dpo_loss_type(std::string(loss_type), label_smoothing, o.op);
  o.label_smoothing = label_smoothing;
  o.discopop_tau = discopop_tau;
  detail::PreferenceTensors t{input, weight, target, bias};
  t.ref_input = ref_input;
  t.ref_weight = ref_weight;
  t.ref_bias = ref_bias;
  t.ref_chosen_logps = ref_chosen_logps;
  t.ref_rejected_logps = ref_rejected_logps;
  return detail::as_tuple(detail::preference_forward(t, o, grad_mask));
}

// The op through the dispatcher: the C++ API and the Autocast kernel call it.
detail::PreferenceLossTuple call_op(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                    const OptT& bias, const OptT& ref_input, const OptT& ref_weight,
                                    const OptT& ref_bias, const OptT& ref_chosen_logps, const OptT& ref_rejected_logps,
                                    int64_t ignore_index, double beta, double alpha, bool compute_nll_loss,
                                    bool use_ref_model, bool average_log_prob, int64_t chunk_size,
                                    c10::string_view loss_type, double label_smoothing, double discopop_tau) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("liger::fused_linear_dpo", "").typed<Kernels::LossSignature>();
  return op.call(input, weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps, ref_rejected_logps,
                 ignore_index, beta, alpha, compute_nll_loss, use_ref_model, average_log_prob, chunk_size, loss_type,
                 label_smoothing, discopop_tau);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def(
      "fused_linear_dpo(Tensor input, Tensor weight, Tensor target, Tensor? bias=None, Tensor? ref_input=None, "
      "Tensor? ref_weight=None, Tensor? ref_bias=None, Tensor? ref_chosen_logps=None, "
      "Tensor? ref_rejected_logps=None, int ignore_index=-100, float beta=0.1, float alpha=1.0, "
      "bool compute_nll_loss=False, bool use_ref_model=True, bool average_log_prob=False, int chunk_size=1, "
      "str loss_type=\"sigmoid\", float label_smoothing=0.0, float discopop_tau=0.05) -> (Tensor loss, Tensor[] aux)");
  m.def(
      "fused_linear_dpo_forward(Tensor input, Tensor weight, Tensor target, Tensor? bias, Tensor? ref_input, "
      "Tensor? ref_weight, Tensor? ref_bias, Tensor? ref_chosen_logps, Tensor? ref_rejected_logps, "
      "int ignore_index, float beta, float alpha, bool compute_nll_loss, bool use_ref_model, bool average_log_prob, "
      "int chunk_size, str loss_type, float label_smoothing, float discopop_tau, bool[3] grad_mask) -> "
      "(Tensor loss, Tensor[] aux, Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) {
  m.impl("fused_linear_dpo", TORCH_FN(Kernels::autograd<fused_linear_dpo_forward>));
}
TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("fused_linear_dpo", TORCH_FN(Kernels::no_grad<fused_linear_dpo_forward>));
  m.impl("fused_linear_dpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("fused_linear_dpo", TORCH_FN(Kernels::no_grad<fused_linear_dpo_forward>));
  m.impl("fused_linear_dpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { m.impl("fused_linear_dpo", TORCH_FN(Kernels::autocast<call_op>)); }
TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { m.impl("fused_linear_dpo", TORCH_FN(Kernels::autocast<call_op>)); }

PreferenceLossOutput fused_linear_dpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const OptT& bias, const OptT& ref_input, const OptT& ref_weight,
                                      const OptT& ref_bias, const OptT& ref_chosen_logps,
                                      const OptT& ref_rejected_logps, int64_t ignore_index, double beta, double alpha,
                                      bool compute_nll_loss, bool use_ref_model, bool average_log_prob,
                                      int64_t chunk_size, const std::string& loss_type, double label_smoothing,
                                      double discopop_tau) {
  auto [loss, aux] = call_op(input, weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps,
                             ref_rejected_logps, ignore_index, beta, alpha, compute_nll_loss, use_ref_model,
                             average_log_prob, chunk_size, loss_type, label_smoothing, discopop_tau);
  return preference_loss_output(loss, aux);
}

detail::PreferenceForwardTuple fused_linear_dpo_forward(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const OptT& bias,
    const OptT& ref_input, const OptT& ref_weight, const OptT& ref_bias, const OptT& ref_chosen_logps,
    const OptT& ref_rejected_logps, int64_t ignore_index, double beta, double alpha, bool compute_nll_loss,
    bool use_ref_model, bool average_log_prob, int64_t chunk_size, c10::string_view loss_type,
    double label_smoothing, double discopop_tau, std::array<bool, 3> grad_mask) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("liger::fused_linear_dpo_forward", "")
                       .typed<Kernels::ForwardSignature>();
  return op.call(input, weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps, ref_rejected_logps,
                 ignore_index, beta, alpha, compute_nll_loss, use_ref_model, average_log_prob, chunk_size, loss_type,
                 label_smoothing, discopop_tau, grad_mask);
}

}  // namespace liger
