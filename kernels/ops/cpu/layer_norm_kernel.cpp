// LayerNorm on CPU: the CUDA kernels' algorithm per row (two-pass mean and biased variance in
// fp32, or float64 for float64 input; y rounded once), dW and dB as per-chunk partial rows summed
// at the end, in loops the compiler vectorizes (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <utility>

#include "../common/op_registration.h"
#include "../layer_norm_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

// One row: mean, then the biased variance around it, then y; returns {mean, rstd}.
template <typename T>
LIGER_CPU_CLONES std::pair<at::opmath_type<T>, at::opmath_type<T>> forward_row(const T* x, const at::opmath_type<T>* w,
                                                                            const at::opmath_type<T>* b, T* y,
                                                                            int64_t cols, double eps) {
  using Acc = at::opmath_type<T>;
  Acc s = 0;
  LIGER_SIMD_REDUCE(+, s)
  for (int64_t c = 0; c < cols; ++c) s += cpu::load(x[c]);
  const Acc mu = s / static_cast<Acc>(cols);
  Acc q = 0;
  LIGER_SIMD_REDUCE(+, q)
  for (int64_t c = 0; c < cols; ++c) {
    const Acc d = cpu::load(x[c]) - mu;
    q += d * d;
  }
  const Acc rs = Acc(1) / std::sqrt(q / static_cast<Acc>(cols) + static_cast<Acc>(eps));
  LIGER_SIMD
  for (int64_t c = 0; c < cols; ++c) y[c] = cpu::store<T>((cpu::load(x[c]) - mu) * rs * w[c] + b[c]);
  return {mu, rs};
}

template <typename T>
void forward_rows(const T* x, const at::opmath_type<T>* w, const at::opmath_type<T>* b, T* y,
                  at::opmath_type<T>* mean_out, at::opmath_type<T>* rstd_out, int64_t rows, int64_t cols, double eps) {
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const auto [mu, rs] = forward_row(x + r * cols, w, b, y + r * cols, cols, eps);
      mean_out[r] = mu;
      rstd_out[r] = rs;
    }
  });
}

// x_hat = (x - mean) * rstd, g = w * dy, dx = (g - (x_hat * mean(x_hat * g) + mean(g))) * rstd;
// dw += dy * x_hat and db += dy when given (the chunk's partial rows).
template <typename T>
LIGER_CPU_CLONES void backward_row(const T* dy, const T* x, const at::opmath_type<T>* w, at::opmath_type<T> mu,
                                   at::opmath_type<T> rs, T* dx, at::opmath_type<T>* dw, at::opmath_type<T>* db,
                                   int64_t cols) {
  using Acc = at::opmath_type<T>;
  Acc sum_xg = 0, sum_g = 0;
  LIGER_SIMD_REDUCE(+, sum_xg, sum_g)
  for (int64_t c = 0; c < cols; ++c) {
    const Acc xh = (cpu::load(x[c]) - mu) * rs;
    const Acc g = w[c] * cpu::load(dy[c]);
    sum_xg += xh * g;
    sum_g += g;
  }
  const Acc c1 = sum_xg / static_cast<Acc>(cols), c2 = sum_g / static_cast<Acc>(cols);
  if (dw) {
    LIGER_SIMD
    for (int64_t c = 0; c < cols; ++c) {
      const Acc d = cpu::load(dy[c]);
      dw[c] += d * ((cpu::load(x[c]) - mu) * rs);
      db[c] += d;
    }
  }
  LIGER_SIMD
  for (int64_t c = 0; c < cols; ++c) {
    const Acc xh = (cpu::load(x[c]) - mu) * rs;
    dx[c] = cpu::store<T>((w[c] * cpu::load(dy[c]) - (xh * c1 + c2)) * rs);
  }
}

template <typename T>
void backward_rows(const T* dy, const T* x, const at::opmath_type<T>* w, const at::opmath_type<T>* mean,
                   const at::opmath_type<T>* rstd, T* dx, at::opmath_type<T>* partials, int64_t chunks, int64_t rows,
                   int64_t cols) {
  using Acc = at::opmath_type<T>;
  const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
  at::parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      Acc* dw = partials ? partials + chunk * cols : nullptr;
      Acc* db = partials ? partials + (chunks + chunk) * cols : nullptr;
      const int64_t r_end = std::min(rows, (chunk + 1) * rows_per_chunk);
      for (int64_t r = chunk * rows_per_chunk; r < r_end; ++r)
        backward_row(dy + r * cols, x + r * cols, w, mean[r], rstd[r], dx + r * cols, dw, db, cols);
    }
  });
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_forward_cpu(const at::Tensor& input, const at::Tensor& weight,
                                                                      const at::Tensor& bias, double eps) {
  detail::check_layer_norm_inputs(input, weight, bias);
  const at::Tensor x = input.contiguous();
  const int64_t cols = x.size(-1), rows = detail::row_count(x);
  at::Tensor y = at::empty_like(x);
  const auto stats_opts = x.options().dtype(detail::stats_dtype(x.scalar_type()));
  at::Tensor mean = at::empty(x.sizes().slice(0, x.dim() - 1), stats_opts);
  at::Tensor rstd = at::empty_like(mean);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "layer_norm_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const auto acc_type = c10::CppTypeToScalarType<Acc>::value;
    const at::Tensor w = weight.to(acc_type).contiguous(), b = bias.to(acc_type).contiguous();
    forward_rows<scalar_t>(x.data_ptr<scalar_t>(), w.data_ptr<Acc>(), b.data_ptr<Acc>(), y.data_ptr<scalar_t>(),
                           mean.data_ptr<Acc>(), rstd.data_ptr<Acc>(), rows, cols, eps);
  });
  return {y, mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_cpu(const at::Tensor& grad_out,
                                                                       const at::Tensor& input, const at::Tensor& weight,
                                                                       const at::Tensor& bias, const at::Tensor& mean,
                                                                       const at::Tensor& rstd, bool weight_grad,
                                                                       bool bias_grad) {
  detail::check_layer_norm_inputs(input, weight, bias);
  detail::check_grad_like("liger::layer_norm_backward", grad_out, input, "input");
  detail::check_layer_norm_stats(input, mean, rstd);
  const at::Tensor x = input.contiguous();
  const at::Tensor dy = grad_out.to(x.scalar_type()).contiguous();
  const int64_t cols = x.size(-1), rows = detail::row_count(x);
  at::Tensor dx = at::empty_like(x);
  at::Tensor dw, db;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "layer_norm_backward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const auto acc_type = c10::CppTypeToScalarType<Acc>::value;
    const at::Tensor w = weight.to(acc_type).contiguous();
    const at::Tensor mu = mean.to(acc_type).contiguous(), rs = rstd.to(acc_type).contiguous();
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(rows, at::get_num_threads()));
    at::Tensor partials;
    if (weight_grad || bias_grad) partials = at::zeros({2, chunks, cols}, x.options().dtype(acc_type));
    backward_rows<scalar_t>(dy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), w.data_ptr<Acc>(), mu.data_ptr<Acc>(),
                            rs.data_ptr<Acc>(), dx.data_ptr<scalar_t>(),
                            partials.defined() ? partials.data_ptr<Acc>() : nullptr, chunks, rows, cols);
    if (weight_grad) dw = partials[0].sum(0).to(weight.scalar_type());
    if (bias_grad) db = partials[1].sum(0).to(bias.scalar_type());
  });
  return {dx, dw, db};
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<layer_norm_forward_cpu, layer_norm_backward_cpu>(m, "layer_norm");
}

}  // namespace liger
