// RMSNorm on CPU: the same per-row algorithm as the CUDA kernel (fp32 accumulation, the same
// rounding points per casting mode, dW as per-chunk partials summed at the end), in loops the
// compiler vectorizes (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/irange.h>
#include <torch/library.h>

#include <cmath>

#include "../common/op_registration.h"
#include "../rms_norm_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

// One row's output from its reciprocal RMS, each casting mode in its own vectorized loop.
template <typename T>
LIGER_CPU_CLONES void forward_row(const T* x, const at::opmath_type<T>* w, T* y, at::opmath_type<T> rs, int64_t cols,
                                  RmsCasting casting) {
  using Acc = at::opmath_type<T>;
  switch (casting) {
    case RmsCasting::kLlama:
      LIGER_SIMD
      for (int64_t c = 0; c < cols; ++c)
        y[c] = cpu::store<T>(cpu::round_to<T>(cpu::load(x[c]) * rs) * (w ? w[c] : Acc(1)));
      break;
    case RmsCasting::kGemma:
      LIGER_SIMD
      for (int64_t c = 0; c < cols; ++c) y[c] = cpu::store<T>(cpu::load(x[c]) * rs * (w ? w[c] : Acc(1)));
      break;
    default:
      LIGER_SIMD
      for (int64_t c = 0; c < cols; ++c)
        y[c] = cpu::store<T>(cpu::round_to<T>(cpu::round_to<T>(cpu::load(x[c]) * rs) * cpu::round_to<T>(w ? w[c] : Acc(1))));
      break;
  }
}

template <typename T>
LIGER_CPU_CLONES at::opmath_type<T> sum_of_squares(const T* x, int64_t cols) {
  using Acc = at::opmath_type<T>;
  Acc sum_sq = 0;
  LIGER_SIMD_REDUCE(+, sum_sq)
  for (int64_t c = 0; c < cols; ++c) sum_sq += cpu::load(x[c]) * cpu::load(x[c]);
  return sum_sq;
}

template <typename T>
void forward_rows(const T* x, const at::opmath_type<T>* w, T* y, void* rstd_out, int64_t rows, int64_t cols,
                  double eps, RmsCasting casting) {
  using Acc = at::opmath_type<T>;
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * cols;
      const Acc sum_sq = sum_of_squares(xr, cols);
      Acc rs;
      if (casting == RmsCasting::kNone) {
        const Acc ms = cpu::round_to<T>(sum_sq / static_cast<Acc>(cols));
        rs = cpu::round_to<T>(Acc(1) / std::sqrt(ms + cpu::round_to<T>(static_cast<Acc>(eps))));
        static_cast<T*>(rstd_out)[r] = static_cast<T>(rs);
      } else {
        rs = Acc(1) / std::sqrt(sum_sq / static_cast<Acc>(cols) + static_cast<Acc>(eps));
        static_cast<Acc*>(rstd_out)[r] = rs;
      }
      forward_row(xr, w, y + r * cols, rs, cols, casting);
    }
  });
}

// One row of dx (which may alias dy: each element is read before it is written) and, when dw is
// given, its row's share of the weight gradient.
template <typename T>
LIGER_CPU_CLONES void backward_row(const T* dy, const T* x, const at::opmath_type<T>* w, at::opmath_type<T> rs, T* dx,
                                   at::opmath_type<T>* dw, int64_t cols, RmsCasting casting) {
  using Acc = at::opmath_type<T>;
  Acc dot = 0;
  LIGER_SIMD_REDUCE(+, dot)
  for (int64_t c = 0; c < cols; ++c) dot += cpu::load(dy[c]) * (w ? w[c] : Acc(1)) * cpu::load(x[c]);
  const Acc coef = rs * rs / static_cast<Acc>(cols) * dot;
  if (dw) {
    const bool llama = casting == RmsCasting::kLlama;
    LIGER_SIMD
    for (int64_t c = 0; c < cols; ++c) {
      const Acc xf = cpu::load(x[c]);
      dw[c] += cpu::load(dy[c]) * (llama ? cpu::round_to<T>(xf * rs) : xf * rs);
    }
  }
  LIGER_SIMD
  for (int64_t c = 0; c < cols; ++c) {
    const Acc xf = cpu::load(x[c]);
    dx[c] = cpu::store<T>(rs * (cpu::load(dy[c]) * (w ? w[c] : Acc(1)) - coef * xf));
  }
}

template <typename T>
void backward_rows(const T* dy, const T* x, const at::opmath_type<T>* w, const void* rstd_in, T* dx,
                   at::opmath_type<T>* w_partials, int64_t chunks, int64_t rows, int64_t cols, RmsCasting casting) {
  using Acc = at::opmath_type<T>;
  const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
  at::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      Acc* dw = w_partials ? w_partials + chunk * cols : nullptr;
      const int64_t r_end = std::min(rows, (chunk + 1) * rows_per_chunk);
      for (int64_t r = chunk * rows_per_chunk; r < r_end; ++r) {
        const Acc rs = casting == RmsCasting::kNone ? static_cast<Acc>(static_cast<const T*>(rstd_in)[r])
                                                    : static_cast<const Acc*>(rstd_in)[r];
        backward_row(dy + r * cols, x + r * cols, w, rs, dx + r * cols, dw, cols, casting);
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> rms_norm_forward_cpu(const at::Tensor& input,
                                                        const c10::optional<at::Tensor>& weight, double eps,
                                                        double offset, c10::string_view casting_mode) {
  const RmsCasting casting = detail::check_rms_forward(input, weight, casting_mode);
  const at::Tensor x = input.contiguous();
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  at::Tensor y = at::empty_like(x);
  at::Tensor rstd = at::empty(x.sizes().slice(0, x.dim() - 1), x.options().dtype(detail::rstd_dtype(x.scalar_type(), casting)));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "rms_norm_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    at::Tensor w_eff;
    if (weight && weight->defined()) w_eff = (weight->to(c10::CppTypeToScalarType<Acc>::value) + offset).contiguous();
    forward_rows<scalar_t>(x.data_ptr<scalar_t>(), w_eff.defined() ? w_eff.data_ptr<Acc>() : nullptr,
                           y.data_ptr<scalar_t>(), rstd.data_ptr(), rows, cols, eps, casting);
  });
  return {y, rstd};
}

std::tuple<at::Tensor, at::Tensor> rms_norm_backward_cpu(const at::Tensor& grad_out, const at::Tensor& input,
                                                         const c10::optional<at::Tensor>& weight,
                                                         const at::Tensor& rstd, double offset,
                                                         c10::string_view casting_mode, bool in_place,
                                                         bool weight_grad) {
  const RmsCasting casting = detail::check_rms_backward(grad_out, input, weight, rstd, casting_mode);
  const at::Tensor x = input.contiguous();
  at::Tensor dy = grad_out.to(x.scalar_type()).contiguous();
  const bool write_into_dy = in_place && dy.data_ptr() == grad_out.data_ptr();
  at::Tensor dx = write_into_dy ? dy : at::empty_like(x);
  const int64_t cols = x.size(-1), rows = cols == 0 ? 0 : x.numel() / cols;
  const bool has_w = weight && weight->defined();
  at::Tensor dw;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "rms_norm_backward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const auto acc_type = c10::CppTypeToScalarType<Acc>::value;
    at::Tensor w_eff;
    if (has_w) {
      w_eff = weight->to(acc_type) + offset;
      if (casting == RmsCasting::kNone) w_eff = w_eff.to(x.scalar_type()).to(acc_type);
      w_eff = w_eff.contiguous();
    }
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(rows, at::get_num_threads()));
    at::Tensor partials;
    if (has_w && weight_grad) partials = at::zeros({chunks, cols}, x.options().dtype(acc_type));
    const at::Tensor rs = rstd.contiguous();
    backward_rows<scalar_t>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                            has_w ? w_eff.data_ptr<Acc>() : nullptr, rs.data_ptr(), dx.data_ptr<scalar_t>(),
                            partials.defined() ? partials.data_ptr<Acc>() : nullptr, chunks, rows, cols, casting);
    if (partials.defined()) dw = partials.sum(0).to(weight->scalar_type());
  });
  return {dx.view(input.sizes()), dw};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<rms_norm_forward_cpu, rms_norm_backward_cpu>(m, "rms_norm");
}

}  // namespace liger
