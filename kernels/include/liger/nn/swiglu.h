#pragma once
// torch::nn module mirroring Liger's LigerSwiGLUMLP: down_proj(silu(gate_proj(x)) * up_proj(x)),
// with the SiLU-multiply as one fused kernel (liger::swiglu); the three linears are plain GEMMs.
#include <torch/nn/modules/linear.h>

#include <string>

#include "liger/nn/module.h"

namespace liger {

// The fields of the HF config Liger reads.
struct LigerSwiGLUMLPOptions {
  LigerSwiGLUMLPOptions(int64_t hidden_size, int64_t intermediate_size)
      : hidden_size_(hidden_size), intermediate_size_(intermediate_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, intermediate_size);
  TORCH_ARG(std::string, hidden_act) = "silu";  // "silu" or "swish"; anything else is an error
};

class LigerSwiGLUMLPImpl : public LigerModule<LigerSwiGLUMLPImpl, LigerSwiGLUMLPOptions> {
 public:
  explicit LigerSwiGLUMLPImpl(const LigerSwiGLUMLPOptions& options) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear gate_proj{nullptr};  // (intermediate, hidden), no bias
  torch::nn::Linear up_proj{nullptr};    // (intermediate, hidden), no bias
  torch::nn::Linear down_proj{nullptr};  // (hidden, intermediate), no bias
};

TORCH_MODULE(LigerSwiGLUMLP);

}  // namespace liger
