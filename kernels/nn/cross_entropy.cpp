#include "liger/nn/cross_entropy.h"

#include <ATen/ATen.h>

#include "module_checks.h"

namespace liger {

void LigerCrossEntropyLossImpl::reset() {
  detail::check_loss_module_options("LigerCrossEntropyLoss", options.label_smoothing(), options.reduction(),
                                    options.softcap());
  if (options.weight() && options.weight()->defined()) weight = register_buffer("weight", *options.weight());
}

CrossEntropyOutput LigerCrossEntropyLossImpl::forward(const at::Tensor& input, const at::Tensor& target) {
  return liger_cross_entropy(input, target, detail::opt(weight), options.ignore_index(), options.reduction(),
                             options.label_smoothing(), options.lse_square_scale(), options.softcap(),
                             options.return_z_loss(), options.return_token_accuracy(),
                             options.return_predicted_tokens());
}

}  // namespace liger
