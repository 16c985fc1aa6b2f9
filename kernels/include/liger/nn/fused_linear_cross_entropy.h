#pragma once
// torch::nn module mirroring Liger's LigerFusedLinearCrossEntropyLoss (same options and defaults).
// forward returns the whole record (CrossEntropyOutput), as LigerCrossEntropyLoss does.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>

#include "liger/cross_entropy.h"
#include "liger/nn/module.h"

namespace liger {

struct LigerFusedLinearCrossEntropyLossOptions {
  TORCH_ARG(c10::optional<at::Tensor>, ce_weight) = c10::nullopt;  // class weights (V,)
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, lse_square_scale) = 0.0;
  TORCH_ARG(double, label_smoothing) = 0.0;
  TORCH_ARG(std::string, reduction) = "mean";
  TORCH_ARG(c10::optional<double>, softcap) = c10::nullopt;
  TORCH_ARG(bool, return_z_loss) = false;
  TORCH_ARG(c10::optional<at::ScalarType>, accum_dtype) = c10::nullopt;  // dW/db accumulator, e.g. at::kFloat
  TORCH_ARG(bool, use_token_scaling) = false;
  TORCH_ARG(bool, return_token_accuracy) = false;
  TORCH_ARG(bool, return_predicted_tokens) = false;
  TORCH_ARG(int64_t, chunk_size) = 0;  // ligerbench's addition: rows per chunk, 0 = automatic
};

class LigerFusedLinearCrossEntropyLossImpl
    : public LigerModule<LigerFusedLinearCrossEntropyLossImpl, LigerFusedLinearCrossEntropyLossOptions> {
 public:
  explicit LigerFusedLinearCrossEntropyLossImpl(const LigerFusedLinearCrossEntropyLossOptions& options = {})
      : LigerModule(options) {
    reset();
  }
  void reset() override;
  // Weight first, as Liger: lin_weight (V, H), input (BT, H), target (BT,), bias (V,) or undefined.
  CrossEntropyOutput forward(const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
                             const at::Tensor& bias = at::Tensor());

  at::Tensor ce_weight;  // registered as a buffer when given
};

TORCH_MODULE(LigerFusedLinearCrossEntropyLoss);

}  // namespace liger
