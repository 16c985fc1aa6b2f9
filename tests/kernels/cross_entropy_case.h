#pragma once
// The cross-entropy options of KERNELS.md sections 6 and 7 as the kernel tests set them, the
// float64 reference of the cross_entropy and fused_linear_cross_entropy specs for them
// (harness/specs/cross_entropy_math.cpp), and the tests' targets.
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#include <map>
#include <string>

#include "spec_reference.h"

namespace ligerbench::testing {

struct CeOptions {
  int64_t ignore_index = -100;
  double lse_square_scale = 0.0;
  double label_smoothing = 0.0;
  std::string reduction = "mean";
  c10::optional<double> softcap;
  bool token_scaling = false;  // FLCE: each row's loss times p_y (detached)
};

// The options as both specs' parameters (ce_param_specs; use_token_scaling is FLCE's).
inline std::map<std::string, std::string> ce_spec_params(const CeOptions& o) {
  std::map<std::string, std::string> p = {{"ignore_index", std::to_string(o.ignore_index)},
                                          {"lse_square_scale", param_value(o.lse_square_scale)},
                                          {"label_smoothing", param_value(o.label_smoothing)},
                                          {"reduction", o.reduction},
                                          {"softcap", o.softcap ? param_value(*o.softcap) : "none"}};
  if (o.token_scaling) p["use_token_scaling"] = "true";
  return p;
}

// Liger's loss of `logits` (rows, V); weight (V,) or undefined; differentiable in the logits.
// Token scaling is an option of the fused_linear_cross_entropy spec alone: its reference is asked
// through an identity lm_head (input @ I^T is the logits exactly, in any dtype).
inline at::Tensor ce_reference(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight,
                               const CeOptions& o) {
  if (!o.token_scaling)
    return spec_reference("cross_entropy", {{"input", logits}, {"target", target}, {"weight", weight}},
                          ce_spec_params(o))[0];
  const at::Tensor identity = at::eye(logits.size(1), logits.options().requires_grad(false));
  return spec_reference("fused_linear_cross_entropy",
                        {{"input", logits}, {"weight", identity}, {"target", target}, {"ce_weight", weight}},
                        ce_spec_params(o))[0];
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
