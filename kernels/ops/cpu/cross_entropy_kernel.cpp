// Cross entropy on CPU: the same row algorithm as the CUDA kernel (online softmax over the row in
// blocks, then a second pass that writes the gradient over the logits; loss math in fp32, or in
// float64 for float64 input so gradchecks work), plus the target statistics and the in-place
// rescale of stored gradients.
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

namespace liger {
namespace {

constexpr const char* kOp = "liger::cross_entropy";
constexpr int64_t kBlock = 2048;  // elements of a row the online softmax folds in at a time
constexpr int kLanes = 16;        // interleaved partial sums within a block

template <typename Acc>
Acc lane_total(const Acc (&lanes)[kLanes]) {
  Acc t = 0;
  for (int i = 0; i < kLanes; ++i) t += lanes[i];
  return t;
}

template <typename Acc>
struct RowOutputs {
  Acc* loss;
  Acc* z_loss;         // or nullptr
  float* accuracy;     // or nullptr
  int64_t* predicted;  // or nullptr
};

template <typename T>
void forward_rows(T* x, int64_t row_stride, const int64_t* target, const at::opmath_type<T>* weight,
                  const double* stats, const at::opmath_type<T>* grad_scale, RowOutputs<at::opmath_type<T>> out,
                  int64_t rows, int64_t cols, const CrossEntropyRowOptions& o) {
  using Acc = at::opmath_type<T>;
  const Acc inf = std::numeric_limits<Acc>::infinity();
  const Acc ls = static_cast<Acc>(o.label_smoothing);
  const Acc eps = ls / static_cast<Acc>(cols);
  const Acc zs = static_cast<Acc>(o.lse_square_scale);
  const bool capped = o.softcap > 0;
  const Acc cap = static_cast<Acc>(o.softcap), inv_cap = capped ? Acc(1) / cap : Acc(0);
  const bool weighted = weight != nullptr;
  const bool want_arg = out.accuracy != nullptr || out.predicted != nullptr;
  const Acc n = static_cast<Acc>(stats[kCeNonIgnored]);
  const Acc w_sum = static_cast<Acc>(stats[kCeTargetWeightSum]);
  const Acc w_total = static_cast<Acc>(stats[kCeWeightTotal]);
  auto soft = [&](T v) {
    const Acc f = static_cast<Acc>(v);
    return capped ? cap * std::tanh(f * inv_cap) : f;
  };

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
      // is that sum over the total, without cancellation), the sums label smoothing needs, argmax.
      // Sums run in kLanes interleaved accumulators per block, merged by block (as the CUDA
      // kernel's per-thread partials): one running fp32 sum over 128K terms would drift by 1e-4.
      Acc m = -inf, s = 0, sum_x = 0, sum_wx = 0, best = -inf;
      int64_t arg = -1;
      bool nan = false;  // std::max and the -inf guards would drop a NaN logit
      for (int64_t b = 0; b < cols; b += kBlock) {
        const int64_t len = std::min(kBlock, cols - b);
        Acc bm = -inf;
        Acc lx[kLanes] = {}, lwx[kLanes] = {};
        for (int64_t j = 0; j < len; ++j) {
          const Acc v = soft(xr[b + j]);
          xs[j] = v;
          bm = std::max(bm, v);
          nan |= v != v;
          if (want_arg && v > best) {
            best = v;
            arg = b + j;
          }
          lx[j % kLanes] += v;
          if (weighted) lwx[j % kLanes] += weight[b + j] * v;
        }
        if (ls > 0) {
          sum_x += lane_total(lx);
          sum_wx += lane_total(lwx);
        }
        if (bm == -inf) continue;  // nothing but -inf so far in this block: adds exp(-inf) = 0
        Acc le[kLanes] = {};
        for (int64_t j = 0; j < len; ++j)
          if (b + j != y) le[j % kLanes] += std::exp(xs[j] - bm);
        const Acc bs = lane_total(le);
        if (bm > m) {
          s = (m == -inf ? Acc(0) : s * std::exp(m - bm)) + bs;
          m = bm;
        } else {
          s += bs * std::exp(bm - m);
        }
      }
      const Acc xy = soft(xr[y]);
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
      if (arg < 0) arg = 0;  // a row without a maximum (all -inf or NaN): Liger reports class 0
      if (out.accuracy) out.accuracy[r] = arg == y ? 1.f : 0.f;
      if (out.predicted) out.predicted[r] = arg;

      if (!o.compute_grad) continue;
      // Pass 2: the gradient, written over the logits. Row factor: 1/N (mean) x p_y (token
      // scaling) x grad_scale[r]; the true-class entry is formed whole in Acc, then rounded once.
      const Acc rf = token * (grad_scale ? grad_scale[r] : Acc(1));
      const Acc k_n = (o.mean ? Acc(1) / n : Acc(1)) * rf;
      const Acc k_w = weighted ? (o.mean ? Acc(1) / w_sum : Acc(1)) * rf : k_n;
      const Acc a = 1 + 2 * zs * lse;
      const Acc z_coef = 2 * zs * lse * k_n;
      // d/dx_y with p_y - 1 written as -q_y.
      const Acc g_y = weighted ? (-(1 - ls) * q_y * w_y + eps * (p_y * w_total - w_y)) * k_w + z_coef * p_y
                               : (2 * zs * lse * p_y - q_y + ls - eps) * k_n;
      for (int64_t j = 0; j < cols; ++j) {
        const Acc v = soft(xr[j]);
        const Acc p = std::exp(v - lse);
        Acc g;
        if (j == y)
          g = g_y;
        else if (!weighted)
          g = (a * p - eps) * k_n;
        else
          g = ((1 - ls) * w_y * p + eps * (p * w_total - weight[j])) * k_w + z_coef * p;
        if (capped) {
          const Acc t = v * inv_cap;
          g *= 1 - t * t;
        }
        xr[j] = static_cast<T>(g);
      }
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

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward_cpu(
    at::Tensor& input, const at::Tensor& target, const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
    int64_t ignore_index, double lse_square_scale, double label_smoothing, c10::string_view reduction,
    c10::optional<double> softcap, bool compute_grad, bool use_token_scaling,
    const c10::optional<at::Tensor>& grad_scale, bool return_z_loss, bool return_token_accuracy,
    bool return_predicted_tokens) {
  const CrossEntropyRowOptions o =
      detail::check_ce_forward(input, target, weight, stats, grad_scale, ignore_index, lse_square_scale,
                               label_smoothing, reduction, softcap, compute_grad, use_token_scaling, kOp);
  const int64_t rows = input.size(0), cols = input.size(1);
  if (compute_grad) at::assert_no_internal_overlap(input);
  // The kernel walks rows with unit column stride; other layouts work on a copy written back.
  at::Tensor x = input.stride(1) == 1 ? input : input.contiguous();
  const at::Tensor t = target.to(at::kLong).contiguous();
  const auto row_dtype = detail::ce_row_dtype(input.scalar_type());
  const auto opts = input.options();
  at::Tensor loss = at::empty({rows}, opts.dtype(row_dtype));
  at::Tensor z = return_z_loss ? at::empty({rows}, opts.dtype(row_dtype)) : at::Tensor();
  at::Tensor acc = return_token_accuracy ? at::empty({rows}, opts.dtype(at::kFloat)) : at::Tensor();
  at::Tensor pred = return_predicted_tokens ? at::empty({rows}, opts.dtype(at::kLong)) : at::Tensor();
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
  if (compute_grad && !x.is_same(input)) input.copy_(x);
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
  m.impl("cross_entropy_forward", TORCH_FN(cross_entropy_forward_cpu));
  m.impl("rescale_stored_grads_", TORCH_FN(rescale_stored_grads_cpu));
}

}  // namespace liger
