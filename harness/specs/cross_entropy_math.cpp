#include "cross_entropy_math.h"

#include <ATen/core/Reduction.h>

#include <string>

#include "specs.h"

namespace ligerbench::specs {
namespace {

std::string validate_integer(const std::string& v) {
  try {
    std::size_t used = 0;
    (void)std::stoll(v, &used);
    return used == v.size() ? "" : "not an integer";
  } catch (const std::exception&) {
    return "not an integer";
  }
}

std::string validate_unit_interval(const std::string& v) {
  if (auto why = validate_number(v); !why.empty()) return why;
  const double d = std::stod(v);
  return d >= 0.0 && d <= 1.0 ? "" : "must be between 0 and 1";
}

std::string validate_softcap(const std::string& v) { return v == "none" ? "" : validate_positive(v); }

int64_t reduction_enum(const std::string& r) {
  return r == "none" ? at::Reduction::None : r == "sum" ? at::Reduction::Sum : at::Reduction::Mean;
}

}  // namespace

std::vector<ParamSpec> ce_param_specs() {
  return {
      {"ignore_index", "-100", {}, validate_integer},
      {"label_smoothing", "0.0", {}, validate_unit_interval},
      {"lse_square_scale", "0.0", {}, validate_number},
      {"softcap", "none", {}, validate_softcap},
      {"reduction", "mean", {"mean", "sum", "none"}, nullptr},
      {"ignore_fraction", "0.0", {}, validate_unit_interval},
      {"use_class_weights", "false", {"true", "false"}, nullptr},
  };
}

CeParams ce_params(const CaseConfig& c) {
  CeParams p;
  p.ignore_index = static_cast<int64_t>(std::stoll(c.param("ignore_index")));
  p.label_smoothing = c.param_double("label_smoothing");
  p.lse_square_scale = c.param_double("lse_square_scale");
  if (c.param("softcap") != "none") p.softcap = c.param_double("softcap");
  p.reduction = c.param("reduction");
  return p;
}

at::Tensor ce_targets(const CaseConfig& c, int64_t rows, int64_t classes) {
  const auto opts = at::TensorOptions().device(c.device);
  at::Tensor t = at::randint(0, classes, {rows}, opts.dtype(at::kLong));
  const double fraction = c.param_double("ignore_fraction");
  if (fraction > 0) {
    const at::Tensor drop = at::rand({rows}, opts.dtype(at::kFloat)) < fraction;
    t = at::where(drop, at::full_like(t, static_cast<int64_t>(std::stoll(c.param("ignore_index")))), t);
  }
  return t;
}

at::Tensor ce_class_weights(const CaseConfig& c, int64_t classes) {
  if (!c.param_bool("use_class_weights")) return at::Tensor();
  return 0.5 + at::rand({classes}, at::TensorOptions().device(c.device).dtype(at::kFloat));
}

at::Tensor ce_baseline(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight,
                       const CeParams& p) {
  at::Tensor x = logits;
  if (p.softcap) x = *p.softcap * at::tanh(x / *p.softcap);
  const c10::optional<at::Tensor> w =
      weight.defined() ? c10::optional<at::Tensor>(weight.to(x.scalar_type())) : c10::nullopt;
  const at::Tensor valid = target != p.ignore_index;
  const bool per_row = p.token_scaling || p.reduction == "none";
  at::Tensor loss = at::cross_entropy_loss(x, target, w, per_row ? at::Reduction::None : reduction_enum(p.reduction),
                                           p.ignore_index, p.label_smoothing);
  at::Tensor z;
  if (p.lse_square_scale != 0.0) {
    const at::Tensor lse = at::logsumexp(x, -1);
    z = at::where(valid, p.lse_square_scale * lse * lse, at::zeros_like(lse)).to(loss.scalar_type());
  }
  if (!per_row) {
    if (!z.defined()) return loss;
    return loss + (p.reduction == "mean" ? z.sum() / valid.sum() : z.sum());
  }
  if (p.token_scaling) {
    const at::Tensor safe = at::where(valid, target, at::zeros_like(target));
    const at::Tensor p_y = at::softmax(x.detach(), -1).gather(1, safe.unsqueeze(1)).squeeze(1) * valid;
    loss = loss * p_y;
    if (z.defined()) z = z * p_y;
  }
  if (z.defined()) loss = loss + z;
  if (p.reduction == "none") return loss;
  if (p.reduction == "sum") return loss.sum();
  // mean of the token-scaled rows: the sum over N (unweighted) or over the target weights
  const at::Tensor denom = w ? w->index_select(0, at::where(valid, target, at::zeros_like(target))).mul(valid).sum()
                             : valid.sum().to(loss.scalar_type());
  return loss.sum() / denom;
}

at::Tensor ce_reference(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight,
                        const CeParams& p) {
  at::Tensor x = logits;
  if (p.softcap) x = *p.softcap * at::tanh(x / *p.softcap);
  const int64_t classes = x.size(1);
  const at::Tensor valid = (target != p.ignore_index).to(x.scalar_type());
  const at::Tensor y = at::where(target != p.ignore_index, target, at::zeros_like(target));
  const at::Tensor lse = at::logsumexp(x, 1);
  const at::Tensor x_y = x.gather(1, y.unsqueeze(1)).squeeze(1);
  const at::Tensor w = weight.defined() ? weight.to(x.options()) : at::Tensor();
  const at::Tensor w_y = w.defined() ? w.index_select(0, y) : at::ones_like(lse);
  at::Tensor loss = (lse - x_y) * w_y;
  const double ls = p.label_smoothing, eps = ls / static_cast<double>(classes);
  if (ls > 0) {
    const at::Tensor smooth = w.defined() ? eps * (lse * w.sum() - (x * w).sum(1)) : ls * lse - eps * x.sum(1);
    loss = (1 - ls) * loss + smooth;
  }
  loss = loss * valid;
  at::Tensor z = p.lse_square_scale * lse * lse * valid;
  if (p.token_scaling) {
    const at::Tensor f = (x_y - lse).exp().detach() * valid;
    loss = loss * f;
    z = z * f;
  }
  if (p.reduction == "none") return loss + z;
  if (p.reduction == "sum") return loss.sum() + z.sum();
  const at::Tensor n = valid.sum();
  const at::Tensor one = at::ones_like(n);
  const at::Tensor denom = w.defined() ? (w_y * valid).sum() : n;
  return loss.sum() / at::where(n > 0, denom, one) + z.sum() / at::where(n > 0, n, one);
}

}  // namespace ligerbench::specs
