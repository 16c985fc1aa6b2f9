#include "liger/nn/rms_norm.h"

#include <ATen/ATen.h>

#include "liger/rms_norm.h"

namespace liger {

void LigerRMSNormImpl::reset() {
  TORCH_CHECK(options.init_fn() == "ones" || options.init_fn() == "zeros",
              "LigerRMSNorm: init_fn must be 'ones' or 'zeros', got '", options.init_fn(), "'");
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", options.init_fn() == "ones" ? at::ones({options.hidden_size()})
                                                                     : at::zeros({options.hidden_size()}));
  }
}

at::Tensor LigerRMSNormImpl::forward(const at::Tensor& input) {
  return rms_norm(input, weight.defined() ? c10::optional<at::Tensor>(weight) : c10::nullopt, options.eps(),
                  options.offset(), options.casting_mode(), options.in_place());
}

}  // namespace liger
