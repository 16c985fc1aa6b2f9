#include "liger/nn/geglu.h"

#include <ATen/ATen.h>

#include "liger/geglu.h"

namespace liger {

LigerGEGLUMLPImpl::LigerGEGLUMLPImpl(const LigerGEGLUMLPOptions& options_) : options(options_) { reset(); }

void LigerGEGLUMLPImpl::reset() {
  const int64_t h = options.hidden_size(), i = options.intermediate_size();
  gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(false)));
  up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(false)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(i, h).bias(false)));
}

at::Tensor LigerGEGLUMLPImpl::forward(const at::Tensor& x) {
  return down_proj(liger_geglu(gate_proj(x), up_proj(x)));
}

}  // namespace liger
