#pragma once
// The alignment-loss family (KERNELS.md sections 11-14): CPO, DPO, ORPO and SimPO share one
// implementation, the chunked fused-linear skeleton (chunked_fused_linear.h) with a per-chunk
// preference functor: per-token log-probs of the targets, per-sequence log-probs (summed or
// averaged), the optional NLL of the chosen half, the pairwise loss of the chunk's pairs and its
// analytic gradient written back as d(logits). Each op's own file (fused_linear_<method>.cpp)
// holds only its schema, its options and the calls into this one.
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#include <array>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "fused_linear_autocast.h"

namespace liger::detail {

enum class PreferenceMethod { kCPO, kDPO, kORPO, kSimPO };

// DPO's loss_type values (KERNELS.md section 12); "ipo" and unknown names are errors.
enum class DpoLossType { kSigmoid, kHinge, kExoPair, kNcaPair, kRobust, kBcoPair, kSppoHard, kApoZero, kApoDown, kDiscopop };
DpoLossType parse_dpo_loss_type(const std::string& name, double label_smoothing, const char* op);

struct PreferenceOptions {
  PreferenceMethod method = PreferenceMethod::kCPO;
  const char* op = "";  // the operator's name, for error messages
  int64_t ignore_index = -100;
  double beta = 0.1;
  double alpha = 1.0;  // weight of the NLL term
  double label_smoothing = 0.0;
  double gamma = 0.5;          // SimPO's margin
  double discopop_tau = 0.05;  // DPO discopop
  bool compute_nll_loss = true;
  bool average_log_prob = false;
  bool use_ref_model = false;  // DPO
  DpoLossType loss_type = DpoLossType::kSigmoid;
  int64_t chunk_size = 1;  // sequences per half in one chunk
};

struct PreferenceTensors {
  at::Tensor input;   // (B, T, H): rows [0, B/2) chosen, [B/2, B) rejected
  at::Tensor weight;  // (V, H)
  at::Tensor target;  // (B, T) int64/int32
  c10::optional<at::Tensor> bias;
  c10::optional<at::Tensor> nll_target;  // ORPO: (B, T); default target
  // DPO's reference model: hidden states and lm_head, or its precomputed log-probs (B/2,) each.
  c10::optional<at::Tensor> ref_input, ref_weight, ref_bias, ref_chosen_logps, ref_rejected_logps;
};

// Output of one forward: the loss, the auxiliary outputs in Liger's order (chosen_logps,
// rejected_logps, chosen_logits_mean, rejected_logits_mean, nll_loss, chosen_rewards,
// rejected_rewards, and for ORPO log_odds_ratio, log_odds_chosen) and the gradients of the loss
// (undefined where not asked for).
struct PreferenceForward {
  at::Tensor loss;
  std::vector<at::Tensor> aux;
  at::Tensor grad_input, grad_weight, grad_bias;
};
using PreferenceForwardTuple = std::tuple<at::Tensor, std::vector<at::Tensor>, at::Tensor, at::Tensor, at::Tensor>;
using PreferenceLossTuple = std::tuple<at::Tensor, std::vector<at::Tensor>>;

PreferenceForward preference_forward(const PreferenceTensors& t, const PreferenceOptions& o, std::array<bool, 3> grad_mask);
PreferenceForwardTuple as_tuple(PreferenceForward f);
PreferenceForward from_tuple(PreferenceForwardTuple t);

// Runs an op's forward half (through the dispatcher) with the given grad_mask.
using PreferenceRunner = std::function<PreferenceForward(std::array<bool, 3>)>;

// The differentiable op: gradients computed in the forward for each of input, weight, bias that
// requires one; backward rescales them by the upstream scalar (rescale_stored_grads_).
PreferenceLossTuple preference_autograd(const at::Tensor& input, const at::Tensor& weight,
                                        const c10::optional<at::Tensor>& bias, const PreferenceRunner& run);
// Below autograd: the loss and aux outputs only.
PreferenceLossTuple preference_no_grad(const PreferenceRunner& run);

// The kernels every alignment op registers, generated from its forward half: the op's arguments
// are (input, weight, target, bias, Options...), its forward half's the same plus grad_mask.
// `Forward` is the forward half's typed dispatcher call, so the Autograd kernel reaches the CPU or
// CUDA kernel through the dispatcher; `Loss` the op's own, for the Autocast kernel.
template <typename... Options>
struct PreferenceKernels {
  using LossSignature = PreferenceLossTuple(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                            const c10::optional<at::Tensor>&, Options...);
  using ForwardSignature = PreferenceForwardTuple(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                  const c10::optional<at::Tensor>&, Options..., std::array<bool, 3>);

  template <ForwardSignature* Forward>
  static PreferenceLossTuple autograd(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, Options... options) {
    return preference_autograd(input, weight, bias, [&](std::array<bool, 3> mask) {
      return from_tuple(Forward(input, weight, target, bias, options..., mask));
    });
  }

  // torch.autocast on: fp32 hidden states in autocast's dtype (a differentiable cast: their
  // gradient returns in fp32), weight and bias as they are (the skeleton casts them for its GEMMs),
  // then the op again below autocast (fused_linear_autocast.h). DPO's reference model runs in its
  // own dtype.
  template <LossSignature* Loss>
  static PreferenceLossTuple autocast(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, Options... options) {
    const at::Tensor x = autocast_activation(input);
    const BelowAutocast below;
    return Loss(x, weight, target, bias, options...);
  }

  template <ForwardSignature* Forward>
  static PreferenceLossTuple no_grad(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                     const c10::optional<at::Tensor>& bias, Options... options) {
    return preference_no_grad([&](std::array<bool, 3> mask) {
      return from_tuple(Forward(input, weight, target, bias, options..., mask));
    });
  }
};

}  // namespace liger::detail
