#pragma once
// The 2-bit weight format of the int2 x int8 matmul (KERNELS.md section 19), shared by the CPU
// and CUDA kernels. Free of LibTorch so that .cu files can include it.
//
// Logical weights W (K, N) take values in {-1, 0, 1} (code 3 decodes to +2). With R = K / 4, byte
// b[r, n] holds code(W[r + i*R, n]) = W + 1 in bits 2i..2i+1 for quarter i = 0..3: the four
// weights of a byte come from the four quarters of K, not from consecutive k. Accumulation is
// int32: |a| <= 128 and |w| <= 2 bound a partial sum by 256 K, far from overflow for any K an
// int64 index can address on one device (the checks bound K).
#include <cstdint>

#include "host_device.h"

namespace liger::int2 {

constexpr int kWeightsPerByte = 4;
constexpr int kBits = 2;
// Largest K whose int32 accumulation cannot overflow: 128 * 2 * K < 2^31.
constexpr int64_t kMaxK = (int64_t{1} << 31) / 256 - kWeightsPerByte;

// Weight of quarter `i` (0..3) of a packed byte: ((byte >> 2i) & 3) - 1, in {-1, 0, 1, 2}.
LIGER_HOST_DEVICE inline int decode(uint8_t byte, int i) { return ((byte >> (kBits * i)) & 3) - 1; }

// The four weights' contribution to one output: sum_i a_i * decode(byte, i), with a_i the
// activation at k = r + i*R.
LIGER_HOST_DEVICE inline int32_t dot4(int32_t a0, int32_t a1, int32_t a2, int32_t a3, uint8_t byte) {
  return a0 * decode(byte, 0) + a1 * decode(byte, 1) + a2 * decode(byte, 2) + a3 * decode(byte, 3);
}

}  // namespace liger::int2

#undef LIGER_HOST_DEVICE
