#pragma once
// The launcher ABI of the row operators that map a (rows, cols) tensor to one of the same shape
// along its last dim and whose backward needs only the forward's output: softmax and sparsemax.
// One binding (row_op_cuda.cpp) serves every such op.
#include "common/launch_common.h"

namespace liger::cuda {

struct RowForwardArgs {
  const void* x;  // (rows, cols), contiguous
  void* y;        // (rows, cols), x's dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

struct RowBackwardArgs {
  const void* grad_out;  // (rows, cols), dtype
  const void* y;         // the forward's output
  void* grad_in;         // (rows, cols), dtype
  int64_t rows;
  int64_t cols;
  DType dtype;
};

// The launchers of each row op (softmax_kernel.cu, sparsemax_kernel.cu). Both work on the last dim
// of a contiguous (rows, cols) tensor; max_cols is the longest row the kernels accept (a row lives
// in one block's registers).
int64_t softmax_max_cols(DType dtype);
cudaError_t softmax_forward(const RowForwardArgs& args, cudaStream_t stream);
cudaError_t softmax_backward(const RowBackwardArgs& args, cudaStream_t stream);

int64_t sparsemax_max_cols(DType dtype);
cudaError_t sparsemax_forward(const RowForwardArgs& args, cudaStream_t stream);
cudaError_t sparsemax_backward(const RowBackwardArgs& args, cudaStream_t stream);

// One row op's launchers, as the binding calls them.
struct RowOpLaunchers {
  const char* op;           // "liger::softmax"
  const char* backward_op;  // "liger::softmax_backward"
  // Longest row the kernels accept (a row lives in one block's registers).
  int64_t (*max_cols)(DType dtype);
  cudaError_t (*forward)(const RowForwardArgs& args, cudaStream_t stream);
  cudaError_t (*backward)(const RowBackwardArgs& args, cudaStream_t stream);
};

}  // namespace liger::cuda
