#include "liger/nn/softmax.h"

#include "liger/softmax.h"

namespace liger {

at::Tensor LigerSoftmaxImpl::forward(const at::Tensor& input) { return softmax(input); }

}  // namespace liger
