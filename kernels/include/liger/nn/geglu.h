#pragma once
// torch::nn module mirroring Liger's LigerGEGLUMLP: down_proj(gelu_tanh(gate_proj(x)) * up_proj(x)),
// with the GELU-multiply as one fused kernel (liger::geglu). As in Liger, GELU is always the tanh
// approximation whatever hidden_act says (it is kept only for config compatibility).
#include "liger/nn/glu_mlp.h"

namespace liger {

inline constexpr char kGEGLUHiddenAct[] = "gelu_pytorch_tanh";  // not checked, not used (Liger's behaviour)
using LigerGEGLUMLPOptions = LigerGluMLPOptions<kGEGLUHiddenAct>;

class LigerGEGLUMLPImpl : public LigerGluMLP<LigerGEGLUMLPImpl, LigerGEGLUMLPOptions> {
 public:
  explicit LigerGEGLUMLPImpl(const LigerGEGLUMLPOptions& options) : LigerGluMLP(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
};

TORCH_MODULE(LigerGEGLUMLP);

}  // namespace liger
