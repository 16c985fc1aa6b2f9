#pragma once
// torch::nn module mirroring Liger's LigerKLDIVLoss (same options and defaults; the deprecated
// size_average / reduce arguments of nn.KLDivLoss are not carried over).

#include <string>

#include "liger/nn/module.h"

namespace liger {

struct LigerKLDIVLossOptions {
  TORCH_ARG(double, eps) = 1e-10;
  TORCH_ARG(std::string, reduction) = "mean";  // none, sum, mean, batchmean (nn.KLDivLoss's default)
  TORCH_ARG(bool, log_target) = false;
};

class LigerKLDIVLossImpl : public LigerModule<LigerKLDIVLossImpl, LigerKLDIVLossOptions> {
 public:
  explicit LigerKLDIVLossImpl(const LigerKLDIVLossOptions& options = {}) : LigerModule(options) { reset(); }
  void reset() override;
  // y_pred: (BT, V) log-probabilities; y_true: (BT, V) probabilities (log-probabilities with log_target).
  at::Tensor forward(const at::Tensor& y_pred, const at::Tensor& y_true);

};

TORCH_MODULE(LigerKLDIVLoss);

}  // namespace liger
