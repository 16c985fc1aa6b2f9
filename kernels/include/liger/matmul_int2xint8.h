#pragma once
// int2 x int8 matmul (KERNELS.md section 19, experimental, inference only): a pure integer GEMM
// of int8 activations with ternary weights stored 2 bits each,
//   c[m, n] = sum_{i<4} sum_{r<R} a[m, i*R + r] * (((b[r, n] >> 2i) & 3) - 1),   R = K / 4,
// accumulated and returned in int32. No scales, zero points or backward.
#include <ATen/core/Tensor.h>

namespace liger {

// a (M, K) int8, b (K/4, N) uint8 packed by pack_weights -> (M, N) int32. K must be a multiple
// of 4 (the format); M and N are free. Liger's name: matmul(a, b).
at::Tensor matmul(const at::Tensor& a, const at::Tensor& b);

// Packs logical weights W (K, N) with values in {-1, 0, 1} (2 is also representable, as code 3)
// into (K/4, N) uint8. For an nn.Linear weight (N, K), pack its transpose. Unlike Liger's helper
// it does not add 1 to its input in place. Only bits = 2 exists.
at::Tensor pack_weights(const at::Tensor& weights, int64_t bits = 2);

// The inverse: (K/4, N) uint8 -> W (K, N) int8 in {-1, 0, 1, 2}; pack_weights(unpack_weights(b))
// == b for every byte.
at::Tensor unpack_weights(const at::Tensor& packed, int64_t bits = 2);

}  // namespace liger
