// int2 x int8 matmul on CPU: the CUDA kernel's decomposition (common/int2_packing.h). Each packed
// byte b[r, n] meets the four activations a[m, r + i*R]; rows of the output in parallel, int32
// accumulators over the whole of K (integer sums are exact, so the order does not matter).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../matmul_int2xint8_checks.h"

namespace liger {
namespace {

at::Tensor matmul_int2xint8_cpu(const at::Tensor& a_in, const at::Tensor& b_in) {
  detail::check_int2_matmul_args("liger::matmul", a_in, b_in);
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t m_rows = a.size(0), k = a.size(1), n_cols = b.size(1), r_rows = b.size(0);
  at::Tensor c = at::zeros({m_rows, n_cols}, a.options().dtype(at::kInt));
  if (c.numel() == 0 || k == 0) return c;
  const int8_t* ap = a.data_ptr<int8_t>();
  const uint8_t* bp = b.data_ptr<uint8_t>();
  int32_t* cp = c.data_ptr<int32_t>();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, r_rows * n_cols));
  at::parallel_for(0, m_rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      const int8_t* am = ap + m * k;
      int32_t* cm = cp + m * n_cols;
      for (int64_t r = 0; r < r_rows; ++r) {
        const int32_t a0 = am[r], a1 = am[r + r_rows], a2 = am[r + 2 * r_rows], a3 = am[r + 3 * r_rows];
        const uint8_t* br = bp + r * n_cols;
        for (int64_t n = 0; n < n_cols; ++n) cm[n] += int2::dot4(a0, a1, a2, a3, br[n]);
      }
    }
  });
  return c;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl("matmul_int2xint8", TORCH_FN(matmul_int2xint8_cpu)); }

}  // namespace liger
