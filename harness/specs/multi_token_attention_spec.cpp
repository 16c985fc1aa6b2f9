// multi_token_attention: KERNELS.md section 8. Baseline: the PyTorch composition of Liger's test
// and benchmark (masked_fill with -1e9 above the diagonal, softmax or a sort-based sparsemax,
// conv2d, masked_fill with 0; multi_token_attention_math.h), in the data's dtype. Reference: the
// same in float64.
#include "liger/multi_token_attention.h"

#include <cmath>

#include "multi_token_attention_math.h"
#include "specs.h"

namespace ligerbench::specs {
namespace {

bool sparse_of(const CaseConfig& c) { return c.param_bool("sparse"); }
int64_t padding_of(const CaseConfig& c) { return c.axis("K") / 2; }  // 'same' output, as Liger's tests and benchmark

// Padding K/2 keeps the L x L grid, on which the causal mask is defined, only for an odd K.
std::string odd_kernel_size(int64_t k) { return k % 2 == 1 ? "" : "K must be odd (padding K/2 keeps the L x L grid)"; }

// Scores ~ N(0, 1); weight and bias uniform in +-1/sqrt(fan_in) (nn.Conv2d's initialisation, so
// the bias and its gradient are not zero).
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t B = c.axis("B"), C = c.axis("C"), L = c.axis("L"), K = c.axis("K");
  TORCH_CHECK(odd_kernel_size(K).empty(), "multi_token_attention case: ", odd_kernel_size(K), ", got K = ", K);
  const auto opts = at::TensorOptions().device(c.device).dtype(c.dtype);
  const double bound = 1.0 / std::sqrt(static_cast<double>(C * K * K));
  KernelInputs in;
  in.tensors.push_back(at::randn({B, C, L, L}, opts).requires_grad_(true));
  in.tensors.push_back(at::empty({C, C, K, K}, opts).uniform_(-bound, bound).requires_grad_(true));
  in.names = {"scores", "weight"};
  if (c.param_bool("bias")) {
    add_input(in, "bias", at::empty({C}, opts).uniform_(-bound, bound).requires_grad_(true));
  }
  return in;
}

c10::optional<at::Tensor> bias_of(const KernelInputs& in) { return optional_input(in, 2); }

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::multi_token_attention(in.tensors[0], in.tensors[1], bias_of(in), 1, padding_of(c), 1, 1, sparse_of(c))};
}

at::Tensor composition(const KernelInputs& in, const CaseConfig& c) {
  return mta_composition(in.tensors[0], in.tensors[1], bias_of(in), {1, padding_of(c), 1, 1}, sparse_of(c));
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) { return {composition(in, c)}; }
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) { return {composition(in, c)}; }

// n = B C L^2 score elements. Forward: read the scores, write the output (P is written and read
// once more by any implementation that saves it); the convolution's 2 C K^2 flops an element.
// Backward: read dOut and P, write dScores; the two convolution gradients.
Cost cost(const CaseConfig& c, Mode m) {
  const double B = c.axis("B"), C = c.axis("C"), L = c.axis("L"), K = c.axis("K");
  const double n = B * C * L * L, es = at::elementSize(c.dtype);
  const double conv_flops = 2 * n * C * K * K;
  const Cost fwd{3 * n * es, conv_flops + 4 * n};
  const Cost bwd{3 * n * es, 2 * conv_flops + 3 * n};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec multi_token_attention() {
  KernelSpec s = named_spec("multi_token_attention", "attention",
                            "causal mask + softmax/sparsemax of attention scores, key-query conv2d, output mask",
                            {"liger::multi_token_attention_forward", "liger::multi_token_attention_backward",
                             "liger::multi_token_attention_probs", "liger::multi_token_attention_probs_backward_"});
  s.axes = {{"B", 2, "batch"},
            {"C", 4, "heads (conv in and out channels)"},
            {"L", 1024, "sequence length (scores are L x L)"},
            {"K", 3, "conv kernel size (odd; padding K/2 keeps L)", 1, 1, odd_kernel_size}};
  s.small_axes = {{"B", 2}, {"C", 3}, {"L", 13}, {"K", 3}};
  s.params = {{"sparse", "false", {"false", "true"}, nullptr}, {"bias", "true", {"true", "false"}, nullptr}};
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  // The baseline's masked scores, probabilities, conv output, output and the three gradients,
  // plus the sort of the sparse variant (values and int64 indices) and the float64 reference.
  s.memory_estimate = [](const CaseConfig& c) {
    const double n = static_cast<double>(c.axis("B")) * c.axis("C") * c.axis("L") * c.axis("L");
    return n * (8.0 * at::elementSize(c.dtype) + (c.param_bool("sparse") ? 12.0 : 0.0));
  };
  return s;
}

}  // namespace ligerbench::specs
