// fused_linear_orpo: schemas, registrations and the C++ API; the algorithm is the preference
// family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_orpo.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "fused_linear_preference.h"

namespace liger {
namespace {

using OptT = c10::optional<at::Tensor>;
// nll_target, ignore_index, beta, compute_nll_loss, chunk_size
using Kernels = detail::PreferenceKernels<const OptT&, int64_t, double, bool, int64_t>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const OptT& bias, const OptT& nll_target,
                                              int64_t ignore_index, double beta, bool compute_nll_loss,
                                              int64_t chunk_size, std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o;
  o.method = detail::PreferenceMethod::kORPO;
  o.op = "liger::fused_linear_orpo";
  o.ignore_index = ignore_index;
  o.beta = beta;
  o.alpha = 1.0;
  o.compute_nll_loss = compute_nll_loss;
  o.average_log_prob = true;
  o.chunk_size = chunk_size;
  detail::PreferenceTensors t{input, weight, target, bias};
  t.nll_target = nll_target;
  return detail::as_tuple(detail::preference_forward(t, o, grad_mask));
}

// The op through the dispatcher: the C++ API and the Autocast kernel call it.
detail::PreferenceLossTuple call_op(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                    const OptT& bias, const OptT& nll_target, int64_t ignore_index, double beta,
                                    bool compute_nll_loss, int64_t chunk_size) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("liger::fused_linear_orpo", "").typed<Kernels::LossSignature>();
  return op.call(input, weight, target, bias, nll_target, ignore_index, beta, compute_nll_loss, chunk_size);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def(
      "fused_linear_orpo(Tensor input, Tensor weight, Tensor target, Tensor? bias=None, Tensor? nll_target=None, "
      "int ignore_index=-100, float beta=0.1, bool compute_nll_loss=True, int chunk_size=1) -> "
      "(Tensor loss, Tensor[] aux)");
  m.def(
      "fused_linear_orpo_forward(Tensor input, Tensor weight, Tensor target, Tensor? bias, Tensor? nll_target, "
      "int ignore_index, float beta, bool compute_nll_loss, int chunk_size, bool[3] grad_mask) -> "
      "(Tensor loss, Tensor[] aux, Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) {
  m.impl("fused_linear_orpo", TORCH_FN(Kernels::autograd<fused_linear_orpo_forward>));
}
TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("fused_linear_orpo", TORCH_FN(Kernels::no_grad<fused_linear_orpo_forward>));
  m.impl("fused_linear_orpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("fused_linear_orpo", TORCH_FN(Kernels::no_grad<fused_linear_orpo_forward>));
  m.impl("fused_linear_orpo_forward", TORCH_FN(forward_kernel));
}
TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { m.impl("fused_linear_orpo", TORCH_FN(Kernels::autocast<call_op>)); }
TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { m.impl("fused_linear_orpo", TORCH_FN(Kernels::autocast<call_op>)); }

PreferenceLossOutput fused_linear_orpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                       const OptT& bias, const OptT& nll_target, int64_t ignore_index, double beta,
                                       bool compute_nll_loss, int64_t chunk_size) {
  auto [loss, aux] = call_op(input, weight, target, bias, nll_target, ignore_index, beta, compute_nll_loss, chunk_size);
  return preference_loss_output(loss, aux);
}

detail::PreferenceForwardTuple fused_linear_orpo_forward(const at::Tensor& input, const at::Tensor& weight,
                                                         const at::Tensor& target, const OptT& bias,
                                                         const OptT& nll_target, int64_t ignore_index, double beta,
                                                         bool compute_nll_loss, int64_t chunk_size,
                                                         std::array<bool, 3> grad_mask) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("liger::fused_linear_orpo_forward", "")
                       .typed<Kernels::ForwardSignature>();
  return op.call(input, weight, target, bias, nll_target, ignore_index, beta, compute_nll_loss, chunk_size, grad_mask);
}

}  // namespace liger
