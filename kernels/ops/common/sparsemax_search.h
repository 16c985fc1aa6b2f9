#pragma once
// The sparsemax threshold search, shared by the CPU kernel and the CUDA kernel so that both run
// the same algorithm. Free of LibTorch so that .cu files can include it.
//
// Sparsemax of a row x is y = max(x - tau, 0) with tau the unique value where
// f(tau) = sum_j max(x_j - tau, 0) = 1. Liger finds tau by sorting; we search for it instead,
// on z = x - max(x) so that tau lies in [-1, 0) and the sums below are of small numbers.
//
// Each pass over the row takes three sums: over the elements above `lo`, their sum and count,
// and f(mid) at the midpoint of [lo, hi]. Invariant: lo <= tau (f(lo) >= 1) and hi > tau.
//  - Newton step from lo: tau_S = (sum_S - 1) / |S| with S = {z > lo}. For any S containing the
//    true support, tau_S <= tau, and tau_S >= lo; so lo can move up to tau_S (Michelot's
//    algorithm: the support shrinks towards the true one and the tau of the true support is
//    exact, ties included, since tied elements are always on the same side of lo).
//  - Bisection step: f(mid) >= 1 means tau >= mid, else tau < mid; this bounds the number of
//    passes on adversarial rows (Newton alone can take one pass per support element).
// The search ends when a pass finds the same support as the previous one: then tau_S is the
// sort-based tau of that support, summed in the same order, so the result is final. Typical
// rows need 3 to 5 passes.
#include "host_device.h"

namespace liger {

template <typename Acc>
struct SparsemaxSearch {
  // More passes than the bisection alone needs to reach the dtype's resolution on [-1, 0).
  static constexpr int kMaxPasses = 64;

  Acc lo = -1;  // f(-1) >= 1: the row's maximum (z = 0) alone contributes 1
  Acc hi = 0;   // f(0) = 0
  Acc tau = -1;
  Acc prev_count = -1;
  int passes = 0;

  LIGER_HOST_DEVICE Acc mid() const { return (lo + hi) / 2; }

  // Takes one pass's sums over z: of z > lo, how many z > lo, and f(mid). Returns true when
  // `tau` is final (y = max(z - tau, 0)).
  LIGER_HOST_DEVICE bool update(Acc sum_above, Acc count_above, Acc f_mid) {
    const Acc m = mid();
    tau = (sum_above - 1) / count_above;
    if (count_above == prev_count || ++passes >= kMaxPasses) return true;
    prev_count = count_above;
    if (f_mid >= 1) {
      lo = tau > m ? tau : m;
    } else {
      lo = tau;
      hi = m;
    }
    return false;
  }
};

}  // namespace liger

#undef LIGER_HOST_DEVICE
