#pragma once
// torch::nn module mirroring Liger's LigerGEGLUMLP: down_proj(gelu_tanh(gate_proj(x)) * up_proj(x)),
// with the GELU-multiply as one fused kernel (liger::geglu). As in Liger, GELU is always the tanh
// approximation whatever hidden_act says (it is kept only for config compatibility).
#include <torch/nn/modules/linear.h>

#include <string>

#include "liger/nn/module.h"

namespace liger {

struct LigerGEGLUMLPOptions {
  LigerGEGLUMLPOptions(int64_t hidden_size, int64_t intermediate_size)
      : hidden_size_(hidden_size), intermediate_size_(intermediate_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, intermediate_size);
  TORCH_ARG(std::string, hidden_act) = "gelu_pytorch_tanh";  // not checked, not used (Liger's behaviour)
};

class LigerGEGLUMLPImpl : public LigerModule<LigerGEGLUMLPImpl, LigerGEGLUMLPOptions> {
 public:
  explicit LigerGEGLUMLPImpl(const LigerGEGLUMLPOptions& options) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear gate_proj{nullptr};
  torch::nn::Linear up_proj{nullptr};
  torch::nn::Linear down_proj{nullptr};
};

TORCH_MODULE(LigerGEGLUMLP);

}  // namespace liger
