// RoPE on CPU: the CUDA kernel's algorithm (per (batch, token) row, every head of q and of k,
// fp32 math rounded once; float64 for float64 data), on strided q/k with a contiguous last dim.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/op_registration.h"
#include "../rope_apply.h"

namespace liger {
namespace {

// One rotated tensor: input and output (B, heads, T, D) with their own strides, last dim contiguous.
template <typename T>
struct Rotated {
  const T* in = nullptr;
  T* out = nullptr;
  int64_t heads = 0;
  int64_t in_s[3] = {0, 0, 0};  // batch, head, token strides
  int64_t out_s[3] = {0, 0, 0};
};

template <typename T>
Rotated<T> rotated(const at::Tensor& in, at::Tensor& out) {
  Rotated<T> r;
  if (!in.defined()) return r;
  r.in = in.data_ptr<T>();
  r.out = out.data_ptr<T>();
  r.heads = in.size(1);
  for (int d = 0; d < 3; ++d) {
    r.in_s[d] = in.stride(d);
    r.out_s[d] = out.stride(d);
  }
  return r;
}

// Rotates q and k (either may be undefined) by +theta, or by -theta when `inverse`, into the outputs.
void rope_apply_cpu(const at::Tensor& q, at::Tensor& q_out, const at::Tensor& k, at::Tensor& k_out,
                    const at::Tensor& cos, const at::Tensor& sin, bool inverse) {
  const double sign = inverse ? -1.0 : 1.0;
  const at::Tensor& ref = q.defined() ? q : k;
  const int64_t B = ref.size(0), T = ref.size(2), D = ref.size(3), half = D / 2;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ref.scalar_type(), "liger::rope", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const auto acc_type = c10::CppTypeToScalarType<Acc>::value;
    // Only the first half of each cos/sin row is read, in the compute precision.
    const at::Tensor c = cos.narrow(-1, 0, half).to(acc_type).contiguous();
    const at::Tensor s = (sin.narrow(-1, 0, half).to(acc_type) * sign).contiguous();
    const Acc* cp = c.data_ptr<Acc>();
    const Acc* sp = s.data_ptr<Acc>();
    const bool cos_batched = cos.size(0) > 1;
    const Rotated<scalar_t> parts[2] = {rotated<scalar_t>(q, q_out), rotated<scalar_t>(k, k_out)};
    at::parallel_for(0, B * T, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, D)), [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) {
        const int64_t b = row / T, t = row % T;
        const Acc* cr = cp + ((cos_batched ? b : 0) * T + t) * half;
        const Acc* sr = sp + ((cos_batched ? b : 0) * T + t) * half;
        for (const auto& part : parts) {
          for (int64_t h = 0; h < part.heads; ++h) {
            const scalar_t* x = part.in + b * part.in_s[0] + h * part.in_s[1] + t * part.in_s[2];
            scalar_t* y = part.out + b * part.out_s[0] + h * part.out_s[1] + t * part.out_s[2];
            for (int64_t i = 0; i < half; ++i) {
              const Acc x1 = static_cast<Acc>(x[i]), x2 = static_cast<Acc>(x[i + half]);
              y[i] = static_cast<scalar_t>(x1 * cr[i] - x2 * sr[i]);
              y[i + half] = static_cast<scalar_t>(x2 * cr[i] + x1 * sr[i]);
            }
          }
        }
      }
    });
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) { detail::impl_rope<rope_apply_cpu>(m); }

}  // namespace liger
