// Binds the LayerNorm CUDA launchers to the liger::layer_norm_forward/backward operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../layer_norm_checks.h"
#include "common/cuda_binding.h"
#include "layer_norm_launch.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::layer_norm";

// The kernels take weight and bias in one dtype, x's or fp32: a weight of another dtype becomes
// fp32, and the bias follows the weight.
at::ScalarType kernel_param_dtype(const at::Tensor& weight, const at::Tensor& x) {
  return weight.scalar_type() == x.scalar_type() ? x.scalar_type() : at::kFloat;
}

void check_cols(const at::Tensor& x) {
  const int64_t cols = x.size(-1);
  const int64_t max_cols = cuda::layer_norm_max_cols(cuda::dtype_of(x, kOp, "input"));
  TORCH_CHECK(cols <= max_cols, kOp, ": rows of ", cols, " elements are longer than the CUDA kernel's limit of ",
              max_cols);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward_cuda(const at::Tensor& input,
                                                                       const at::Tensor& weight,
                                                                       const at::Tensor& bias, double eps) {
  detail::check_layer_norm_inputs(input, weight, bias);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const at::ScalarType pt = kernel_param_dtype(weight, x);
  const at::Tensor w = weight.to(pt).contiguous(), b = bias.to(pt).contiguous();
  at::Tensor y = at::empty_like(x);
  at::Tensor mean = at::empty(x.sizes().slice(0, x.dim() - 1), x.options().dtype(at::kFloat));
  at::Tensor rstd = at::empty_like(mean);
  cuda::LayerNormForwardArgs a{};
  a.x_dtype = cuda::dtype_of(x, kOp, "input");
  a.w_dtype = cuda::dtype_of(w, kOp, "weight");
  a.rows = detail::row_count(x);
  a.cols = x.size(-1);
  if (a.rows == 0) return {y, mean, rstd};
  check_cols(x);
  a.x = x.data_ptr();
  a.weight = w.data_ptr();
  a.bias = b.data_ptr();
  a.y = y.data_ptr();
  a.mean = mean.data_ptr<float>();
  a.rstd = rstd.data_ptr<float>();
  a.eps = static_cast<float>(eps);
  cuda::check_launch(cuda::layer_norm_forward(a, at::cuda::getCurrentCUDAStream()), kOp);
  return {y, mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
    const at::Tensor& mean, const at::Tensor& rstd, bool weight_grad, bool bias_grad) {
  detail::check_layer_norm_inputs(input, weight, bias);
  detail::check_grad_like("liger::layer_norm_backward", grad_out, input, "input");
  detail::check_layer_norm_stats(input, mean, rstd);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const at::Tensor dy = grad_out.to(x.scalar_type()).contiguous();
  const at::ScalarType pt = kernel_param_dtype(weight, x);
  const at::Tensor w = weight.to(pt).contiguous();
  const at::Tensor mu = mean.to(at::kFloat).contiguous(), rs = rstd.to(at::kFloat).contiguous();
  at::Tensor dx = at::empty_like(x);
  const int64_t cols = x.size(-1), rows = detail::row_count(x);
  at::Tensor dw, db;
  // With no rows the gradients are zeros; otherwise the kernels write every element.
  auto grad_buffer = [&] { return rows > 0 ? at::empty({cols}, w.options()) : at::zeros({cols}, w.options()); };
  if (weight_grad) dw = grad_buffer();
  if (bias_grad) db = grad_buffer();
  if (rows > 0) {
    check_cols(x);
    cuda::LayerNormBackwardArgs a{};
    a.x_dtype = cuda::dtype_of(x, kOp, "input");
    a.w_dtype = cuda::dtype_of(w, kOp, "weight");
    a.partial_rows = cuda::layer_norm_backward_partial_rows(rows, cols, a.x_dtype, a.w_dtype);
    at::Tensor partials;
    if (weight_grad || bias_grad) partials = at::empty({2, a.partial_rows, cols}, x.options().dtype(at::kFloat));
    a.grad_out = dy.data_ptr();
    a.x = x.data_ptr();
    a.weight = w.data_ptr();
    a.mean = mu.data_ptr<float>();
    a.rstd = rs.data_ptr<float>();
    a.grad_in = dx.data_ptr();
    a.partials = partials.defined() ? partials.data_ptr<float>() : nullptr;
    a.grad_weight = weight_grad ? dw.data_ptr() : nullptr;
    a.grad_bias = bias_grad ? db.data_ptr() : nullptr;
    a.rows = rows;
    a.cols = cols;
    cuda::check_launch(cuda::layer_norm_backward(a, at::cuda::getCurrentCUDAStream()), kOp);
  }
  if (weight_grad && dw.scalar_type() != weight.scalar_type()) dw = dw.to(weight.scalar_type());
  if (bias_grad && db.scalar_type() != bias.scalar_type()) db = db.to(bias.scalar_type());
  return {dx, dw, db};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<layer_norm_forward_cuda, layer_norm_backward_cuda>(m, "layer_norm");
}

}  // namespace liger
