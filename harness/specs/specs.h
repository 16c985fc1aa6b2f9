#pragma once
// One function per kernel, each in harness/specs/<kernel>_spec.cpp.
#include "ligerbench/kernel_spec.h"

namespace ligerbench::specs {

KernelSpec rms_norm();
KernelSpec layer_norm();
KernelSpec softmax();
KernelSpec sparsemax();
KernelSpec rope();
KernelSpec swiglu();
KernelSpec geglu();
KernelSpec embedding();
KernelSpec cross_entropy();
KernelSpec fused_linear_cross_entropy();
KernelSpec kl_div();
KernelSpec jsd();
KernelSpec fused_linear_jsd();
KernelSpec fused_linear_cpo();
KernelSpec fused_linear_dpo();
KernelSpec fused_linear_orpo();
KernelSpec fused_linear_simpo();
KernelSpec multi_token_attention();
KernelSpec matmul_int2xint8();

// Helpers the specs share.
std::string validate_number(const std::string& v);
std::string validate_positive(const std::string& v);

// Appends `t` to the inputs as `name`; an undefined `t` (an optional input the case leaves out)
// is not added, so the optional inputs come last and in a fixed order.
void add_input(KernelInputs& in, std::string name, at::Tensor t);

// The input at `index`, or nullopt where the case left that optional input out (add_input).
c10::optional<at::Tensor> optional_input(const KernelInputs& in, std::size_t index);

// A single input, "input": randn of `shape` in the case's dtype on its device, requiring grad.
KernelInputs randn_input(const CaseConfig& c, std::vector<int64_t> shape);

// An optional tensor argument of a Liger op: nullopt for an undefined tensor (an input the case
// does not have).
c10::optional<at::Tensor> optional_tensor(const at::Tensor& t);

// A linear layer (x w^T + b) with the rounding points of a CUDA GEMM on 16-bit data: products
// accumulated in fp32, rounded once. On the CPU, LibTorch 1.13's bf16 GEMM accumulates in bf16
// when its second operand is row-major, which a linear's input gradient is (measured on a 2-core
// AMD EPYC without AVX-512: rel_l2 0.036 from float64 at K 1000, 0.071 at K 4096, against 0.0017
// with fp32 accumulation), and it has no fp16 GEMM: there both are computed in fp32. The
// baselines' and the MLP scope's LM heads and projections use it, so a case measures the kernel
// under test, not this GEMM (the liger side's own GEMMs follow the same rule, matmul_into.h).
at::Tensor linear_fp32_accumulated(const at::Tensor& x, const at::Tensor& w,
                                   const c10::optional<at::Tensor>& b = c10::nullopt);

// A spec with its identity filled in: registry name, category, one-line description and the
// dispatcher ops that make up the liger side.
KernelSpec named_spec(std::string name, std::string category, std::string description, std::vector<std::string> ops);

// A spec's calls, set in one statement (set_calls).
struct SpecCalls {
  std::function<KernelInputs(const CaseConfig&)> make_inputs;
  KernelFn liger;
  KernelFn baseline;
  KernelFn reference;
  std::function<Cost(const CaseConfig&, Mode)> cost;
};
void set_calls(KernelSpec& s, SpecCalls calls);

// What every floating-point kernel offers: fp32, fp16 and bf16 (default `default_dtype`) in the
// forward, backward, full and inference modes.
void offer_float_dtypes(KernelSpec& s, const std::string& default_dtype);

// A cost model's answer for mode `m`; full mode is forward plus backward unless `full` is given
// (a kernel whose forward already does the backward's work says so). Inference is the forward:
// a kernel whose forward writes gradients answers kInference itself, before calling this.
Cost cost_by_mode(Mode m, const Cost& fwd, const Cost& bwd);
Cost cost_by_mode(Mode m, const Cost& fwd, const Cost& bwd, const Cost& full);

}  // namespace ligerbench::specs
