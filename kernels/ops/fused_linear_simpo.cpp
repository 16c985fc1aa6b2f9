// fused_linear_simpo: the schema, options and C++ API of SimPO; the operators and the algorithm
// are the preference family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_simpo.h"

#include <tuple>

#include "fused_linear_preference.h"

namespace liger {
namespace {

constexpr char kName[] = "fused_linear_simpo";
// ignore_index, beta, alpha, label_smoothing, compute_nll_loss, gamma, chunk_size
using SimPO = detail::PreferenceLoss<kName, int64_t, double, double, double, bool, double, int64_t>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                              int64_t ignore_index, double beta, double alpha, double label_smoothing,
                                              bool compute_nll_loss, double gamma, int64_t chunk_size,
                                              std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o = detail::preference_options(detail::PreferenceMethod::kSimPO, ignore_index, beta,
                                                              compute_nll_loss, chunk_size);
  o.average_log_prob = true;  // SimPO's length normalisation, fixed
  o.gamma = gamma;
  o.alpha = alpha;
  o.label_smoothing = label_smoothing;
  return SimPO::run({input, weight, target, bias}, o, grad_mask);
}

}  // namespace

LIGER_REGISTER_PREFERENCE_LOSS(SimPO, forward_kernel,
                               "int ignore_index=-100, float beta=0.1, float alpha=1.0, float label_smoothing=0.0, "
                               "bool compute_nll_loss=False, float gamma=0.5, int chunk_size=1")

PreferenceLossOutput fused_linear_simpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                        const c10::optional<at::Tensor>& bias, int64_t ignore_index, double beta,
                                        double alpha, double label_smoothing, bool compute_nll_loss, double gamma,
                                        int64_t chunk_size) {
  return std::apply(preference_loss_output, SimPO::call(input, weight, target, bias, ignore_index, beta, alpha,
                                                        label_smoothing, compute_nll_loss, gamma, chunk_size));
}

detail::PreferenceForwardTuple fused_linear_simpo_forward(const at::Tensor& input, const at::Tensor& weight,
                                                          const at::Tensor& target,
                                                          const c10::optional<at::Tensor>& bias, int64_t ignore_index,
                                                          double beta, double alpha, double label_smoothing,
                                                          bool compute_nll_loss, double gamma, int64_t chunk_size,
                                                          std::array<bool, 3> grad_mask) {
  return SimPO::call_forward(input, weight, target, bias, ignore_index, beta, alpha, label_smoothing,
                             compute_nll_loss, gamma, chunk_size, grad_mask);
}

}  // namespace liger
