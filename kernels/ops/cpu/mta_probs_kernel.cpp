// Multi-token attention's row operators on CPU (KERNELS.md section 8), the CUDA kernels'
// algorithm: row (b, c, i) of the scores has its first i + 1 entries unmasked; the softmax (or
// the sparsemax search of common/sparsemax_search.h) runs over that prefix in fp32 (float64 for
// float64 data) and the masked tail is written as exact zeros. The backward overwrites dP with
// dS in place. The softmax rows are softmax_row.h's.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "../common/sparsemax_search.h"
#include "../multi_token_attention_checks.h"
#include "row_grain.h"
#include "softmax_row.h"
#include "sparsemax_row.h"

namespace liger {
namespace {

template <typename T, typename Acc>
void softmax_prefix(const T* x, T* y, int64_t valid, int64_t len) {
  cpu::softmax_row(x, y, static_cast<Acc*>(nullptr), valid);
  for (int64_t j = valid; j < len; ++j) y[j] = T(0);
}

template <typename T, typename Acc>
void sparsemax_prefix(const T* x, T* y, int64_t valid, int64_t len) {
  Acc m = -std::numeric_limits<Acc>::infinity();
  for (int64_t j = 0; j < valid; ++j) m = std::max(m, static_cast<Acc>(x[j]));
  SparsemaxSearch<Acc> search;
  for (bool done = false; !done;) {
    const Acc lo = search.lo, mid = search.mid();
    Acc sum_above = 0, count_above = 0, f_mid = 0;
    for (int64_t j = 0; j < valid; ++j) {
      const Acc z = static_cast<Acc>(x[j]) - m;
      if (z > lo) {
        sum_above += z;
        count_above += 1;
      }
      f_mid += std::max(z - mid, Acc(0));
    }
    done = search.update(sum_above, count_above, f_mid);
  }
  for (int64_t j = 0; j < valid; ++j) y[j] = static_cast<T>(std::max(static_cast<Acc>(x[j]) - m - search.tau, Acc(0)));
  for (int64_t j = valid; j < len; ++j) y[j] = T(0);
}

// dS = P (dP - sum_j dP P) over the prefix (the tail's P is 0, so its dS is 0).
template <typename T, typename Acc>
void softmax_prefix_backward(T* g, const T* p, int64_t valid, int64_t len) {
  cpu::softmax_row_backward(g, p, g, valid);
  for (int64_t j = valid; j < len; ++j) g[j] = T(0);
}

// Sparsemax's backward over the prefix (section 10; the tail's P is 0, so its dS is 0).
template <typename T, typename Acc>
void sparsemax_prefix_backward(T* g, const T* p, int64_t valid, int64_t len) {
  cpu::sparsemax_row_backward(g, p, g, valid);
  for (int64_t j = valid; j < len; ++j) g[j] = T(0);
}

at::Tensor mta_probs_cpu(const at::Tensor& scores, bool sparse) {
  detail::check_mta_scores("liger::multi_token_attention_probs", scores);
  const at::Tensor x = scores.contiguous();
  at::Tensor y = at::empty_like(x);
  const int64_t len = x.size(-1), rows = len == 0 ? 0 : x.numel() / len;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "mta_probs_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, rows, cpu::row_grain(len), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t valid = r % len + 1;  // query i = r mod L sees keys 0..i
        if (sparse)
          sparsemax_prefix<scalar_t, Acc>(xp + r * len, yp + r * len, valid, len);
        else
          softmax_prefix<scalar_t, Acc>(xp + r * len, yp + r * len, valid, len);
      }
    });
  });
  return y;
}

at::Tensor& mta_probs_backward_cpu(at::Tensor& grad_probs, const at::Tensor& probs_in, bool sparse) {
  detail::check_mta_probs_grad("liger::multi_token_attention_probs_backward_", grad_probs, probs_in);
  const at::Tensor p = probs_in.contiguous();
  const int64_t len = p.size(-1), rows = len == 0 ? 0 : p.numel() / len;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "mta_probs_backward_cpu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    scalar_t* gp = grad_probs.data_ptr<scalar_t>();
    const scalar_t* pp = p.data_ptr<scalar_t>();
    at::parallel_for(0, rows, cpu::row_grain(len), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t valid = r % len + 1;
        if (sparse)
          sparsemax_prefix_backward<scalar_t, Acc>(gp + r * len, pp + r * len, valid, len);
        else
          softmax_prefix_backward<scalar_t, Acc>(gp + r * len, pp + r * len, valid, len);
      }
    });
  });
  return grad_probs;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  m.impl("multi_token_attention_probs", TORCH_FN(mta_probs_cpu));
  m.impl("multi_token_attention_probs_backward_", TORCH_FN(mta_probs_backward_cpu));
}

}  // namespace liger
