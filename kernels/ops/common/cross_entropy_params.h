#pragma once
// Options of the cross-entropy row kernel (KERNELS.md section 6), shared by the CPU kernel, the
// CUDA launcher and the operator bindings. Free of LibTorch so that .cu files can include it.
#include <cstdint>

namespace liger {

struct CrossEntropyRowOptions {
  int64_t ignore_index = -100;
  double lse_square_scale = 0.0;  // z-loss weight s: adds s * lse^2 per row
  double label_smoothing = 0.0;
  double softcap = 0.0;        // 0: no soft-capping; otherwise x <- softcap * tanh(x / softcap)
  bool mean = true;            // divide by N (or by the class-weight sum W_sum); sum/none: no division
  bool compute_grad = false;   // overwrite the logits with d(loss)/d(logits)
  bool token_scaling = false;  // multiply each row's loss and gradient by p_y (FLCE's use_token_scaling)
};

// Layout of the stats tensor that liger::cross_entropy_target_stats returns (float64, 4 values):
// the normalisers of the whole batch, which chunked callers (FLCE) pass to every chunk, and the
// first bad target's row, which the callers check after queueing their work (no stall).
enum CrossEntropyStat : int {
  kCeNonIgnored = 0,       // N: rows whose target is not ignore_index
  kCeTargetWeightSum = 1,  // W_sum: sum of weight[target] over those rows (N when unweighted)
  kCeWeightTotal = 2,      // sum of all class weights (0 when unweighted)
  kCeFirstBadRow = 3,      // first row whose target is outside [0, V) and not ignore_index; rows if none
  kCeNumStats = 4,
};

}  // namespace liger
