#pragma once
// The frame every Liger module shares: a torch::nn::Cloneable (clone() deep-copies it by
// re-running reset()) that keeps the options it was built with. Each module still calls its own
// reset() from its constructor, as torch's modules do: a base constructor cannot reach the
// derived override.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

namespace liger {

template <typename Impl, typename Options>
class LigerModule : public torch::nn::Cloneable<Impl> {
 public:
  Options options;

 protected:
  explicit LigerModule(const Options& options_) : options(options_) {}
};

}  // namespace liger
