#pragma once
// The pairwise preference losses of CPO, DPO (every loss_type), ORPO and SimPO as functions of the
// per-sequence log-probs, with their analytic derivatives (KERNELS.md sections 11-14). Elementwise
// over the pairs of one chunk, in the log-probs' dtype (fp32, or fp64 for fp64 inputs).
#include <ATen/ATen.h>

#include "fused_linear_preference.h"

namespace liger::detail {

struct PairTerms {
  at::Tensor loss;        // per pair, before the division by the number of pairs
  at::Tensor d_chosen;    // d loss / d chosen_logps
  at::Tensor d_rejected;  // d loss / d rejected_logps
};

// c, r: the policy's chosen/rejected log-probs; rc, rr: the reference model's (DPO; zeros otherwise).
PairTerms pair_terms(const PreferenceOptions& o, const at::Tensor& c, const at::Tensor& r, const at::Tensor& rc,
                     const at::Tensor& rr);

// ORPO's log odds ratio per pair: (c - r) - (log1p(-exp c) - log1p(-exp r)).
at::Tensor orpo_log_odds(const at::Tensor& c, const at::Tensor& r);

}  // namespace liger::detail
