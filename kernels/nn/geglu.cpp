#include "liger/nn/geglu.h"

#include <ATen/ATen.h>

#include "liger/geglu.h"

namespace liger {

void LigerGEGLUMLPImpl::reset() {
  register_projections();
}

at::Tensor LigerGEGLUMLPImpl::forward(const at::Tensor& x) {
  return down_proj(liger_geglu(gate_proj(x), up_proj(x)));
}

}  // namespace liger
