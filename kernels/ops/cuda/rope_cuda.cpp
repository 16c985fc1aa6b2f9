// Binds the RoPE CUDA launcher to the liger::rope_forward/backward operators.
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../rope_apply.h"
#include "common/cuda_binding.h"
#include "rope_launch.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::rope";

void describe(cuda::RopeRotated& r, const at::Tensor& in, const at::Tensor& out) {
  r.in = in.defined() ? in.data_ptr() : nullptr;
  r.out = out.defined() ? out.data_ptr() : nullptr;
  r.heads = in.defined() ? in.size(1) : 0;
  // A dim of size 1 is only ever indexed at 0: its stride (arbitrary) must not defeat vectorization.
  for (int d = 0; d < 3; ++d) {
    r.in_stride[d] = in.defined() && in.size(d) > 1 ? in.stride(d) : 0;
    r.out_stride[d] = out.defined() && out.size(d) > 1 ? out.stride(d) : 0;
  }
}

// Rotates q and k (either may be undefined) into q_out and k_out; inverse for the backward.
void rope_apply_cuda(const at::Tensor& q, const at::Tensor& q_out, const at::Tensor& k, const at::Tensor& k_out,
                     const at::Tensor& cos_in, const at::Tensor& sin_in, bool inverse) {
  const at::Tensor& ref = q.defined() ? q : k;
  const c10::cuda::CUDAGuard guard(ref.device());
  // The kernel reads cos/sin in q's dtype or in fp32; anything else is converted to fp32.
  const bool keep = cos_in.scalar_type() == ref.scalar_type() || cos_in.scalar_type() == at::kFloat;
  const at::Tensor cos = detail::last_dim_contiguous(keep ? cos_in : cos_in.to(at::kFloat));
  const at::Tensor sin = detail::last_dim_contiguous(keep ? sin_in : sin_in.to(at::kFloat));
  cuda::RopeArgs a{};
  describe(a.q, q, q_out);
  describe(a.k, k, k_out);
  a.cos = cos.data_ptr();
  a.sin = sin.data_ptr();
  a.cos_stride[0] = cos.size(0) == 1 ? 0 : cos.stride(0);
  a.cos_stride[1] = cos.size(1) == 1 ? 0 : cos.stride(1);
  a.sin_stride[0] = sin.size(0) == 1 ? 0 : sin.stride(0);
  a.sin_stride[1] = sin.size(1) == 1 ? 0 : sin.stride(1);
  a.batch = ref.size(0);
  a.seq_len = ref.size(2);
  a.head_dim = ref.size(3);
  a.dtype = cuda::dtype_of(ref, kOp, "q");
  a.cos_dtype = cuda::dtype_of(cos, kOp, "cos");
  a.inverse = inverse;
  const int64_t heads = (q.defined() ? q.size(1) : 0) + (k.defined() ? k.size(1) : 0);
  TORCH_CHECK(a.batch * a.seq_len <= 0x7fffffff && heads * a.head_dim <= 0x7fffffff, kOp,
              ": batch x seq_len (", a.batch * a.seq_len, ") and heads x head_dim (", heads * a.head_dim,
              ") must each be below 2^31 for the CUDA kernel");
  cuda::check_launch(cuda::rope_apply(a, at::cuda::getCurrentCUDAStream()), kOp);
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) { detail::impl_rope<rope_apply_cuda>(m); }

}  // namespace liger
