#pragma once
// torch::nn module mirroring Liger's LigerSparsemax(dim=-1).
#include "liger/nn/module.h"

namespace liger {

struct LigerSparsemaxOptions {
  TORCH_ARG(int64_t, dim) = -1;
};

class LigerSparsemaxImpl : public LigerModule<LigerSparsemaxImpl, LigerSparsemaxOptions> {
 public:
  explicit LigerSparsemaxImpl(const LigerSparsemaxOptions& options = {}) : LigerModule(options) { reset(); }
  void reset() override {}
  at::Tensor forward(const at::Tensor& input);

};

TORCH_MODULE(LigerSparsemax);

}  // namespace liger
