// fused_linear_orpo: KERNELS.md section 13. Baseline and reference: the unfused composition
// (preference_common.h).
#include "liger/fused_linear_orpo.h"

#include "preference_common.h"
#include "specs.h"

namespace ligerbench::specs {

KernelSpec fused_linear_orpo() {
  KernelSpec s = preference_spec(PreferenceKind::kORPO, "fused_linear_orpo",
                                 "ORPO loss of input @ weight^T + bias, chunked over chosen/rejected pairs",
                                 "liger::fused_linear_orpo_forward");
  // log_odds_chosen is a mean over pairs of log odds, each a difference of two averaged log-probs
  // of magnitude about log V: near zero when chosen and rejected are alike, while fp32 rounds each
  // log-prob by a few u log V (seen: 1.3e-7 on a mean of 2.9e-3 at V 8, baseline alike). fp32's
  // floor is therefore 32 u (1.9e-6) here; bf16/fp16 keep preference_spec's, whose elementwise
  // atol already covers this term.
  s.tolerances["fp32"].abs_floor = 0x1p-24 * 32;
  s.liger = [](const KernelInputs& in, const CaseConfig& c) {
    const PreferenceInputs p = unpack_preference(in);
    const auto o = liger::fused_linear_orpo(p.input, p.weight, p.target, optional_tensor(p.bias),
                                            optional_tensor(p.nll_target), preference_ignore_index(c),
                                            c.param_double("beta"), c.param_bool("compute_nll_loss"),
                                            std::stoll(c.param("chunk_size")));
    return preference_outputs(o, {o.log_odds_ratio, o.log_odds_chosen});
  };
  return s;
}

}  // namespace ligerbench::specs
