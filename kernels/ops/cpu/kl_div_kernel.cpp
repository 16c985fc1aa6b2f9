// KL divergence on CPU: the same algorithm as the CUDA kernels. The forward streams over the
// BT x V elements as one flat array (every reduction only needs the total sum), summing groups
// of elements in the accumulation type and the groups in double, in fixed-size blocks whose
// partial sums are added in order (deterministic whatever the thread count). The backward
// writes -y_true (or -exp(y_true)) times the scaled upstream gradient; it never reads y_pred.
// The loops are vectorized (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/op_registration.h"
#include "../divergence_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

constexpr int64_t kBlock = 16384;  // elements per partial sum
constexpr int64_t kGroup = 32;     // elements summed in the accumulation type before the double

at::ScalarType loss_dtype(const at::Tensor& y_pred) { return y_pred.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

// Sum of the loss terms of [begin, end): groups of kGroup in Acc (a vectorized loop), the groups in
// double, in order. log_target is a template flag so that each variant is one straight loop.
template <bool LOG_TARGET, typename TP, typename TT, typename Acc>
LIGER_ALWAYS_INLINE double kl_groups(const TP* pred, const TT* target, int64_t begin, int64_t end, Acc eps) {
  double acc = 0.0;
  for (int64_t g = begin; g < end; g += kGroup) {
    Acc part = 0;
    const int64_t g_end = std::min(end, g + kGroup);
    LIGER_SIMD_REDUCE(+, part)
    for (int64_t i = g; i < g_end; ++i) part += kl_term<Acc>(cpu::load(pred[i]), cpu::load(target[i]), LOG_TARGET, eps);
    acc += static_cast<double>(part);
  }
  return acc;
}

template <typename TP, typename TT, typename Acc>
LIGER_CPU_CLONES double kl_span_sum(const TP* pred, const TT* target, int64_t begin, int64_t end, bool log_target,
                                    Acc eps) {
  return log_target ? kl_groups<true>(pred, target, begin, end, eps) : kl_groups<false>(pred, target, begin, end, eps);
}

template <typename TP, typename TT, typename Acc>
double kl_sum(const TP* pred, const TT* target, int64_t n, bool log_target, Acc eps) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partials(blocks, 0.0);
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      partials[b] = kl_span_sum(pred, target, b * kBlock, std::min(n, (b + 1) * kBlock), log_target, eps);
  });
  double total = 0.0;
  for (double p : partials) total += p;
  return total;
}

template <bool LOG_TARGET, typename TP, typename TT, typename Acc>
LIGER_ALWAYS_INLINE void kl_terms_loop(const TP* pred, const TT* target, Acc* out, int64_t n, Acc eps) {
  LIGER_SIMD
  for (int64_t i = 0; i < n; ++i) out[i] = kl_term<Acc>(cpu::load(pred[i]), cpu::load(target[i]), LOG_TARGET, eps);
}

template <typename TP, typename TT, typename Acc>
LIGER_CPU_CLONES void kl_span_terms(const TP* pred, const TT* target, Acc* out, int64_t n, bool log_target, Acc eps) {
  log_target ? kl_terms_loop<true>(pred, target, out, n, eps) : kl_terms_loop<false>(pred, target, out, n, eps);
}

template <typename TP, typename TT, typename Acc>
void kl_elementwise(const TP* pred, const TT* target, Acc* out, int64_t n, bool log_target, Acc eps) {
  at::parallel_for(0, n, kBlock, [&](int64_t b, int64_t e) {
    kl_span_terms(pred + b, target + b, out + b, e - b, log_target, eps);
  });
}

// The gradient of a span: -y_true (or -exp(y_true)) times the upstream gradient (per element, or
// one scalar) and the reduction's scale.
template <bool LOG_TARGET, bool ELEMENTWISE, typename TG, typename TT, typename Acc>
LIGER_ALWAYS_INLINE void kl_grad_loop(const TT* t, const Acc* go, TG* out, int64_t n, Acc coef) {
  LIGER_SIMD
  for (int64_t i = 0; i < n; ++i) {
    const Acc d = kl_grad<Acc>(cpu::load(t[i]), LOG_TARGET);
    out[i] = cpu::store<TG>(d * (ELEMENTWISE ? go[i] * coef : coef));
  }
}

template <typename TG, typename TT, typename Acc>
LIGER_CPU_CLONES void kl_span_grad(const TT* t, const Acc* go, TG* out, int64_t n, bool log_target, bool elementwise,
                                   Acc coef) {
  if (log_target)
    elementwise ? kl_grad_loop<true, true>(t, go, out, n, coef) : kl_grad_loop<true, false>(t, go, out, n, coef);
  else
    elementwise ? kl_grad_loop<false, true>(t, go, out, n, coef) : kl_grad_loop<false, false>(t, go, out, n, coef);
}

at::Tensor kl_div_forward_cpu(const at::Tensor& y_pred, const at::Tensor& y_true, c10::string_view reduction,
                              bool log_target, double eps) {
  detail::check_kl_inputs(y_pred, y_true);
  const KlReduction red = detail::parse_kl_reduction(std::string(reduction));
  const at::Tensor pred = y_pred.contiguous(), target = y_true.contiguous();
  const int64_t rows = pred.size(0), cols = pred.size(1), n = pred.numel();
  const auto out_opts = pred.options().dtype(loss_dtype(pred));
  at::Tensor out = red == KlReduction::kNone ? at::empty({rows, cols}, out_opts) : at::Tensor();
  double total = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, pred.scalar_type(), "kl_div_forward_cpu", [&] {
    using TP = scalar_t;
    using Acc = at::opmath_type<TP>;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, target.scalar_type(), "kl_div_forward_cpu", [&] {
      using TT = scalar_t;
      if (red == KlReduction::kNone) {
        kl_elementwise<TP, TT, Acc>(pred.data_ptr<TP>(), target.data_ptr<TT>(), out.data_ptr<Acc>(), n, log_target,
                                    static_cast<Acc>(eps));
      } else {
        total = kl_sum<TP, TT, Acc>(pred.data_ptr<TP>(), target.data_ptr<TT>(), n, log_target, static_cast<Acc>(eps));
      }
    });
  });
  if (red == KlReduction::kNone) return out;
  return at::scalar_tensor(total / detail::kl_divisor(red, rows, cols), out_opts);
}

at::Tensor kl_div_backward_cpu(const at::Tensor& grad_out, const at::Tensor& y_true, c10::string_view reduction,
                               bool log_target, at::ScalarType grad_dtype) {
  const KlReduction red = detail::parse_kl_reduction(std::string(reduction));
  detail::check_kl_backward(grad_out, y_true, red, grad_dtype);
  const at::Tensor target = y_true.contiguous();
  const int64_t rows = target.size(0), cols = target.size(1), n = target.numel();
  at::Tensor grad = at::empty({rows, cols}, target.options().dtype(grad_dtype));
  const auto upstream = detail::kl_upstream(grad_out, red, grad_dtype == at::kDouble ? at::kDouble : at::kFloat);
  const at::Tensor& g = upstream.first;
  const bool elementwise = upstream.second;
  const double scale = 1.0 / detail::kl_divisor(red, rows, cols);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_dtype, "kl_div_backward_cpu", [&] {
    using TG = scalar_t;
    using Acc = at::opmath_type<TG>;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, target.scalar_type(), "kl_div_backward_cpu", [&] {
      using TT = scalar_t;
      const TT* t = target.data_ptr<TT>();
      const Acc* go = g.data_ptr<Acc>();
      TG* out = grad.data_ptr<TG>();
      const Acc coef = static_cast<Acc>(elementwise ? scale : go[0] * scale);
      at::parallel_for(0, n, kBlock, [&](int64_t b, int64_t e) {
        kl_span_grad(t + b, elementwise ? go + b : go, out + b, e - b, log_target, elementwise, coef);
      });
    });
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<kl_div_forward_cpu, kl_div_backward_cpu>(m, "kl_div");
}

}  // namespace liger
