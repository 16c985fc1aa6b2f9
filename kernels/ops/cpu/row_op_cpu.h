#pragma once
// Tensor plumbing shared by the CPU row operators whose backward needs only their output
// (softmax, sparsemax): argument checks, contiguity, allocation, the dtype dispatch and the
// parallel loop over rows. The row math stays in each operator's file and is passed in as a
// generic callable.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../row_checks.h"
#include "row_grain.h"

namespace liger::detail {

// row(const T* x, T* y, at::opmath_type<T>* scratch, int64_t cols) fills one row of y; scratch
// holds cols accumulator values (one buffer per parallel chunk). Returns y.
template <typename RowFn>
at::Tensor cpu_row_forward(const char* op, const at::Tensor& input, RowFn&& row) {
  check_row_input(op, input);
  const at::Tensor x = input.contiguous();
  at::Tensor y = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cpu_row_forward", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* yp = y.data_ptr<scalar_t>();
    const int64_t rows = row_count(x), cols = x.size(-1);
    at::parallel_for(0, rows, cpu::row_grain(cols), [&](int64_t b, int64_t e) {
      std::vector<at::opmath_type<scalar_t>> scratch(cols);
      for (int64_t r = b; r < e; ++r) row(xp + r * cols, yp + r * cols, scratch.data(), cols);
    });
  });
  return y;
}

// row(const T* dy, const T* y, T* dx, int64_t cols) fills one row of dx; returns dx.
template <typename RowFn>
at::Tensor cpu_row_backward(const char* op, const at::Tensor& grad_out, const at::Tensor& output, RowFn&& row) {
  check_row_input(op, output);
  check_grad_like(op, grad_out, output, "output");
  const at::Tensor y = output.contiguous();
  const at::Tensor dy = grad_out.to(y.scalar_type()).contiguous();
  at::Tensor dx = at::empty_like(y);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "cpu_row_backward", [&] {
    const scalar_t* dyp = dy.data_ptr<scalar_t>();
    const scalar_t* yp = y.data_ptr<scalar_t>();
    scalar_t* dxp = dx.data_ptr<scalar_t>();
    const int64_t rows = row_count(y), cols = y.size(-1);
    at::parallel_for(0, rows, cpu::row_grain(cols), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) row(dyp + r * cols, yp + r * cols, dxp + r * cols, cols);
    });
  });
  return dx;
}

}  // namespace liger::detail
