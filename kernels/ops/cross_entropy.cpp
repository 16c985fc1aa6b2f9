// Cross entropy operators: schemas, the autograd function and the C++ API.
// CPU kernels: ops/cpu/cross_entropy_kernel.cpp; CUDA: ops/cuda/cross_entropy_cuda.cpp.
//
// Aliasing, stated in the schemas: `cross_entropy` and `cross_entropy_forward` take `Tensor(a!)
// input`. When the gradient is wanted, the row kernel overwrites the logits with d(loss)/d(logits)
// (Liger's memory trick: a training step holds one (BT, V) buffer, never logits and gradient both).
// The autograd function saves that buffer; its backward rescales it in place by the upstream
// gradient and returns it, so the gradient handed to autograd aliases the caller's logits storage.
#include "liger/cross_entropy.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"
#include "cross_entropy_checks.h"
#include "deferred_target_check.h"

namespace liger {
namespace {

using Outputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

constexpr const char* kOp = "liger::cross_entropy";

// The whole loss: batch statistics (and the target check), the row kernel, Liger's reductions.
Outputs cross_entropy_impl(at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                           int64_t ignore_index, double lse_square_scale, double label_smoothing,
                           c10::string_view reduction, c10::optional<double> softcap, bool compute_grad,
                           bool return_z_loss, bool return_token_accuracy, bool return_predicted_tokens) {
  detail::check_ce_input(input, kOp);
  detail::check_ce_options(label_smoothing, softcap, kOp);
  detail::check_ce_reduction(reduction, kOp);
  const bool per_row = reduction == "none";
  const at::Tensor stats = cross_entropy_target_stats(target, weight, ignore_index, input.size(1), /*defer_check=*/true);
  const detail::DeferredTargetCheck target_check(stats, target, input.size(1), ignore_index, kOp);
  auto [loss_rows, z_rows, acc_rows, pred] =
      cross_entropy_forward(input, target, weight, stats, ignore_index, lse_square_scale, label_smoothing,
                            std::string(reduction), softcap, compute_grad, /*use_token_scaling=*/false, c10::nullopt,
                            return_z_loss, return_token_accuracy, return_predicted_tokens);
  target_check.finish();
  // Liger stores each row's loss in the input dtype, then sums (accumulating in fp32).
  const at::ScalarType dt = input.scalar_type();
  at::Tensor loss = loss_rows.to(dt);
  if (!per_row) loss = loss.sum();
  at::Tensor z_loss;
  if (return_z_loss) {
    z_loss = z_rows.to(dt);
    if (!per_row) z_loss = z_loss.sum();
  }
  at::Tensor accuracy;
  if (return_token_accuracy)  // NaN when every target is ignored (0 / 0), as Liger
    accuracy = per_row ? acc_rows : acc_rows.sum() / stats[kCeNonIgnored].to(at::kFloat);
  return {loss, z_loss, accuracy, return_predicted_tokens ? pred : at::Tensor()};
}

// Outputs that were not requested leave the autograd function as empty placeholders (it needs
// defined tensors) and are turned back into undefined tensors by cross_entropy_autograd.
at::Tensor or_placeholder(const at::Tensor& t, const at::Tensor& like) {
  return t.defined() ? t : at::empty({0}, like.options().dtype(at::kFloat));
}

class CrossEntropyFunction : public torch::autograd::Function<CrossEntropyFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& target,
                               const c10::optional<at::Tensor>& weight, int64_t ignore_index, double lse_square_scale,
                               double label_smoothing, c10::string_view reduction, c10::optional<double> softcap,
                               bool return_z_loss, bool return_token_accuracy, bool return_predicted_tokens) {
    at::Tensor grad_buffer = input.detach();  // input's storage and version counter
    Outputs out;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      out = cross_entropy_impl(grad_buffer, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction,
                               softcap, /*compute_grad=*/true, return_z_loss, return_token_accuracy,
                               return_predicted_tokens);
    }
    // The logits now hold the gradient: a new version makes autograd reject any other saved use.
    torch::autograd::impl::bump_version(input);
    at::Tensor applied_scale = at::ones({}, input.options().dtype(at::kDouble));
    ctx->save_for_backward({grad_buffer, applied_scale});
    auto& [loss, z_loss, accuracy, predicted] = out;
    variable_list outputs = {loss, or_placeholder(z_loss, input), or_placeholder(accuracy, input),
                             or_placeholder(predicted, input)};
    // z_loss is for logging only (its gradient is discarded, as in Liger); the rest are metrics.
    ctx->mark_non_differentiable({outputs[1], outputs[2], outputs[3]});
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor buffer = saved[0];
    at::Tensor applied_scale = saved[1];
    const at::Tensor& g = grad_outputs[0];
    at::Tensor grad_input;
    if (g.defined()) {
      at::AutoDispatchBelowADInplaceOrView guard;
      if (g.dim() == 0) {
        rescale_stored_grads_({buffer}, g, applied_scale);
        grad_input = buffer;
      } else {  // reduction "none": row i times grad_out[i], a new tensor (Liger's behaviour)
        grad_input = buffer * g.unsqueeze(1).to(buffer.scalar_type());
      }
    }
    variable_list grads(11);
    grads[0] = grad_input;
    return grads;
  }
};

Outputs cross_entropy_autograd(at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                               int64_t ignore_index, double lse_square_scale, double label_smoothing,
                               c10::string_view reduction, c10::optional<double> softcap, bool return_z_loss,
                               bool return_token_accuracy, bool return_predicted_tokens) {
  if (!(at::GradMode::is_enabled() && input.requires_grad())) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return cross_entropy_impl(input, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction,
                              softcap, /*compute_grad=*/false, return_z_loss, return_token_accuracy,
                              return_predicted_tokens);
  }
  auto out =
      CrossEntropyFunction::apply(input, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction,
                                  softcap, return_z_loss, return_token_accuracy, return_predicted_tokens);
  return {out[0], return_z_loss ? out[1] : at::Tensor(), return_token_accuracy ? out[2] : at::Tensor(),
          return_predicted_tokens ? out[3] : at::Tensor()};
}

// Below autograd (inference, or a caller that dispatches past it): the loss only, input untouched.
Outputs cross_entropy_no_grad(at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                              int64_t ignore_index, double lse_square_scale, double label_smoothing,
                              c10::string_view reduction, c10::optional<double> softcap, bool return_z_loss,
                              bool return_token_accuracy, bool return_predicted_tokens) {
  return cross_entropy_impl(input, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
                            /*compute_grad=*/false, return_z_loss, return_token_accuracy, return_predicted_tokens);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  // With input.requires_grad, input is overwritten by d(loss)/d(input) (Liger's memory trick).
  m.def(
      "cross_entropy(Tensor(a!) input, Tensor target, Tensor? weight=None, int ignore_index=-100, "
      "float lse_square_scale=0.0, float label_smoothing=0.0, str reduction=\"mean\", float? softcap=None, "
      "bool return_z_loss=False, bool return_token_accuracy=False, bool return_predicted_tokens=False) "
      "-> (Tensor loss, Tensor z_loss, Tensor token_accuracy, Tensor predicted_tokens)");
  m.def(
      "cross_entropy_target_stats(Tensor target, Tensor? weight, int ignore_index, int num_classes, "
      "bool defer_check=False) -> Tensor");
  // With compute_grad, input is overwritten by the gradient of the summed row losses.
  m.def(
      "cross_entropy_forward(Tensor(a!) input, Tensor target, Tensor? weight, Tensor stats, int ignore_index, "
      "float lse_square_scale, float label_smoothing, str reduction, float? softcap, bool compute_grad, "
      "bool use_token_scaling, Tensor? grad_scale, bool return_z_loss, bool return_token_accuracy, "
      "bool return_predicted_tokens) -> (Tensor loss, Tensor z_loss, Tensor token_accuracy, "
      "Tensor predicted_tokens)");
  m.def("rescale_stored_grads_(Tensor(a!)[] grads, Tensor grad_output, Tensor(b!) applied_scale) -> ()");
}

LIGER_IMPL_AUTOGRAD_AND_NO_GRAD("cross_entropy", cross_entropy_autograd, cross_entropy_no_grad)

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cross_entropy(
    const at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight, int64_t ignore_index,
    double lse_square_scale, double label_smoothing, const std::string& reduction, c10::optional<double> softcap,
    bool return_z_loss, bool return_token_accuracy, bool return_predicted_tokens) {
  static const auto op = detail::typed_op<decltype(cross_entropy_autograd)>("liger::cross_entropy");
  at::Tensor logits = input;  // the op may write the gradient into this storage
  return op.call(logits, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
                 return_z_loss, return_token_accuracy, return_predicted_tokens);
}

CrossEntropyOutput liger_cross_entropy(const at::Tensor& input, const at::Tensor& target,
                                       const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                                       const std::string& reduction, double label_smoothing, double lse_square_scale,
                                       c10::optional<double> softcap, bool return_z_loss, bool return_token_accuracy,
                                       bool return_predicted_tokens) {
  auto [loss, z_loss, accuracy, predicted] =
      cross_entropy(input, target, weight, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
                    return_z_loss, return_token_accuracy, return_predicted_tokens);
  return {loss, z_loss, accuracy, predicted};
}

at::Tensor cross_entropy_target_stats(const at::Tensor& target, const c10::optional<at::Tensor>& weight,
                                      int64_t ignore_index, int64_t num_classes, bool defer_check) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const c10::optional<at::Tensor>&, int64_t, int64_t, bool)>(
          "liger::cross_entropy_target_stats");
  return op.call(target, weight, ignore_index, num_classes, defer_check);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward(
    at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
    int64_t ignore_index, double lse_square_scale, double label_smoothing, const std::string& reduction,
    c10::optional<double> softcap, bool compute_grad, bool use_token_scaling,
    const c10::optional<at::Tensor>& grad_scale, bool return_z_loss, bool return_token_accuracy,
    bool return_predicted_tokens) {
  static const auto op =
      detail::typed_op<Outputs(at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, const at::Tensor&,
                               int64_t, double, double, c10::string_view, c10::optional<double>, bool, bool,
                               const c10::optional<at::Tensor>&, bool, bool, bool)>("liger::cross_entropy_forward");
  return op.call(input, target, weight, stats, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
                 compute_grad, use_token_scaling, grad_scale, return_z_loss, return_token_accuracy,
                 return_predicted_tokens);
}

void rescale_stored_grads_(at::TensorList grads, const at::Tensor& grad_output, at::Tensor& applied_scale) {
  static const auto op =
      detail::typed_op<void(at::TensorList, const at::Tensor&, at::Tensor&)>("liger::rescale_stored_grads_");
  op.call(grads, grad_output, applied_scale);
}

}  // namespace liger
