#include "liger/nn/kl_div.h"

#include <ATen/ATen.h>

#include "liger/kl_div.h"

namespace liger {

void LigerKLDIVLossImpl::reset() {
  const std::string& r = options.reduction();
  TORCH_CHECK(r == "none" || r == "sum" || r == "mean" || r == "batchmean",
              "LigerKLDIVLoss: reduction must be 'none', 'sum', 'mean' or 'batchmean', got '", r, "'");
}

at::Tensor LigerKLDIVLossImpl::forward(const at::Tensor& y_pred, const at::Tensor& y_true) {
  return kl_div(y_pred, y_true, options.reduction(), options.log_target(), options.eps());
}

}  // namespace liger
