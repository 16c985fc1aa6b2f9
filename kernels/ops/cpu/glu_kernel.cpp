// SwiGLU and GeGLU on CPU: the elementwise math of common/glu_math.h over the flattened tensors,
// with the same rounding points as the CUDA kernels (fp32 math, float64 for float64 data), in
// loops the compiler vectorizes (vec_math.h).
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "../common/glu_math.h"
#include "../common/op_registration.h"
#include "../glu_checks.h"
#include "vec_math.h"

namespace liger {
namespace {

constexpr int64_t kGrain = 32768;

template <typename T>
struct RoundTo {
  using Acc = at::opmath_type<T>;
  LIGER_ALWAYS_INLINE Acc operator()(Acc v) const { return cpu::round_to<T>(v); }
};

// One span of elements: the loops the compiler vectorizes (vec_math.h).
template <GluActivation ACT, typename T>
LIGER_CPU_CLONES void forward_span(const T* a, const T* b, T* c, int64_t n, at::opmath_type<T> g,
                                   at::opmath_type<T> d) {
  using Acc = at::opmath_type<T>;
  LIGER_SIMD
  for (int64_t i = 0; i < n; ++i)
    c[i] = cpu::store<T>(glu::glu_forward<ACT, Acc>(cpu::load(a[i]), cpu::load(b[i]), g, d, RoundTo<T>{}));
}

// da may be a's memory and db b's (in place): each element is read before it is written.
template <GluActivation ACT, typename T>
LIGER_CPU_CLONES void backward_span(const T* dc, const T* a, const T* b, T* da, T* db, int64_t n,
                                    at::opmath_type<T> g, at::opmath_type<T> d) {
  using Acc = at::opmath_type<T>;
  LIGER_SIMD
  for (int64_t i = 0; i < n; ++i) {
    Acc ga, gb;
    glu::glu_backward<ACT, Acc>(cpu::load(dc[i]), cpu::load(a[i]), cpu::load(b[i]), g, d, RoundTo<T>{}, ga, gb);
    da[i] = cpu::store<T>(ga);
    db[i] = cpu::store<T>(gb);
  }
}

template <GluActivation ACT>
at::Tensor glu_forward_cpu(const char* op, const at::Tensor& a_in, const at::Tensor& b_in, double gm, double dm) {
  detail::check_glu_inputs(op, a_in, b_in);
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  at::Tensor c = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "liger::glu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* ap = a.data_ptr<scalar_t>();
    const scalar_t* bp = b.data_ptr<scalar_t>();
    scalar_t* cp = c.data_ptr<scalar_t>();
    const Acc g = static_cast<Acc>(gm), d = static_cast<Acc>(dm);
    at::parallel_for(0, a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      forward_span<ACT>(ap + lo, bp + lo, cp + lo, hi - lo, g, d);
    });
  });
  return c;
}

template <GluActivation ACT>
std::tuple<at::Tensor, at::Tensor> glu_backward_cpu(const char* op, const at::Tensor& grad_out, const at::Tensor& a_in,
                                                    const at::Tensor& b_in, double gm, double dm, bool in_place) {
  detail::check_glu_inputs(op, a_in, b_in);
  detail::check_glu_grad(op, grad_out, a_in);
  const at::Tensor dc = grad_out.to(a_in.scalar_type()).contiguous();
  auto [da, db] = detail::glu_grad_buffers(a_in, b_in, in_place);
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "liger::glu", [&] {
    using Acc = at::opmath_type<scalar_t>;
    const scalar_t* dcp = dc.data_ptr<scalar_t>();
    const scalar_t* ap = a.data_ptr<scalar_t>();  // may be da's memory: each element is read before it is written
    const scalar_t* bp = b.data_ptr<scalar_t>();
    scalar_t* dap = da.data_ptr<scalar_t>();
    scalar_t* dbp = db.data_ptr<scalar_t>();
    const Acc g = static_cast<Acc>(gm), d = static_cast<Acc>(dm);
    at::parallel_for(0, a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      backward_span<ACT>(dcp + lo, ap + lo, bp + lo, dap + lo, dbp + lo, hi - lo, g, d);
    });
  });
  return {da.view(a_in.sizes()), db.view(b_in.sizes())};
}

at::Tensor swiglu_forward_cpu(const at::Tensor& a, const at::Tensor& b, double gm, double dm) {
  return glu_forward_cpu<GluActivation::kSiLU>("liger::swiglu", a, b, gm, dm);
}
std::tuple<at::Tensor, at::Tensor> swiglu_backward_cpu(const at::Tensor& grad_out, const at::Tensor& a,
                                                       const at::Tensor& b, double gm, double dm, bool in_place) {
  return glu_backward_cpu<GluActivation::kSiLU>("liger::swiglu_backward", grad_out, a, b, gm, dm, in_place);
}
at::Tensor geglu_forward_cpu(const at::Tensor& a, const at::Tensor& b) {
  return glu_forward_cpu<GluActivation::kGeluTanh>("liger::geglu", a, b, 1.0, 1.0);
}
std::tuple<at::Tensor, at::Tensor> geglu_backward_cpu(const at::Tensor& grad_out, const at::Tensor& a,
                                                      const at::Tensor& b, bool in_place) {
  return glu_backward_cpu<GluActivation::kGeluTanh>("liger::geglu_backward", grad_out, a, b, 1.0, 1.0, in_place);
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CPU, m) {
  detail::impl_forward_backward<swiglu_forward_cpu, swiglu_backward_cpu>(m, "swiglu");
  detail::impl_forward_backward<geglu_forward_cpu, geglu_backward_cpu>(m, "geglu");
}

}  // namespace liger
