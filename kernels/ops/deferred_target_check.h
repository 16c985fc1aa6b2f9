#pragma once
// The bad-target check of liger::cross_entropy_target_stats(..., defer_check=true), done without
// stalling the device's stream.
//
// Why: reading the flag back right after the stats kernel is a host sync; the GPU then sits idle
// while the host prepares the next launches (0.3 ms before FLCE's first GEMM on the H200). Here
// the flag is copied into pinned host memory behind the stats kernel and an event is recorded;
// the caller queues its work, then finish() waits for that event only (on a busy GPU, long since
// passed) and raises the error that names the target. Until then the row kernel treats bad
// targets as ignored, so nothing reads out of bounds. Device-agnostic: stats not on an
// accelerator were checked when computed, and finish() is then a no-op.
#include <ATen/ATen.h>
#include <c10/core/Event.h>
#include <c10/core/impl/VirtualGuardImpl.h>

#include <optional>
#include <thread>

#include "common/cross_entropy_params.h"
#include "cross_entropy_checks.h"

namespace liger::detail {

// Blocks until `event` has passed: Event::synchronize where LibTorch has it (2.x), else a
// polling loop (LibTorch 1.13, which only the CPU-only CI builds, where no event is recorded).
template <typename E>
auto wait_for_event(const E& event, int) -> decltype(event.synchronize(), void()) {
  event.synchronize();
}
template <typename E>
void wait_for_event(const E& event, long) {
  while (!event.query()) std::this_thread::yield();
}

class DeferredTargetCheck {
 public:
  DeferredTargetCheck(const at::Tensor& stats, const at::Tensor& target, int64_t classes, int64_t ignore_index,
                      const char* op)
      : target_(target), classes_(classes), ignore_index_(ignore_index), op_(op) {
    if (stats.device().is_cpu()) return;
    first_bad_ = at::empty({1}, stats.options().device(at::kCPU).pinned_memory(true));
    first_bad_.copy_(stats.narrow(0, kCeFirstBadRow, 1), /*non_blocking=*/true);
    const c10::impl::VirtualGuardImpl device(stats.device().type());
    copied_.emplace(stats.device().type());
    copied_->record(device.getStream(stats.device()));
  }

  // Raises the error for the first target outside [0, classes) that is not ignore_index.
  void finish() const {
    if (!copied_) return;
    wait_for_event(*copied_, 0);
    const auto bad = static_cast<int64_t>(first_bad_.data_ptr<double>()[0]);
    if (bad < target_.size(0))
      TORCH_CHECK(false, bad_target_message(op_, bad, target_[bad].item<int64_t>(), classes_, ignore_index_));
  }

 private:
  at::Tensor target_;
  int64_t classes_;
  int64_t ignore_index_;
  const char* op_;
  at::Tensor first_bad_;              // pinned host copy of stats[kCeFirstBadRow]
  std::optional<c10::Event> copied_;  // recorded behind that copy
};

}  // namespace liger::detail
