// Binds the fused linear JSD's CUDA launchers to the liger::fused_linear_jsd_chunk and
// fused_linear_jsd_backward operators (the chunk loop and its GEMMs are device-generic:
// ops/fused_linear_jsd.cpp).
#include <torch/library.h>

#include "../divergence_checks.h"
#include "common/cuda_binding.h"
#include "fused_linear_jsd_launch.h"
#include "common/grad_scale_binding.h"

namespace liger {
namespace {

void fused_linear_jsd_chunk_cuda(at::Tensor& student_logits, const at::Tensor& teacher_logits,
                                 const c10::optional<at::Tensor>& shift_labels, const at::Tensor& n_valid,
                                 at::Tensor& row_loss, double beta, int64_t ignore_index, double temperature,
                                 bool compute_grad) {
  constexpr const char* op = "liger::fused_linear_jsd_chunk";
  detail::check_jsd_chunk(student_logits, teacher_logits, shift_labels, n_valid, row_loss);
  detail::check_beta(beta, op);
  TORCH_CHECK(temperature != 0.0, op, ": temperature must be non-zero");
  const c10::cuda::CUDAGuard guard(student_logits.device());
  const at::Tensor t = teacher_logits.contiguous();
  const bool has_labels = shift_labels && shift_labels->defined();
  const at::Tensor labels = has_labels ? shift_labels->contiguous() : at::Tensor();
  const at::Tensor n = n_valid.contiguous();
  cuda::JsdChunkArgs a{};
  a.dtype = cuda::dtype_of(student_logits, op, "student_logits");  // before any typed data_ptr
  a.student_logits = student_logits.data_ptr();
  a.teacher_logits = t.data_ptr();
  a.row_loss = row_loss.data_ptr<float>();
  a.labels = has_labels ? labels.data_ptr<int64_t>() : nullptr;
  a.n_valid = n.data_ptr<int64_t>();
  a.rows = student_logits.size(0);
  a.cols = student_logits.size(1);
  a.inv_temperature = static_cast<float>(1.0 / temperature);
  a.beta = static_cast<float>(beta);
  a.mode = jsd_mode_of(beta);
  a.ignore_index = ignore_index;
  a.write_grad = compute_grad;
  cuda::check_launch(cuda::fused_linear_jsd_chunk(a, at::cuda::getCurrentCUDAStream()), op);
}

std::tuple<at::Tensor, at::Tensor> fused_linear_jsd_backward_cuda(const at::Tensor& grad_out,
                                                                   const c10::optional<at::Tensor>& grad_input,
                                                                   const c10::optional<at::Tensor>& grad_weight) {
  constexpr const char* op = "liger::fused_linear_jsd_backward";
  auto scaled = [&](const c10::optional<at::Tensor>& t) {
    return t && t->defined() ? cuda::scaled_by_upstream(*t, grad_out, op) : at::Tensor();
  };
  return {scaled(grad_input), scaled(grad_weight)};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("fused_linear_jsd_chunk", TORCH_FN(fused_linear_jsd_chunk_cuda));
  m.impl("fused_linear_jsd_backward", TORCH_FN(fused_linear_jsd_backward_cuda));
}

}  // namespace liger
