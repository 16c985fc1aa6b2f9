#include "liger/nn/fused_linear_cross_entropy.h"

#include <ATen/ATen.h>

#include "liger/fused_linear_cross_entropy.h"
#include "module_checks.h"

namespace liger {

void LigerFusedLinearCrossEntropyLossImpl::reset() {
  detail::check_loss_module_options("LigerFusedLinearCrossEntropyLoss", options.label_smoothing(), options.reduction(),
                                    options.softcap());
  if (options.ce_weight() && options.ce_weight()->defined())
    ce_weight = register_buffer("ce_weight", *options.ce_weight());
}

CrossEntropyOutput LigerFusedLinearCrossEntropyLossImpl::forward(const at::Tensor& lin_weight, const at::Tensor& input,
                                                                 const at::Tensor& target, const at::Tensor& bias) {
  return liger_fused_linear_cross_entropy(
      input, lin_weight, target, detail::opt(bias), detail::opt(ce_weight), options.ignore_index(),
      options.lse_square_scale(), options.label_smoothing(), options.reduction(), options.softcap(),
      options.return_z_loss(), options.accum_dtype(), options.use_token_scaling(), options.return_token_accuracy(),
      options.return_predicted_tokens(), options.chunk_size());
}

}  // namespace liger
