#pragma once
// Gated activations of SwiGLU and GeGLU (KERNELS.md sections 4 and 5): the activation value and
// its derivative, shared by the CPU kernels and the CUDA kernels so both compute the same thing.
// Free of LibTorch so that .cu files can include it. Acc is float (fp32/fp16/bf16 data) or
// double (float64 on CPU, for gradchecks).
#include <cmath>

#ifdef __CUDACC__
#define LIGER_HOST_DEVICE __host__ __device__ __forceinline__
#else
#include "../cpu/vec_math.h"
#define LIGER_HOST_DEVICE LIGER_ALWAYS_INLINE
#endif

namespace liger {

enum class GluActivation : int {
  kSiLU = 0,      // SwiGLU: silu(z) = z * sigmoid(z)
  kGeluTanh = 1,  // GeGLU: the tanh approximation of GELU (gelu_pytorch_tanh)
};

namespace glu {

#ifdef __CUDACC__
LIGER_HOST_DEVICE float exp_(float v) { return expf(v); }
LIGER_HOST_DEVICE float tanh_(float v) { return tanhf(v); }
#else
// On the host (the CPU kernels) the vectorizable float approximations (about 1 ulp).
LIGER_HOST_DEVICE float exp_(float v) { return cpu::exp_approx(v); }
LIGER_HOST_DEVICE float tanh_(float v) { return cpu::tanh_approx(v); }
#endif
LIGER_HOST_DEVICE double exp_(double v) { return exp(v); }
LIGER_HOST_DEVICE double tanh_(double v) { return tanh(v); }

template <typename Acc>
LIGER_HOST_DEVICE Acc sigmoid(Acc z) {
  return Acc(1) / (Acc(1) + exp_(-z));
}

template <typename Acc>
LIGER_HOST_DEVICE Acc silu(Acc z) {
  return z * sigmoid(z);
}

// GELU, tanh approximation: g = 0.5 a (1 + tanh u), u = sqrt(2/pi) (a + 0.044715 a^3).
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluCoef = 0.044715;

template <typename Acc>
LIGER_HOST_DEVICE Acc gelu_tanh_t(Acc a) {
  return tanh_(Acc(kSqrt2OverPi) * (a + Acc(kGeluCoef) * a * a * a));
}
template <typename Acc>
LIGER_HOST_DEVICE Acc gelu_tanh(Acc a) {
  return Acc(0.5) * a * (Acc(1) + gelu_tanh_t(a));
}

// The elementwise op with Liger's rounding points; round(v) rounds v to the storage dtype and
// back (identity for fp32/fp64). Everything else is computed in Acc and rounded once on store.
// SwiGLU: c = round(silu(a * gm)) * b, then round(c) * dm when dm != 1.
// GeGLU:  c = round(gelu_tanh(a)) * b (gm, dm unused).
template <GluActivation ACT, typename Acc, typename Round>
LIGER_HOST_DEVICE Acc glu_forward(Acc a, Acc b, Acc gm, Acc dm, Round round) {
  if (ACT == GluActivation::kSiLU) {
    Acc c = round(silu(a * gm)) * b;
    if (dm != Acc(1)) c = round(c) * dm;
    return c;
  }
  return round(gelu_tanh(a)) * b;
}

// Backward, recomputed from a and b.
// SwiGLU: z = a gm, s = sigmoid(z), v = z s, g = dc dm: db = g v, da = g b (v (1 - s) + s) gm.
// GeGLU:  db = dc round(gelu(a)); da = round(dc b) (0.5 (1 + t) + 0.5 a (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 a^2)).
// GeGLU's dc b is rounded to the storage dtype because both Liger's kernel (a product of two
// 16-bit loads) and the PyTorch MLP (mul's backward hands gelu's backward a 16-bit gradient) round
// it there; an unrounded fp32 product gives a gate gradient one 16-bit ulp away from theirs at
// random elements, and the gate_proj weight gradient, a sum of thousands of them, drifts out of
// Liger's bf16 tolerance (1e-2) where the sum cancels.
template <GluActivation ACT, typename Acc, typename Round>
LIGER_HOST_DEVICE void glu_backward(Acc dc, Acc a, Acc b, Acc gm, Acc dm, Round round, Acc& da, Acc& db) {
  if (ACT == GluActivation::kSiLU) {
    const Acc z = a * gm;
    const Acc s = sigmoid(z);
    const Acc v = z * s;
    const Acc g = dc * dm;
    db = g * v;
    da = g * b * (v * (Acc(1) - s) + s) * gm;
  } else {
    const Acc t = gelu_tanh_t(a);
    db = dc * round(Acc(0.5) * a * (Acc(1) + t));
    da = round(dc * b) *
         (Acc(0.5) * (Acc(1) + t) +
          Acc(0.5) * a * (Acc(1) - t * t) * (Acc(kSqrt2OverPi) * (Acc(1) + Acc(3 * kGeluCoef) * a * a)));
  }
}

}  // namespace glu
}  // namespace liger
