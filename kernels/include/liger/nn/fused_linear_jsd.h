#pragma once
// torch::nn module mirroring Liger's LigerFusedLinearJSD (same options and defaults).
#include <c10/core/ScalarType.h>
#include <c10/util/Optional.h>

#include "liger/nn/module.h"

namespace liger {

struct LigerFusedLinearJSDOptions {
  TORCH_ARG(double, jsd_beta) = 0.5;
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, temperature) = 1.0;  // must be non-zero
  TORCH_ARG(c10::optional<at::ScalarType>, accum_dtype) = c10::nullopt;  // dW accumulator; default W's dtype
};

class LigerFusedLinearJSDImpl : public LigerModule<LigerFusedLinearJSDImpl, LigerFusedLinearJSDOptions> {
 public:
  explicit LigerFusedLinearJSDImpl(const LigerFusedLinearJSDOptions& options = {}) : LigerModule(options) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& student_input, const at::Tensor& student_weight,
                     const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                     const c10::optional<at::Tensor>& shift_labels = c10::nullopt);

};

TORCH_MODULE(LigerFusedLinearJSD);

}  // namespace liger
