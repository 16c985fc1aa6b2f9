// Multi-token attention (KERNELS.md section 8): schema, autograd function, the device-agnostic
// forward/backward (ATen convolutions around the liger row operators) and the C++ functional API.
// Row kernels (causal mask + softmax/sparsemax and their backward): ops/cpu/mta_probs_kernel.cpp
// and ops/cuda/multi_token_attention_cuda.cpp.
//
// Memory: the forward keeps only the probabilities P (for the backward) and the output; the
// masks are never materialised (the row kernels take j <= i from the row index, the output mask
// is an in-place tril), and the backward writes the score gradient into dP's own buffer. Every
// row kernel streams one row of L at a time, so there is no limit on L but memory.
#include "liger/multi_token_attention.h"

#include <ATen/Context.h>
#include <torch/library.h>

#include "common/autograd_function.h"
#include "common/op_registration.h"
#include "common/typed_op.h"
#include "multi_token_attention_checks.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::multi_token_attention";

// The dtype the convolutions run in: the data's own, except 16-bit data on the CPU, which run in
// fp32 with the results rounded to the data's dtype: the rounding points of cuDNN's
// fp32-accumulating 16-bit kernels, so that CPU and CUDA round alike.
at::ScalarType conv_dtype(const at::Tensor& t) {
  const bool half = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return half && t.device().is_cpu() ? at::kFloat : t.scalar_type();
}

std::vector<int64_t> pair(int64_t v) { return {v, v}; }

// fp32 data convolve in fp32 proper: cuDNN's default for fp32 is TF32 (a 10-bit mantissa, about
// 1e-3 relative), which misses section 0's fp32 tolerance by two orders of magnitude. The flag
// is process-wide; it is restored on the way out.
class NoTf32ConvGuard {
 public:
  explicit NoTf32ConvGuard(const at::Tensor& t)
      : active_(t.is_cuda() && t.scalar_type() == at::kFloat), previous_(at::globalContext().allowTF32CuDNN()) {
    if (active_) at::globalContext().setAllowTF32CuDNN(false);
  }
  ~NoTf32ConvGuard() {
    if (active_) at::globalContext().setAllowTF32CuDNN(previous_);
  }
  NoTf32ConvGuard(const NoTf32ConvGuard&) = delete;
  NoTf32ConvGuard& operator=(const NoTf32ConvGuard&) = delete;

 private:
  bool active_;
  bool previous_;
};

std::tuple<at::Tensor, at::Tensor> mta_forward_impl(const at::Tensor& scores, const at::Tensor& weight,
                                                    const c10::optional<at::Tensor>& bias, int64_t stride,
                                                    int64_t padding, int64_t dilation, int64_t groups, bool sparse) {
  detail::check_mta_args(kOp, scores, weight, bias, stride, padding, dilation, groups);
  const at::Tensor probs = multi_token_attention_probs(scores.contiguous(), sparse);
  const at::ScalarType ct = conv_dtype(scores);
  c10::optional<at::Tensor> conv_bias;
  if (bias.has_value() && bias->defined()) conv_bias = bias->to(ct);
  const NoTf32ConvGuard exact_fp32(scores);
  // The weight dense: LibTorch's CPU convolution views it, which a transposed weight refuses.
  at::Tensor out = at::conv2d(probs.to(ct), weight.to(ct).contiguous(), conv_bias, pair(stride), pair(padding), pair(dilation), groups);
  out.tril_();  // the output's own causal grid: j > i set to 0
  return {out.to(scores.scalar_type()), probs};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mta_backward_impl(const at::Tensor& grad_out, const at::Tensor& probs,
                                                                 const at::Tensor& weight, bool has_bias,
                                                                 int64_t stride, int64_t padding, int64_t dilation,
                                                                 int64_t groups, bool sparse,
                                                                 std::array<bool, 3> output_mask) {
  detail::check_mta_args("liger::multi_token_attention_backward", probs, weight, c10::nullopt, stride, padding,
                         dilation, groups);
  TORCH_CHECK(grad_out.defined() && grad_out.dim() == 4 && grad_out.size(0) == probs.size(0) &&
                  grad_out.size(1) == weight.size(0),
              "liger::multi_token_attention_backward: grad_out must be (B, C_out, L', L') = (", probs.size(0), ", ",
              weight.size(0), ", ...), got ", grad_out.defined() ? grad_out.sizes() : at::IntArrayRef{});
  const at::ScalarType ct = conv_dtype(probs);
  at::Tensor g = grad_out.to(ct).tril();  // mask0(dOut): a fresh buffer, the caller's is not touched
  const std::vector<int64_t> bias_sizes = {weight.size(0)};
  const at::OptionalIntArrayRef conv_bias = has_bias ? at::OptionalIntArrayRef(bias_sizes) : at::OptionalIntArrayRef();
  const std::array<bool, 3> mask = {output_mask[0], output_mask[1], output_mask[2] && has_bias};
  const std::vector<int64_t> no_output_padding = {0, 0};
  const NoTf32ConvGuard exact_fp32(probs);
  auto [d_probs, d_weight, d_bias] =
      at::convolution_backward(g, probs.to(ct), weight.to(ct).contiguous(), conv_bias, pair(stride), pair(padding), pair(dilation),
                               /*transposed=*/false, no_output_padding, groups, mask);
  g.reset();
  at::Tensor d_scores;
  if (output_mask[0]) {
    d_probs = d_probs.to(probs.scalar_type()).contiguous();
    d_scores = multi_token_attention_probs_backward_(d_probs, probs, sparse);
  }
  if (d_weight.defined()) d_weight = d_weight.to(weight.scalar_type());
  if (d_bias.defined()) d_bias = d_bias.to(weight.scalar_type());
  return {d_scores, d_weight, d_bias};
}

class MultiTokenAttentionFunction : public torch::autograd::Function<MultiTokenAttentionFunction> {
 public:
  // bias is optional: LibTorch's Function::apply takes no undefined tensor among its inputs.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& scores, const at::Tensor& weight,
                            const c10::optional<at::Tensor>& bias, int64_t stride, int64_t padding, int64_t dilation,
                            int64_t groups, bool sparse) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, probs] = multi_token_attention_forward(scores, weight, bias, stride, padding, dilation, groups, sparse);
    ctx->save_for_backward({probs, weight});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->saved_data["groups"] = groups;
    ctx->saved_data["sparse"] = sparse;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    auto [d_scores, d_weight, d_bias] = multi_token_attention_backward(
        grad_outputs[0], saved[0], saved[1], has_bias, ctx->saved_data["stride"].toInt(),
        ctx->saved_data["padding"].toInt(), ctx->saved_data["dilation"].toInt(), ctx->saved_data["groups"].toInt(),
        ctx->saved_data["sparse"].toBool(),
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), has_bias && ctx->needs_input_grad(2)});
    return {d_scores, d_weight, d_bias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor mta_autograd(const at::Tensor& scores, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                        int64_t stride, int64_t padding, int64_t dilation, int64_t groups, bool sparse) {
  const c10::optional<at::Tensor> b = bias.has_value() && bias->defined() ? bias : c10::nullopt;
  return MultiTokenAttentionFunction::apply(scores, weight, b, stride, padding, dilation, groups, sparse);
}

// Below autograd (inference, or a caller that dispatches past it): just the forward.
at::Tensor mta_no_grad(const at::Tensor& scores, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                       int64_t stride, int64_t padding, int64_t dilation, int64_t groups, bool sparse) {
  return std::get<0>(mta_forward_impl(scores, weight, bias, stride, padding, dilation, groups, sparse));
}

// Below autograd: ATen compositions, the same on every device.
void impl_below_autograd(torch::Library& m) {
  m.impl("multi_token_attention", TORCH_FN(mta_no_grad));
  m.impl("multi_token_attention_forward", TORCH_FN(mta_forward_impl));
  m.impl("multi_token_attention_backward", TORCH_FN(mta_backward_impl));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def(
      "multi_token_attention(Tensor scores, Tensor weight, Tensor? bias=None, int stride=1, int padding=0, "
      "int dilation=1, int groups=1, bool sparse=False) -> Tensor");
  m.def(
      "multi_token_attention_forward(Tensor scores, Tensor weight, Tensor? bias, int stride, int padding, "
      "int dilation, int groups, bool sparse) -> (Tensor out, Tensor probs)");
  m.def(
      "multi_token_attention_backward(Tensor grad_out, Tensor probs, Tensor weight, bool has_bias, int stride, "
      "int padding, int dilation, int groups, bool sparse, bool[3] output_mask) -> (Tensor grad_scores, "
      "Tensor grad_weight, Tensor grad_bias)");
  m.def("multi_token_attention_probs(Tensor scores, bool sparse) -> Tensor");
  m.def("multi_token_attention_probs_backward_(Tensor(a!) grad_probs, Tensor probs, bool sparse) -> Tensor(a!)");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) { m.impl("multi_token_attention", TORCH_FN(mta_autograd)); }
LIGER_IMPL_CPU_AND_CUDA(impl_below_autograd)

at::Tensor multi_token_attention(const at::Tensor& scores, const at::Tensor& weight,
                                 const c10::optional<at::Tensor>& bias, int64_t stride, int64_t padding,
                                 int64_t dilation, int64_t groups, bool sparse) {
  static const auto op =
      detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, int64_t,
                                  int64_t, int64_t, int64_t, bool)>("liger::multi_token_attention");
  return op.call(scores, weight, bias, stride, padding, dilation, groups, sparse);
}

at::Tensor liger_multi_token_attention(const at::Tensor& scores, const at::Tensor& weight,
                                       const c10::optional<at::Tensor>& bias, int64_t stride, int64_t padding,
                                       int64_t dilation, int64_t groups, bool sparse) {
  return multi_token_attention(scores, weight, bias, stride, padding, dilation, groups, sparse);
}

std::tuple<at::Tensor, at::Tensor> multi_token_attention_forward(const at::Tensor& scores, const at::Tensor& weight,
                                                                 const c10::optional<at::Tensor>& bias, int64_t stride,
                                                                 int64_t padding, int64_t dilation, int64_t groups,
                                                                 bool sparse) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, int64_t, int64_t, int64_t, int64_t,
      bool)>("liger::multi_token_attention_forward");
  return op.call(scores, weight, bias, stride, padding, dilation, groups, sparse);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> multi_token_attention_backward(
    const at::Tensor& grad_out, const at::Tensor& probs, const at::Tensor& weight, bool has_bias, int64_t stride,
    int64_t padding, int64_t dilation, int64_t groups, bool sparse, std::array<bool, 3> output_mask) {
  static const auto op = detail::typed_op<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&, bool, int64_t, int64_t, int64_t, int64_t, bool,
      std::array<bool, 3>)>("liger::multi_token_attention_backward");
  return op.call(grad_out, probs, weight, has_bias, stride, padding, dilation, groups, sparse, output_mask);
}

at::Tensor multi_token_attention_probs(const at::Tensor& scores, bool sparse) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, bool)>("liger::multi_token_attention_probs");
  return op.call(scores, sparse);
}

at::Tensor& multi_token_attention_probs_backward_(at::Tensor& grad_probs, const at::Tensor& probs, bool sparse) {
  static const auto op = detail::typed_op<at::Tensor&(at::Tensor&, const at::Tensor&, bool)>(
      "liger::multi_token_attention_probs_backward_");
  return op.call(grad_probs, probs, sparse);
}

}  // namespace liger
