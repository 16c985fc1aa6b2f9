#pragma once
// What the cross_entropy and fused_linear_cross_entropy specs share: their loss parameters, the
// seeded targets, the PyTorch baseline loss and the float64 reference of Liger's semantics.
#include <ATen/ATen.h>

#include <vector>

#include "ligerbench/kernel_spec.h"

namespace ligerbench::specs {

// The cross-entropy options of KERNELS.md sections 6 and 7, read from a case's parameters.
struct CeParams {
  int64_t ignore_index;
  double label_smoothing;
  double lse_square_scale;
  c10::optional<double> softcap;
  std::string reduction;
  bool token_scaling = false;  // FLCE only
};

// ignore_index, label_smoothing, lse_square_scale, softcap ("none" or > 0), reduction,
// ignore_fraction (share of targets set to ignore_index), use_class_weights.
std::vector<ParamSpec> ce_param_specs();
CeParams ce_params(const CaseConfig& c);

// Uniform targets in [0, classes), about ignore_fraction of them ignore_index; class weights in
// [0.5, 1.5) (float32) when use_class_weights, else undefined.
at::Tensor ce_targets(const CaseConfig& c, int64_t rows, int64_t classes);
at::Tensor ce_class_weights(const CaseConfig& c, int64_t classes);

// The loss as PyTorch code writes it: softcap * tanh(x / softcap) (Gemma 2), then
// at::cross_entropy_loss (what torch.nn.CrossEntropyLoss runs), plus the z-loss term as Liger's
// tests write it, and the detached p_y factor for token scaling.
at::Tensor ce_baseline(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight, const CeParams& p);

// Liger's loss in float64 (lse - x_y form, all-ignored -> 0); differentiable in logits.
at::Tensor ce_reference(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& weight,
                        const CeParams& p);

}  // namespace ligerbench::specs
