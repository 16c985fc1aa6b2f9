#pragma once
// Rotary position embedding (KERNELS.md section 3), HF's rotate_half convention: for each token,
// head and i < D/2, y[i] = x[i] c - x[i + D/2] s and y[i + D/2] = x[i + D/2] c + x[i] s, with
// c = cos[b or 0, t, i], s = sin[b or 0, t, i] (only the first half of each cos/sin row is read).
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <tuple>

namespace liger {

// Rotates q (B, n_q_heads, T, D) and k (B, n_kv_heads, T, D) in one launch; cos, sin (1 or B, T, D)
// as HF's rotary embedding makes them (may be slices of a longer table). Math in fp32, rounded
// once; outputs have q's and k's shape, dtype and memory layout (a transposed view of a
// (B, T, heads, D) buffer gives outputs laid out the same way).
// Unlike Liger, which rotates in the storage of q and k, the caller's q and k are never
// overwritten: the outputs are new tensors (overwriting the caller's projections silently breaks
// any other use of them). The backward is the inverse rotation; no gradient for cos and sin.
std::tuple<at::Tensor, at::Tensor> rope(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                        const at::Tensor& sin);

// Liger's (and HF's) signature. position_ids and unsqueeze_dim are accepted for compatibility and
// ignored: positions are the row index of cos/sin, heads are dim 1.
std::tuple<at::Tensor, at::Tensor> liger_rotary_pos_emb(const at::Tensor& q, const at::Tensor& k,
                                                        const at::Tensor& cos, const at::Tensor& sin,
                                                        const c10::optional<at::Tensor>& position_ids = c10::nullopt,
                                                        int64_t unsqueeze_dim = 1);

// The two halves the autograd function calls. rope_backward rotates by -theta; an undefined
// gradient (an output that was not used) gives an undefined result and costs nothing.
std::tuple<at::Tensor, at::Tensor> rope_forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                const at::Tensor& sin);
std::tuple<at::Tensor, at::Tensor> rope_backward(const c10::optional<at::Tensor>& grad_q,
                                                 const c10::optional<at::Tensor>& grad_k, const at::Tensor& cos,
                                                 const at::Tensor& sin);

}  // namespace liger
