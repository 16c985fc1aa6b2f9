// Binds the softmax CUDA launchers to the liger::softmax_forward/backward operators.
#include <torch/library.h>

#include "../row_checks.h"
#include "cuda_binding.h"
#include "softmax_launch.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::softmax";

void check_cols(int64_t cols, cuda::DType dtype) {
  const int64_t max_cols = cuda::softmax_max_cols(dtype);
  TORCH_CHECK(cols <= max_cols, kOp, ": rows of ", cols, " elements are longer than the CUDA kernel's limit of ",
              max_cols, " for this dtype");
}

at::Tensor softmax_forward_cuda(const at::Tensor& input) {
  detail::check_row_input(kOp, input);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  at::Tensor y = at::empty_like(x);
  cuda::SoftmaxForwardArgs a{};
  a.dtype = cuda::dtype_of(x, kOp, "input");
  a.rows = detail::row_count(x);
  a.cols = x.size(-1);
  if (a.rows == 0) return y;
  check_cols(a.cols, a.dtype);
  a.x = x.data_ptr();
  a.y = y.data_ptr();
  cuda::check_launch(cuda::softmax_forward(a, at::cuda::getCurrentCUDAStream()), kOp);
  return y;
}

at::Tensor softmax_backward_cuda(const at::Tensor& grad_out, const at::Tensor& output) {
  detail::check_row_input(kOp, output);
  detail::check_grad_like("liger::softmax_backward", grad_out, output, "output");
  const c10::cuda::CUDAGuard guard(output.device());
  const at::Tensor y = output.contiguous();
  const at::Tensor dy = grad_out.to(y.scalar_type()).contiguous();
  at::Tensor dx = at::empty_like(y);
  cuda::SoftmaxBackwardArgs a{};
  a.dtype = cuda::dtype_of(y, kOp, "output");
  a.rows = detail::row_count(y);
  a.cols = y.size(-1);
  if (a.rows == 0) return dx;
  check_cols(a.cols, a.dtype);
  a.grad_out = dy.data_ptr();
  a.y = y.data_ptr();
  a.grad_in = dx.data_ptr();
  cuda::check_launch(cuda::softmax_backward(a, at::cuda::getCurrentCUDAStream()), kOp);
  return dx;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("softmax_forward", TORCH_FN(softmax_forward_cuda));
  m.impl("softmax_backward", TORCH_FN(softmax_backward_cuda));
}

}  // namespace liger
