#include "liger/nn/fused_linear_jsd.h"

#include <ATen/ATen.h>

#include "liger/fused_linear_jsd.h"

namespace liger {

void LigerFusedLinearJSDImpl::reset() {
  TORCH_CHECK(options.jsd_beta() >= 0.0 && options.jsd_beta() <= 1.0, "LigerFusedLinearJSD: jsd_beta must be in [0, 1], got ",
              options.jsd_beta());
  TORCH_CHECK(options.temperature() != 0.0, "LigerFusedLinearJSD: temperature must be non-zero");
}

at::Tensor LigerFusedLinearJSDImpl::forward(const at::Tensor& student_input, const at::Tensor& student_weight,
                                            const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                                            const c10::optional<at::Tensor>& shift_labels) {
  return fused_linear_jsd(student_input, student_weight, teacher_input, teacher_weight, shift_labels,
                          options.jsd_beta(), options.ignore_index(), options.temperature(), options.accum_dtype());
}

}  // namespace liger
