#pragma once
// The projections that both gated MLP modules (LigerSwiGLUMLP, LigerGEGLUMLP) register, as
// Liger's do: gate_proj and up_proj (hidden -> intermediate) and down_proj (intermediate ->
// hidden), none with a bias, created in that order (so they draw their initial weights alike).
#include <torch/nn/modules/linear.h>

#include <cstdint>

namespace liger::detail {

template <typename Mlp>
void register_glu_projections(Mlp& mlp, int64_t hidden, int64_t intermediate) {
  const auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  mlp.gate_proj = mlp.register_module("gate_proj", linear(hidden, intermediate));
  mlp.up_proj = mlp.register_module("up_proj", linear(hidden, intermediate));
  mlp.down_proj = mlp.register_module("down_proj", linear(intermediate, hidden));
}

}  // namespace liger::detail
