#pragma once
// What the gated MLP modules (LigerSwiGLUMLP, LigerGEGLUMLP) share: the fields of the HF config
// Liger reads, and the three bias-free projections around the fused activation,
// down_proj(act(gate_proj(x)) * up_proj(x)). Only hidden_act's default and the activation differ.
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <string>

#include "liger/nn/module.h"

namespace liger {

template <const char* kDefaultHiddenAct>
struct LigerGluMLPOptions {
  LigerGluMLPOptions(int64_t hidden_size, int64_t intermediate_size)
      : hidden_size_(hidden_size), intermediate_size_(intermediate_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(int64_t, intermediate_size);
  TORCH_ARG(std::string, hidden_act) = kDefaultHiddenAct;
};

template <typename Impl, typename Options>
class LigerGluMLP : public LigerModule<Impl, Options> {
 public:
  torch::nn::Linear gate_proj{nullptr};  // (intermediate, hidden), no bias
  torch::nn::Linear up_proj{nullptr};    // (intermediate, hidden), no bias
  torch::nn::Linear down_proj{nullptr};  // (hidden, intermediate), no bias

 protected:
  using LigerModule<Impl, Options>::LigerModule;

  // For reset(): the projections as Liger's modules register them, in this order (so they draw
  // their initial weights alike).
  void register_projections() {
    const int64_t hidden = this->options.hidden_size(), intermediate = this->options.intermediate_size();
    const auto linear = [](int64_t in, int64_t out) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
    };
    gate_proj = this->register_module("gate_proj", linear(hidden, intermediate));
    up_proj = this->register_module("up_proj", linear(hidden, intermediate));
    down_proj = this->register_module("down_proj", linear(intermediate, hidden));
  }
};

}  // namespace liger
