#pragma once
// torch::nn module mirroring Liger's LigerSwiGLUMLP: down_proj(silu(gate_proj(x)) * up_proj(x)),
// with the SiLU-multiply as one fused kernel (liger::swiglu); the three linears are plain GEMMs.
#include "liger/nn/glu_mlp.h"

namespace liger {

inline constexpr char kSwiGLUHiddenAct[] = "silu";  // "silu" or "swish"; anything else is an error
using LigerSwiGLUMLPOptions = LigerGluMLPOptions<kSwiGLUHiddenAct>;

class LigerSwiGLUMLPImpl : public LigerGluMLP<LigerSwiGLUMLPImpl, LigerSwiGLUMLPOptions> {
 public:
  explicit LigerSwiGLUMLPImpl(const LigerSwiGLUMLPOptions& options) : LigerGluMLP(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);
};

TORCH_MODULE(LigerSwiGLUMLP);

}  // namespace liger
