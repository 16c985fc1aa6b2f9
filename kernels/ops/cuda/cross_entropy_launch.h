#pragma once
// Launchers of the cross-entropy CUDA kernels (kernels/ops/cuda/cross_entropy_kernel.cu).
#include "../common/cross_entropy_params.h"
#include "common/launch_common.h"

namespace liger::cuda {

struct CeStatsArgs {
  const int64_t* target;  // (rows,)
  const float* weight;    // (classes,) fp32, or nullptr
  double* stats;          // (kCeNumStats,): N, W_sum, sum of all weights, first bad row (rows if none)
  int64_t rows;
  int64_t classes;
  int64_t ignore_index;
};

struct CeForwardArgs {
  void* logits;  // (rows, cols), unit column stride, `row_stride` elements between rows;
                 // overwritten with the gradient when options.compute_grad
  int64_t rows;
  int64_t cols;  // < 2^31
  int64_t row_stride;
  DType dtype;
  const int64_t* target;    // (rows,)
  const float* weight;      // (cols,) fp32, or nullptr
  const double* stats;      // (kCeNumStats,) on the device, from ce_target_stats
  const float* grad_scale;  // (rows,) or nullptr
  float* loss;              // (rows,)
  float* z_loss;            // (rows,) or nullptr
  float* accuracy;          // (rows,) or nullptr
  int64_t* predicted;       // (rows,) or nullptr
  CrossEntropyRowOptions options;
};

// Multiplies a contiguous buffer in place by grad_output / applied (both device float64 scalars),
// or by 0 when grad_output is 0; returns at once, on the device, when that factor is exactly 1.
struct RescaleArgs {
  void* data;
  int64_t numel;
  DType dtype;
  const double* grad_output;
  const double* applied;
};

cudaError_t ce_target_stats(const CeStatsArgs& args, cudaStream_t stream);
cudaError_t ce_forward(const CeForwardArgs& args, cudaStream_t stream);

// A row split other than the launcher's own, for probes/probe_ce_split.cu, which times the
// alternatives behind the launcher's choice (docs/perf/cross_entropy.md). `cluster` CTAs a row,
// each holding its whole slice in shared memory, with ceil(slice packs / packs_per_thread) threads
// rounded up to a warp; cluster 1 to 16 (above 8 is non-portable). Returns cudaErrorInvalidValue
// when the slice exceeds the shared-memory limit or the CTA 512 threads; the service never calls it.
struct CeRowSplit {
  int cluster;
  int packs_per_thread;
};
cudaError_t ce_forward_with_split(const CeForwardArgs& args, const CeRowSplit& split, cudaStream_t stream);
cudaError_t rescale_stored_grad(const RescaleArgs& args, cudaStream_t stream);

}  // namespace liger::cuda
