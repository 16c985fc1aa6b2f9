#pragma once
// Embedding lookup (KERNELS.md section 18): out[..., :] = weight[indices[...], :].
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

namespace liger {

// Differentiable in weight (not in indices). indices: any shape, int64 (int32 accepted);
// output (*indices.shape, D) in weight's dtype. With padding_idx (negative counts from the end,
// as in nn.Embedding), output rows at that index are 0 and the row gets no gradient (Liger's
// behaviour: forced to 0, whatever the weight row holds). An index outside [0, V) is an error
// naming the index and V (one min/max reduction of the indices; Liger does not check).
// The weight gradient is summed in fp32 per distinct index (sort, then one pass per segment)
// and rounded once: deterministic, no low-precision atomics.
at::Tensor embedding(const at::Tensor& weight, const at::Tensor& indices,
                     c10::optional<int64_t> padding_idx = c10::nullopt);

at::Tensor embedding_forward(const at::Tensor& weight, const at::Tensor& indices, c10::optional<int64_t> padding_idx);
// grad_weight (num_embeddings, D) in grad_out's dtype.
at::Tensor embedding_backward(const at::Tensor& grad_out, const at::Tensor& indices, int64_t num_embeddings,
                              c10::optional<int64_t> padding_idx);

}  // namespace liger
