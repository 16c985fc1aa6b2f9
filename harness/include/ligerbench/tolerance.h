#pragma once
#include <ATen/ATen.h>

#include "ligerbench/kernel_spec.h"
#include "ligerbench/proto.h"

namespace ligerbench {

// Pass criterion against float64 (struct Tolerance, kernel_spec.h): |x - ref| <= atol *
// max(1, rms(ref)) + rtol * |ref| everywhere, rel_l2 <= rel_l2_tol, and nothing NaN/Inf where the
// reference is finite. (atol scales with the tensor's RMS so that reductions over many rows, like
// dW, are judged relative to their size.)

// The one table, per dtype (docs/KERNELS.md section 0).
Tolerance tolerance_for(at::ScalarType dtype);
// A kernel's tolerance: its own override for the dtype (KernelSpec::tolerances), else the table.
Tolerance tolerance_for(const KernelSpec& spec, at::ScalarType dtype);

// Compares `actual` with the float64 `expected` and fills a TensorError.
v1::TensorError compare_tensors(const std::string& name, const at::Tensor& actual, const at::Tensor& expected,
                                const Tolerance& tol);

}  // namespace ligerbench
