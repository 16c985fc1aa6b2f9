#pragma once
// Argument checks of the int2 x int8 matmul and its packing helpers (KERNELS.md section 19),
// shared by the CPU kernel, the CUDA binding and the device-agnostic pack/unpack.
#include <ATen/ATen.h>

#include "common/int2_packing.h"

namespace liger::detail {

// a (M, K) int8, b (K/4, N) uint8 packed weights, on one device.
inline void check_int2_matmul_args(const char* op, const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.defined() && b.defined(), op, ": a and b must be defined tensors");
  TORCH_CHECK(a.dim() == 2, op, ": a must be 2-D (M, K), got shape ", a.sizes());
  TORCH_CHECK(b.dim() == 2, op, ": b (packed weights) must be 2-D (K/4, N), got shape ", b.sizes());
  TORCH_CHECK(a.scalar_type() == at::kChar, op, ": a must be int8, got ", a.scalar_type());
  TORCH_CHECK(b.scalar_type() == at::kByte, op, ": b (packed weights) must be uint8, got ", b.scalar_type());
  TORCH_CHECK(a.device() == b.device(), op, ": a is on ", a.device(), " but b is on ", b.device());
  const int64_t k = a.size(1);
  TORCH_CHECK(k % int2::kWeightsPerByte == 0, op, ": K = a.size(1) = ", k,
              " is not a multiple of 4 (each packed byte holds one weight from each quarter of K)");
  TORCH_CHECK(b.size(0) * int2::kWeightsPerByte == k, op, ": b has ", b.size(0), " packed rows but a has K = ", k,
              "; b must be (K/4, N) = (", k / int2::kWeightsPerByte, ", N)");
  TORCH_CHECK(k <= int2::kMaxK, op, ": K = ", k, " exceeds ", int2::kMaxK,
              ", past which the int32 accumulator could overflow");
}

// w (K, N) int8 logical weights for pack_weights; values are checked by the caller.
inline void check_int2_weights(const char* op, const at::Tensor& w, int64_t bits) {
  TORCH_CHECK(bits == int2::kBits, op, ": only bits = 2 is supported, got bits = ", bits);
  TORCH_CHECK(w.defined(), op, ": weights must be a defined tensor");
  TORCH_CHECK(w.dim() == 2, op, ": weights must be 2-D (K, N), got shape ", w.sizes());
  TORCH_CHECK(!at::isFloatingType(w.scalar_type()) && !at::isComplexType(w.scalar_type()) &&
                  w.scalar_type() != at::kBool,
              op, ": weights must be an integer tensor, got ", w.scalar_type());
  TORCH_CHECK(w.size(0) % int2::kWeightsPerByte == 0, op, ": K = weights.size(0) = ", w.size(0),
              " is not a multiple of 4 (four weights, one from each quarter of K, share a byte)");
}

}  // namespace liger::detail
