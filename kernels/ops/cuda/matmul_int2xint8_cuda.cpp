// Binds the int2 x int8 matmul CUDA launcher to liger::matmul_int2xint8.
#include <torch/library.h>

#include "../matmul_int2xint8_checks.h"
#include "common/cuda_binding.h"
#include "matmul_int2xint8_launch.h"

namespace liger {
namespace {

at::Tensor matmul_int2xint8_cuda(const at::Tensor& a_in, const at::Tensor& b_in) {
  constexpr const char* kOp = "liger::matmul";
  detail::check_int2_matmul_args(kOp, a_in, b_in);
  const c10::cuda::CUDAGuard guard(a_in.device());
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  if (m == 0 || n == 0 || k == 0) return at::zeros({m, n}, a.options().dtype(at::kInt));
  at::Tensor c = at::empty({m, n}, a.options().dtype(at::kInt));
  at::Tensor quads = at::empty({m, k / int2::kWeightsPerByte}, a.options().dtype(at::kInt));
  cuda::Int2MatmulArgs args{};
  args.a = a.data_ptr<int8_t>();
  args.b = b.data_ptr<uint8_t>();
  args.a_quads = quads.data_ptr<int32_t>();
  args.c = c.data_ptr<int32_t>();
  args.m = m;
  args.k = k;
  args.n = n;
  cuda::check_launch(cuda::int2_matmul(args, at::cuda::getCurrentCUDAStream()), kOp);
  return c;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) { m.impl("matmul_int2xint8", TORCH_FN(matmul_int2xint8_cuda)); }

}  // namespace liger
