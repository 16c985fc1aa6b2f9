#pragma once
// Launchers of the sparsemax CUDA kernels (kernels/ops/cuda/sparsemax_kernel.cu), bound by
// row_op_cuda.cpp. Both work on the last dim of a contiguous (rows, cols) tensor.
#include "row_op_launch.h"

namespace liger::cuda {

using SparsemaxForwardArgs = RowForwardArgs;
using SparsemaxBackwardArgs = RowBackwardArgs;

int64_t sparsemax_max_cols(DType dtype);
cudaError_t sparsemax_forward(const SparsemaxForwardArgs& args, cudaStream_t stream);
cudaError_t sparsemax_backward(const SparsemaxBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
