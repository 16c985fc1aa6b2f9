#pragma once
// torch::nn modules mirroring Liger's alignment losses (KERNELS.md sections 11-14), with the same
// constructor options and defaults. forward takes the lm_head weight first, as Liger's modules do.
// `compiled` is accepted for fidelity and has no effect (Liger's torch.compile switch).
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>

#include "liger/fused_linear_preference.h"
#include "liger/nn/module.h"

namespace liger {

struct LigerFusedLinearCPOLossOptions {
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, beta) = 0.1;
  TORCH_ARG(double, alpha) = 1.0;
  TORCH_ARG(double, label_smoothing) = 0.0;
  TORCH_ARG(bool, compute_nll_loss) = true;
  TORCH_ARG(bool, compiled) = true;
  TORCH_ARG(bool, average_log_prob) = false;
  TORCH_ARG(int64_t, chunk_size) = 1;
};

class LigerFusedLinearCPOLossImpl : public LigerModule<LigerFusedLinearCPOLossImpl, LigerFusedLinearCPOLossOptions> {
 public:
  explicit LigerFusedLinearCPOLossImpl(const LigerFusedLinearCPOLossOptions& options = {}) : LigerModule(options) {
    reset();
  }
  void reset() override;
  PreferenceLossOutput forward(const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
                               const c10::optional<at::Tensor>& bias = c10::nullopt);
};
TORCH_MODULE(LigerFusedLinearCPOLoss);

struct LigerFusedLinearDPOLossOptions {
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, beta) = 0.1;
  TORCH_ARG(double, alpha) = 1.0;
  TORCH_ARG(bool, compute_nll_loss) = false;
  TORCH_ARG(bool, compiled) = true;
  TORCH_ARG(bool, use_ref_model) = true;
  TORCH_ARG(bool, average_log_prob) = false;
  TORCH_ARG(int64_t, chunk_size) = 1;
  TORCH_ARG(std::string, loss_type) = "sigmoid";
  TORCH_ARG(double, label_smoothing) = 0.0;
  TORCH_ARG(double, discopop_tau) = 0.05;
};

class LigerFusedLinearDPOLossImpl : public LigerModule<LigerFusedLinearDPOLossImpl, LigerFusedLinearDPOLossOptions> {
 public:
  explicit LigerFusedLinearDPOLossImpl(const LigerFusedLinearDPOLossOptions& options = {}) : LigerModule(options) {
    reset();
  }
  void reset() override;  // rejects an unknown loss_type, as Liger's constructor does
  // The reference model as hidden states + lm_head, or (our addition) its precomputed log-probs.
  PreferenceLossOutput forward(const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
                               const c10::optional<at::Tensor>& bias = c10::nullopt,
                               const c10::optional<at::Tensor>& ref_input = c10::nullopt,
                               const c10::optional<at::Tensor>& ref_weight = c10::nullopt,
                               const c10::optional<at::Tensor>& ref_bias = c10::nullopt,
                               const c10::optional<at::Tensor>& ref_chosen_logps = c10::nullopt,
                               const c10::optional<at::Tensor>& ref_rejected_logps = c10::nullopt);
};
TORCH_MODULE(LigerFusedLinearDPOLoss);

struct LigerFusedLinearORPOLossOptions {
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, beta) = 0.1;
  TORCH_ARG(bool, compute_nll_loss) = true;
  TORCH_ARG(bool, compiled) = true;
  TORCH_ARG(int64_t, chunk_size) = 1;
};

class LigerFusedLinearORPOLossImpl : public LigerModule<LigerFusedLinearORPOLossImpl, LigerFusedLinearORPOLossOptions> {
 public:
  explicit LigerFusedLinearORPOLossImpl(const LigerFusedLinearORPOLossOptions& options = {}) : LigerModule(options) {
    reset();
  }
  void reset() override;
  PreferenceLossOutput forward(const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
                               const c10::optional<at::Tensor>& bias = c10::nullopt,
                               const c10::optional<at::Tensor>& nll_target = c10::nullopt);
};
TORCH_MODULE(LigerFusedLinearORPOLoss);

struct LigerFusedLinearSimPOLossOptions {
  TORCH_ARG(int64_t, ignore_index) = -100;
  TORCH_ARG(double, beta) = 0.1;
  TORCH_ARG(double, alpha) = 1.0;
  TORCH_ARG(double, label_smoothing) = 0.0;
  TORCH_ARG(bool, compute_nll_loss) = true;  // Liger's module default (its function's is false)
  TORCH_ARG(bool, compiled) = true;
  TORCH_ARG(double, gamma) = 0.5;
  TORCH_ARG(int64_t, chunk_size) = 1;
};

class LigerFusedLinearSimPOLossImpl
    : public LigerModule<LigerFusedLinearSimPOLossImpl, LigerFusedLinearSimPOLossOptions> {
 public:
  explicit LigerFusedLinearSimPOLossImpl(const LigerFusedLinearSimPOLossOptions& options = {}) : LigerModule(options) {
    reset();
  }
  void reset() override;
  PreferenceLossOutput forward(const at::Tensor& lin_weight, const at::Tensor& input, const at::Tensor& target,
                               const c10::optional<at::Tensor>& bias = c10::nullopt);
};
TORCH_MODULE(LigerFusedLinearSimPOLoss);

}  // namespace liger
