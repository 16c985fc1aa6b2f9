#pragma once
// The alignment-loss family (KERNELS.md sections 11-14): CPO, DPO, ORPO and SimPO share one
// implementation, the chunked fused-linear skeleton (chunked_fused_linear.h) with a per-chunk
// preference functor: per-token log-probs of the targets, per-sequence log-probs (summed or
// averaged), the optional NLL of the chosen half, the pairwise loss of the chunk's pairs and its
// analytic gradient written back as d(logits). Each op's own file (fused_linear_<method>.cpp)
// holds only its schema, its options and the calls into this one.
#include <ATen/ATen.h>
#include <c10/util/Optional.h>
#include <torch/library.h>

#include <array>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "common/typed_op.h"
#include "fused_linear_autocast.h"
#include "liger/fused_linear_preference.h"

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

// The options every alignment loss takes; the caller sets its own ones on the result.
PreferenceOptions preference_options(PreferenceMethod method, int64_t ignore_index, double beta, bool compute_nll_loss,
                                     int64_t chunk_size);

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
using liger::PreferenceForwardTuple;
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

// The operator schemas of alignment loss `name`: the op, `name(input, weight, target, bias=None,
// <options_schema>) -> (loss, aux)`, and its forward half, `name_forward(...)`, which takes the same
// options without their defaults and a grad_mask and returns the gradients too.
struct PreferenceSchemas {
  std::string loss, forward;
};
PreferenceSchemas preference_schemas(const std::string& name, const std::string& options_schema);

// One alignment loss's operators, from its name (`Name`, unqualified: "fused_linear_cpo") and the
// types of its own arguments: the op's are (input, weight, target, bias, Options...), its forward
// half's the same plus grad_mask. The Autograd and backend kernels reach the forward half through
// the dispatcher, so the Autograd kernel runs the CPU or CUDA one; the Autocast kernel reaches the
// op again below autocast. Registered with LIGER_REGISTER_PREFERENCE_LOSS (below).
template <const char* Name, typename... Options>
struct PreferenceLoss {
  using LossSignature = PreferenceLossTuple(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                            const c10::optional<at::Tensor>&, Options...);
  using ForwardSignature = PreferenceForwardFn<Options...>;

  static const std::string& forward_name() {
    static const std::string name = std::string(Name) + "_forward";
    return name;
  }
  static const char* qualified_name() {
    static const std::string name = std::string("liger::") + Name;
    return name.c_str();
  }

  // The forward half's kernel body (CPU and CUDA alike): the algorithm under this op's name.
  static PreferenceForwardTuple run(const PreferenceTensors& tensors, PreferenceOptions options,
                                    std::array<bool, 3> grad_mask) {
    options.op = qualified_name();
    return as_tuple(preference_forward(tensors, options, grad_mask));
  }

  // The op through the dispatcher: the C++ API and the Autocast kernel call it.
  static PreferenceLossTuple call(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                  const c10::optional<at::Tensor>& bias, Options... options) {
    static const auto op = typed_op<LossSignature>(qualified_name());
    return op.call(input, weight, target, bias, options...);
  }

  // The forward half through the dispatcher (the C++ API's <op>_forward).
  static PreferenceForwardTuple call_forward(const at::Tensor& input, const at::Tensor& weight,
                                             const at::Tensor& target, const c10::optional<at::Tensor>& bias,
                                             Options... options, std::array<bool, 3> grad_mask) {
    static const auto op = typed_op<ForwardSignature>("liger::" + forward_name());
    return op.call(input, weight, target, bias, options..., grad_mask);
  }

  static PreferenceLossTuple autograd(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, Options... options) {
    return preference_autograd(input, weight, bias, [&](std::array<bool, 3> mask) {
      return from_tuple(call_forward(input, weight, target, bias, options..., mask));
    });
  }

  // torch.autocast on: fp32 hidden states in autocast's dtype (a differentiable cast: their
  // gradient returns in fp32), weight and bias as they are (the skeleton casts them for its GEMMs),
  // then the op again below autocast (fused_linear_autocast.h). DPO's reference model runs in its
  // own dtype.
  static PreferenceLossTuple autocast(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                      const c10::optional<at::Tensor>& bias, Options... options) {
    const at::Tensor x = autocast_activation(input);
    const BelowAutocast below;
    return call(x, weight, target, bias, options...);
  }

  static PreferenceLossTuple no_grad(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                     const c10::optional<at::Tensor>& bias, Options... options) {
    return preference_no_grad([&](std::array<bool, 3> mask) {
      return from_tuple(call_forward(input, weight, target, bias, options..., mask));
    });
  }

  static void define(torch::Library& m, const std::string& options_schema) {
    const PreferenceSchemas schemas = preference_schemas(Name, options_schema);
    m.def(schemas.loss.c_str());
    m.def(schemas.forward.c_str());
  }
  static void impl_autograd(torch::Library& m) { m.impl(Name, TORCH_FN(PreferenceLoss::autograd)); }
  static void impl_autocast(torch::Library& m) { m.impl(Name, TORCH_FN(PreferenceLoss::autocast)); }
  // A backend (CPU, CUDA): the op below autograd, and the forward half's kernel.
  template <ForwardSignature* ForwardKernel>
  static void impl_backend(torch::Library& m) {
    m.impl(Name, TORCH_FN(PreferenceLoss::no_grad));
    m.impl(forward_name().c_str(), TORCH_FN(ForwardKernel));
  }
};

}  // namespace liger::detail

// Registers alignment loss `Loss` (a PreferenceLoss): its schemas from `options_schema` (the
// arguments after bias, with defaults), the Autograd and Autocast kernels, and for CPU and CUDA
// alike the op below autograd and `forward_kernel`, the forward half (the algorithm is one for both
// devices: its GEMMs and elementwise steps run on the tensors' device).
#define LIGER_REGISTER_PREFERENCE_LOSS(Loss, forward_kernel, options_schema)        \
  TORCH_LIBRARY_FRAGMENT(liger, m) { Loss::define(m, options_schema); }            \
  TORCH_LIBRARY_IMPL(liger, Autograd, m) { Loss::impl_autograd(m); }              \
  TORCH_LIBRARY_IMPL(liger, CPU, m) { Loss::impl_backend<forward_kernel>(m); }     \
  TORCH_LIBRARY_IMPL(liger, CUDA, m) { Loss::impl_backend<forward_kernel>(m); }    \
  TORCH_LIBRARY_IMPL(liger, AutocastCPU, m) { Loss::impl_autocast(m); }            \
  TORCH_LIBRARY_IMPL(liger, AutocastCUDA, m) { Loss::impl_autocast(m); }
