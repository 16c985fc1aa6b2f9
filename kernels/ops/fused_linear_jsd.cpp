// Fused linear JSD operator: schema, autograd function, the chunked forward (the same code on
// CPU and CUDA: cuBLAS / CPU GEMMs through at::mm, plus the per-chunk JSD kernel, ops
// fused_linear_jsd_chunk in ops/cpu/ and ops/cuda/) and the C++ functional API.
//
// Per chunk of rows: student and teacher logits by GEMM in the input dtype; one fused kernel
// reads both logits rows and writes the rows' losses (already divided by the global n) and
// d loss / d student_logits over the student logits; then dX[chunk] = dlogits @ W_s and
// dW += dlogits^T @ X_s[chunk]. The loss is reduced per row (a (BT,) buffer), never per element.
// n (rows not ignored) stays on the device, so the forward never synchronises with the host.
#include "liger/fused_linear_jsd.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>

#include "chunked_fused_linear.h"
#include "common/autograd_function.h"
#include "common/matmul_into.h"
#include "common/typed_op.h"
#include "divergence_checks.h"
#include "fused_linear_autocast.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::fused_linear_jsd";

// Rows per chunk. Liger's rule (that of FLCE), inc = ceil(V / H), chunk = next_pow2(ceil(BT / inc)),
// keeps a chunk's logits about the size of the input; but each chunk re-reads both (V, H)
// weights and reads + writes all of dW, so small chunks leave the GEMMs bound by that traffic
// (below a few hundred rows on H100). We take the largest of Liger's chunk, kMinChunkRows, and
// the largest power of two <= H / 2, at which the chunk's two logits buffers take as much memory
// as the weight (dW is that large anyway): 2048 rows at H 4096. Only rounding depends on it.
constexpr int64_t kMinChunkRows = 1024;

int64_t jsd_chunk_rows(int64_t bt, int64_t v, int64_t h) {
  const int64_t liger = detail::liger_chunk_rows(bt, v, h);
  int64_t weight_sized = 1;
  while (weight_sized * 2 <= h / 2) weight_sized *= 2;
  return std::max<int64_t>(1, std::min(bt, std::max({liger, kMinChunkRows, weight_sized})));
}

void check_inputs(const at::Tensor& xs, const at::Tensor& ws, const at::Tensor& xt, const at::Tensor& wt,
                  const c10::optional<at::Tensor>& labels, double beta, double temperature,
                  c10::optional<at::ScalarType> accum_dtype) {
  TORCH_CHECK(xs.dim() == 2, kOp, ": student_input must be 2-D (BT, H), got shape ", xs.sizes());
  TORCH_CHECK(ws.dim() == 2 && ws.size(1) == xs.size(1), kOp, ": student_weight must have shape (V, ", xs.size(1),
              "), got ", ws.sizes());
  TORCH_CHECK(xt.dim() == 2 && xt.size(0) == xs.size(0), kOp, ": teacher_input must have shape (", xs.size(0),
              ", H_t), got ", xt.sizes());
  TORCH_CHECK(wt.dim() == 2 && wt.size(0) == ws.size(0) && wt.size(1) == xt.size(1), kOp,
              ": teacher_weight must have shape (", ws.size(0), ", ", xt.size(1), "), got ", wt.sizes());
  // Each weight may differ from its input's dtype (fp32 master weights under autocast): the
  // GEMMs run in the input's dtype (fused_linear_autocast.h).
  for (auto [t, name] : {std::pair{&xs, "student_input"}, std::pair{&ws, "student_weight"},
                         std::pair{&xt, "teacher_input"}, std::pair{&wt, "teacher_weight"}}) {
    detail::check_floating(*t, kOp, name);
    detail::check_same_device(*t, xs, kOp, name, "student_input");
  }
  // The CUDA chunk kernel reads fp32, fp16 and bf16 logits (in the inputs' dtypes); CPU takes fp64 too.
  for (auto [t, name] : {std::pair{&xs, "student_input"}, std::pair{&xt, "teacher_input"}})
    TORCH_CHECK(!t->is_cuda() || t->scalar_type() != at::kDouble, kOp, ": ", name,
                " has dtype Double; the CUDA kernel supports float32, float16 and bfloat16");
  detail::check_shift_labels(labels, xs, kOp);
  detail::check_beta(beta, kOp);
  TORCH_CHECK(temperature != 0.0, kOp, ": temperature must be non-zero");
  TORCH_CHECK(!accum_dtype || at::isFloatingType(*accum_dtype), kOp, ": accum_dtype must be floating point, got ",
              *accum_dtype);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_impl(
    const at::Tensor& student_input, const at::Tensor& student_weight, const at::Tensor& teacher_input,
    const at::Tensor& teacher_weight, const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
    int64_t ignore_index, double temperature, c10::optional<at::ScalarType> accum_dtype, bool input_grad,
    bool weight_grad) {
  check_inputs(student_input, student_weight, teacher_input, teacher_weight, shift_labels, jsd_beta, temperature,
               accum_dtype);
  at::AutoDispatchBelowADInplaceOrView no_graph;  // the GEMMs below are this op's internals
  const at::Tensor xs = student_input.contiguous(), ws = student_weight.contiguous();
  // The teacher's GEMM operand in its input's dtype (the skeleton casts the student's weight).
  const at::Tensor xt = teacher_input.contiguous();
  const at::Tensor wt_mm = detail::gemm_operand(teacher_weight, xt).contiguous();
  const int64_t bt = xs.size(0), h = xs.size(1), v = ws.size(0);
  const bool has_labels = shift_labels && shift_labels->defined();
  const at::Tensor labels = has_labels ? shift_labels->contiguous() : at::Tensor();
  const at::Tensor n_valid =
      has_labels ? labels.ne(ignore_index).sum() : at::full({}, bt, xs.options().dtype(at::kLong));
  const auto loss_dtype = xs.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor row_loss = at::empty({bt}, xs.options().dtype(loss_dtype));

  // Per chunk: the teacher's logits, then one kernel that reads both rows, writes the rows'
  // losses (divided by the global n) and, with a gradient wanted, d loss / d student logits over
  // the student logits; the skeleton does the student GEMMs.
  auto loss_fn = [&](const detail::Chunk& chunk, at::Tensor& logits, bool compute_grad) {
    const int64_t start = chunk[0].start, rows = chunk[0].rows;
    // A teacher of another dtype: its logits in the student's, which the chunk kernel reads both in.
    const at::Tensor teacher_logits = detail::matmul(xt.narrow(0, start, rows), wt_mm.t()).to(logits.scalar_type());
    at::Tensor loss_chunk = row_loss.narrow(0, start, rows);
    const c10::optional<at::Tensor> labels_chunk =
        has_labels ? c10::optional<at::Tensor>(labels.narrow(0, start, rows)) : c10::nullopt;
    fused_linear_jsd_chunk(logits, teacher_logits, labels_chunk, n_valid, loss_chunk, jsd_beta, ignore_index,
                           temperature, compute_grad);
    return at::Tensor();  // the rows' losses are summed below, once
  };
  detail::FusedLinearArgs args{xs, ws, c10::nullopt, {input_grad, weight_grad, false}, accum_dtype};
  const detail::FusedLinearGrads grads =
      detail::chunked_fused_linear(args, detail::consecutive_chunks(bt, jsd_chunk_rows(bt, v, h)), loss_fn).grads;
  return {row_loss.sum(), grads.grad_input, grads.grad_weight};
}

// CPU: the stored gradients times the 0-dim upstream gradient, into new tensors (the saved ones
// stay valid for a retained graph). CUDA: ops/cuda/fused_linear_jsd_cuda.cpp.
std::tuple<at::Tensor, at::Tensor> backward_cpu(const at::Tensor& grad_out, const c10::optional<at::Tensor>& grad_input,
                                                 const c10::optional<at::Tensor>& grad_weight) {
  TORCH_CHECK(grad_out.numel() == 1, "liger::fused_linear_jsd_backward: grad_out must be a scalar, got shape ",
              grad_out.sizes());
  const at::Tensor g = grad_out.reshape({});
  auto scaled = [&](const c10::optional<at::Tensor>& t) {
    return t && t->defined() ? at::mul(*t, g) : at::Tensor();
  };
  return {scaled(grad_input), scaled(grad_weight)};
}

class FusedLinearJsdFunction : public torch::autograd::Function<FusedLinearJsdFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& student_input, const at::Tensor& student_weight,
                            const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                            const c10::optional<at::Tensor>& shift_labels, double jsd_beta, int64_t ignore_index,
                            double temperature, c10::optional<at::ScalarType> accum_dtype) {
    const bool input_grad = student_input.requires_grad(), weight_grad = student_weight.requires_grad();
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [loss, grad_input, grad_weight] =
        fused_linear_jsd_forward(student_input, student_weight, teacher_input, teacher_weight, shift_labels, jsd_beta,
                                 ignore_index, temperature, accum_dtype, input_grad, weight_grad);
    ctx->save_for_backward({grad_input, grad_weight});
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    auto opt = [](const at::Tensor& t) { return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt; };
    auto [grad_input, grad_weight] = fused_linear_jsd_backward(grad_outputs[0], opt(saved[0]), opt(saved[1]));
    return {grad_input,  grad_weight, at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Below autograd: the loss only, without computing gradients nobody asked for.
at::Tensor fused_linear_jsd_no_grad(const at::Tensor& student_input, const at::Tensor& student_weight,
                                    const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                                    const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
                                    int64_t ignore_index, double temperature,
                                    c10::optional<at::ScalarType> accum_dtype) {
  return std::get<0>(fused_linear_jsd_forward(student_input, student_weight, teacher_input, teacher_weight,
                                              shift_labels, jsd_beta, ignore_index, temperature, accum_dtype, false,
                                              false));
}

// Grad mode off (torch.no_grad) or neither student tensor requiring grad: the loss only, as
// below autograd, with no (BT, H) or (V, H) gradient buffer.
at::Tensor fused_linear_jsd_autograd(const at::Tensor& student_input, const at::Tensor& student_weight,
                                     const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                                     const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
                                     int64_t ignore_index, double temperature,
                                     c10::optional<at::ScalarType> accum_dtype) {
  if (!(at::GradMode::is_enabled() && (student_input.requires_grad() || student_weight.requires_grad()))) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return fused_linear_jsd_no_grad(student_input, student_weight, teacher_input, teacher_weight, shift_labels,
                                    jsd_beta, ignore_index, temperature, accum_dtype);
  }
  return FusedLinearJsdFunction::apply(student_input, student_weight, teacher_input, teacher_weight, shift_labels,
                                       jsd_beta, ignore_index, temperature, accum_dtype);
}

// torch.autocast on: fp32 activations in autocast's dtype, the weights as they are (the op casts
// them for its GEMMs and returns their gradients in their own dtype).
at::Tensor fused_linear_jsd_autocast(const at::Tensor& student_input, const at::Tensor& student_weight,
                                     const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                                     const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
                                     int64_t ignore_index, double temperature,
                                     c10::optional<at::ScalarType> accum_dtype) {
  const at::Tensor xs = detail::autocast_activation(student_input);
  const at::Tensor xt = detail::autocast_activation(teacher_input);
  const detail::BelowAutocast below;
  return fused_linear_jsd(xs, student_weight, xt, teacher_weight, shift_labels, jsd_beta, ignore_index, temperature,
                          accum_dtype);
}

// Below autograd: ATen compositions, the same on every device (the backward is not: it has a
// CPU and a CUDA kernel).
void impl_below_autograd(torch::Library& m) {
  m.impl("fused_linear_jsd", TORCH_FN(fused_linear_jsd_no_grad));
  m.impl("fused_linear_jsd_forward", TORCH_FN(forward_impl));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("fused_linear_jsd(Tensor student_input, Tensor student_weight, Tensor teacher_input, Tensor teacher_weight, "
        "Tensor? shift_labels=None, float jsd_beta=0.5, int ignore_index=-100, float temperature=1.0, "
        "ScalarType? accum_dtype=None) -> Tensor");
  m.def("fused_linear_jsd_forward(Tensor student_input, Tensor student_weight, Tensor teacher_input, "
        "Tensor teacher_weight, Tensor? shift_labels, float jsd_beta, int ignore_index, float temperature, "
        "ScalarType? accum_dtype, bool input_grad, bool weight_grad) -> (Tensor, Tensor, Tensor)");
  m.def("fused_linear_jsd_backward(Tensor grad_out, Tensor? grad_input, Tensor? grad_weight) -> (Tensor, Tensor)");
  // Fills row_loss and, with compute_grad, overwrites student_logits with d loss / d student_logits.
  m.def("fused_linear_jsd_chunk(Tensor(a!) student_logits, Tensor teacher_logits, Tensor? shift_labels, "
        "Tensor n_valid, Tensor(b!) row_loss, float beta, int ignore_index, float temperature, "
        "bool compute_grad=True) -> ()");
}

TORCH_LIBRARY_IMPL(liger, Autograd, m) { m.impl("fused_linear_jsd", TORCH_FN(fused_linear_jsd_autograd)); }
TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { m.impl("fused_linear_jsd", TORCH_FN(fused_linear_jsd_autocast)); }
TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { m.impl("fused_linear_jsd", TORCH_FN(fused_linear_jsd_autocast)); }
TORCH_LIBRARY_IMPL(liger, CPU, m) {
  impl_below_autograd(m);
  m.impl("fused_linear_jsd_backward", TORCH_FN(backward_cpu));  // CUDA's is in cuda/fused_linear_jsd_cuda.cpp
}
TORCH_LIBRARY_IMPL(liger, CUDA, m) { impl_below_autograd(m); }

at::Tensor fused_linear_jsd(const at::Tensor& student_input, const at::Tensor& student_weight,
                            const at::Tensor& teacher_input, const at::Tensor& teacher_weight,
                            const c10::optional<at::Tensor>& shift_labels, double jsd_beta, int64_t ignore_index,
                            double temperature, c10::optional<at::ScalarType> accum_dtype) {
  static const auto op = detail::typed_op<decltype(fused_linear_jsd_autograd)>("liger::fused_linear_jsd");
  return op.call(student_input, student_weight, teacher_input, teacher_weight, shift_labels, jsd_beta, ignore_index,
                 temperature, accum_dtype);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_linear_jsd_forward(
    const at::Tensor& student_input, const at::Tensor& student_weight, const at::Tensor& teacher_input,
    const at::Tensor& teacher_weight, const c10::optional<at::Tensor>& shift_labels, double jsd_beta,
    int64_t ignore_index, double temperature, c10::optional<at::ScalarType> accum_dtype, bool input_grad,
    bool weight_grad) {
  static const auto op = detail::typed_op<decltype(forward_impl)>("liger::fused_linear_jsd_forward");
  return op.call(student_input, student_weight, teacher_input, teacher_weight, shift_labels, jsd_beta, ignore_index,
                 temperature, accum_dtype, input_grad, weight_grad);
}

std::tuple<at::Tensor, at::Tensor> fused_linear_jsd_backward(const at::Tensor& grad_out,
                                                             const c10::optional<at::Tensor>& grad_input,
                                                             const c10::optional<at::Tensor>& grad_weight) {
  static const auto op = detail::typed_op<decltype(backward_cpu)>("liger::fused_linear_jsd_backward");
  return op.call(grad_out, grad_input, grad_weight);
}

void fused_linear_jsd_chunk(at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            const c10::optional<at::Tensor>& shift_labels, const at::Tensor& n_valid,
                            at::Tensor& row_loss, double beta, int64_t ignore_index, double temperature,
                            bool compute_grad) {
  static const auto op =
      detail::typed_op<void(at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&, const at::Tensor&,
                            at::Tensor&, double, int64_t, double, bool)>("liger::fused_linear_jsd_chunk");
  op.call(student_logits, teacher_logits, shift_labels, n_valid, row_loss, beta, ignore_index, temperature,
          compute_grad);
}

}  // namespace liger
