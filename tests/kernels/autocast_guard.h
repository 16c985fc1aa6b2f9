#pragma once
// Shared by the autocast tests (fused_linear_autocast_test.cpp,
// fused_linear_preference_autocast_test.cpp).
#include <ATen/autocast_mode.h>

#include "../../kernels/ops/common/torch_compat.h"

namespace ligerbench::testing {

// Autocast switched on for one device type for the guard's life (and its cast cache cleared after).
class AutocastOn {
 public:
  explicit AutocastOn(c10::DeviceType type) : type_(type), was_(liger::compat::autocast_enabled(type)) {
    liger::compat::set_autocast_enabled(type_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastOn() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    liger::compat::set_autocast_enabled(type_, was_);
  }

 private:
  c10::DeviceType type_;
  bool was_;
};

}  // namespace ligerbench::testing
