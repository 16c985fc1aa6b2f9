#include "sparsemax_math.h"

#include <ATen/WrapDimUtils.h>

#include <vector>

namespace ligerbench::specs {

at::Tensor sort_sparsemax(const at::Tensor& x, int64_t dim, bool strict) {
  dim = c10::maybe_wrap_dim(dim, x.dim());
  const at::Tensor sorted = std::get<0>(at::sort(x, dim, /*descending=*/true));
  const at::Tensor cumsum = at::cumsum(sorted, dim);
  std::vector<int64_t> shape(x.dim(), 1);
  shape[dim] = x.size(dim);
  const at::Tensor range = at::arange(1, x.size(dim) + 1, x.options().requires_grad(false)).view(shape);
  const at::Tensor support = (1 + range * sorted) > cumsum;
  const at::Tensor k = support.sum(dim, /*keepdim=*/true).clamp_min(1);
  const at::Tensor tau = ((sorted * support).sum(dim, /*keepdim=*/true) - 1) / k;
  return strict ? at::relu(x - tau) : at::clamp_min(x - tau, 0);
}

}  // namespace ligerbench::specs
