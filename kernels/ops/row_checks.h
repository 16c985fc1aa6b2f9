#pragma once
// Argument checks shared by the row operators (layer_norm, softmax, sparsemax) on CPU and CUDA.
#include <ATen/ATen.h>

namespace liger::detail {

inline void check_row_input(const char* op, const at::Tensor& x) {
  TORCH_CHECK(x.defined(), op, ": input is an undefined tensor");
  TORCH_CHECK(x.dim() >= 1, op, ": input must have at least 1 dim, got a scalar");
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op, ": input must be floating point, got ", x.scalar_type());
}

// A backward's upstream gradient must match the tensor the forward produced (or took).
inline void check_grad_like(const char* op, const at::Tensor& grad, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(grad.sizes() == ref.sizes(), op, ": grad_out has shape ", grad.sizes(), " but ", ref_name,
              " has shape ", ref.sizes());
  TORCH_CHECK(grad.device() == ref.device(), op, ": grad_out is on ", grad.device(), " but ", ref_name, " is on ",
              ref.device());
  TORCH_CHECK(at::isFloatingType(grad.scalar_type()), op, ": grad_out must be floating point, got ",
              grad.scalar_type());
}

// Rows of a tensor seen as (rows, last dim); a zero-width last dim has no rows to process.
inline int64_t row_count(const at::Tensor& x) {
  const int64_t cols = x.size(-1);
  return cols == 0 ? 0 : x.numel() / cols;
}

}  // namespace liger::detail
