// fused_linear_cpo: the schema, options and C++ API of CPO; the operators and the algorithm are the
// preference family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_cpo.h"

#include <tuple>

#include "fused_linear_preference.h"

namespace liger {
namespace {

constexpr char kName[] = "fused_linear_cpo";
// ignore_index, beta, alpha, label_smoothing, compute_nll_loss, average_log_prob, chunk_size
using Cpo = detail::PreferenceLoss<kName, int64_t, double, double, double, bool, bool, int64_t>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                              int64_t ignore_index, double beta, double alpha, double label_smoothing,
                                              bool compute_nll_loss, bool average_log_prob, int64_t chunk_size,
                                              std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o = detail::preference_options(detail::PreferenceMethod::kCPO, ignore_index, beta,
                                                              compute_nll_loss, chunk_size);
  o.alpha = alpha;
  o.label_smoothing = label_smoothing;
  o.average_log_prob = average_log_prob;
  return Cpo::run({input, weight, target, bias}, o, grad_mask);
}

}  // namespace

LIGER_REGISTER_PREFERENCE_LOSS(Cpo, forward_kernel,
                               "int ignore_index=-100, float beta=0.1, float alpha=1.0, float label_smoothing=0.0, "
                               "bool compute_nll_loss=True, bool average_log_prob=False, int chunk_size=1")

PreferenceLossOutput fused_linear_cpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, int64_t ignore_index, double beta,
                                      double alpha, double label_smoothing, bool compute_nll_loss,
                                      bool average_log_prob, int64_t chunk_size) {
  return std::apply(preference_loss_output, Cpo::call(input, weight, target, bias, ignore_index, beta, alpha,
                                                      label_smoothing, compute_nll_loss, average_log_prob, chunk_size));
}

detail::PreferenceForwardTuple fused_linear_cpo_forward(const at::Tensor& input, const at::Tensor& weight,
                                                        const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                                        int64_t ignore_index, double beta, double alpha,
                                                        double label_smoothing, bool compute_nll_loss,
                                                        bool average_log_prob, int64_t chunk_size,
                                                        std::array<bool, 3> grad_mask) {
  return Cpo::call_forward(input, weight, target, bias, ignore_index, beta, alpha, label_smoothing, compute_nll_loss,
                           average_log_prob, chunk_size, grad_mask);
}

}  // namespace liger
