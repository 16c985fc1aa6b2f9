#pragma once
// Per-element math of the KL divergence and (generalised) JSD losses (KERNELS.md sections 15-17),
// shared by the CPU kernels and the CUDA kernels so both compute exactly the same formulas.
// Free of LibTorch so that .cu files can include it.
#include <math.h>

#ifdef __CUDACC__
#define LIGER_HD __host__ __device__ __forceinline__
#else
#include "../cpu/vec_math.h"
#define LIGER_HD LIGER_ALWAYS_INLINE
#endif

namespace liger {

// KLDivLoss reductions (nn.KLDivLoss's names).
enum class KlReduction : int {
  kNone = 0,       // elementwise (BT, V) loss
  kSum = 1,        // sum
  kMean = 2,       // sum / (BT * V)
  kBatchMean = 3,  // sum / BT
};

// Which JSD formula beta selects. The endpoints are special-cased: the generalised formula is
// identically 0 there, Liger computes forward / reverse KL instead.
enum class JsdMode : int {
  kForwardKl = 0,  // beta == 0: KL(P || Q)
  kReverseKl = 1,  // beta == 1: KL(Q || P)
  kGeneral = 2,    // 0 < beta < 1: beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q
};

inline JsdMode jsd_mode_of(double beta) {
  return beta == 0.0 ? JsdMode::kForwardKl : beta == 1.0 ? JsdMode::kReverseKl : JsdMode::kGeneral;
}

// exp and log in the accumulation type. kFast selects the hardware approximations on the GPU
// (used where the inputs are 16-bit, whose rounding dwarfs theirs); the CPU kernels use the
// vectorizable approximations of cpu/vec_math.h (about 1 ulp), float64 stays exact.
template <bool kFast = false>
LIGER_HD float exp_acc(float x) {
#ifdef __CUDA_ARCH__
  if (kFast) return __expf(x);
#endif
#ifdef __CUDACC__
  return expf(x);
#else
  return cpu::exp_approx(x);
#endif
}
template <bool kFast = false>
LIGER_HD double exp_acc(double x) {
  return exp(x);
}
template <bool kFast = false>
LIGER_HD float log_acc(float x) {
#ifdef __CUDA_ARCH__
  // The hardware log flushes subnormal inputs to zero (giving -inf, and inf * 0 = NaN later):
  // clamp to the smallest normal float; a probability that small contributes nothing anyway.
  if (kFast) return __logf(fmaxf(x, 1.17549435e-38f));
#endif
#ifdef __CUDACC__
  return logf(x);
#else
  return cpu::log_approx(x);
#endif
}
template <bool kFast = false>
LIGER_HD double log_acc(double x) {
  return log(x);
}

// One element of KL(y_true || exp(y_pred)): y_true * (log(max(y_true, eps)) - y_pred), so a zero
// target contributes 0; with log_target, exp(y_true) * (y_true - y_pred).
template <typename F>
LIGER_HD F kl_term(F y_pred, F y_true, bool log_target, F eps) {
  if (log_target) return exp_acc(y_true) * (y_true - y_pred);
  return y_true * (log_acc(y_true > eps ? y_true : eps) - y_pred);
}

// d kl_term / d y_pred before reduction scaling: -y_true, or -exp(y_true) with log_target.
template <typename F>
LIGER_HD F kl_grad(F y_true, bool log_target) {
  return log_target ? -exp_acc(y_true) : -y_true;
}

template <typename F>
struct JsdTerm {
  F loss;  // contribution of the element to the row's divergence
  F grad;  // its derivative with respect to log_q
};

// One element of the JSD between the student Q = exp(log_q) and the teacher P = exp(log_p),
// not yet divided by the number of rows n.
template <bool kFast = false, typename F>
LIGER_HD JsdTerm<F> jsd_term(F log_q, F log_p, F beta, JsdMode mode) {
  if (mode == JsdMode::kForwardKl) {
    const F p = exp_acc<kFast>(log_p);
    return {p * (log_p - log_q), -p};
  }
  if (mode == JsdMode::kReverseKl) {
    const F q = exp_acc<kFast>(log_q);
    const F loss = q * (log_q - log_p);
    return {loss, loss + q};
  }
  const F beta_p = beta * exp_acc<kFast>(log_p);
  const F rest_q = (F(1) - beta) * exp_acc<kFast>(log_q);
  const F m = beta_p + rest_q;
  const F log_m = log_acc<kFast>(m);
  return {beta_p * log_p + rest_q * log_q - m * log_m, rest_q * (log_q - log_m)};
}

// jsd_term for the chain rule through a log-softmax (the fused linear JSD): d/d logits =
// (g - q * sum(g)) / T is unchanged when a multiple of q is taken out of g, so the reverse KL's
// "+ Q" is dropped (its grad becomes its loss term); that avoids cancelling Q against
// q * sum(g) in fp32, which costs precision wherever the divergence is small.
template <bool kFast = false, typename F>
LIGER_HD JsdTerm<F> jsd_chain_term(F log_q, F log_p, F beta, JsdMode mode) {
  const JsdTerm<F> t = jsd_term<kFast>(log_q, log_p, beta, mode);
  return mode == JsdMode::kReverseKl ? JsdTerm<F>{t.loss, t.loss} : t;
}

}  // namespace liger
