#pragma once
// Argument checks of multi-token attention (KERNELS.md section 8), shared by the operator, the
// CPU row kernels and the CUDA binding.
#include <ATen/ATen.h>

namespace liger::detail {

// scores (B, C, L, L) floating point: the causal mask needs the square query x key grid.
inline void check_mta_scores(const char* op, const at::Tensor& scores) {
  TORCH_CHECK(scores.defined(), op, ": scores is an undefined tensor");
  TORCH_CHECK(scores.dim() == 4, op, ": scores must be 4-D (B, C, L, L), got shape ", scores.sizes());
  TORCH_CHECK(scores.size(2) == scores.size(3), op, ": scores must be square in its last two dims (L, L), got shape ",
              scores.sizes());
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()), op, ": scores must be floating point, got ",
              scores.scalar_type());
}

inline void check_mta_args(const char* op, const at::Tensor& scores, const at::Tensor& weight,
                           const c10::optional<at::Tensor>& bias, int64_t stride, int64_t padding, int64_t dilation,
                           int64_t groups) {
  check_mta_scores(op, scores);
  TORCH_CHECK(weight.defined() && weight.dim() == 4, op, ": weight must be 4-D (C_out, C_in/groups, K, K), got shape ",
              weight.defined() ? weight.sizes() : at::IntArrayRef{});
  TORCH_CHECK(weight.scalar_type() == scores.scalar_type(), op, ": weight has dtype ", weight.scalar_type(),
              " but scores has ", scores.scalar_type(), "; they must match");
  TORCH_CHECK(weight.device() == scores.device(), op, ": weight is on ", weight.device(), " but scores is on ",
              scores.device());
  TORCH_CHECK(groups >= 1, op, ": groups must be >= 1, got ", groups);
  TORCH_CHECK(stride >= 1 && dilation >= 1 && padding >= 0, op, ": stride and dilation must be >= 1 and padding >= 0, got stride ",
              stride, ", padding ", padding, ", dilation ", dilation);
  TORCH_CHECK(scores.size(1) % groups == 0 && weight.size(0) % groups == 0, op, ": channels (in ", scores.size(1),
              ", out ", weight.size(0), ") must be divisible by groups = ", groups);
  TORCH_CHECK(weight.size(1) * groups == scores.size(1), op, ": weight expects ", weight.size(1) * groups,
              " input channels (weight.size(1) x groups) but scores has C = ", scores.size(1));
  // conv2d's own conditions, named here: a non-empty grid whose padding holds one dilated window.
  TORCH_CHECK(scores.size(2) > 0, op, ": scores of shape ", scores.sizes(),
              " has an empty L x L grid; the convolution needs L >= 1 (an empty batch, B = 0, is fine)");
  const int64_t window_h = dilation * (weight.size(2) - 1) + 1, window_w = dilation * (weight.size(3) - 1) + 1;
  TORCH_CHECK(scores.size(2) + 2 * padding >= window_h && scores.size(3) + 2 * padding >= window_w, op,
              ": scores of shape ", scores.sizes(), " padded by ", padding, " on each side is smaller than the ",
              window_h, " x ", window_w, " window of weight of shape ", weight.sizes(), " at dilation ", dilation);
  if (bias.has_value() && bias->defined()) {
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), op, ": bias must be (C_out,) = (", weight.size(0),
                ",), got shape ", bias->sizes());
    TORCH_CHECK(bias->scalar_type() == scores.scalar_type() && bias->device() == scores.device(), op,
                ": bias must have the dtype and device of scores (", scores.scalar_type(), ", ", scores.device(),
                "), got ", bias->scalar_type(), ", ", bias->device());
  }
}

// The probabilities' backward: grad_probs is written in place, so it must be a dense tensor of
// probs' shape and dtype.
inline void check_mta_probs_grad(const char* op, const at::Tensor& grad, const at::Tensor& probs) {
  check_mta_scores(op, probs);
  TORCH_CHECK(grad.defined() && grad.sizes() == probs.sizes(), op, ": grad_probs must have the shape of probs ",
              probs.sizes(), ", got ", grad.defined() ? grad.sizes() : at::IntArrayRef{});
  TORCH_CHECK(grad.scalar_type() == probs.scalar_type() && grad.device() == probs.device(), op,
              ": grad_probs must have the dtype and device of probs (", probs.scalar_type(), ", ", probs.device(), ")");
  TORCH_CHECK(grad.is_contiguous(), op, ": grad_probs is overwritten in place and must be contiguous");
}

}  // namespace liger::detail
