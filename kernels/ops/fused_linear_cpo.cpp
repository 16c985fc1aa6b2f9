// fused_linear_cpo: schemas, registrations and the C++ API; the algorithm is the preference
// family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_cpo.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "fused_linear_preference.h"

namespace liger {
namespace {

// ignore_index, beta, alpha, label_smoothing, compute_nll_loss, average_log_prob, chunk_size
using Kernels = detail::PreferenceKernels<int64_t, double, double, double, bool, bool, int64_t>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                              int64_t ignore_index, double beta, double alpha, double label_smoothing,
                                              bool compute_nll_loss, bool average_log_prob, int64_t chunk_size,
                                              std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o;
  o.method = detail::PreferenceMethod::kCPO;
  o.op = "liger::fused_linear_cpo";
  o.ignore_index = ignore_index;
  o.beta = beta;
  o.alpha = alpha;
  o.label_smoothing = label_smoothing;
  o.compute_nll_loss = compute_nll_loss;
  o.average_log_prob = average_log_prob;
  o.chunk_size = chunk_size;
  return detail::as_tuple(detail::preference_forward({input, weight, target, bias}, o, grad_mask));
}

// The op through the dispatcher: the C++ API and the Autocast kernel call it.
detail::PreferenceLossTuple call_op(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                    const c10::optional<at::Tensor>& bias, int64_t ignore_index, double beta,
                                    double alpha, double label_smoothing, bool compute_nll_loss, bool average_log_prob,
                                    int64_t chunk_size) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("liger::fused_linear_cpo", "").typed<Kernels::LossSignature>();
  return op.call(input, weight, target, bias, ignore_index, beta, alpha, label_smoothing, compute_nll_loss,
                 average_log_prob, chunk_size);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def(
      "fused_linear_cpo(Tensor input, Tensor weight, Tensor target, Tensor? bias=None, int ignore_index=-100, "
      "float beta=0.1, float alpha=1.0, float label_smoothing=0.0, bool compute_nll_loss=True, "
      "bool average_log_prob=False, int chunk_size=1) -> (Tensor loss, Tensor[] aux)");
  m.def(
      "fused_linear_cpo_forward(Tensor input, Tensor weight, Tensor target, Tensor? bias, int ignore_index, "
      "float beta, float alpha, float label_smoothing, bool compute_nll_loss, bool average_log_prob, int chunk_size, "
      "bool[3] grad_mask) -> (Tensor loss, Tensor[] aux, Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) {
  m.impl("fused_linear_cpo", TORCH_FN(Kernels::autograd<fused_linear_cpo_forward>));
}
TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("fused_linear_cpo", TORCH_FN(Kernels::no_grad<fused_linear_cpo_forward>));
  m.impl("fused_linear_cpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("fused_linear_cpo", TORCH_FN(Kernels::no_grad<fused_linear_cpo_forward>));
  m.impl("fused_linear_cpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { m.impl("fused_linear_cpo", TORCH_FN(Kernels::autocast<call_op>)); }
TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { m.impl("fused_linear_cpo", TORCH_FN(Kernels::autocast<call_op>)); }

PreferenceLossOutput fused_linear_cpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, int64_t ignore_index, double beta,
                                      double alpha, double label_smoothing, bool compute_nll_loss,
                                      bool average_log_prob, int64_t chunk_size) {
  auto [loss, aux] = call_op(input, weight, target, bias, ignore_index, beta, alpha, label_smoothing, compute_nll_loss,
                             average_log_prob, chunk_size);
  return preference_loss_output(loss, aux);
}

detail::PreferenceForwardTuple fused_linear_cpo_forward(const at::Tensor& input, const at::Tensor& weight,
                                                        const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                                        int64_t ignore_index, double beta, double alpha,
                                                        double label_smoothing, bool compute_nll_loss,
                                                        bool average_log_prob, int64_t chunk_size,
                                                        std::array<bool, 3> grad_mask) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("liger::fused_linear_cpo_forward", "")
                       .typed<Kernels::ForwardSignature>();
  return op.call(input, weight, target, bias, ignore_index, beta, alpha, label_smoothing, compute_nll_loss,
                 average_log_prob, chunk_size, grad_mask);
}

}  // namespace liger
