#include "liger/nn/swiglu.h"

#include <ATen/ATen.h>

#include "liger/swiglu.h"

namespace liger {

void LigerSwiGLUMLPImpl::reset() {
  TORCH_CHECK(options.hidden_act() == "silu" || options.hidden_act() == "swish",
              "LigerSwiGLUMLP: activation function '", options.hidden_act(), "' not supported (use 'silu' or 'swish')");
  register_projections();
}

at::Tensor LigerSwiGLUMLPImpl::forward(const at::Tensor& x) {
  return down_proj(liger_swiglu(gate_proj(x), up_proj(x)));
}

}  // namespace liger
