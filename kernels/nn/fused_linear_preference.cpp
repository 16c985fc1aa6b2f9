#include "liger/nn/fused_linear_preference.h"

#include <ATen/ATen.h>

#include "fused_linear_preference.h"
#include "liger/fused_linear_cpo.h"
#include "liger/fused_linear_dpo.h"
#include "liger/fused_linear_orpo.h"
#include "liger/fused_linear_simpo.h"

namespace liger {
namespace {

void check_common(const char* module, double label_smoothing, int64_t chunk_size) {
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, module,
              ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  TORCH_CHECK(chunk_size >= 1, module, ": chunk_size must be at least 1, got ", chunk_size);
}

}  // namespace

void LigerFusedLinearCPOLossImpl::reset() {
  check_common("LigerFusedLinearCPOLoss", options.label_smoothing(), options.chunk_size());
}
PreferenceLossOutput LigerFusedLinearCPOLossImpl::forward(const at::Tensor& lin_weight, const at::Tensor& input,
                                                          const at::Tensor& target,
                                                          const c10::optional<at::Tensor>& bias) {
  return fused_linear_cpo(input, lin_weight, target, bias, options.ignore_index(), options.beta(), options.alpha(),
                          options.label_smoothing(), options.compute_nll_loss(), options.average_log_prob(),
                          options.chunk_size());
}

void LigerFusedLinearDPOLossImpl::reset() {
  check_common("LigerFusedLinearDPOLoss", options.label_smoothing(), options.chunk_size());
  detail::parse_dpo_loss_type(options.loss_type(), options.label_smoothing(), "LigerFusedLinearDPOLoss");
}
PreferenceLossOutput LigerFusedLinearDPOLossImpl::forward(
    const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
    const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ref_input,
    const c10::optional<at::Tensor>& ref_weight, const c10::optional<at::Tensor>& ref_bias,
    const c10::optional<at::Tensor>& ref_chosen_logps, const c10::optional<at::Tensor>& ref_rejected_logps) {
  return fused_linear_dpo(input, lin_weight, target, bias, ref_input, ref_weight, ref_bias, ref_chosen_logps,
                          ref_rejected_logps, options.ignore_index(), options.beta(), options.alpha(),
                          options.compute_nll_loss(), options.use_ref_model(), options.average_log_prob(),
                          options.chunk_size(), options.loss_type(), options.label_smoothing(),
                          options.discopop_tau());
}

void LigerFusedLinearORPOLossImpl::reset() { check_common("LigerFusedLinearORPOLoss", 0.0, options.chunk_size()); }
PreferenceLossOutput LigerFusedLinearORPOLossImpl::forward(const at::Tensor& lin_weight, const at::Tensor& input,
                                                           const at::Tensor& target,
                                                           const c10::optional<at::Tensor>& bias,
                                                           const c10::optional<at::Tensor>& nll_target) {
  return fused_linear_orpo(input, lin_weight, target, bias, nll_target, options.ignore_index(), options.beta(),
                           options.compute_nll_loss(), options.chunk_size());
}

void LigerFusedLinearSimPOLossImpl::reset() {
  check_common("LigerFusedLinearSimPOLoss", options.label_smoothing(), options.chunk_size());
}
PreferenceLossOutput LigerFusedLinearSimPOLossImpl::forward(const at::Tensor& lin_weight, const at::Tensor& input,
                                                            const at::Tensor& target,
                                                            const c10::optional<at::Tensor>& bias) {
  return fused_linear_simpo(input, lin_weight, target, bias, options.ignore_index(), options.beta(), options.alpha(),
                            options.label_smoothing(), options.compute_nll_loss(), options.gamma(),
                            options.chunk_size());
}

}  // namespace liger
