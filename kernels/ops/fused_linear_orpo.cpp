// fused_linear_orpo: the schema, options and C++ API of ORPO; the operators and the algorithm are
// the preference family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_orpo.h"

#include <tuple>

#include "fused_linear_preference.h"

namespace liger {
namespace {

using OptT = c10::optional<at::Tensor>;
constexpr char kName[] = "fused_linear_orpo";
// nll_target, ignore_index, beta, compute_nll_loss, chunk_size
using Orpo = detail::PreferenceLoss<kName, const OptT&, int64_t, double, bool, int64_t>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const OptT& bias, const OptT& nll_target,
                                              int64_t ignore_index, double beta, bool compute_nll_loss,
                                              int64_t chunk_size, std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o = detail::preference_options(detail::PreferenceMethod::kORPO, ignore_index, beta,
                                                              compute_nll_loss, chunk_size);
  o.alpha = 1.0;
  o.average_log_prob = true;
  detail::PreferenceTensors t{input, weight, target, bias};
  t.nll_target = nll_target;
  return Orpo::run(t, o, grad_mask);
}

}  // namespace

LIGER_REGISTER_PREFERENCE_LOSS(Orpo, forward_kernel,
                               "Tensor? nll_target=None, int ignore_index=-100, float beta=0.1, "
                               "bool compute_nll_loss=True, int chunk_size=1")

PreferenceLossOutput fused_linear_orpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                       const OptT& bias, const OptT& nll_target, int64_t ignore_index, double beta,
                                       bool compute_nll_loss, int64_t chunk_size) {
  return std::apply(preference_loss_output, Orpo::call(input, weight, target, bias, nll_target, ignore_index, beta,
                                                       compute_nll_loss, chunk_size));
}

detail::PreferenceForwardTuple fused_linear_orpo_forward(const at::Tensor& input, const at::Tensor& weight,
                                                         const at::Tensor& target, const OptT& bias,
                                                         const OptT& nll_target, int64_t ignore_index, double beta,
                                                         bool compute_nll_loss, int64_t chunk_size,
                                                         std::array<bool, 3> grad_mask) {
  return Orpo::call_forward(input, weight, target, bias, nll_target, ignore_index, beta, compute_nll_loss, chunk_size,
                            grad_mask);
}

}  // namespace liger
