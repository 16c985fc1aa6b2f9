#pragma once
// Generalised Jensen-Shannon divergence (KERNELS.md section 16).
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <tuple>

namespace liger {

// Differentiable JSD between the student log_q = input (BT, V), which gets the gradient, and the
// teacher log_p = target (BT, V), same dtype. beta in (0, 1): beta KL(P||M) + (1-beta) KL(Q||M)
// with M = beta P + (1-beta) Q; beta 0: forward KL(P||Q); beta 1: reverse KL(Q||P). Summed over
// the rows whose shift_labels entry is not ignore_index (all rows without labels) and divided
// by their number n. Returns a scalar in input's dtype; 0 (and a zero gradient) when every row
// is ignored. Defaults as Liger's liger_jsd / LigerJSD.
at::Tensor jsd(const at::Tensor& input, const at::Tensor& target,
               const c10::optional<at::Tensor>& shift_labels = c10::nullopt, double beta = 0.5,
               int64_t ignore_index = -100);

// Forward: (loss, grad_input); the whole gradient d loss / d input is produced here. Without
// compute_grad, the loss only: grad_input is undefined, nothing of size BT x V is written.
std::tuple<at::Tensor, at::Tensor> jsd_forward(const at::Tensor& input, const at::Tensor& target,
                                               const c10::optional<at::Tensor>& shift_labels, double beta,
                                               int64_t ignore_index, bool compute_grad = true);
// Backward: grad_input scaled by the upstream scalar gradient.
at::Tensor jsd_backward(const at::Tensor& grad_out, const at::Tensor& grad_input);

}  // namespace liger
