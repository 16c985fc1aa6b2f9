// The CPU kernels' float approximations and 16-bit conversions (kernels/ops/cpu/vec_math.h)
// against float64 libm and c10: the error bounds docs/perf/cpu.md states, the special values,
// and bf16 rounding identical to c10's.
#include <gtest/gtest.h>

#include <c10/util/BFloat16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../../kernels/ops/cpu/vec_math.h"

namespace {

using liger::cpu::exp_approx;
using liger::cpu::log_approx;
using liger::cpu::tanh_approx;

constexpr float kInf = std::numeric_limits<float>::infinity();

// |approx - exact| in units of the float spacing at the exact value.
double ulps(float approx, double exact) {
  const float e = static_cast<float>(exact);
  const double spacing = std::nextafter(std::fabs(e), kInf) - std::fabs(e);
  return std::fabs(static_cast<double>(approx) - exact) / spacing;
}

TEST(VecMath, ExpWithinOneUlpOverFloatRange) {
  double worst = 0;
  for (float x = -87.3f; x < 88.7f; x += 0.0007f) worst = std::max(worst, ulps(exp_approx(x), std::exp(double(x))));
  EXPECT_LT(worst, 1.0);
}

TEST(VecMath, ExpSpecialValues) {
  EXPECT_TRUE(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(exp_approx(kInf), kInf);
  EXPECT_EQ(exp_approx(-kInf), 0.0f);
  EXPECT_EQ(exp_approx(100.0f), kInf);
  EXPECT_EQ(exp_approx(-100.0f), 0.0f);
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
  EXPECT_GT(exp_approx(88.7f), 3.0e38f);  // near FLT_MAX, not inf
}

TEST(VecMath, LogWithinOneUlpOverNormalFloats) {
  double worst = 0;
  for (float x = 1.2e-38f; x < 3.0e38f; x *= 1.0001f) worst = std::max(worst, ulps(log_approx(x), std::log(double(x))));
  EXPECT_LT(worst, 1.0);
}

TEST(VecMath, LogSpecialValuesAndSubnormals) {
  EXPECT_EQ(log_approx(0.0f), -kInf);
  EXPECT_TRUE(std::isnan(log_approx(-1.0f)));
  EXPECT_TRUE(std::isnan(log_approx(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(log_approx(kInf), kInf);
  EXPECT_EQ(log_approx(1.0f), 0.0f);
  for (float x : {1e-40f, 1e-44f, std::numeric_limits<float>::denorm_min()})
    EXPECT_NEAR(log_approx(x), std::log(double(x)), 1e-5 * std::fabs(std::log(double(x)))) << x;
}

TEST(VecMath, TanhWithinTwoUlps) {
  double worst = 0;
  for (float x = -20.0f; x < 20.0f; x += 0.0001f) worst = std::max(worst, ulps(tanh_approx(x), std::tanh(double(x))));
  EXPECT_LT(worst, 2.0);
  EXPECT_EQ(tanh_approx(kInf), 1.0f);
  EXPECT_EQ(tanh_approx(-kInf), -1.0f);
  EXPECT_TRUE(std::isnan(tanh_approx(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(tanh_approx(0.0f), 0.0f);
}

// Every float whose bits step by a prime stride, plus the specials: the same bf16 bits as c10.
TEST(VecMath, Bf16StoreRoundsLikeC10) {
  int checked = 0;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 65521) {
    const uint32_t b = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b, sizeof f);
    const c10::BFloat16 ours = liger::cpu::store<c10::BFloat16>(f);
    const c10::BFloat16 theirs(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(static_cast<float>(ours))) << std::hex << b;
    } else {
      ASSERT_EQ(ours.x, theirs.x) << "float bits 0x" << std::hex << b;
    }
    const float back = liger::cpu::load(theirs), c10_back = static_cast<float>(theirs);
    EXPECT_EQ(std::memcmp(&back, &c10_back, sizeof back), 0) << "bf16 bits 0x" << std::hex << theirs.x;
    ++checked;
  }
  EXPECT_GT(checked, 60000);
  EXPECT_EQ(liger::cpu::store<c10::BFloat16>(kInf).x, c10::BFloat16(kInf).x);
  EXPECT_EQ(liger::cpu::store<c10::BFloat16>(-0.0f).x, c10::BFloat16(-0.0f).x);
}

}  // namespace
