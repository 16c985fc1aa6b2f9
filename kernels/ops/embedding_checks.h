#pragma once
// Argument checks shared by the embedding CPU and CUDA bindings.
#include <ATen/ATen.h>

#include <vector>

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

// The checked arguments of embedding_forward and embedding_backward, CPU and CUDA alike: the
// indices as int64 on the table's device, their count, the table's shape and padding_idx in
// [0, num_embeddings) (-1 when absent).
struct EmbeddingProblem {
  at::Tensor indices;
  int64_t n = 0, num_embeddings = 0, dim = 0, padding_idx = -1;
};

inline EmbeddingProblem check_embedding_forward(const char* op, const at::Tensor& weight, const at::Tensor& indices,
                                                c10::optional<int64_t> padding_idx) {
  check_embedding_weight(op, weight);
  EmbeddingProblem p;
  p.indices = embedding_indices(op, indices, weight.device());
  p.n = p.indices.numel();
  p.num_embeddings = weight.size(0);
  p.dim = weight.size(1);
  p.padding_idx = normalize_padding_idx(op, padding_idx, p.num_embeddings);
  return p;
}

inline EmbeddingProblem check_embedding_backward(const char* op, const at::Tensor& grad_out,
                                                 const at::Tensor& indices, int64_t num_embeddings,
                                                 c10::optional<int64_t> padding_idx) {
  EmbeddingProblem p;
  p.indices = embedding_indices(op, indices, grad_out.device());
  check_embedding_grad(op, grad_out, p.indices, num_embeddings);
  p.n = p.indices.numel();
  p.num_embeddings = num_embeddings;
  p.dim = grad_out.size(-1);
  p.padding_idx = normalize_padding_idx(op, padding_idx, num_embeddings);
  return p;
}

// The forward's output shape: (*indices.shape, dim).
inline std::vector<int64_t> embedding_output_shape(const at::Tensor& indices, int64_t dim) {
  std::vector<int64_t> shape(indices.sizes().begin(), indices.sizes().end());
  shape.push_back(dim);
  return shape;
}

}  // namespace liger::detail
