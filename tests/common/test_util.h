#pragma once
// Helpers shared by the GoogleTest suites.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ligerbench/device.h"
#include "ligerbench/tolerance.h"

namespace ligerbench::testing {

// The devices a kernel test runs on. CUDA is always listed: a test on it skips loudly when no GPU
// is visible, so a CPU-only run shows how many CUDA cases it did not run.
inline std::vector<std::string> test_devices() { return {"cpu", "cuda"}; }

// Skips (with the reason) when the device is CUDA and none is visible.
#define LIGER_SKIP_IF_NO_DEVICE(device_str)                                                     \
  if (std::string(device_str) == "cuda" && ::ligerbench::gpu_backend() == nullptr) {            \
    GTEST_SKIP() << "CUDA case not run: no CUDA device visible or LibTorch built without CUDA"; \
  }

inline at::Device to_device(const std::string& d) { return d == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU); }

// Asserts that `actual` matches the float64 `expected` within `tol`.
inline void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& expected,
                         const Tolerance& tol) {
  const auto e = compare_tensors(what, actual.cpu(), expected.cpu(), tol);
  EXPECT_TRUE(e.passed()) << what << ": max_abs " << e.max_abs() << " max_rel " << e.max_rel() << " rel_l2 "
                          << e.rel_l2() << " (atol " << e.atol() << ", rtol " << e.rtol() << ", rel_l2_tol "
                          << e.rel_l2_tol() << ", abs_floor " << tol.abs_floor << ", finite " << e.finite() << ")";
}

// Asserts that `actual` matches the float64 `expected` within the harness's tolerance for dtype.
inline void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& expected,
                         at::ScalarType dtype) {
  expect_close(what, actual, expected, tolerance_for(dtype));
}

inline std::string dtype_label(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "fp32";
    case at::kHalf: return "fp16";
    case at::kBFloat16: return "bf16";
    default: return "other";
  }
}

}  // namespace ligerbench::testing
