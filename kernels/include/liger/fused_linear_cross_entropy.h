#pragma once
// Fused linear cross entropy (KERNELS.md section 7): the cross entropy of input @ weight^T + bias
// without materialising the (BT, V) logits. Rows are processed in chunks: the chunk's logits
// (cuBLAS), the cross-entropy row kernel in place on them with the batch-wide normalisers, then
// dX_chunk = dlogits @ W and dW += dlogits^T @ X_chunk, db += column sums. Extra memory grows with
// the chunk (a logits buffer of at most 512 MiB), never with BT x V.
//
// mean/sum: the gradients are computed in the forward pass and backward only rescales them by the
// upstream scalar (in place; skipped when it is exactly 1). reduction="none": the forward computes
// no gradient; backward re-runs the chunked loop with the per-token upstream gradient folded into
// each row of dlogits. Each of input, weight, bias gets a gradient iff it requires one.
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <array>
#include <string>
#include <tuple>

#include "liger/cross_entropy.h"

namespace liger {

// Liger's functional form (liger_fused_linear_cross_entropy): input (BT, H), weight (V, H),
// target (BT,), bias (V,), ce_weight (V,). Returns loss (float32), z_loss (input dtype),
// token_accuracy, predicted_tokens. chunk_size (ligerbench's addition): rows per chunk, 0 = auto.
CrossEntropyOutput liger_fused_linear_cross_entropy(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
    const c10::optional<at::Tensor>& bias = c10::nullopt, const c10::optional<at::Tensor>& ce_weight = c10::nullopt,
    int64_t ignore_index = -100, double lse_square_scale = 0.0, double label_smoothing = 0.0,
    const std::string& reduction = "mean", c10::optional<double> softcap = c10::nullopt, bool return_z_loss = false,
    c10::optional<at::ScalarType> accum_dtype = c10::nullopt, bool use_token_scaling = false,
    bool return_token_accuracy = false, bool return_predicted_tokens = false, int64_t chunk_size = 0);

// The differentiable operator liger::fused_linear_cross_entropy (same arguments).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fused_linear_cross_entropy(
    const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
    const c10::optional<at::Tensor>& bias = c10::nullopt, const c10::optional<at::Tensor>& ce_weight = c10::nullopt,
    int64_t ignore_index = -100, double lse_square_scale = 0.0, double label_smoothing = 0.0,
    const std::string& reduction = "mean", c10::optional<double> softcap = c10::nullopt, bool return_z_loss = false,
    c10::optional<at::ScalarType> accum_dtype = c10::nullopt, bool use_token_scaling = false,
    bool return_token_accuracy = false, bool return_predicted_tokens = false, int64_t chunk_size = 0);

// The chunked loop: (loss, z_loss, token_accuracy, predicted_tokens, grad_input, grad_weight,
// grad_bias). grad_mask says which of the three gradients to compute; grad_output (float32 (BT,))
// multiplies each row of dlogits (reduction="none" backward).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
fused_linear_cross_entropy_forward(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& target,
                                   const c10::optional<at::Tensor>& bias, const c10::optional<at::Tensor>& ce_weight,
                                   int64_t ignore_index, double lse_square_scale, double label_smoothing,
                                   const std::string& reduction, c10::optional<double> softcap, bool return_z_loss,
                                   c10::optional<at::ScalarType> accum_dtype, bool use_token_scaling,
                                   bool return_token_accuracy, bool return_predicted_tokens, int64_t chunk_size,
                                   std::array<bool, 3> grad_mask, const c10::optional<at::Tensor>& grad_output);

// Rows per chunk for these sizes: `requested` if > 0, else the larger of Liger's rule
// (next_pow2(ceil(BT / ceil(V / H))), logits of about BT x H elements) and the most rows whose
// logits fit 512 MiB (a power of two), at most BT.
int64_t fused_linear_cross_entropy_chunk_rows(int64_t bt, int64_t hidden, int64_t vocab, int64_t logits_element_size,
                                              int64_t requested);

}  // namespace liger
