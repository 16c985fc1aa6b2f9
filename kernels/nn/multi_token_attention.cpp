#include "liger/nn/multi_token_attention.h"

#include <torch/nn/init.h>

#include <cmath>

#include "liger/multi_token_attention.h"

namespace liger {

void LigerMultiTokenAttentionImpl::reset() {
  const auto& o = options;
  TORCH_CHECK(o.in_channels() > 0 && o.out_channels() > 0 && o.kernel_size() > 0,
              "LigerMultiTokenAttention: in_channels, out_channels and kernel_size must be positive, got ",
              o.in_channels(), ", ", o.out_channels(), ", ", o.kernel_size());
  TORCH_CHECK(o.groups() > 0 && o.in_channels() % o.groups() == 0 && o.out_channels() % o.groups() == 0,
              "LigerMultiTokenAttention: in_channels (", o.in_channels(), ") and out_channels (", o.out_channels(),
              ") must be divisible by groups (", o.groups(), ")");
  weight = register_parameter(
      "weight", at::empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size(), o.kernel_size()}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (o.bias()) bias = register_parameter("bias", at::zeros({o.out_channels()}));
}

at::Tensor LigerMultiTokenAttentionImpl::forward(const at::Tensor& scores) {
  const auto& o = options;
  const c10::optional<at::Tensor> b = bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt;
  return multi_token_attention(scores, weight, b, o.stride(), o.padding(), o.dilation(), o.groups(), o.sparse());
}

}  // namespace liger
