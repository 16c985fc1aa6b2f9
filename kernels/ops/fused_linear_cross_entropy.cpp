// Fused linear cross entropy: schemas, the chunked loop (device-agnostic: ATen GEMMs and the
// cross-entropy row operator, registered for CPU and CUDA), the autograd function, the C++ API.
#include "liger/fused_linear_cross_entropy.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "chunked_fused_linear.h"
#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"
#include "cross_entropy_checks.h"
#include "deferred_target_check.h"
#include "fused_linear_autocast.h"

namespace liger {
namespace {

using Outputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;
using ForwardOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

constexpr const char* kOp = "liger::fused_linear_cross_entropy";

// Chunk logits budget. The GEMM dW += dlogits^T @ X_chunk reads and writes all of dW (V x H: 1 GiB
// in bf16 for Llama-3-8B) once per chunk with K = chunk rows; Liger's 256-row chunks make that
// traffic (64 GiB over BT 8192) dominate, while 2048 rows (512 MiB of bf16 logits at V 128256)
// make each GEMM compute-bound (2.2 TFLOP per 2 GiB of dW traffic) and keep the whole step under
// 2 GB: dW 1 GiB + logits 512 MiB + dX.
constexpr int64_t kLogitsBudgetBytes = int64_t{512} << 20;

void check_inputs(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                  const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight) {
  TORCH_CHECK(input.dim() == 2, kOp, ": input must be 2-D (BT, H), got ", input.dim(), " dims");
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == input.size(1), kOp,
              ": weight must be (V, H) with H = ", input.size(1), " (the input's last dim), got ", weight.sizes());
  TORCH_CHECK(weight.size(0) > 0 && input.size(1) > 0, kOp, ": V and H must be positive, got weight ", weight.sizes());
  TORCH_CHECK(at::isFloatingType(input.scalar_type()) && at::isFloatingType(weight.scalar_type()), kOp,
              ": input and weight must be floating point, got ", input.scalar_type(), " and ", weight.scalar_type());
  TORCH_CHECK(weight.device() == input.device(), kOp, ": weight is on ", weight.device(), " but input is on ",
              input.device());
  detail::check_ce_target(target, input.size(0), input.device(), kOp);
  if (bias && bias->defined()) {
    TORCH_CHECK(bias->dim() == 1 && bias->size(0) == weight.size(0), kOp, ": bias must have shape (", weight.size(0),
                ",), got ", bias->sizes());
    TORCH_CHECK(at::isFloatingType(bias->scalar_type()), kOp, ": bias must be floating point, got ",
                bias->scalar_type());
    TORCH_CHECK(bias->device() == input.device(), kOp, ": bias is on ", bias->device(), " but input is on ",
                input.device());
  }
  detail::check_class_weight(ce_weight, weight.size(0), input.device(), kOp);
}

ForwardOutputs flce_forward_impl(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                 const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                                 int64_t ignore_index, double lse_square_scale, double label_smoothing,
                                 c10::string_view reduction, c10::optional<double> softcap, bool return_z_loss,
                                 c10::optional<at::ScalarType> accum_dtype, bool use_token_scaling,
                                 bool return_token_accuracy, bool return_predicted_tokens, int64_t chunk_size,
                                 std::array<bool, 3> grad_mask, const c10::optional<at::Tensor>& grad_output) {
  check_inputs(input, weight, target, bias, ce_weight);
  detail::check_ce_options(label_smoothing, softcap, kOp);
  detail::check_ce_reduction(reduction, kOp);
  const int64_t bt = input.size(0), hidden = input.size(1), vocab = weight.size(0);
  detail::check_grad_scale(grad_output, bt, input.device(), kOp);

  // Normalisers of the whole batch (N, W_sum), so every chunk divides as the unchunked loss would.
  // The targets' check waits until every chunk is queued: a host sync here would leave the GPU
  // idle while the host prepares the first GEMM (0.3 ms measured on the H200).
  const at::Tensor stats = cross_entropy_target_stats(target, ce_weight, ignore_index, vocab, /*defer_check=*/true);
  const detail::DeferredTargetCheck target_check(stats, target, vocab, ignore_index, kOp);
  const auto opts = input.options();
  const auto row_dtype = detail::ce_row_dtype(input.scalar_type());
  at::Tensor loss_rows = at::empty({bt}, opts.dtype(row_dtype));
  at::Tensor z_rows = return_z_loss ? at::empty({bt}, opts.dtype(row_dtype)) : at::Tensor();
  at::Tensor acc_rows = return_token_accuracy ? at::empty({bt}, opts.dtype(at::kFloat)) : at::Tensor();
  at::Tensor predicted = return_predicted_tokens ? at::empty({bt}, opts.dtype(at::kLong)) : at::Tensor();
  // The per-row upstream gradient in the row kernel's precision (float64 for float64 input).
  const at::Tensor row_grad =
      grad_output && grad_output->defined() ? grad_output->to(row_dtype) : at::Tensor();
  const std::string red(reduction);

  // Per chunk the cross-entropy row operator writes the rows' loss (and the optional outputs) and,
  // with a gradient wanted, d loss / d logits over the logits; the skeleton does the GEMMs.
  auto loss_fn = [&](const detail::Chunk& chunk, at::Tensor& logits, bool compute_grad) {
    const int64_t start = chunk[0].start, rows = chunk[0].rows;
    auto [loss, z, acc, pred] = cross_entropy_forward(
        logits, target.narrow(0, start, rows), ce_weight, stats, ignore_index, lse_square_scale, label_smoothing, red,
        softcap, compute_grad, use_token_scaling,
        row_grad.defined() ? c10::optional<at::Tensor>(row_grad.narrow(0, start, rows)) : c10::nullopt, return_z_loss,
        return_token_accuracy, return_predicted_tokens);
    loss_rows.narrow(0, start, rows).copy_(loss);
    if (return_z_loss) z_rows.narrow(0, start, rows).copy_(z);
    if (return_token_accuracy) acc_rows.narrow(0, start, rows).copy_(acc);
    if (return_predicted_tokens) predicted.narrow(0, start, rows).copy_(pred);
    return at::Tensor();  // the rows' losses are reduced below, once
  };
  const int64_t chunk = fused_linear_cross_entropy_chunk_rows(bt, hidden, vocab, input.element_size(), chunk_size);
  detail::FusedLinearArgs args{input, weight, bias, grad_mask, accum_dtype};
  const detail::FusedLinearGrads grads =
      detail::chunked_fused_linear(args, detail::consecutive_chunks(bt, chunk), loss_fn).grads;

  target_check.finish();
  const bool per_row = reduction == "none";
  at::Tensor loss = per_row ? loss_rows : loss_rows.sum();
  at::Tensor z_loss;
  if (return_z_loss) {  // Liger keeps the per-row z-loss in the input dtype
    z_loss = z_rows.to(input.scalar_type());
    if (!per_row) z_loss = z_loss.sum();
  }
  at::Tensor accuracy;
  if (return_token_accuracy) accuracy = per_row ? acc_rows : acc_rows.sum() / stats[kCeNonIgnored].to(at::kFloat);
  return {loss, z_loss, accuracy, predicted, grads.grad_input, grads.grad_weight, grads.grad_bias};
}

at::Tensor or_placeholder(const at::Tensor& t, const at::Tensor& like) {
  return t.defined() ? t : at::empty({0}, like.options().dtype(at::kFloat));
}

c10::optional<at::Tensor> opt(const at::Tensor& t) { return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt; }

class FusedLinearCrossEntropyFunction : public torch::autograd::Function<FusedLinearCrossEntropyFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                               const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                               const c10::optional<at::Tensor>& ce_weight, int64_t ignore_index,
                               double lse_square_scale, double label_smoothing, c10::string_view reduction,
                               c10::optional<double> softcap, bool return_z_loss,
                               c10::optional<at::ScalarType> accum_dtype, bool use_token_scaling,
                               bool return_token_accuracy, bool return_predicted_tokens, int64_t chunk_size,
                               bool want_dx, bool want_dw, bool want_db) {
    at::AutoDispatchBelowADInplaceOrView guard;
    // reduction "none": the per-token upstream gradient must reach dlogits before the GEMMs sum
    // over tokens, so the gradients are computed in backward.
    const bool deferred = reduction == "none";
    const std::array<bool, 3> mask =
        deferred ? std::array<bool, 3>{false, false, false} : std::array<bool, 3>{want_dx, want_dw, want_db};
    auto [loss, z_loss, accuracy, predicted, dx, dw, db] =
        flce_forward_impl(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing,
                          reduction, softcap, return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy,
                          return_predicted_tokens, chunk_size, mask, c10::nullopt);
    ctx->saved_data["deferred"] = deferred;
    if (deferred) {
      ctx->save_for_backward({input, weight, target, bias.value_or(at::Tensor()), ce_weight.value_or(at::Tensor())});
      ctx->saved_data["ignore_index"] = ignore_index;
      ctx->saved_data["lse_square_scale"] = lse_square_scale;
      ctx->saved_data["label_smoothing"] = label_smoothing;
      ctx->saved_data["softcap"] = softcap ? c10::IValue(*softcap) : c10::IValue();
      ctx->saved_data["accum_dtype"] = accum_dtype ? c10::IValue(static_cast<int64_t>(*accum_dtype)) : c10::IValue();
      ctx->saved_data["use_token_scaling"] = use_token_scaling;
      ctx->saved_data["chunk_size"] = chunk_size;
      ctx->saved_data["want_dx"] = want_dx;
      ctx->saved_data["want_dw"] = want_dw;
      ctx->saved_data["want_db"] = want_db;
    } else {
      ctx->save_for_backward({dx, dw, db, at::ones({}, input.options().dtype(at::kDouble))});
    }
    variable_list outputs = {loss, or_placeholder(z_loss, input), or_placeholder(accuracy, input),
                             or_placeholder(predicted, input)};
    ctx->mark_non_differentiable({outputs[1], outputs[2], outputs[3]});
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list grads(19);
    const at::Tensor& g = grad_outputs[0];
    if (!g.defined()) return grads;
    const auto saved = ctx->get_saved_variables();
    at::AutoDispatchBelowADInplaceOrView guard;
    if (ctx->saved_data["deferred"].toBool()) {
      const c10::IValue& softcap = ctx->saved_data["softcap"];
      const c10::IValue& accum = ctx->saved_data["accum_dtype"];
      auto out = flce_forward_impl(
          saved[0], saved[1], saved[2], opt(saved[3]), opt(saved[4]), ctx->saved_data["ignore_index"].toInt(),
          ctx->saved_data["lse_square_scale"].toDouble(), ctx->saved_data["label_smoothing"].toDouble(), "none",
          softcap.isNone() ? c10::nullopt : c10::optional<double>(softcap.toDouble()), false,
          accum.isNone() ? c10::nullopt : c10::optional<at::ScalarType>(static_cast<at::ScalarType>(accum.toInt())),
          ctx->saved_data["use_token_scaling"].toBool(), false, false, ctx->saved_data["chunk_size"].toInt(),
          {ctx->saved_data["want_dx"].toBool(), ctx->saved_data["want_dw"].toBool(),
           ctx->saved_data["want_db"].toBool()},
          g);
      grads[0] = std::get<4>(out);
      grads[1] = std::get<5>(out);
      grads[3] = std::get<6>(out);
    } else {
      at::Tensor applied_scale = saved[3];
      std::vector<at::Tensor> stored;
      for (int i = 0; i < 3; ++i)
        if (saved[i].defined()) stored.push_back(saved[i]);
      rescale_stored_grads_(stored, g, applied_scale);
      grads[0] = saved[0];
      grads[1] = saved[1];
      grads[3] = saved[2];
    }
    return grads;
  }
};

Outputs flce_autograd(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                      const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                      int64_t ignore_index, double lse_square_scale, double label_smoothing, c10::string_view reduction,
                      c10::optional<double> softcap, bool return_z_loss, c10::optional<at::ScalarType> accum_dtype,
                      bool use_token_scaling, bool return_token_accuracy, bool return_predicted_tokens,
                      int64_t chunk_size) {
  // Each tensor's own flag decides its gradient (Liger's mean/sum path looks at input's only).
  const bool grad_mode = at::GradMode::is_enabled();
  const bool want_dx = grad_mode && input.requires_grad();
  const bool want_dw = grad_mode && weight.requires_grad();
  const bool want_db = grad_mode && bias && bias->defined() && bias->requires_grad();
  if (!(want_dx || want_dw || want_db)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto out =
        flce_forward_impl(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing,
                          reduction, softcap, return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy,
                          return_predicted_tokens, chunk_size, {false, false, false}, c10::nullopt);
    return {std::get<0>(out), std::get<1>(out), std::get<2>(out), std::get<3>(out)};
  }
  auto out = FusedLinearCrossEntropyFunction::apply(
      input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
      return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy, return_predicted_tokens, chunk_size,
      want_dx, want_dw, want_db);
  return {out[0], return_z_loss ? out[1] : at::Tensor(), return_token_accuracy ? out[2] : at::Tensor(),
          return_predicted_tokens ? out[3] : at::Tensor()};
}

Outputs flce_no_grad(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                     const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                     int64_t ignore_index, double lse_square_scale, double label_smoothing, c10::string_view reduction,
                     c10::optional<double> softcap, bool return_z_loss, c10::optional<at::ScalarType> accum_dtype,
                     bool use_token_scaling, bool return_token_accuracy, bool return_predicted_tokens,
                     int64_t chunk_size) {
  auto out = flce_forward_impl(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing,
                               reduction, softcap, return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy,
                               return_predicted_tokens, chunk_size, {false, false, false}, c10::nullopt);
  return {std::get<0>(out), std::get<1>(out), std::get<2>(out), std::get<3>(out)};
}

// torch.autocast on: an fp32 input in autocast's dtype; weight, bias and class weights as they are.
Outputs flce_autocast(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                      const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                      int64_t ignore_index, double lse_square_scale, double label_smoothing, c10::string_view reduction,
                      c10::optional<double> softcap, bool return_z_loss, c10::optional<at::ScalarType> accum_dtype,
                      bool use_token_scaling, bool return_token_accuracy, bool return_predicted_tokens,
                      int64_t chunk_size) {
  const at::Tensor x = detail::autocast_activation(input);
  const detail::BelowAutocast below;
  return fused_linear_cross_entropy(x, weight, target, bias, ce_weight, ignore_index, lse_square_scale,
                                    label_smoothing, std::string(reduction), softcap, return_z_loss, accum_dtype,
                                    use_token_scaling, return_token_accuracy, return_predicted_tokens, chunk_size);
}

// Below autograd: ATen compositions, the same on every device.
void impl_below_autograd(torch::Library& m) {
  m.impl("fused_linear_cross_entropy", TORCH_FN(flce_no_grad));
  m.impl("fused_linear_cross_entropy_forward", TORCH_FN(flce_forward_impl));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def(
      "fused_linear_cross_entropy(Tensor input, Tensor weight, Tensor target, Tensor? bias=None, "
      "Tensor? ce_weight=None, int ignore_index=-100, float lse_square_scale=0.0, float label_smoothing=0.0, "
      "str reduction=\"mean\", float? softcap=None, bool return_z_loss=False, ScalarType? accum_dtype=None, "
      "bool use_token_scaling=False, bool return_token_accuracy=False, bool return_predicted_tokens=False, "
      "int chunk_size=0) -> (Tensor loss, Tensor z_loss, Tensor token_accuracy, Tensor predicted_tokens)");
  m.def(
      "fused_linear_cross_entropy_forward(Tensor input, Tensor weight, Tensor target, Tensor? bias, "
      "Tensor? ce_weight, int ignore_index, float lse_square_scale, float label_smoothing, str reduction, "
      "float? softcap, bool return_z_loss, ScalarType? accum_dtype, bool use_token_scaling, "
      "bool return_token_accuracy, bool return_predicted_tokens, int chunk_size, bool[3] grad_mask, "
      "Tensor? grad_output) -> (Tensor loss, Tensor z_loss, Tensor token_accuracy, Tensor predicted_tokens, "
      "Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) { m.impl("fused_linear_cross_entropy", TORCH_FN(flce_autograd)); }
TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { m.impl("fused_linear_cross_entropy", TORCH_FN(flce_autocast)); }
TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { m.impl("fused_linear_cross_entropy", TORCH_FN(flce_autocast)); }
LIGER_IMPL_CPU_AND_CUDA(impl_below_autograd)

int64_t fused_linear_cross_entropy_chunk_rows(int64_t bt, int64_t hidden, int64_t vocab, int64_t logits_element_size,
                                              int64_t requested) {
  if (bt <= 0) return 1;
  if (requested > 0) return std::min(requested, bt);
  const int64_t liger_rows = detail::liger_chunk_rows(bt, vocab, hidden);
  int64_t budget_rows = 1;
  while (budget_rows * 2 * vocab * logits_element_size <= kLogitsBudgetBytes) budget_rows *= 2;
  return std::min(bt, std::max(liger_rows, budget_rows));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fused_linear_cross_entropy(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target, const c10::optional<at::Tensor>& bias,
    const c10::optional<at::Tensor>& ce_weight, int64_t ignore_index, double lse_square_scale, double label_smoothing,
    const std::string& reduction, c10::optional<double> softcap, bool return_z_loss,
    c10::optional<at::ScalarType> accum_dtype, bool use_token_scaling, bool return_token_accuracy,
    bool return_predicted_tokens, int64_t chunk_size) {
  static const auto op = detail::typed_op<decltype(flce_autograd)>("liger::fused_linear_cross_entropy");
  return op.call(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing, reduction,
                 softcap, return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy, return_predicted_tokens,
                 chunk_size);
}

CrossEntropyOutput liger_fused_linear_cross_entropy(const at::Tensor& input, const at::Tensor& weight,
                                                    const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                                    const c10::optional<at::Tensor>& ce_weight, int64_t ignore_index,
                                                    double lse_square_scale, double label_smoothing,
                                                    const std::string& reduction, c10::optional<double> softcap,
                                                    bool return_z_loss, c10::optional<at::ScalarType> accum_dtype,
                                                    bool use_token_scaling, bool return_token_accuracy,
                                                    bool return_predicted_tokens, int64_t chunk_size) {
  auto [loss, z_loss, accuracy, predicted] = fused_linear_cross_entropy(
      input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing, reduction, softcap,
      return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy, return_predicted_tokens, chunk_size);
  return {loss, z_loss, accuracy, predicted};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
fused_linear_cross_entropy_forward(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                   const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                                   int64_t ignore_index, double lse_square_scale, double label_smoothing,
                                   const std::string& reduction, c10::optional<double> softcap, bool return_z_loss,
                                   c10::optional<at::ScalarType> accum_dtype, bool use_token_scaling,
                                   bool return_token_accuracy, bool return_predicted_tokens, int64_t chunk_size,
                                   std::array<bool, 3> grad_mask, const c10::optional<at::Tensor>& grad_output) {
  static const auto op = detail::typed_op<decltype(flce_forward_impl)>("liger::fused_linear_cross_entropy_forward");
  return op.call(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale, label_smoothing, reduction,
                 softcap, return_z_loss, accum_dtype, use_token_scaling, return_token_accuracy, return_predicted_tokens,
                 chunk_size, grad_mask, grad_output);
}

}  // namespace liger
