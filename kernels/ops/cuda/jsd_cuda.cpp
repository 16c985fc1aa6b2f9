// Binds the JSD CUDA launchers to the liger::jsd_forward and jsd_backward operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../divergence_checks.h"
#include "common/cuda_binding.h"
#include "common/divergence_reduce.h"
#include "common/grad_scale_binding.h"
#include "jsd_launch.h"

namespace liger {
namespace {

std::tuple<at::Tensor, at::Tensor> jsd_forward_cuda(const at::Tensor& input, const at::Tensor& target,
                                                    const c10::optional<at::Tensor>& shift_labels, double beta,
                                                    int64_t ignore_index, bool compute_grad) {
  constexpr const char* op = "liger::jsd";
  detail::check_jsd_inputs(input, target, shift_labels, beta);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous(), y = target.contiguous();
  const cuda::DType dtype = cuda::dtype_of(x, op, "input");
  at::Tensor grad_input = compute_grad ? at::empty_like(x) : at::Tensor();
  at::Tensor loss = at::empty({}, x.options());
  if (x.size(0) == 0) return {loss.zero_(), grad_input};  // no rows: n = 0, the loss is 0
  const bool has_labels = shift_labels && shift_labels->defined();
  const at::Tensor labels = has_labels ? shift_labels->contiguous() : at::Tensor();
  // n stays on the device: the kernels read it, the host never waits for it.
  const at::Tensor n_valid = has_labels ? labels.ne(ignore_index).sum() : at::Tensor();
  at::Tensor partials = at::empty({cuda::reduce_partials_capacity()}, x.options().dtype(at::kDouble));
  cuda::JsdForwardArgs a{};
  a.input = x.data_ptr();
  a.target = y.data_ptr();
  a.grad_input = compute_grad ? grad_input.data_ptr() : nullptr;
  a.loss = loss.data_ptr();
  a.partials = partials.data_ptr<double>();
  a.labels = has_labels ? labels.data_ptr<int64_t>() : nullptr;
  a.n_valid = has_labels ? n_valid.data_ptr<int64_t>() : nullptr;
  a.rows = x.size(0);
  a.cols = x.size(1);
  a.dtype = dtype;
  a.beta = static_cast<float>(beta);
  a.mode = jsd_mode_of(beta);
  a.ignore_index = ignore_index;
  cuda::check_launch(cuda::jsd_forward(a, at::cuda::getCurrentCUDAStream()), op);
  return {loss, grad_input};
}

at::Tensor jsd_backward_cuda(const at::Tensor& grad_out, const at::Tensor& grad_input) {
  return cuda::scaled_by_upstream(grad_input, grad_out, "liger::jsd_backward");
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<jsd_forward_cuda, jsd_backward_cuda>(m, "jsd");
}

}  // namespace liger
