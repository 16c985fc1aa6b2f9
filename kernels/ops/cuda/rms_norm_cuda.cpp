// Binds the RMSNorm CUDA launchers to the liger::rms_norm_forward/backward operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../rms_norm_checks.h"
#include "common/cuda_binding.h"
#include "rms_norm_launch.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::rms_norm";

// The kernels take the weight in x's dtype or in fp32; any other weight dtype is converted to fp32.
at::Tensor weight_for_kernel(const c10::optional<at::Tensor>& weight, const at::Tensor& x) {
  if (!weight || !weight->defined()) return at::Tensor();
  at::Tensor w = weight->contiguous();
  if (w.scalar_type() != x.scalar_type() && w.scalar_type() != at::kFloat) w = w.to(at::kFloat);
  return w;
}

void check_cols(const at::Tensor& x) {
  const int64_t cols = x.size(-1);
  const int64_t max_cols = cuda::rms_norm_max_cols(cols, cuda::dtype_of(x, kOp, "input"));
  TORCH_CHECK(cols <= max_cols, kOp, ": rows of ", cols, " elements are longer than the CUDA kernel's limit of ",
              max_cols, " for this dtype and alignment");
}

std::tuple<at::Tensor, at::Tensor> rms_norm_forward_cuda(const at::Tensor& input,
                                                         const c10::optional<at::Tensor>& weight, double eps,
                                                         double offset, c10::string_view casting_mode) {
  const RmsCasting casting = detail::check_rms_forward(input, weight, casting_mode);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const at::Tensor w = weight_for_kernel(weight, x);
  at::Tensor y = at::empty_like(x);
  at::Tensor rstd = at::empty(x.sizes().slice(0, x.dim() - 1), x.options().dtype(detail::rstd_dtype(x.scalar_type(), casting)));
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  if (rows == 0) return {y, rstd};
  check_cols(x);
  cuda::RmsNormForwardArgs a{};
  a.x = x.data_ptr();
  a.weight = w.defined() ? w.data_ptr() : nullptr;
  a.y = y.data_ptr();
  a.rstd = rstd.data_ptr();
  a.rows = rows;
  a.cols = cols;
  a.x_dtype = cuda::dtype_of(x, kOp, "input");
  a.w_dtype = w.defined() ? cuda::dtype_of(w, kOp, "weight") : a.x_dtype;
  a.eps = static_cast<float>(eps);
  a.offset = static_cast<float>(offset);
  a.casting = casting;
  cuda::check_launch(cuda::rms_norm_forward(a, at::cuda::getCurrentCUDAStream()), kOp);
  return {y, rstd};
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward_cuda(const at::Tensor& grad_out, const at::Tensor& input,
                                                          const c10::optional<at::Tensor>& weight,
                                                          const at::Tensor& rstd, double offset,
                                                          c10::string_view casting_mode, bool in_place,
                                                          bool weight_grad) {
  const RmsCasting casting = detail::check_rms_backward(grad_out, input, weight, rstd, casting_mode);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const at::Tensor dy = grad_out.to(x.scalar_type()).contiguous();
  const bool write_into_dy = in_place && dy.data_ptr() == grad_out.data_ptr();
  at::Tensor dx = write_into_dy ? dy : at::empty_like(x);
  const at::Tensor w = weight_for_kernel(weight, x);
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const bool want_dw = w.defined() && weight_grad;
  at::Tensor dw;
  if (want_dw) dw = at::empty({cols}, w.options());
  if (rows == 0) {
    if (want_dw) dw.zero_();
  } else {
    check_cols(x);
    cuda::RmsNormBackwardArgs a{};
    a.x_dtype = cuda::dtype_of(x, kOp, "input");
    a.w_dtype = w.defined() ? cuda::dtype_of(w, kOp, "weight") : a.x_dtype;
    a.partial_rows = cuda::rms_norm_backward_partial_rows(rows, cols, a.x_dtype, a.w_dtype);
    at::Tensor partials;
    if (want_dw) partials = at::empty({a.partial_rows, cols}, x.options().dtype(at::kFloat));
    const at::Tensor rs = rstd.contiguous();
    a.grad_out = dy.data_ptr();
    a.x = x.data_ptr();
    a.weight = w.defined() ? w.data_ptr() : nullptr;
    a.rstd = rs.data_ptr();
    a.grad_in = dx.data_ptr();
    a.weight_partials = want_dw ? partials.data_ptr<float>() : nullptr;
    a.grad_weight = want_dw ? dw.data_ptr() : nullptr;
    a.rows = rows;
    a.cols = cols;
    a.offset = static_cast<float>(offset);
    a.casting = casting;
    cuda::check_launch(cuda::rms_norm_backward(a, at::cuda::getCurrentCUDAStream()), kOp);
  }
  if (want_dw && dw.scalar_type() != weight->scalar_type()) dw = dw.to(weight->scalar_type());
  return {dx.view(input.sizes()), dw};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<rms_norm_forward_cuda, rms_norm_backward_cuda>(m, "rms_norm");
}

}  // namespace liger
