// Cross entropy on CPU: the same row algorithm as the CUDA kernel (online softmax over the row in
// blocks, then a second pass that writes the gradient over the logits; loss math in fp32, or in
// float64 for float64 input so gradchecks work), plus the target statistics and the in-place
// rescale of stored gradients. The row passes are loops the compiler vectorizes (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../cross_entropy_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::cross_entropy";
constexpr int64_t kBlock = 2048;  // elements of a row the online softmax folds in at a time

template <typename Acc>
struct RowOutputs {
  Acc* loss;
  Acc* z_loss;         // or nullptr
  float* accuracy;     // or nullptr
  int64_t* predicted;  // or nullptr
};

// The soft-capping of the logits: cap * tanh(x / cap), or x itself.
template <typename Acc>
struct SoftCap {
  bool capped;
  Acc cap, inv_cap;
  LIGER_ALWAYS_INLINE Acc operator()(Acc f) const { return capped ? cap * cpu::tanh_of(f * inv_cap) : f; }
};

// What pass 1 learns of one block of a row.
template <typename Acc>
struct BlockScan {
  Acc max, sum_x, sum_wx;
  bool nan;
};

// Pass 1 over a block: the (capped) logits into xs, their max, NaN flag and the plain and weighted
// sums label smoothing needs. The sums are vector-lane partials merged at the end of the block
// (as the CUDA kernel's per-thread partials): one running fp32 sum over 128K terms would drift.
template <typename T, typename Acc>
LIGER_CPU_CLONES BlockScan<Acc> scan_block(const T* xb, const Acc* wb, Acc* xs, int64_t len, SoftCap<Acc> soft) {
  Acc bm = -std::numeric_limits<Acc>::infinity(), sx = 0, swx = 0;
  int nan = 0;  // the max below skips NaN, so it is counted apart
  if (soft.capped) {  // two loops: a select would compute the tanh for uncapped rows too
    LIGER_SIMD
    for (int64_t j = 0; j < len; ++j) xs[j] = soft(cpu::load(xb[j]));
  } else {
    LIGER_SIMD
    for (int64_t j = 0; j < len; ++j) xs[j] = cpu::load(xb[j]);
  }
  LIGER_PRAGMA(omp simd reduction(max : bm) reduction(+ : sx) reduction(| : nan))
  for (int64_t j = 0; j < len; ++j) {
    const Acc v = xs[j];
    bm = v > bm ? v : bm;
    nan |= v != v;
    sx += v;
  }
  if (wb) {
    LIGER_SIMD_REDUCE(+, swx)
    for (int64_t j = 0; j < len; ++j) swx += wb[j] * xs[j];
  }
  return {bm, sx, swx, nan != 0};
}

// Sum over the block of exp(xs - bm), leaving out position `skip` (the target, or -1): its entry
// is set to -inf for the loop (exp gives 0) and put back, so the loop has no index test.
template <typename Acc>
LIGER_CPU_CLONES Acc block_exp_sum(Acc* xs, int64_t len, Acc bm, int64_t skip) {
  const Acc kept = skip >= 0 ? xs[skip] : Acc(0);
  if (skip >= 0) xs[skip] = -std::numeric_limits<Acc>::infinity();
  Acc s = 0;
  LIGER_SIMD_REDUCE(+, s)
  for (int64_t j = 0; j < len; ++j) s += cpu::exp_of(xs[j] - bm);
  if (skip >= 0) xs[skip] = kept;
  return s;
}

// The first position of the row's largest (capped) logit, or -1 for a row without one.
template <typename T, typename Acc>
int64_t row_argmax(const T* xr, int64_t cols, SoftCap<Acc> soft) {
  Acc best = -std::numeric_limits<Acc>::infinity();
  int64_t arg = -1;
  for (int64_t j = 0; j < cols; ++j) {
    const Acc v = soft(cpu::load(xr[j]));
    if (v > best) {
      best = v;
      arg = j;
    }
  }
  return arg;
}

// The gradient coefficients of a row (pass 2): for j != y,
//   unweighted: g = (a p - eps) k_n;  weighted: g = ((1 - ls) w_y p + eps (p w_total - w_j)) k_w + z_coef p,
// with p = exp(x_j - lse), times 1 - tanh^2 under soft-capping.
template <typename Acc>
struct GradCoefs {
  Acc lse, a, eps, k_n, ls, w_y, w_total, k_w, z_coef;
};

template <bool WEIGHTED, bool CAPPED, typename T, typename Acc>
LIGER_ALWAYS_INLINE void grad_loop(T* xr, const Acc* weight, int64_t cols, const GradCoefs<Acc>& k, SoftCap<Acc> soft) {
  LIGER_SIMD
  for (int64_t j = 0; j < cols; ++j) {
    const Acc v = CAPPED ? soft(cpu::load(xr[j])) : cpu::load(xr[j]);
    const Acc p = cpu::exp_of(v - k.lse);
    Acc g = WEIGHTED ? ((1 - k.ls) * k.w_y * p + k.eps * (p * k.w_total - weight[j])) * k.k_w + k.z_coef * p
                     : (k.a * p - k.eps) * k.k_n;
    if (CAPPED) {
      const Acc t = v * soft.inv_cap;
      g *= 1 - t * t;
    }
    xr[j] = cpu::store<T>(g);
  }
}

// Pass 2: the gradient written over the logits; the target's entry g_y (formed whole in Acc by
// the caller, capping factor included) is written last, over what the loop wrote there.
template <typename T, typename Acc>
LIGER_CPU_CLONES void write_grad_row(T* xr, const Acc* weight, int64_t cols, int64_t y, Acc g_y, const GradCoefs<Acc>& k,
                                     SoftCap<Acc> soft) {
  if (weight)
    soft.capped ? grad_loop<true, true>(xr, weight, cols, k, soft) : grad_loop<true, false>(xr, weight, cols, k, soft);
  else
    soft.capped ? grad_loop<false, true>(xr, weight, cols, k, soft) : grad_loop<false, false>(xr, weight, cols, k, soft);
  xr[y] = cpu::store<T>(g_y);
}

template <typename T>
void forward_rows(T* x, int64_t row_stride, const int64_t* target, const at::opmath_type<T>* weight,
                  const double* stats, const at::opmath_type<T>* grad_scale, RowOutputs<at::opmath_type<T>> out,
                  int64_t rows, int64_t cols, const CrossEntropyRowOptions& o) {
  using Acc = at::opmath_type<T>;
  const Acc inf = std::numeric_limits<Acc>::infinity();
  const Acc ls = static_cast<Acc>(o.label_smoothing);
  const Acc eps = ls / static_cast<Acc>(cols);
  const Acc zs = static_cast<Acc>(o.lse_square_scale);
  const SoftCap<Acc> soft{o.softcap > 0, static_cast<Acc>(o.softcap), o.softcap > 0 ? Acc(1 / o.softcap) : Acc(0)};
  const bool weighted = weight != nullptr;
  const bool want_arg = out.accuracy != nullptr || out.predicted != nullptr;
  const Acc n = static_cast<Acc>(stats[kCeNonIgnored]);
  const Acc w_sum = static_cast<Acc>(stats[kCeTargetWeightSum]);
  const Acc w_total = static_cast<Acc>(stats[kCeWeightTotal]);

  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t rb, int64_t re) {
    std::vector<Acc> xs(static_cast<size_t>(std::min(kBlock, cols)));
    for (int64_t r = rb; r < re; ++r) {
      T* xr = x + r * row_stride;
      const int64_t y = target[r];
      if (y == o.ignore_index || y < 0 || y >= cols) {  // out-of-range targets were reported by the stats op
        if (o.compute_grad) std::fill(xr, xr + cols, T(0));
        out.loss[r] = 0;
        if (out.z_loss) out.z_loss[r] = 0;
        if (out.accuracy) out.accuracy[r] = 0.f;
        if (out.predicted) out.predicted[r] = -1;
        continue;
      }
      // Pass 1: online max and sum of exp over the classes other than the target (so that 1 - p_y
      // is that sum over the total, without cancellation), the sums label smoothing needs.
      Acc m = -inf, s = 0, sum_x = 0, sum_wx = 0;
      bool nan = false;  // the max and the -inf guards would drop a NaN logit
      for (int64_t b = 0; b < cols; b += kBlock) {
        const int64_t len = std::min(kBlock, cols - b);
        const BlockScan<Acc> scan = scan_block(xr + b, weighted ? weight + b : nullptr, xs.data(), len, soft);
        nan |= scan.nan;
        sum_x += scan.sum_x;
        sum_wx += scan.sum_wx;
        const Acc bm = scan.max;
        if (bm == -inf) continue;  // nothing but -inf so far in this block: adds exp(-inf) = 0
        const Acc bs = block_exp_sum(xs.data(), len, bm, y >= b && y < b + len ? y - b : -1);
        if (bm > m) {
          s = (m == -inf ? Acc(0) : s * std::exp(m - bm)) + bs;
          m = bm;
        } else {
          s += bs * std::exp(bm - m);
        }
      }
      const Acc xy = soft(cpu::load(xr[y]));
      const Acc e_y = std::exp(xy - m);
      const Acc total = s + e_y;
      const Acc lse = nan ? std::numeric_limits<Acc>::quiet_NaN() : m + std::log(total);
      const Acc p_y = e_y / total, q_y = s / total;  // q_y = 1 - p_y
      const Acc w_y = weighted ? weight[y] : Acc(1);
      const Acc token = o.token_scaling ? p_y : Acc(1);

      Acc loss = lse - xy;
      if (weighted) loss *= w_y;
      if (ls > 0) {
        const Acc smooth = weighted ? -eps * sum_wx + eps * lse * w_total : -eps * sum_x + ls * lse;
        loss = loss * (1 - ls) + smooth;
      }
      Acc z = zs * lse * lse;
      if (o.mean) {
        loss = loss / (weighted ? w_sum : n);
        z = z / n;
      }
      loss += z;
      out.loss[r] = loss * token;
      if (out.z_loss) out.z_loss[r] = z * token;
      if (want_arg) {
        int64_t arg = row_argmax(xr, cols, soft);
        if (arg < 0) arg = 0;  // a row without a maximum (all -inf or NaN): Liger reports class 0
        if (out.accuracy) out.accuracy[r] = arg == y ? 1.f : 0.f;
        if (out.predicted) out.predicted[r] = arg;
      }

      if (!o.compute_grad) continue;
      // Pass 2: the gradient, written over the logits. Row factor: 1/N (mean) x p_y (token
      // scaling) x grad_scale[r]; the true-class entry is formed whole in Acc, then rounded once.
      const Acc rf = token * (grad_scale ? grad_scale[r] : Acc(1));
      const Acc k_n = (o.mean ? Acc(1) / n : Acc(1)) * rf;
      const Acc k_w = weighted ? (o.mean ? Acc(1) / w_sum : Acc(1)) * rf : k_n;
      const Acc z_coef = 2 * zs * lse * k_n;
      // d/dx_y with p_y - 1 written as -q_y.
      const Acc g_y = weighted ? (-(1 - ls) * q_y * w_y + eps * (p_y * w_total - w_y)) * k_w + z_coef * p_y
                               : (2 * zs * lse * p_y - q_y + ls - eps) * k_n;
      const Acc t_y = xy * soft.inv_cap;  // tanh of the capped target logit (0 without capping)
      const GradCoefs<Acc> k{lse, 1 + 2 * zs * lse, eps, k_n, ls, w_y, w_total, k_w, z_coef};
      write_grad_row(xr, weight, cols, y, soft.capped ? g_y * (1 - t_y * t_y) : g_y, k, soft);
    }
  });
}

// Checks every target at once whatever defer_check says (no device to wait for).
at::Tensor target_stats_cpu(const at::Tensor& target, const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                            int64_t num_classes, bool /*defer_check*/) {
  TORCH_CHECK(target.dim() == 1, kOp, ": target must be 1-D, got ", target.sizes());
  detail::check_ce_target(target, target.size(0), target.device(), kOp);
  detail::check_class_weight(weight, num_classes, target.device(), kOp);
  const at::Tensor t = target.to(at::kLong).contiguous();
  const int64_t* y = t.data_ptr<int64_t>();
  at::Tensor w;
  if (weight && weight->defined()) w = weight->to(at::kDouble).contiguous();
  const double* wp = w.defined() ? w.data_ptr<double>() : nullptr;
  double n = 0, w_sum = 0, w_total = 0;
  for (int64_t r = 0; r < t.size(0); ++r) {
    if (y[r] == ignore_index) continue;
    TORCH_CHECK(y[r] >= 0 && y[r] < num_classes, detail::bad_target_message(kOp, r, y[r], num_classes, ignore_index));
    n += 1;
    w_sum += wp ? wp[y[r]] : 1.0;
  }
  if (wp)
    for (int64_t c = 0; c < num_classes; ++c) w_total += wp[c];
  at::Tensor stats = at::empty({kCeNumStats}, target.options().dtype(at::kDouble));
  double* sp = stats.data_ptr<double>();
  sp[kCeNonIgnored] = n;
  sp[kCeTargetWeightSum] = w_sum;
  sp[kCeWeightTotal] = w_total;
  sp[kCeFirstBadRow] = static_cast<double>(t.size(0));
  return stats;
}

detail::CeForwardOutputs cross_entropy_forward_cpu(at::Tensor& input, const at::Tensor& target,
                                                   const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
                                                   const c10::optional<at::Tensor>& grad_scale,
                                                   const CrossEntropyRowOptions& o,
                                                   detail::CeOptionalOutputs outputs) {
  const int64_t rows = input.size(0), cols = input.size(1);
  if (o.compute_grad) at::assert_no_internal_overlap(input);
  // The kernel walks rows with unit column stride; other layouts work on a copy written back.
  at::Tensor x = input.stride(1) == 1 ? input : input.contiguous();
  const at::Tensor t = target.to(at::kLong).contiguous();
  const auto row_dtype = detail::ce_row_dtype(input.scalar_type());
  const auto opts = input.options();
  at::Tensor loss = at::empty({rows}, opts.dtype(row_dtype));
  at::Tensor z = outputs.z_loss ? at::empty({rows}, opts.dtype(row_dtype)) : at::Tensor();
  at::Tensor acc = outputs.token_accuracy ? at::empty({rows}, opts.dtype(at::kFloat)) : at::Tensor();
  at::Tensor pred = outputs.predicted_tokens ? at::empty({rows}, opts.dtype(at::kLong)) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cross_entropy_forward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const auto acc_type = c10::CppTypeToScalarType<Acc>::value;
    at::Tensor w, gs;
    if (weight && weight->defined()) w = weight->to(acc_type).contiguous();
    if (grad_scale && grad_scale->defined()) gs = grad_scale->to(acc_type).contiguous();
    const at::Tensor st = stats.contiguous();
    RowOutputs<Acc> out{loss.data_ptr<Acc>(), z.defined() ? z.data_ptr<Acc>() : nullptr,
                        acc.defined() ? acc.data_ptr<float>() : nullptr,
                        pred.defined() ? pred.data_ptr<int64_t>() : nullptr};
    forward_rows<scalar_t>(x.data_ptr<scalar_t>(), x.stride(0), t.data_ptr<int64_t>(),
                           w.defined() ? w.data_ptr<Acc>() : nullptr, st.data_ptr<double>(),
                           gs.defined() ? gs.data_ptr<Acc>() : nullptr, out, rows, cols, o);
  });
  if (o.compute_grad && !x.is_same(input)) input.copy_(x);
  return {loss, z, acc, pred};
}

void rescale_stored_grads_cpu(at::TensorList grads, const at::Tensor& grad_output, at::Tensor& applied_scale) {
  TORCH_CHECK(grad_output.numel() == 1, "liger::rescale_stored_grads_: grad_output must be a scalar, got ",
              grad_output.sizes());
  TORCH_CHECK(applied_scale.numel() == 1 && applied_scale.scalar_type() == at::kDouble,
              "liger::rescale_stored_grads_: applied_scale must be a float64 scalar");
  const double g = grad_output.item<double>();
  const double applied = applied_scale.item<double>();
  for (const at::Tensor& t : grads) {
    if (!t.defined()) continue;
    // A zero upstream gradient zeroes the buffers; a later nonzero one cannot recover them and
    // gives NaN (0 * inf), loudly, rather than a silently wrong gradient.
    if (g == 0.0)
      t.zero_();
    else if (g / applied != 1.0)
      t.mul_(g / applied);
  }
  applied_scale.fill_(g);
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("cross_entropy_target_stats", TORCH_FN(target_stats_cpu));
  m.impl("cross_entropy_forward", TORCH_FN(detail::ce_forward_kernel<cross_entropy_forward_cpu>));
  m.impl("rescale_stored_grads_", TORCH_FN(rescale_stored_grads_cpu));
}

}  // namespace liger
