#pragma once
// The last step of the KL and JSD loss reductions on CUDA: the reducing kernels leave one double
// partial sum per block in a workspace; finish_sum adds them in a fixed order (deterministic)
// and writes the scalar loss.
#include "launch_common.h"

namespace liger::cuda {

// Most blocks a reducing divergence kernel launches: the workspace holds this many doubles.
int reduce_partials_capacity();

// out = sum(partials[0, count)) * scale, then divided by *n_valid when n_valid is given (0 when
// *n_valid is 0), rounded once to out_dtype.
cudaError_t finish_sum(const double* partials, int count, double scale, const int64_t* n_valid, void* out,
                       DType out_dtype, cudaStream_t stream);

}  // namespace liger::cuda
