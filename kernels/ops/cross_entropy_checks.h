#pragma once
// Argument checks and option parsing shared by the cross-entropy CPU and CUDA bindings and by the
// fused linear cross entropy.
#include <ATen/ATen.h>

#include <string>
#include <tuple>

#include "common/cross_entropy_params.h"

namespace liger::detail {

inline void check_ce_reduction(c10::string_view reduction, const char* op) {
  TORCH_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", op,
              ": reduction must be 'mean', 'sum' or 'none', got '", std::string(reduction), "'");
}

// Liger's module asserts: 0 <= label_smoothing <= 1, softcap None or > 0.
inline void check_ce_options(double label_smoothing, c10::optional<double> softcap, const char* op) {
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
              ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  TORCH_CHECK(!softcap || *softcap > 0.0, op, ": softcap must be None or a positive number, got ",
              softcap ? *softcap : 0.0);
}

inline CrossEntropyRowOptions ce_row_options(int64_t ignore_index, double lse_square_scale, double label_smoothing,
                                             c10::string_view reduction, c10::optional<double> softcap,
                                             bool compute_grad, bool token_scaling, const char* op) {
  check_ce_options(label_smoothing, softcap, op);
  CrossEntropyRowOptions o;
  o.ignore_index = ignore_index;
  o.lse_square_scale = lse_square_scale;
  o.label_smoothing = label_smoothing;
  o.softcap = softcap ? *softcap : 0.0;
  check_ce_reduction(reduction, op);
  o.mean = reduction == "mean";
  o.compute_grad = compute_grad;
  o.token_scaling = token_scaling;
  return o;
}

inline void check_ce_target(const at::Tensor& target, int64_t rows, const at::Device& device, const char* op) {
  TORCH_CHECK(target.dim() == 1 && target.size(0) == rows, op, ": target must have shape (", rows,
              ",) to match the input's rows, got ", target.sizes());
  TORCH_CHECK(target.scalar_type() == at::kLong || target.scalar_type() == at::kInt, op,
              ": target must hold int64 (or int32) class indices, got ", target.scalar_type());
  TORCH_CHECK(target.device() == device, op, ": target is on ", target.device(), " but input is on ", device);
}

inline void check_class_weight(const c10::optional<at::Tensor>& weight, int64_t classes, const at::Device& device,
                               const char* op) {
  if (!weight || !weight->defined()) return;
  TORCH_CHECK(weight->dim() == 1 && weight->size(0) == classes, op, ": class weight must have shape (", classes,
              ",) (one per class), got ", weight->sizes());
  TORCH_CHECK(at::isFloatingType(weight->scalar_type()), op, ": class weight must be floating point, got ",
              weight->scalar_type());
  TORCH_CHECK(weight->device() == device, op, ": class weight is on ", weight->device(), " but input is on ", device);
}

inline void check_ce_input(const at::Tensor& input, const char* op) {
  TORCH_CHECK(input.dim() == 2, op, ": input must be 2-D (BT, V) logits, got ", input.dim(), " dims");
  TORCH_CHECK(at::isFloatingType(input.scalar_type()), op, ": input must be floating point, got ", input.scalar_type());
}

inline void check_ce_stats(const at::Tensor& stats, const at::Device& device, const char* op) {
  TORCH_CHECK(stats.dim() == 1 && stats.size(0) == kCeNumStats && stats.scalar_type() == at::kDouble &&
                  stats.device() == device,
              op,
              ": stats must be the float64 (", kCeNumStats, ",) tensor from liger::cross_entropy_target_stats on the input's device");
}

inline void check_grad_scale(const c10::optional<at::Tensor>& grad_scale, int64_t rows, const at::Device& device,
                             const char* op) {
  if (!grad_scale || !grad_scale->defined()) return;
  TORCH_CHECK(grad_scale->dim() == 1 && grad_scale->size(0) == rows && grad_scale->device() == device, op,
              ": grad_scale must be a (", rows, ",) tensor on ", device, ", got ", grad_scale->sizes(), " on ",
              grad_scale->device());
}

// The message for a target outside [0, classes) that is not ignore_index.
inline std::string bad_target_message(const char* op, int64_t row, int64_t value, int64_t classes,
                                      int64_t ignore_index) {
  return std::string(op) + ": target[" + std::to_string(row) + "] = " + std::to_string(value) +
         " is not a class index in [0, " + std::to_string(classes) + ") and not ignore_index (" +
         std::to_string(ignore_index) + ")";
}

// Every check of the row operator cross_entropy_forward (CPU and CUDA alike), then its options.
inline CrossEntropyRowOptions check_ce_forward(const at::Tensor& input, const at::Tensor& target,
                                               const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
                                               const c10::optional<at::Tensor>& grad_scale, int64_t ignore_index,
                                               double lse_square_scale, double label_smoothing,
                                               c10::string_view reduction, c10::optional<double> softcap,
                                               bool compute_grad, bool use_token_scaling, const char* op) {
  check_ce_input(input, op);
  const int64_t rows = input.size(0), cols = input.size(1);
  check_ce_target(target, rows, input.device(), op);
  check_class_weight(weight, cols, input.device(), op);
  check_ce_stats(stats, input.device(), op);
  check_grad_scale(grad_scale, rows, input.device(), op);
  return ce_row_options(ignore_index, lse_square_scale, label_smoothing, reduction, softcap, compute_grad,
                        use_token_scaling, op);
}

// Per-row loss dtype of the row kernel: float32, or float64 for float64 input.
inline at::ScalarType ce_row_dtype(at::ScalarType input) { return input == at::kDouble ? at::kDouble : at::kFloat; }

// cross_entropy_forward's outputs: (loss, z_loss, token accuracy, predicted tokens), the last three
// undefined unless asked for.
using CeForwardOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
struct CeOptionalOutputs {
  bool z_loss = false, token_accuracy = false, predicted_tokens = false;
};

// A backend's row loop of cross_entropy_forward, on arguments check_ce_forward passed.
using CeForwardRows = CeForwardOutputs(at::Tensor& input, const at::Tensor& target,
                                       const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
                                       const c10::optional<at::Tensor>& grad_scale, const CrossEntropyRowOptions& o,
                                       CeOptionalOutputs outputs);

// The kernel of the row operator cross_entropy_forward for one backend: every check (CPU and CUDA
// alike), then the backend's `Rows`.
template <CeForwardRows* Rows>
CeForwardOutputs ce_forward_kernel(at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                                   const at::Tensor& stats, int64_t ignore_index, double lse_square_scale,
                                   double label_smoothing, c10::string_view reduction, c10::optional<double> softcap,
                                   bool compute_grad, bool use_token_scaling,
                                   const c10::optional<at::Tensor>& grad_scale, bool return_z_loss,
                                   bool return_token_accuracy, bool return_predicted_tokens) {
  const CrossEntropyRowOptions o =
      check_ce_forward(input, target, weight, stats, grad_scale, ignore_index, lse_square_scale, label_smoothing,
                       reduction, softcap, compute_grad, use_token_scaling, "liger::cross_entropy");
  return Rows(input, target, weight, stats, grad_scale, o,
              {return_z_loss, return_token_accuracy, return_predicted_tokens});
}

}  // namespace liger::detail
