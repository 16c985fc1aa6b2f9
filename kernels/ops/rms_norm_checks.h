#pragma once
// Argument checks and option parsing shared by the RMSNorm CPU and CUDA bindings.
#include <ATen/ATen.h>

#include <string>

#include "common/rms_norm_params.h"

namespace liger::detail {

inline RmsCasting parse_rms_casting(const std::string& mode) {
  if (mode == "llama") return RmsCasting::kLlama;
  if (mode == "gemma") return RmsCasting::kGemma;
  if (mode == "none") return RmsCasting::kNone;
  TORCH_CHECK(false, "liger::rms_norm: casting_mode must be 'llama', 'gemma' or 'none', got '", mode, "'");
}

inline void check_rms_inputs(const at::Tensor& x, const c10::optional<at::Tensor>& w) {
  TORCH_CHECK(x.dim() >= 1, "liger::rms_norm: input must have at least 1 dim, got a scalar");
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "liger::rms_norm: input must be floating point, got ",
              x.scalar_type());
  if (w && w->defined()) {
    TORCH_CHECK(w->dim() == 1 && w->size(0) == x.size(-1), "liger::rms_norm: weight must have shape (",
                x.size(-1), ",) to match input's last dim, got ", w->sizes());
    TORCH_CHECK(w->device() == x.device(), "liger::rms_norm: weight is on ", w->device(), " but input is on ",
                x.device());
    TORCH_CHECK(at::isFloatingType(w->scalar_type()), "liger::rms_norm: weight must be floating point, got ",
                w->scalar_type());
  }
}

// rstd is fp32 in llama/gemma mode (float64 for float64 input) and x's dtype in none mode.
inline at::ScalarType rstd_dtype(at::ScalarType x, RmsCasting c) {
  if (c == RmsCasting::kNone || x == at::kDouble) return x;
  return at::kFloat;
}

}  // namespace liger::detail
