#include "liger/nn/sparsemax.h"

#include "liger/sparsemax.h"

namespace liger {

LigerSparsemaxImpl::LigerSparsemaxImpl(const LigerSparsemaxOptions& options_) : options(options_) {}

at::Tensor LigerSparsemaxImpl::forward(const at::Tensor& input) { return sparsemax(input, options.dim()); }

}  // namespace liger
