#pragma once
// The fused-linear losses (FLCE, FLJSD, and the alignment losses to come) under torch.autocast,
// as Liger's custom_fwd-decorated functions behave: the GEMMs run in the activations' dtype, a
// weight of another dtype (fp32 master weights) is cast for them, and every gradient comes back
// in its own tensor's dtype (dW accumulated in the weight's dtype or accum_dtype).
//
// Two pieces: operand helpers the op bodies use, so that mixed input/weight dtypes work with
// autocast off too (as Liger computes them), and the Autocast-key kernel, which casts fp32
// activations to autocast's dtype (a differentiable cast: their gradient returns in fp32) and
// calls the op again below autocast, so the op's internal GEMMs are not cast a second time.
#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

#include "common/torch_compat.h"

namespace liger::detail {

// `weight` in the dtype of the activations it multiplies: itself, or a copy for the GEMMs.
inline at::Tensor weight_for_matmul(const at::Tensor& weight, const at::Tensor& input) {
  return weight.scalar_type() == input.scalar_type() ? weight : weight.to(input.scalar_type());
}

// An activation as autocast hands it to a matmul on its device: fp32 cast to the autocast dtype.
inline at::Tensor autocast_activation(const at::Tensor& t) {
  if (!t.defined()) return t;
  const c10::DeviceType type = t.device().type();
  return at::autocast::cached_cast(compat::autocast_dtype(type), t, type);
}

// Held while an Autocast kernel calls its op again: the dispatcher skips every autocast key.
struct BelowAutocast {
  c10::impl::ExcludeDispatchKeyGuard guard{c10::autocast_dispatch_keyset};
};

}  // namespace liger::detail
