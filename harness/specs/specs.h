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

}  // namespace ligerbench::specs
