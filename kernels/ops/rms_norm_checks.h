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

// Every check of rms_norm_forward (CPU and CUDA alike); returns the casting mode.
inline RmsCasting check_rms_forward(const at::Tensor& x, const c10::optional<at::Tensor>& w,
                                    c10::string_view casting_mode) {
  check_rms_inputs(x, w);
  return parse_rms_casting(std::string(casting_mode));
}

// rstd is fp32 in llama/gemma mode (float64 for float64 input) and x's dtype in none mode.
inline at::ScalarType rstd_dtype(at::ScalarType x, RmsCasting c) {
  if (c == RmsCasting::kNone || x == at::kDouble) return x;
  return at::kFloat;
}

// The backward's relations between its tensors: grad_out shaped like input on its device, and
// rstd as rms_norm_forward returns it (one value per row, in rstd_dtype), which the kernels read
// raw: a shorter or narrower rstd would be read past its end.
// Returns the casting mode, parsed first.
inline RmsCasting check_rms_backward(const at::Tensor& grad_out, const at::Tensor& x,
                                     const c10::optional<at::Tensor>& w, const at::Tensor& rstd,
                                     c10::string_view casting_mode) {
  constexpr const char* op = "liger::rms_norm_backward";
  const RmsCasting casting = parse_rms_casting(std::string(casting_mode));
  check_rms_inputs(x, w);
  TORCH_CHECK(grad_out.sizes() == x.sizes(), op, ": grad_out has shape ", grad_out.sizes(), " but input has shape ",
              x.sizes());
  TORCH_CHECK(grad_out.device() == x.device(), op, ": grad_out is on ", grad_out.device(), " but input is on ",
              x.device());
  TORCH_CHECK(at::isFloatingType(grad_out.scalar_type()), op, ": grad_out must be floating point, got ",
              grad_out.scalar_type());
  // One per row, also when rows are empty (rms_norm_forward's rstd has input's leading shape).
  const int64_t rows = c10::multiply_integers(x.sizes().slice(0, x.dim() - 1));
  TORCH_CHECK(rstd.defined() && rstd.numel() == rows, op, ": rstd must hold one value per row of input (", rows,
              " for input of shape ", x.sizes(), "), got shape ", rstd.defined() ? rstd.sizes() : at::IntArrayRef{});
  TORCH_CHECK(rstd.scalar_type() == rstd_dtype(x.scalar_type(), casting), op, ": rstd must be ",
              rstd_dtype(x.scalar_type(), casting), " for ", x.scalar_type(),
              " input in this casting mode (as rms_norm_forward returns it), got ", rstd.scalar_type());
  TORCH_CHECK(rstd.device() == x.device(), op, ": rstd is on ", rstd.device(), " but input is on ", x.device());
  return casting;
}

}  // namespace liger::detail
