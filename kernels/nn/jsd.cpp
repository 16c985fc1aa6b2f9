#include "liger/nn/jsd.h"

#include <ATen/ATen.h>

#include "liger/jsd.h"

namespace liger {

void LigerJSDImpl::reset() {
  TORCH_CHECK(options.beta() >= 0.0 && options.beta() <= 1.0, "LigerJSD: beta must be in [0, 1], got ",
              options.beta());
}

at::Tensor LigerJSDImpl::forward(const at::Tensor& log_q, const at::Tensor& log_p,
                                 const c10::optional<at::Tensor>& shift_labels) {
  return jsd(log_q, log_p, shift_labels, options.beta(), options.ignore_index());
}

}  // namespace liger
