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
// - CPU fp16 and bf16: LibTorch 1.13 has no CPU fp16 GEMM, and its CPU bf16 GEMM accumulates in
//   bf16 when the second operand is row-major (dX = dlogits W is: rel_l2 0.036 from float64 at
//   K 1000 on a CPU without AVX-512, 0.0017 with fp32 accumulation), so 16-bit operands are
//   multiplied in fp32 and rounded once (what cuBLAS does inside with 16-bit operands).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <vector>

namespace liger::detail {

// Whether t's dtype is multiplied as it is on t's device (not 16-bit on CPU, see above).
inline bool has_native_gemm(const at::Tensor& t) {
  return !(t.is_cpu() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16));
}

// A GEMM operand that a loop multiplies with many 16-bit chunks (the LM head's weight), prepared
// once: in `like`'s dtype (the GEMMs run in the activations' dtype, autocast's rule), and where
// that dtype is multiplied in fp32 (above) already widened to fp32, so that matmul and
// matmul_into do not widen the whole weight again for every chunk.
inline at::Tensor gemm_operand(const at::Tensor& t, const at::Tensor& like) {
  const at::Tensor same = t.scalar_type() == like.scalar_type() ? t : t.to(like.scalar_type());
  return has_native_gemm(like) ? same : same.to(at::kFloat);
}

// a @ b in a's dtype, with a CPU 16-bit product computed in fp32 and rounded once (b in a's dtype,
// or gemm_operand's fp32 widening of it).
inline at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!has_native_gemm(a)) return at::mm(a.to(at::kFloat), b.to(at::kFloat)).to(a.scalar_type());
  return at::mm(a, b);
}

// out = a @ b (`accumulate` false: out's contents are ignored, it may be uninitialised) or
// out += a @ b. b is in a's dtype, or is gemm_operand's fp32 widening of it where a is 16-bit on
// the CPU; otherwise it is cast to a's dtype.
inline void matmul_into(at::Tensor& out, const at::Tensor& a, const at::Tensor& b_in, bool accumulate) {
  const bool sixteen_bit_on_cpu = !has_native_gemm(a);
  if (sixteen_bit_on_cpu || (a.is_cpu() && out.scalar_type() != a.scalar_type())) {
    // CPU: the product in out's dtype, or fp32 where out is 16-bit.
    const bool out_16 = out.scalar_type() == at::kHalf || out.scalar_type() == at::kBFloat16;
    const auto t = sixteen_bit_on_cpu && out_16 ? at::kFloat : out.scalar_type();
    const bool widened = sixteen_bit_on_cpu && b_in.scalar_type() == at::kFloat;
    const at::Tensor af = a.to(t), bf = (widened ? b_in : b_in.to(a.scalar_type())).to(t);
    if (t == out.scalar_type()) {
      if (accumulate) out.addmm_(af, bf);
      else at::mm_out(out, af, bf);
    } else {
      out.copy_(accumulate ? at::addmm(out.to(t), af, bf) : at::mm(af, bf));
    }
    return;
  }
  const at::Tensor b = b_in.scalar_type() == a.scalar_type() ? b_in : b_in.to(a.scalar_type());
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
