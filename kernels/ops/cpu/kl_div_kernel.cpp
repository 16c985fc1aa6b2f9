// KL divergence on CPU: the same algorithm as the CUDA kernels. The forward streams over the
// BT x V elements as one flat array (every reduction only needs the total sum), summing groups
// of elements in the accumulation type and the groups in double, in fixed-size blocks whose
// partial sums are added in order (deterministic whatever the thread count). The backward
// writes -y_true (or -exp(y_true)) times the scaled upstream gradient; it never reads y_pred.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../common/op_registration.h"
#include "../divergence_checks.h"

namespace liger {
namespace {

constexpr int64_t kBlock = 16384;  // elements per partial sum
constexpr int64_t kGroup = 32;     // elements summed in the accumulation type before the double

at::ScalarType loss_dtype(const at::Tensor& y_pred) { return y_pred.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

template <typename TP, typename TT, typename Acc>
double kl_sum(const TP* pred, const TT* target, int64_t n, bool log_target, Acc eps) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partials(blocks, 0.0);
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t end = std::min(n, (b + 1) * kBlock);
      double acc = 0.0;
      for (int64_t g = b * kBlock; g < end; g += kGroup) {
        Acc part = 0;
        const int64_t g_end = std::min(end, g + kGroup);
        for (int64_t i = g; i < g_end; ++i)
          part += kl_term<Acc>(static_cast<Acc>(pred[i]), static_cast<Acc>(target[i]), log_target, eps);
        acc += static_cast<double>(part);
      }
      partials[b] = acc;
    }
  });
  double total = 0.0;
  for (double p : partials) total += p;
  return total;
}

template <typename TP, typename TT, typename Acc>
void kl_elementwise(const TP* pred, const TT* target, Acc* out, int64_t n, bool log_target, Acc eps) {
  at::parallel_for(0, n, kBlock, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      out[i] = kl_term<Acc>(static_cast<Acc>(pred[i]), static_cast<Acc>(target[i]), log_target, eps);
  });
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
        for (int64_t i = b; i < e; ++i) {
          const Acc d = kl_grad<Acc>(static_cast<Acc>(t[i]), log_target);
          out[i] = static_cast<TG>(d * (elementwise ? go[i] * coef : coef));
        }
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
