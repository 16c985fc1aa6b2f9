// fused_linear_dpo: the schema, options and C++ API of DPO; the operators and the algorithm are the
// preference family's (fused_linear_preference.h), registered for CPU and CUDA alike.
#include "liger/fused_linear_dpo.h"

#include <tuple>

#include "fused_linear_preference.h"

namespace liger {
namespace {

using OptT = c10::optional<at::Tensor>;
constexpr char kName[] = "fused_linear_dpo";
// ref_input, ref_weight, ref_bias, ref_chosen_logps, ref_rejected_logps, ignore_index, beta, alpha,
// compute_nll_loss, use_ref_model, average_log_prob, chunk_size, loss_type, label_smoothing,
// discopop_tau
using Dpo = detail::PreferenceLoss<kName, const OptT&, const OptT&, const OptT&, const OptT&, const OptT&, int64_t,
                                   double, double, bool, bool, bool, int64_t, c10::string_view, double, double>;

detail::PreferenceForwardTuple forward_kernel(const at::Tensor& input, const at::Tensor& weight,
                                              const at::Tensor& target, const OptT& bias, const OptT& ref_input,
                                              const OptT& ref_weight, const OptT& ref_bias,
                                              const OptT& ref_chosen_logps, const OptT& ref_rejected_logps,
                                              int64_t ignore_index, double beta, double alpha, bool compute_nll_loss,
                                              bool use_ref_model, bool average_log_prob, int64_t chunk_size,
                                              c10::string_view loss_type, double label_smoothing,
                                              double discopop_tau, std::array<bool, 3> grad_mask) {
  detail::PreferenceOptions o = detail::preference_options(detail::PreferenceMethod::kDPO, ignore_index, beta,
                                                              compute_nll_loss, chunk_size);
  o.alpha = alpha;
  o.use_ref_model = use_ref_model;
  o.average_log_prob = average_log_prob;
  o.loss_type = detail::parse_dpo_loss_type(std::string(loss_type), label_smoothing, Dpo::qualified_name());
  o.label_smoothing = label_smoothing;
  o.discopop_tau = discopop_tau;
  detail::PreferenceTensors t{input, weight, target, bias};
  t.ref_input = ref_input;
  t.ref_weight = ref_weight;
  t.ref_bias = ref_bias;
  t.ref_chosen_logps = ref_chosen_logps;
  t.ref_rejected_logps = ref_rejected_logps;
  return Dpo::run(t, o, grad_mask);
}

}  // namespace

LIGER_REGISTER_PREFERENCE_LOSS(Dpo, forward_kernel,
                               "Tensor? ref_input=None, Tensor? ref_weight=None, Tensor? ref_bias=None, "
                               "Tensor? ref_chosen_logps=None, Tensor? ref_rejected_logps=None, int ignore_index=-100, "
                               "float beta=0.1, float alpha=1.0, bool compute_nll_loss=False, bool use_ref_model=True, "
                               "bool average_log_prob=False, int chunk_size=1, str loss_type=\"sigmoid\", "
                               "float label_smoothing=0.0, float discopop_tau=0.05")

PreferenceLossOutput fused_linear_dpo(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const OptT& bias, const OptT& ref_input, const OptT& ref_weight,
                                      const OptT& ref_bias, const OptT& ref_chosen_logps,
                                      const OptT& ref_rejected_logps, int64_t ignore_index, double beta, double alpha,
                                      bool compute_nll_loss, bool use_ref_model, bool average_log_prob,
                                      int64_t chunk_size, const std::string& loss_type, double label_smoothing,
                                      double discopop_tau) {
  return std::apply(preference_loss_output,
                    Dpo::call(input, weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps,
                              ref_rejected_logps, ignore_index, beta, alpha, compute_nll_loss, use_ref_model,
                              average_log_prob, chunk_size, loss_type, label_smoothing, discopop_tau));
}

detail::PreferenceForwardTuple fused_linear_dpo_forward(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const OptT& bias,
    const OptT& ref_input, const OptT& ref_weight, const OptT& ref_bias, const OptT& ref_chosen_logps,
    const OptT& ref_rejected_logps, int64_t ignore_index, double beta, double alpha, bool compute_nll_loss,
    bool use_ref_model, bool average_log_prob, int64_t chunk_size, c10::string_view loss_type,
    double label_smoothing, double discopop_tau, std::array<bool, 3> grad_mask) {
  return Dpo::call_forward(input, weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps,
                           ref_rejected_logps, ignore_index, beta, alpha, compute_nll_loss, use_ref_model,
                           average_log_prob, chunk_size, loss_type, label_smoothing, discopop_tau, grad_mask);
}

}  // namespace liger
