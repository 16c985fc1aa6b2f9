#pragma once
// Tensor plumbing shared by the CPU row operators whose backward needs only their output
// (softmax, sparsemax): argument checks, contiguity, allocation and the dtype dispatch. The row
// math stays in each operator's file and is passed in as a generic callable.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include "../row_checks.h"

namespace liger::detail {

// rows(const T* x, T* y, int64_t rows, int64_t cols) fills y; returns y.
template <typename RowsFn>
at::Tensor cpu_row_forward(const char* op, const at::Tensor& input, RowsFn&& rows) {
  check_row_input(op, input);
  const at::Tensor x = input.contiguous();
  at::Tensor y = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cpu_row_forward", [&] {
    rows(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), row_count(x), x.size(-1));
  });
  return y;
}

// rows(const T* dy, const T* y, T* dx, int64_t rows, int64_t cols) fills dx; returns dx.
template <typename RowsFn>
at::Tensor cpu_row_backward(const char* op, const at::Tensor& grad_out, const at::Tensor& output, RowsFn&& rows) {
  check_row_input(op, output);
  check_grad_like(op, grad_out, output, "output");
  const at::Tensor y = output.contiguous();
  const at::Tensor dy = grad_out.to(y.scalar_type()).contiguous();
  at::Tensor dx = at::empty_like(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "cpu_row_backward", [&] {
    rows(dy.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), dx.data_ptr<scalar_t>(), row_count(y), y.size(-1));
  });
  return dx;
}

}  // namespace liger::detail
