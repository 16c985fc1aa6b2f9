#pragma once
// Float64 reference of Liger's cross-entropy semantics (KERNELS.md sections 6 and 7), written from
// the textbook formulas (log-softmax, weighted NLL, smoothed cross entropy, z-loss), not from the
// kernels' lse - x_y form, so that the two can disagree. Differentiable in the logits.
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#include <string>

namespace ligerbench::testing {

struct CeOptions {
  int64_t ignore_index = -100;
  double lse_square_scale = 0.0;
  double label_smoothing = 0.0;
  std::string reduction = "mean";
  c10::optional<double> softcap;
  bool token_scaling = false;  // FLCE: each row's loss times p_y (detached)
};

// logits (rows, V) float64; weight (V,) or undefined. mean: loss / N (or / W_sum with class weights)
// plus z / N; all targets ignored gives 0 (Liger), not 0 / 0.
inline at::Tensor ce_reference(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight,
                               const CeOptions& o) {
  at::Tensor x = logits;
  if (o.softcap) x = *o.softcap * at::tanh(x / *o.softcap);
  const int64_t classes = x.size(1);
  const at::Tensor valid = (target != o.ignore_index).to(x.scalar_type());
  const at::Tensor y = at::where(target != o.ignore_index, target, at::zeros_like(target));
  const at::Tensor logp = at::log_softmax(x, 1);
  const at::Tensor w = weight.defined() ? weight.to(x.options()) : at::ones({classes}, x.options());
  const at::Tensor w_y = w.index_select(0, y);
  const at::Tensor logp_y = logp.gather(1, y.unsqueeze(1)).squeeze(1);
  const double ls = o.label_smoothing;
  at::Tensor loss = ((1 - ls) * (-logp_y * w_y) + (ls / classes) * (-(logp * w).sum(1))) * valid;
  const at::Tensor lse = at::logsumexp(x, 1);
  at::Tensor z = o.lse_square_scale * lse * lse * valid;
  if (o.token_scaling) {
    const at::Tensor f = logp_y.exp().detach() * valid;
    loss = loss * f;
    z = z * f;
  }
  if (o.reduction == "none") return loss + z;
  if (o.reduction == "sum") return loss.sum() + z.sum();
  const at::Tensor n = valid.sum();
  const at::Tensor denom = weight.defined() ? (w_y * valid).sum() : n;
  const at::Tensor one = at::ones_like(n);
  return loss.sum() / at::where(n > 0, denom, one) + z.sum() / at::where(n > 0, n, one);
}

// Targets in [0, classes) with about `ignore_fraction` of them set to ignore_index.
inline at::Tensor make_targets(int64_t rows, int64_t classes, int64_t ignore_index, double ignore_fraction,
                               const at::TensorOptions& opts) {
  at::Tensor t = at::randint(0, classes, {rows}, opts.dtype(at::kLong));
  if (ignore_fraction > 0) {
    const at::Tensor drop = at::rand({rows}, opts.dtype(at::kFloat)) < ignore_fraction;
    t = at::where(drop, at::full_like(t, ignore_index), t);
  }
  return t;
}

}  // namespace ligerbench::testing
