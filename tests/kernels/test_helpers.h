#pragma once
// What the kernel test files share: the devices a loop over devices runs on, the parameters and
// case names of the common suites, an op's registration with the dispatcher and with autograd,
// and the check of a one-input op against its float64 reference.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <functional>
#include <initializer_list>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "../../harness/specs/specs.h"
#include "ligerbench/device.h"
#include "test_util.h"

namespace ligerbench::testing {

// An optional op argument from a tensor that may be undefined (the specs' helper).
using specs::optional_tensor;

// "cpu", and "cuda" where a GPU is visible; where none is, test `test_name` says on stdout that its
// CUDA cases did not run (a loop cannot GTEST_SKIP one device alone).
inline std::vector<std::string> visible_devices(const std::string& test_name) {
  std::vector<std::string> out = {"cpu"};
  if (gpu_backend() != nullptr)
    out.push_back("cuda");
  else
    std::cout << "[  SKIPPED ] CUDA case of " << test_name << ": no CUDA device\n";
  return out;
}

// The parameter of a suite run on every device and float dtype (the CUDA cases skip loudly
// without a GPU), its values and its case names ("cpu_fp32").
using DeviceDtype = std::tuple<std::string, at::ScalarType>;
inline auto every_device_and_dtype() {
  return ::testing::Combine(::testing::Values("cpu", "cuda"), ::testing::Values(at::kFloat, at::kHalf, at::kBFloat16));
}
inline std::string device_dtype_name(const ::testing::TestParamInfo<DeviceDtype>& info) {
  return std::get<0>(info.param) + "_" + dtype_label(std::get<1>(info.param));
}

// The same with a reduction: (device, dtype, reduction), named "cpu_fp32_mean".
using DeviceDtypeReduction = std::tuple<std::string, at::ScalarType, std::string>;
inline std::string device_dtype_reduction_name(const ::testing::TestParamInfo<DeviceDtypeReduction>& info) {
  const auto& [device, dtype, reduction] = info.param;
  return device + "_" + dtype_label(dtype) + "_" + reduction;
}

// The case names of a suite parameterised by one string (a device, a kernel): the string itself.
inline std::string string_param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// Each op has a schema and a CPU kernel. Call it under ASSERT_NO_FATAL_FAILURE: a missing
// schema ends the test.
inline void expect_ops_registered(std::initializer_list<const char*> ops) {
  for (const char* name : ops) {
    auto op = c10::Dispatcher::singleton().findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name << " has no schema";
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name << " has no CPU kernel";
  }
}

// `out` comes from the op's own autograd node (its name contains `function`), not from a
// composition of ATen ops. Under ASSERT_NO_FATAL_FAILURE: no node ends the test.
inline void expect_grad_fn(const at::Tensor& out, const std::string& function) {
  ASSERT_NE(out.grad_fn(), nullptr) << "no autograd node: expected " << function;
  EXPECT_NE(out.grad_fn()->name().find(function), std::string::npos) << out.grad_fn()->name();
}

using UnaryFn = std::function<at::Tensor(const at::Tensor&)>;

// y = op(x) and its gradient for the upstream `dy` against `reference` (the spec's, on a float64 CPU
// copy of x; autograd differentiates both) at the harness's tolerance for x's dtype; y keeps x's
// dtype and shape. Sets *y_out to y (detached) for the caller's own checks. Call it under
// ASSERT_NO_FATAL_FAILURE: a y of the wrong dtype or shape ends the check.
inline void expect_unary_op_matches(const std::string& what, const at::Tensor& x_in, const at::Tensor& dy,
                                    const UnaryFn& op, const UnaryFn& reference, at::Tensor* y_out) {
  const at::ScalarType dtype = x_in.scalar_type();
  const at::Tensor x = x_in.detach().clone().requires_grad_(true);
  const at::Tensor y = op(x);
  ASSERT_EQ(y.scalar_type(), dtype) << what;
  ASSERT_EQ(y.sizes(), x.sizes()) << what;
  const at::Tensor dx = torch::autograd::grad({y}, {x}, {dy})[0];
  const at::Tensor x64 = x.detach().cpu().to(at::kDouble).requires_grad_(true);
  const at::Tensor y64 = reference(x64);
  const at::Tensor dx64 = torch::autograd::grad({y64}, {x64}, {dy.cpu().to(at::kDouble)})[0];
  expect_close(what + " y", y, y64.detach(), dtype);
  expect_close(what + " dx", dx, dx64, dtype);
  *y_out = y.detach();
}

// Each slice of y along dim sums to 1 (a probability distribution: softmax, sparsemax) within
// allclose's (rtol, atol), summed in float64.
inline void expect_sums_to_one(const std::string& what, const at::Tensor& y, int64_t dim, double rtol, double atol) {
  const at::Tensor sums = y.detach().cpu().to(at::kDouble).sum(dim);
  EXPECT_TRUE(at::allclose(sums, at::ones_like(sums), rtol, atol)) << what << ": rows do not sum to 1\n" << sums;
}

}  // namespace ligerbench::testing
