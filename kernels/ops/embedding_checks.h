#pragma once
// Argument checks shared by the embedding CPU and CUDA bindings.
#include <ATen/ATen.h>

namespace liger::detail {

inline void check_embedding_weight(const char* op, const at::Tensor& weight) {
  TORCH_CHECK(weight.dim() == 2, op, ": weight must be (num_embeddings, embedding_dim), got shape ", weight.sizes());
  TORCH_CHECK(at::isFloatingType(weight.scalar_type()), op, ": weight must be floating point, got ",
              weight.scalar_type());
}

// indices as int64 (int32 is widened), on `device`.
inline at::Tensor embedding_indices(const char* op, const at::Tensor& indices, const at::Device& device) {
  TORCH_CHECK(indices.scalar_type() == at::kLong || indices.scalar_type() == at::kInt, op,
              ": indices must be int64 (or int32), got ", indices.scalar_type());
  TORCH_CHECK(indices.device() == device, op, ": indices are on ", indices.device(), " but weight is on ", device);
  return indices.to(at::kLong).contiguous();
}

// padding_idx in [-V, V), negative counting from the end (as nn.Embedding); -1 when absent.
inline int64_t normalize_padding_idx(const char* op, c10::optional<int64_t> padding_idx, int64_t num_embeddings) {
  if (!padding_idx) return -1;
  const int64_t p = *padding_idx;
  TORCH_CHECK(p >= -num_embeddings && p < num_embeddings, op, ": padding_idx ", p,
              " must be within [-num_embeddings, num_embeddings) = [", -num_embeddings, ", ", num_embeddings, ")");
  return p < 0 ? p + num_embeddings : p;
}

// grad_out of the backward: (*indices.shape, D), floating point; num_embeddings >= 0.
inline void check_embedding_grad(const char* op, const at::Tensor& grad_out, const at::Tensor& indices,
                                 int64_t num_embeddings) {
  TORCH_CHECK(grad_out.dim() == indices.dim() + 1 && grad_out.sizes().slice(0, indices.dim()) == indices.sizes(), op,
              ": grad_out must be (*indices.shape, embedding_dim) with indices of shape ", indices.sizes(), ", got ",
              grad_out.sizes());
  TORCH_CHECK(at::isFloatingType(grad_out.scalar_type()), op, ": grad_out must be floating point, got ",
              grad_out.scalar_type());
  TORCH_CHECK(num_embeddings >= 0, op, ": num_embeddings must be non-negative, got ", num_embeddings);
}

// The error for indices whose min/max fall outside [0, V), naming the offending value.
inline void check_index_bounds(const char* op, int64_t min_index, int64_t max_index, int64_t num_embeddings) {
  const int64_t bad = min_index < 0 ? min_index : max_index;
  TORCH_CHECK(min_index >= 0 && max_index < num_embeddings, op, ": index ", bad,
              " is out of range for an embedding table of ", num_embeddings, " rows (valid indices: 0 to ",
              num_embeddings - 1, ")");
}

// Every index in [0, V), from one min/max reduction (the CUDA binding overlaps it with the gather).
inline void check_indices_in_range(const char* op, const at::Tensor& indices, int64_t num_embeddings) {
  if (indices.numel() == 0) return;
  const auto [lo, hi] = at::aminmax(indices);
  check_index_bounds(op, lo.item<int64_t>(), hi.item<int64_t>(), num_embeddings);
}

}  // namespace liger::detail
