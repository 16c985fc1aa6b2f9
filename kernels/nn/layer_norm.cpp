#include "liger/nn/layer_norm.h"

#include <ATen/ATen.h>

#include "liger/layer_norm.h"

namespace liger {

void LigerLayerNormImpl::reset() {
  TORCH_CHECK(options.init_fn() == "ones" || options.init_fn() == "zeros",
              "LigerLayerNorm: init_fn must be 'ones' or 'zeros', got '", options.init_fn(), "'");
  const int64_t h = options.hidden_size();
  weight = register_parameter("weight", options.init_fn() == "ones" ? at::ones({h}) : at::zeros({h}));
  bias = register_parameter("bias", options.bias() ? at::randn({h}) : at::zeros({h}));
}

at::Tensor LigerLayerNormImpl::forward(const at::Tensor& input) {
  return layer_norm(input, weight, bias, options.eps());
}

}  // namespace liger
