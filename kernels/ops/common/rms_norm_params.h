#pragma once
// RMSNorm options shared by the CPU kernel, the CUDA launchers and the operator binding.
// Free of LibTorch so that .cu files can include it.

namespace liger {

// How RMSNorm rounds intermediate values; each reproduces a HuggingFace model's code.
enum class RmsCasting : int {
  kLlama = 0,  // fp32 statistics; x*rstd rounded to x's dtype before the weight product
  kGemma = 1,  // everything in fp32, only y rounded
  kNone = 2,   // statistics and products rounded to x's dtype (cheapest, least accurate)
};

}  // namespace liger
