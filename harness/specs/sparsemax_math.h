#pragma once
// The sort/cumsum sparsemax of Liger's torch_sparsemax, shared by the sparsemax spec (baseline
// and reference) and multi_token_attention's composition.
#include <ATen/ATen.h>

namespace ligerbench::specs {

// Sort descending, cumulative sums, support size k, tau, then clamp_min(x - tau, 0), as Liger's
// benchmark; `strict` ends in relu instead: the same y, but clamp_min's gradient also flows where
// x == tau exactly (common with bf16 inputs), while KERNELS.md's backward takes the support
// strictly, y > 0. The references use strict.
at::Tensor sort_sparsemax(const at::Tensor& x, int64_t dim, bool strict);

}  // namespace ligerbench::specs
