#pragma once
// Fused linear + JSD distillation loss (KERNELS.md section 17): the student's and the teacher's
// lm_head projections and the JSD of their temperature-scaled distributions, chunked over rows
// so that neither the (BT, V) logits nor their gradient is ever materialised.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <tuple>

namespace liger {

// Differentiable fused linear JSD. student_input (BT, H_s), student_weight (V, H_s),
// teacher_input (BT, H_t), teacher_weight (V, H_t), all of one dtype; shift_labels (BT,) int64
// or none. Loss = JSD(log_softmax(x_t W_t^T / T) || log_softmax(x_s W_s^T / T)) as liger::jsd
// defines it (jsd_beta, ignore_index), not multiplied by T^2; a float32 scalar (float64 for
// float64 inputs). Gradients flow to student_input and student_weight only; grad_weight is
// accumulated over chunks in accum_dtype (default: the weight's dtype) and returned in the
// weight's dtype. Defaults as Liger's LigerFusedLinearJSD.
at::Tensor fused_linear_jsd(const at::Tensor& student_input, const at::Tensor& student_weight,
                            const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                            const c10::optional<at::Tensor>& shift_labels = c10::nullopt, double jsd_beta = 0.5,
                            int64_t ignore_index = -100, double temperature = 1.0,
                            c10::optional<at::ScalarType> accum_dtype = c10::nullopt);

// Forward: (loss, grad_input, grad_weight), the gradients computed in the same pass (undefined
// when input_grad / weight_grad is false).
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_linear_jsd_forward(
    const at::Tensor& student_input, const at::Tensor& student_weight, const at::Tensor& teacher_input,
    const at::Tensor& teacher_weight, const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
    int64_t ignore_index, double temperature, c10::optional<at::ScalarType> accum_dtype, bool input_grad,
    bool weight_grad);

// Backward: the stored gradients scaled by the upstream scalar gradient.
std::tuple<at::Tensor, at::Tensor> fused_linear_jsd_backward(const at::Tensor& grad_out,
                                                             const c10::optional<at::Tensor>& grad_input,
                                                             const c10::optional<at::Tensor>& grad_weight);

// One chunk of rows: given their student and teacher logits (rows, V), writes each row's loss
// (already divided by n = *n_valid) into row_loss and overwrites student_logits with
// d loss / d student_logits. Rows whose label is ignore_index get loss 0 and gradient 0.
// Without compute_grad, the row losses only: student_logits is left as it is.
void fused_linear_jsd_chunk(at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            const c10::optional<at::Tensor>& shift_labels, const at::Tensor& n_valid,
                            at::Tensor& row_loss, double beta, int64_t ignore_index, double temperature,
                            bool compute_grad = true);

}  // namespace liger
