// matmul_int2xint8: KERNELS.md section 19 (experimental, forward only). Baseline: the bf16
// matmul of the unpacked weights, what a model without the 2-bit format runs; it reads 8x the
// weight bytes. The reference decodes the packed bytes itself (integer arithmetic, not the
// kernel's shifts) and multiplies in float64, exact for these integer sums.
#include "liger/matmul_int2xint8.h"

#include "specs.h"

namespace ligerbench::specs {
namespace {

// W (K, N) from packed (K/4, N): quarter i of K is field i of each byte.
at::Tensor decode_weights(const at::Tensor& packed) {
  const at::Tensor bytes = packed.to(at::kLong);
  std::vector<at::Tensor> quarters;
  for (int64_t i = 0, scale = 1; i < 4; ++i, scale *= 4) quarters.push_back(bytes.div(scale, "floor").remainder(4) - 1);
  return at::cat(quarters, 0);
}

// Activations over the whole int8 range and random packed bytes, as Liger's test draws them but
// with 255 included, so that all four codes (weights -1, 0, 1 and the code-3 value 2) occur.
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t M = c.axis("M"), K = c.axis("K"), N = c.axis("N");
  const auto opts = at::TensorOptions().device(c.device);
  const at::Tensor a = at::randint(-128, 128, {M, K}, opts.dtype(at::kChar));
  const at::Tensor b = at::randint(0, 256, {K / 4, N}, opts.dtype(at::kByte));
  KernelInputs in;
  in.tensors = {a, b, a.to(at::kBFloat16), decode_weights(b).to(at::kBFloat16)};
  in.names = {"a", "b_packed", "a_bf16", "w_bf16"};
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig&) {
  return {liger::matmul(in.tensors[0], in.tensors[1])};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig&) {
  return {at::matmul(in.tensors[2], in.tensors[3])};
}

std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig&) {
  return {at::matmul(in.tensors[0].to(at::kDouble), decode_weights(in.tensors[1]).to(at::kDouble))};
}

// The liger kernel's minimum traffic: int8 activations, the packed weights (K N / 4 bytes, the
// figure %copy is about at decode shapes) and the int32 output.
Cost cost(const CaseConfig& c, Mode) {
  const double M = c.axis("M"), K = c.axis("K"), N = c.axis("N");
  return {M * K + K * N / 4 + 4 * M * N, 2 * M * N * K};
}

}  // namespace

KernelSpec matmul_int2xint8() {
  KernelSpec s = named_spec("matmul_int2xint8", "matmul",
                            "int8 activations x 2-bit packed ternary weights -> int32, on the integer tensor cores",
                            {"liger::matmul_int2xint8"});
  s.axes = {{"M", 64, "rows of the activations (decode: batch x new tokens)"},
            {"K", 4096, "reduction dim: four rows of K share a packed byte", 1, 4},
            {"N", 4096, "output features"}};
  s.small_axes = {{"M", 5}, {"K", 36}, {"N", 19}};
  // The bf16 baseline rounds its int32-valued sums to 8 significant bits (|sum| reaches 128 K).
  s.baseline_inexact_dtypes = {"int8"};
  s.dtypes = {"int8"};
  s.default_dtype = "int8";
  s.modes = {Mode::kForward, Mode::kInference};
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  // Inputs (int8 and packed, plus the baseline's bf16 copies), both outputs, and the float64
  // reference's decoded weights, activations and output.
  s.memory_estimate = [](const CaseConfig& c) {
    const double M = c.axis("M"), K = c.axis("K"), N = c.axis("N");
    return 18.25 * K * N + 11 * M * K + 14 * M * N;
  };
  return s;
}

}  // namespace ligerbench::specs
