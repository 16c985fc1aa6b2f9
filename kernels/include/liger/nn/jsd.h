#pragma once
// torch::nn module mirroring Liger's LigerJSD (same options and defaults).
#include <c10/util/Optional.h>

#include "liger/nn/module.h"

namespace liger {

struct LigerJSDOptions {
  TORCH_ARG(double, beta) = 0.5;
  TORCH_ARG(int64_t, ignore_index) = -100;
};

class LigerJSDImpl : public LigerModule<LigerJSDImpl, LigerJSDOptions> {
 public:
  explicit LigerJSDImpl(const LigerJSDOptions& options = {}) : LigerModule(options) { reset(); }
  void reset() override;
  // log_q: student log-probabilities (BT, V), the one that gets a gradient; log_p: the teacher's.
  at::Tensor forward(const at::Tensor& log_q, const at::Tensor& log_p,
                     const c10::optional<at::Tensor>& shift_labels = c10::nullopt);

};

TORCH_MODULE(LigerJSD);

}  // namespace liger
