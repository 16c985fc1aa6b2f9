// Embedding on CPU, the CUDA algorithm: forward gathers rows (0 at padding_idx); backward sorts
// positions by index and sums each index's rows in fp32 (float64 for float64) in position order,
// writing every touched row of dW once. Deterministic; no atomics.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "../common/op_registration.h"
#include "../embedding_checks.h"

namespace liger {
namespace {

at::Tensor embedding_forward_cpu(const at::Tensor& weight, const at::Tensor& indices,
                                 c10::optional<int64_t> padding_idx) {
  constexpr const char* op = "liger::embedding";
  const detail::EmbeddingProblem p = detail::check_embedding_forward(op, weight, indices, padding_idx);
  const int64_t V = p.num_embeddings, D = p.dim, n = p.n, pad = p.padding_idx;
  detail::check_indices_in_range(op, p.indices, V);
  const at::Tensor w = weight.contiguous();
  at::Tensor out = at::empty(detail::embedding_output_shape(p.indices, D), w.options());
  const int64_t* ip = p.indices.data_ptr<int64_t>();
  const auto* wp = static_cast<const char*>(w.data_ptr());
  auto* op_ = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = D * static_cast<int64_t>(w.element_size());
  at::parallel_for(0, n, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, row_bytes)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      if (ip[r] == pad) std::memset(op_ + r * row_bytes, 0, row_bytes);
      else std::memcpy(op_ + r * row_bytes, wp + ip[r] * row_bytes, row_bytes);
    }
  });
  return out;
}

at::Tensor embedding_backward_cpu(const at::Tensor& grad_out, const at::Tensor& indices, int64_t num_embeddings,
                                  c10::optional<int64_t> padding_idx) {
  constexpr const char* op = "liger::embedding_backward";
  const detail::EmbeddingProblem p =
      detail::check_embedding_backward(op, grad_out, indices, num_embeddings, padding_idx);
  const int64_t V = p.num_embeddings, D = p.dim, n = p.n, pad = p.padding_idx;
  const at::Tensor g = grad_out.contiguous();
  at::Tensor dw = at::zeros({V, D}, g.options());
  // Positions sorted by index, stably (so each row's sum runs in position order). Indices the
  // forward would have refused, and padding_idx, are left out: their rows of dW stay 0.
  const int64_t* ip = p.indices.data_ptr<int64_t>();
  std::vector<int64_t> order;
  order.reserve(n);
  for (int64_t i = 0; i < n; ++i)
    if (ip[i] >= 0 && ip[i] < V && ip[i] != pad) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return ip[x] < ip[y]; });
  std::vector<int64_t> heads;  // start of each run of one index in `order`
  for (size_t j = 0; j < order.size(); ++j)
    if (j == 0 || ip[order[j]] != ip[order[j - 1]]) heads.push_back(static_cast<int64_t>(j));
  heads.push_back(static_cast<int64_t>(order.size()));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), op, [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* gp = g.data_ptr<scalar_t>();
    scalar_t* dwp = dw.data_ptr<scalar_t>();
    const int64_t segments = static_cast<int64_t>(heads.size()) - 1;
    at::parallel_for(0, segments, 1, [&](int64_t lo, int64_t hi) {
      std::vector<Acc> acc(D);
      for (int64_t s = lo; s < hi; ++s) {
        std::fill(acc.begin(), acc.end(), Acc(0));
        for (int64_t j = heads[s]; j < heads[s + 1]; ++j) {
          const scalar_t* row = gp + order[j] * D;
          for (int64_t c = 0; c < D; ++c) acc[c] += static_cast<Acc>(row[c]);
        }
        scalar_t* out = dwp + ip[order[heads[s]]] * D;
        for (int64_t c = 0; c < D; ++c) out[c] = static_cast<scalar_t>(acc[c]);
      }
    });
  });
  return dw;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<embedding_forward_cpu, embedding_backward_cpu>(m, "embedding");
}

}  // namespace liger
