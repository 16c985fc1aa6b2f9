#pragma once
// What lets the CPU kernels' inner loops vectorize (docs/perf/cpu.md):
// - LIGER_CPU_CLONES compiles a function three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2,
//   FMA, F16C) and the baseline ISA, and picks one when the library loads (GCC/Clang
//   target_clones), so one binary runs everywhere and uses the widest vectors the CPU has, as
//   ATen's own CPU kernels do. Put it on the function that holds the loop: a lambda inside it is
//   not cloned.
// - LIGER_SIMD / LIGER_SIMD_REDUCE mark loops as vectorizable (-fopenmp-simd, no OpenMP runtime);
//   a marked reduction may be summed in any order, so results differ from a sequential sum by
//   rounding only. The CPU kernels compile with -fno-trapping-math (kernels/CMakeLists.txt), which
//   lets the compiler turn the selects below into vector blends; no result changes.
// - exp_approx, log_approx, tanh_approx: branch-free expf, logf and tanhf (Cephes' polynomials, about 1 ulp; see
//   docs/perf/cpu.md) that vectorize where std::exp does not (glibc's vector expf needs
//   -ffast-math).
#include <ATen/OpMathType.h>
#include <c10/util/BFloat16.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(__CUDACC__)
#define LIGER_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LIGER_CPU_CLONES
#endif

// Inlined into each clone, so that the loop around it vectorizes.
#define LIGER_ALWAYS_INLINE __attribute__((always_inline)) inline

#define LIGER_PRAGMA(x) _Pragma(#x)
#define LIGER_SIMD LIGER_PRAGMA(omp simd)
#define LIGER_SIMD_REDUCE(op, ...) LIGER_PRAGMA(omp simd reduction(op : __VA_ARGS__))

namespace liger::cpu {

LIGER_ALWAYS_INLINE float bits_to_float(int32_t bits) { return __builtin_bit_cast(float, bits); }

// e^x in float: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7 polynomial, 2^n through the
// exponent bits. Results below 2^-126 (x < about -87.3) are 0; NaN stays NaN; +inf and x above
// float's range give +inf.
LIGER_ALWAYS_INLINE float exp_approx(float x) {
  constexpr float kMax = 88.7228390f;   // log(FLT_MAX)
  constexpr float kMin = -87.3365448f;  // log(2^-126): below it the result would be denormal
  const float xc = x > kMax ? kMax : (x < kMin ? kMin : x);  // NaN fails both tests and stays
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (no rounding instruction).
  constexpr float kRound = 12582912.0f;
  const float n = (xc * 1.44269504088896341f + kRound) - kRound;
  float r = xc - n * 0.693359375f;  // ln2 in two parts (Cephes C1, C2) keeps r exact
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n as two factors: n reaches 128 near kMax, past the largest exponent one float holds.
  const int32_t ni = static_cast<int32_t>(n), half = ni >> 1;
  const float y = p * bits_to_float((half + 127) << 23) * bits_to_float((ni - half + 127) << 23);
  return x > kMax ? std::numeric_limits<float>::infinity() : (x < kMin ? 0.0f : y);
}

LIGER_ALWAYS_INLINE int32_t float_to_bits(float f) { return __builtin_bit_cast(int32_t, f); }

// ln x in float (Cephes' logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln(m) by a polynomial in
// m - 1. Subnormal inputs are scaled up first; 0 gives -inf, x < 0 NaN, +inf +inf, NaN NaN.
LIGER_ALWAYS_INLINE float log_approx(float x) {
  constexpr float kMinNormal = 1.17549435e-38f;
  const bool subnormal = x < kMinNormal;
  const int32_t bits = float_to_bits(subnormal ? x * 8388608.0f : x);  // 2^23
  const int32_t e = ((bits >> 23) & 0xff) - 126 - (subnormal ? 23 : 0);
  const float m = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  const bool low = m < 0.707106781186547524f;
  const float ef = static_cast<float>(low ? e - 1 : e);
  const float f = low ? m + m - 1.0f : m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = f * z * p + ef * -2.12194440e-4f - 0.5f * z;
  const float r = f + y + ef * 0.693359375f;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float special = x == 0.0f ? -kInf : (x == kInf ? kInf : std::numeric_limits<float>::quiet_NaN());
  return x > 0.0f && x < kInf ? r : (x != x ? x : special);
}

// tanh in float (Cephes' tanhf): an odd polynomial below 0.625, else 1 - 2 / (e^2|x| + 1); NaN
// stays NaN, +-inf give +-1.
LIGER_ALWAYS_INLINE float tanh_approx(float x) {
  const float ax = std::fabs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float big = 1.0f - 2.0f / (exp_approx(2.0f * (ax > 44.0f ? 44.0f : ax)) + 1.0f);
  const float large = x < 0 ? -big : big;
  return ax < 0.625f ? small : (x != x ? x : large);
}

// 16-bit loads and stores written so that they vectorize (c10's own conversions, with their
// isnan test and calls, keep the loop scalar); the same round-to-nearest-even and NaN as c10.
template <typename T>
LIGER_ALWAYS_INLINE auto load(T v) {
  if constexpr (std::is_same_v<T, c10::BFloat16>) {
    const int32_t bits = static_cast<int32_t>(static_cast<uint32_t>(v.x) << 16);
    return bits_to_float(bits);
  } else {
    return static_cast<at::opmath_type<T>>(v);
  }
}

template <typename T, typename Acc>
LIGER_ALWAYS_INLINE T store(Acc v) {
  if constexpr (std::is_same_v<T, c10::BFloat16>) {
    const uint32_t u = __builtin_bit_cast(uint32_t, v);
    const uint32_t rounded = (u + (((u >> 16) & 1u) + 0x7FFFu)) >> 16;
    return T(static_cast<uint16_t>(v != v ? 0x7FC0u : rounded), T::from_bits());
  } else {
    return static_cast<T>(v);
  }
}

// v rounded to T and back (the 16-bit rounding points of the CUDA kernels).
template <typename T, typename Acc>
LIGER_ALWAYS_INLINE Acc round_to(Acc v) {
  return static_cast<Acc>(load(store<T>(v)));
}

// exp_of, log_of, tanh_of: at the accumulation type, the approximations above for float and the
// exact libm functions for double (the float64 kernels that gradchecks use).
#define LIGER_FLOAT_OR_DOUBLE(name, float_fn, double_fn) \
  template <typename Acc>                                \
  LIGER_ALWAYS_INLINE Acc name(Acc x) {                  \
    if constexpr (std::is_same_v<Acc, float>)            \
      return float_fn(x);                                \
    else                                                 \
      return double_fn(x);                               \
  }
LIGER_FLOAT_OR_DOUBLE(exp_of, exp_approx, std::exp)
LIGER_FLOAT_OR_DOUBLE(log_of, log_approx, std::log)
LIGER_FLOAT_OR_DOUBLE(tanh_of, tanh_approx, std::tanh)
#undef LIGER_FLOAT_OR_DOUBLE

}  // namespace liger::cpu
