#include "liger/nn/geglu.h"

#include <ATen/ATen.h>

#include "glu_mlp.h"
#include "liger/geglu.h"

namespace liger {

void LigerGEGLUMLPImpl::reset() {
  detail::register_glu_projections(*this, options.hidden_size(), options.intermediate_size());
}

at::Tensor LigerGEGLUMLPImpl::forward(const at::Tensor& x) {
  return down_proj(liger_geglu(gate_proj(x), up_proj(x)));
}

}  // namespace liger
