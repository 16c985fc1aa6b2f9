// Binds the CUDA launchers of the row ops (row_op_launch.h: softmax, sparsemax) to their
// liger::<op>_forward/backward operators: one set of checks, allocation and launch for all.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../row_checks.h"
#include "common/cuda_binding.h"
#include "row_op_launch.h"

namespace liger {
namespace {

constexpr cuda::RowOpLaunchers kSoftmax{"liger::softmax", "liger::softmax_backward", cuda::softmax_max_cols,
                                        cuda::softmax_forward, cuda::softmax_backward};
constexpr cuda::RowOpLaunchers kSparsemax{"liger::sparsemax", "liger::sparsemax_backward", cuda::sparsemax_max_cols,
                                          cuda::sparsemax_forward, cuda::sparsemax_backward};

void check_cols(const cuda::RowOpLaunchers& l, int64_t cols, cuda::DType dtype) {
  const int64_t max_cols = l.max_cols(dtype);
  TORCH_CHECK(cols <= max_cols, l.op, ": rows of ", cols, " elements are longer than the CUDA kernel's limit of ",
              max_cols, " for this dtype");
}

// The row layout that the forward's and the backward's launch arguments share, from `t` (named
// `arg` in errors); false when there are no rows, so nothing to launch.
template <typename Args>
bool set_rows(Args& a, const cuda::RowOpLaunchers& l, const at::Tensor& t, const char* arg) {
  a.dtype = cuda::dtype_of(t, l.op, arg);
  a.rows = detail::row_count(t);
  a.cols = t.size(-1);
  if (a.rows == 0) return false;
  check_cols(l, a.cols, a.dtype);
  return true;
}

template <const cuda::RowOpLaunchers& L>
at::Tensor row_forward_cuda(const at::Tensor& input) {
  detail::check_row_input(L.op, input);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  at::Tensor y = at::empty_like(x);
  cuda::RowForwardArgs a{};
  if (!set_rows(a, L, x, "input")) return y;
  a.x = x.data_ptr();
  a.y = y.data_ptr();
  cuda::check_launch(L.forward(a, at::cuda::getCurrentCUDAStream()), L.op);
  return y;
}

template <const cuda::RowOpLaunchers& L>
at::Tensor row_backward_cuda(const at::Tensor& grad_out, const at::Tensor& output) {
  detail::check_row_input(L.op, output);
  detail::check_grad_like(L.backward_op, grad_out, output, "output");
  const c10::cuda::CUDAGuard guard(output.device());
  const at::Tensor y = output.contiguous();
  const at::Tensor dy = grad_out.to(y.scalar_type()).contiguous();
  at::Tensor dx = at::empty_like(y);
  cuda::RowBackwardArgs a{};
  if (!set_rows(a, L, y, "output")) return dx;
  a.grad_out = dy.data_ptr();
  a.y = y.data_ptr();
  a.grad_in = dx.data_ptr();
  cuda::check_launch(L.backward(a, at::cuda::getCurrentCUDAStream()), L.op);
  return dx;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<row_forward_cuda<kSoftmax>, row_backward_cuda<kSoftmax>>(m, "softmax");
  detail::impl_forward_backward<row_forward_cuda<kSparsemax>, row_backward_cuda<kSparsemax>>(m, "sparsemax");
}

}  // namespace liger
