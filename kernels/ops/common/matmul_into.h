#pragma once
// The chunked fused-linear losses' gradient GEMMs: out = a @ b, or out += a @ b, where `out` has
// the operands' dtype or a wider one (dW's accum_dtype).
//
// Why one helper: FusedLinearCrossEntropy and FusedLinearJSD accumulate dW over row chunks the
// same way, and the choices below are numerics and speed decisions that should not differ between
// them:
// - the first chunk overwrites (beta 0), so dW needs no zero fill (1 GiB at V 128256, H 4096
//   bf16) and one read of dW less;
// - 16-bit operands into an fp32 accumulator on CUDA use cuBLAS's fp32-output GEMM
//   (aten::addmm.dtype_out, PyTorch >= 2.8, looked up at run time so one source builds against
//   both LibTorch versions): the chunk's product is never rounded to 16 bits before it is added;
// - CPU fp16: LibTorch 1.13 has no CPU fp16 GEMM, so the operands are multiplied in fp32 (what
//   cuBLAS does inside with fp16 operands).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

namespace liger::detail {

// Whether LibTorch has a GEMM in t's dtype on t's device (not fp16 on CPU).
inline bool has_native_gemm(const at::Tensor& t) { return !(t.is_cpu() && t.scalar_type() == at::kHalf); }

// a @ b in a's dtype, with the CPU fp16 product computed in fp32 and rounded once.
inline at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!has_native_gemm(a)) return at::mm(a.to(at::kFloat), b.to(at::kFloat)).to(at::kHalf);
  return at::mm(a, b);
}

// out = a @ b (`accumulate` false: out's contents are ignored, it may be uninitialised) or
// out += a @ b. b is cast to a's dtype when it differs.
inline void matmul_into(at::Tensor& out, const at::Tensor& a, const at::Tensor& b_in, bool accumulate) {
  const at::Tensor b = b_in.scalar_type() == a.scalar_type() ? b_in : b_in.to(a.scalar_type());
  const bool half_on_cpu = !has_native_gemm(a);
  if (half_on_cpu || (a.is_cpu() && out.scalar_type() != a.scalar_type())) {
    // CPU: the product in out's dtype, or fp32 for fp16 operands.
    const auto t = half_on_cpu && out.scalar_type() == at::kHalf ? at::kFloat : out.scalar_type();
    const at::Tensor af = a.to(t), bf = b.to(t);
    if (t == out.scalar_type()) {
      if (accumulate) out.addmm_(af, bf);
      else at::mm_out(out, af, bf);
    } else {
      out.copy_(accumulate ? at::addmm(out.to(t), af, bf) : at::mm(af, bf));
    }
    return;
  }
  if (out.scalar_type() == a.scalar_type()) {
    if (accumulate) out.addmm_(a, b);
    else at::mm_out(out, a, b);
    return;
  }
  static const auto dtype_out = c10::Dispatcher::singleton().findOp({"aten::addmm", "dtype_out"});
  if (dtype_out && out.scalar_type() == at::kFloat) {
    std::vector<c10::IValue> stack = {out, a, b, static_cast<int64_t>(at::kFloat), c10::Scalar(accumulate ? 1 : 0),
                                      c10::Scalar(1), out};
    dtype_out->callBoxed(&stack);
    return;
  }
  // Older LibTorch, or an accumulator other than fp32: the product in the operands' dtype.
  if (accumulate) out.add_(at::mm(a, b));
  else out.copy_(at::mm(a, b));
}

}  // namespace liger::detail
