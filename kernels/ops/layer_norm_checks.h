#pragma once
// Argument checks shared by the LayerNorm CPU and CUDA bindings.
#include <ATen/ATen.h>

#include "row_checks.h"

namespace liger::detail {

inline void check_layer_norm_param(const at::Tensor& x, const at::Tensor& p, const char* name) {
  TORCH_CHECK(p.defined(), "liger::layer_norm: ", name, " is an undefined tensor");
  TORCH_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), "liger::layer_norm: ", name, " must have shape (",
              x.size(-1), ",) to match input's last dim, got ", p.sizes());
  TORCH_CHECK(p.device() == x.device(), "liger::layer_norm: ", name, " is on ", p.device(), " but input is on ",
              x.device());
  TORCH_CHECK(at::isFloatingType(p.scalar_type()), "liger::layer_norm: ", name, " must be floating point, got ",
              p.scalar_type());
}

inline void check_layer_norm_inputs(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  check_row_input("liger::layer_norm", x);
  TORCH_CHECK(x.size(-1) > 0, "liger::layer_norm: the normalized (last) dim of input is empty");
  check_layer_norm_param(x, w, "weight");
  check_layer_norm_param(x, b, "bias");
}

// mean and rstd: fp32, or float64 for float64 input; shape = input's leading dims.
inline at::ScalarType stats_dtype(at::ScalarType x) { return x == at::kDouble ? at::kDouble : at::kFloat; }

inline void check_layer_norm_stats(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& rstd) {
  for (const auto* t : {&mean, &rstd}) {
    TORCH_CHECK(t->defined() && t->numel() == row_count(x) && t->device() == x.device(),
                "liger::layer_norm_backward: mean and rstd must hold one value per row of input (", row_count(x),
                " on ", x.device(), "), as layer_norm_forward returns them");
  }
}

}  // namespace liger::detail
