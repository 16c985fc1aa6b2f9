#pragma once
// Launchers of the softmax CUDA kernels (kernels/ops/cuda/softmax_kernel.cu), bound by
// row_op_cuda.cpp.
#include "row_op_launch.h"

namespace liger::cuda {

using SoftmaxForwardArgs = RowForwardArgs;
using SoftmaxBackwardArgs = RowBackwardArgs;

int64_t softmax_max_cols(DType dtype);
cudaError_t softmax_forward(const SoftmaxForwardArgs& args, cudaStream_t stream);
cudaError_t softmax_backward(const SoftmaxBackwardArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
