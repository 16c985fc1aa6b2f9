#pragma once
// The training step's model (docs/DISTRIBUTED.md): a small Llama-style decoder, built either from
// the liger operators or from the PyTorch compositions the kernel specs use as their baselines.
// Both builds take their weights from the same seeded draw, so that they differ only in the
// operators.
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "ligerbench/v1/distributed.pb.h"

namespace ligerbench::dist {

// The model's sizes with every unset (0) field at its default, the CI size.
v1::TrainingModel with_defaults(const v1::TrainingModel& m);

// What the sizes imply; `m` has its defaults filled in.
int64_t parameter_count(const v1::TrainingModel& m);
// Model FLOPs of one step (forward and backward) on one rank's batch:
// 6 x (parameters - embedding) x tokens + 12 x layers x seq x hidden x tokens (attention scores
// and their product with values, no discount for the causal mask: PaLM's convention).
double flops_per_step(const v1::TrainingModel& m);
// A generous upper bound on the bytes one build needs (weights, gradients, AdamW state, the
// activations autograd keeps, the baseline's float32 logits, unfused attention scores), to
// refuse sizes no machine holds before any work.
double estimated_bytes(const v1::TrainingModel& m, int64_t element_bytes);

enum class Build { kLiger, kBaseline };
const char* build_name(Build b);

class LlamaDecoder {
 public:
  // Weights drawn from at::manual_seed(seed) on `device` (std 0.02; norms 1), then cast to dtype.
  LlamaDecoder(const v1::TrainingModel& m, Build build, at::ScalarType dtype, const at::Device& device, uint64_t seed);

  // Mean next-token cross entropy (float32) of tokens (batch, seq + 1): inputs tokens[:, :-1],
  // targets tokens[:, 1:].
  at::Tensor loss(const at::Tensor& tokens) const;

  // Every parameter (leaf tensors that require grad) with its name, in the order of the forward.
  const std::vector<std::pair<std::string, at::Tensor>>& parameters() const { return params_; }

 private:
  struct Layer {
    at::Tensor attn_norm, wq, wk, wv, wo, mlp_norm, w_gate, w_up, w_down;
  };
  at::Tensor norm(const at::Tensor& x, const at::Tensor& w) const;
  std::pair<at::Tensor, at::Tensor> rotate(const at::Tensor& q, const at::Tensor& k) const;
  at::Tensor gated(const at::Tensor& gate, const at::Tensor& up) const;
  at::Tensor head_loss(const at::Tensor& x, const at::Tensor& targets) const;
  at::Tensor add(const std::string& name, at::Tensor value);

  v1::TrainingModel m_;
  Build build_;
  at::Tensor embed_, final_norm_, head_, cos_, sin_;
  std::vector<Layer> layers_;
  std::vector<std::pair<std::string, at::Tensor>> params_;
};

}  // namespace ligerbench::dist
