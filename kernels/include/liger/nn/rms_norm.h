#pragma once
// torch::nn module mirroring Liger's LigerRMSNorm (same options and defaults).

#include <string>

#include "liger/nn/module.h"

namespace liger {

struct LigerRMSNormOptions {
  /* implicit */ LigerRMSNormOptions(int64_t hidden_size) : hidden_size_(hidden_size) {}
  TORCH_ARG(int64_t, hidden_size);
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, offset) = 0.0;
  TORCH_ARG(std::string, casting_mode) = "llama";  // llama, gemma, none
  TORCH_ARG(std::string, init_fn) = "ones";        // ones, zeros
  TORCH_ARG(bool, in_place) = true;
  TORCH_ARG(bool, elementwise_affine) = true;
};

class LigerRMSNormImpl : public LigerModule<LigerRMSNormImpl, LigerRMSNormOptions> {
 public:
  explicit LigerRMSNormImpl(const LigerRMSNormOptions& options) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& input);

  at::Tensor weight;  // (hidden_size,), undefined without elementwise_affine
};

TORCH_MODULE(LigerRMSNorm);

}  // namespace liger
