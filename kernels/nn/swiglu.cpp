#include "liger/nn/swiglu.h"

#include <ATen/ATen.h>

#include "liger/swiglu.h"

namespace liger {

LigerSwiGLUMLPImpl::LigerSwiGLUMLPImpl(const LigerSwiGLUMLPOptions& options_) : options(options_) { reset(); }

void LigerSwiGLUMLPImpl::reset() {
  TORCH_CHECK(options.hidden_act() == "silu" || options.hidden_act() == "swish",
              "LigerSwiGLUMLP: activation function '", options.hidden_act(), "' not supported (use 'silu' or 'swish')");
  const int64_t h = options.hidden_size(), i = options.intermediate_size();
  gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(false)));
  up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(h, i).bias(false)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(i, h).bias(false)));
}

at::Tensor LigerSwiGLUMLPImpl::forward(const at::Tensor& x) {
  return down_proj(liger_swiglu(gate_proj(x), up_proj(x)));
}

}  // namespace liger
