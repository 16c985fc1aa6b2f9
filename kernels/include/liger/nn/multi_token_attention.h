#pragma once
// torch::nn module mirroring Liger's LigerMultiTokenAttention(in_channels, out_channels,
// kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, sparse=False).
#include "liger/nn/module.h"

namespace liger {

struct LigerMultiTokenAttentionOptions {
  LigerMultiTokenAttentionOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(bool, sparse) = false;
};

class LigerMultiTokenAttentionImpl : public LigerModule<LigerMultiTokenAttentionImpl, LigerMultiTokenAttentionOptions> {
 public:
  explicit LigerMultiTokenAttentionImpl(const LigerMultiTokenAttentionOptions& options) : LigerModule(options) {
    reset();
  }
  // weight (C_out, C_in/groups, K, K) kaiming-uniform with a = sqrt(5), bias (C_out,) zeros, as Liger.
  void reset() override;
  at::Tensor forward(const at::Tensor& scores);

  at::Tensor weight;
  at::Tensor bias;
};

TORCH_MODULE(LigerMultiTokenAttention);

}  // namespace liger
