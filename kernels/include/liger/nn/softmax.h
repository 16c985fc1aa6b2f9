#pragma once
// torch::nn module mirroring Liger's LigerSoftmax (no options; always the last dim).
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace liger {

class LigerSoftmaxImpl : public torch::nn::Cloneable<LigerSoftmaxImpl> {
 public:
  LigerSoftmaxImpl() = default;
  void reset() override {}
  at::Tensor forward(const at::Tensor& input);
};

TORCH_MODULE(LigerSoftmax);

}  // namespace liger
