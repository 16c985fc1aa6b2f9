#pragma once
// Launcher of the int2 x int8 matmul CUDA kernel (kernels/ops/cuda/matmul_int2xint8_kernel.cu).
#include "common/launch_common.h"

namespace liger::cuda {

struct Int2MatmulArgs {
  const int8_t* a;   // (M, K) activations, contiguous
  const uint8_t* b;  // (K/4, N) packed weights, contiguous (KERNELS.md section 19)
  int32_t* a_quads;  // workspace (M, K/4): the four activations each packed byte meets, as one word
  int32_t* c;        // (M, N) output
  int64_t m;
  int64_t k;
  int64_t n;
};

// Writes every element of c (M, N, K > 0: the binding handles empty shapes).
cudaError_t int2_matmul(const Int2MatmulArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
