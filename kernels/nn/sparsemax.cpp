#include "liger/nn/sparsemax.h"

#include "liger/sparsemax.h"

namespace liger {

at::Tensor LigerSparsemaxImpl::forward(const at::Tensor& input) { return sparsemax(input, options.dim()); }

}  // namespace liger
