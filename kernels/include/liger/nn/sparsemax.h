#pragma once
// torch::nn module mirroring Liger's LigerSparsemax(dim=-1).
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace liger {

struct LigerSparsemaxOptions {
  TORCH_ARG(int64_t, dim) = -1;
};

class LigerSparsemaxImpl : public torch::nn::Cloneable<LigerSparsemaxImpl> {
 public:
  explicit LigerSparsemaxImpl(const LigerSparsemaxOptions& options = {});
  void reset() override {}
  at::Tensor forward(const at::Tensor& input);

  LigerSparsemaxOptions options;
};

TORCH_MODULE(LigerSparsemax);

}  // namespace liger
