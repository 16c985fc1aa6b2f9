#pragma once
// torch::nn module mirroring Liger's LigerCrossEntropyLoss (same options and defaults). forward
// returns the whole record (CrossEntropyOutput): the loss, and the z_loss / token_accuracy /
// predicted_tokens fields when the matching return_* option is set.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>

#include "liger/cross_entropy.h"
#include "liger/nn/module.h"

namespace liger {

struct LigerCrossEntropyLossOptions {
  TORCH_ARG(c10::optional<at::Tensor>, weight) = c10::nullopt;  // class weights (V,)
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, lse_square_scale) = 0.0;
  TORCH_ARG(double, label_smoothing) = 0.0;
  TORCH_ARG(std::string, reduction) = "mean";  // mean, sum, none
  TORCH_ARG(c10::optional<double>, softcap) = c10::nullopt;
  TORCH_ARG(bool, return_z_loss) = false;
  TORCH_ARG(bool, return_token_accuracy) = false;
  TORCH_ARG(bool, return_predicted_tokens) = false;
};

// With input.requires_grad, forward overwrites input with d(loss)/d(input) (see cross_entropy.h).
class LigerCrossEntropyLossImpl : public LigerModule<LigerCrossEntropyLossImpl, LigerCrossEntropyLossOptions> {
 public:
  explicit LigerCrossEntropyLossImpl(const LigerCrossEntropyLossOptions& options = {}) : LigerModule(options) {
    reset();
  }
  void reset() override;
  CrossEntropyOutput forward(const at::Tensor& input, const at::Tensor& target);

  at::Tensor weight;  // registered as a buffer when given
};

TORCH_MODULE(LigerCrossEntropyLoss);

}  // namespace liger
