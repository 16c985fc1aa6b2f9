#pragma once
// torch::nn module mirroring Liger's LigerLayerNorm (same options and defaults).

#include <string>

#include "liger/nn/module.h"

namespace liger {

struct LigerLayerNormOptions {
  /* implicit */ LigerLayerNormOptions(int64_t hidden_size) : hidden_size_(hidden_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(double, eps) = 1e-6;
  // Liger's quirk: the bias parameter always exists and is trained; `bias` only chooses its
  // initial values, zeros (false) or standard normal (true).
  TORCH_ARG(bool, bias) = false;
  TORCH_ARG(std::string, init_fn) = "ones";  // weight: ones, zeros
};

class LigerLayerNormImpl : public LigerModule<LigerLayerNormImpl, LigerLayerNormOptions> {
 public:
  explicit LigerLayerNormImpl(const LigerLayerNormOptions& options) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& input);

  at::Tensor weight;  // (hidden_size,)
  at::Tensor bias;    // (hidden_size,)
};

TORCH_MODULE(LigerLayerNorm);

}  // namespace liger
