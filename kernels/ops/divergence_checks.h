#pragma once
// Argument checks and option parsing shared by the KL, JSD and fused linear JSD operators
// (their CPU kernels and CUDA bindings), so that every backend rejects the same inputs with the
// same message.
#include <ATen/ATen.h>

#include <string>

#include "common/divergence_math.h"

namespace liger::detail {

inline KlReduction parse_kl_reduction(const std::string& r) {
  if (r == "none") return KlReduction::kNone;
  if (r == "sum") return KlReduction::kSum;
  if (r == "mean") return KlReduction::kMean;
  if (r == "batchmean") return KlReduction::kBatchMean;
  TORCH_CHECK(false, "liger::kl_div: reduction must be 'none', 'sum', 'mean' or 'batchmean', got '", r, "'");
}

// What the reduced loss is divided by (and its gradient multiplied by the inverse of).
inline double kl_divisor(KlReduction r, int64_t rows, int64_t cols) {
  switch (r) {
    case KlReduction::kMean: return static_cast<double>(rows) * static_cast<double>(cols);
    case KlReduction::kBatchMean: return static_cast<double>(rows);
    default: return 1.0;
  }
}

inline void check_floating(const at::Tensor& t, const char* op, const char* arg) {
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", arg, " must be floating point, got ", t.scalar_type());
}

inline void check_same_device(const at::Tensor& t, const at::Tensor& ref, const char* op, const char* arg,
                              const char* ref_arg) {
  TORCH_CHECK(t.device() == ref.device(), op, ": ", arg, " is on ", t.device(), " but ", ref_arg, " is on ",
              ref.device());
}

// y_pred (BT, V) log-probabilities and y_true of the same shape.
inline void check_kl_inputs(const at::Tensor& y_pred, const at::Tensor& y_true) {
  constexpr const char* op = "liger::kl_div";
  TORCH_CHECK(y_pred.dim() == 2, op, ": y_pred must be 2-D (BT, V), got shape ", y_pred.sizes());
  TORCH_CHECK(y_true.sizes() == y_pred.sizes(), op, ": y_true has shape ", y_true.sizes(), " but y_pred has shape ",
              y_pred.sizes());
  check_floating(y_pred, op, "y_pred");
  check_floating(y_true, op, "y_true");
  check_same_device(y_true, y_pred, op, "y_true", "y_pred");
}

// kl_div_backward's arguments: y_true (BT, V), grad_out shaped like the loss, a float grad dtype.
inline void check_kl_backward(const at::Tensor& grad_out, const at::Tensor& y_true, KlReduction red,
                              at::ScalarType grad_dtype) {
  constexpr const char* op = "liger::kl_div_backward";
  TORCH_CHECK(y_true.dim() == 2, op, ": y_true must be 2-D (BT, V), got shape ", y_true.sizes());
  check_floating(y_true, op, "y_true");
  TORCH_CHECK(at::isFloatingType(grad_dtype), op, ": grad_dtype must be floating point, got ", grad_dtype);
  const bool elementwise = red == KlReduction::kNone;
  TORCH_CHECK(elementwise ? grad_out.sizes() == y_true.sizes() : grad_out.numel() == 1, op, ": grad_out has shape ",
              grad_out.sizes(), "; expected ", elementwise ? "y_true's shape for reduction 'none'" : "a scalar");
  check_same_device(grad_out, y_true, op, "grad_out", "y_true");
}

// The upstream gradient as the KL backward kernels read it, in `acc` (float32, or float64 for
// float64 gradients): one value, or (BT, V) values for reduction "none" (second: true). A "none"
// gradient that is one value broadcast (that of loss.sum()) is passed as that value rather
// than materialised.
inline std::pair<at::Tensor, bool> kl_upstream(const at::Tensor& grad_out, KlReduction red, at::ScalarType acc) {
  if (red != KlReduction::kNone) return {grad_out.reshape({}).to(acc), false};
  bool broadcast = grad_out.numel() > 0;
  for (const int64_t s : grad_out.strides()) broadcast = broadcast && s == 0;
  if (broadcast) return {grad_out.as_strided({}, {}).to(acc), false};
  return {grad_out.to(acc).contiguous(), true};
}

// Labels (BT,) int64 on the input's device; only their comparison with ignore_index is used.
inline void check_shift_labels(const c10::optional<at::Tensor>& labels, const at::Tensor& input, const char* op) {
  if (!labels || !labels->defined()) return;
  TORCH_CHECK(labels->dim() == 1 && labels->size(0) == input.size(0), op, ": shift_labels must have shape (",
              input.size(0), ",), got ", labels->sizes());
  TORCH_CHECK(labels->scalar_type() == at::kLong, op, ": shift_labels must be int64, got ", labels->scalar_type());
  check_same_device(*labels, input, op, "shift_labels", "the input");
}

inline void check_beta(double beta, const char* op) {
  TORCH_CHECK(beta >= 0.0 && beta <= 1.0, op, ": beta must be in [0, 1], got ", beta);
}

// log_q (BT, V) student log-probabilities, log_p the teacher's, of the same shape and dtype.
inline void check_jsd_inputs(const at::Tensor& input, const at::Tensor& target,
                             const c10::optional<at::Tensor>& labels, double beta) {
  constexpr const char* op = "liger::jsd";
  TORCH_CHECK(input.dim() == 2, op, ": input must be 2-D (BT, V), got shape ", input.sizes());
  TORCH_CHECK(target.sizes() == input.sizes(), op, ": target has shape ", target.sizes(), " but input has shape ",
              input.sizes());
  check_floating(input, op, "input");
  TORCH_CHECK(target.scalar_type() == input.scalar_type(), op, ": target has dtype ", target.scalar_type(),
              " but input has dtype ", input.scalar_type(), "; they must match");
  check_same_device(target, input, op, "target", "input");
  check_shift_labels(labels, input, op);
  check_beta(beta, op);
}

// The rows a chunk of the fused linear JSD holds and the student/teacher logits that fill them.
inline void check_jsd_chunk(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            const c10::optional<at::Tensor>& labels, const at::Tensor& n_valid,
                            const at::Tensor& row_loss) {
  constexpr const char* op = "liger::fused_linear_jsd_chunk";
  TORCH_CHECK(student_logits.dim() == 2 && student_logits.is_contiguous(), op,
              ": student_logits must be a contiguous 2-D tensor, got shape ", student_logits.sizes());
  TORCH_CHECK(teacher_logits.sizes() == student_logits.sizes(), op, ": teacher_logits has shape ",
              teacher_logits.sizes(), " but student_logits has shape ", student_logits.sizes());
  TORCH_CHECK(teacher_logits.scalar_type() == student_logits.scalar_type(), op, ": teacher_logits has dtype ",
              teacher_logits.scalar_type(), " but student_logits has dtype ", student_logits.scalar_type());
  check_floating(student_logits, op, "student_logits");
  check_same_device(teacher_logits, student_logits, op, "teacher_logits", "student_logits");
  check_shift_labels(labels, student_logits, op);
  TORCH_CHECK(n_valid.numel() == 1 && n_valid.scalar_type() == at::kLong, op,
              ": n_valid must be a one-element int64 tensor, got ", n_valid.sizes(), " ", n_valid.scalar_type());
  check_same_device(n_valid, student_logits, op, "n_valid", "student_logits");
  TORCH_CHECK(row_loss.dim() == 1 && row_loss.size(0) == student_logits.size(0) && row_loss.is_contiguous(), op,
              ": row_loss must be a contiguous (", student_logits.size(0), ",) tensor, got ", row_loss.sizes());
  TORCH_CHECK(row_loss.scalar_type() == (student_logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat), op,
              ": row_loss must be float32 (float64 for float64 logits), got ", row_loss.scalar_type());
  check_same_device(row_loss, student_logits, op, "row_loss", "student_logits");
}

}  // namespace liger::detail
