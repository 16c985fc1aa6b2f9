// int2 x int8 matmul (experimental, inference only): schema, the packing helpers and the C++
// functional API. CPU kernel: ops/cpu/matmul_int2xint8_kernel.cpp; CUDA: ops/cuda/matmul_int2xint8_cuda.cpp.
// No autograd: integer tensors carry no gradient, and Liger's op has no backward.
#include "liger/matmul_int2xint8.h"

#include <torch/library.h>

#include "common/op_registration.h"
#include "common/typed_op.h"
#include "matmul_int2xint8_checks.h"

namespace liger {
namespace {

// Codes c = w + 1 of the four quarters of K summed with weights 1, 4, 16, 64: the bit fields of
// the format (disjoint, so the sum is the bitwise or and stays within uint8).
at::Tensor pack_weights_impl(const at::Tensor& weights, int64_t bits) {
  constexpr const char* kOp = "liger::pack_weights";
  detail::check_int2_weights(kOp, weights, bits);
  if (weights.numel() > 0) {
    const at::Tensor bad = at::logical_or(weights < -1, weights > 2);
    TORCH_CHECK(!bad.any().item<bool>(), kOp, ": weights must take values in {-1, 0, 1, 2} (codes 0..3), got ",
                weights.masked_select(bad).view(-1)[0].item<int64_t>(), " at one or more positions");
  }
  const int64_t r = weights.size(0) / int2::kWeightsPerByte;
  const at::Tensor codes = (weights.to(at::kShort) + 1).to(at::kByte).contiguous().view({int2::kWeightsPerByte, r, -1});
  return codes[0] + codes[1] * 4 + codes[2] * 16 + codes[3] * 64;
}

at::Tensor unpack_weights_impl(const at::Tensor& packed, int64_t bits) {
  constexpr const char* kOp = "liger::unpack_weights";
  TORCH_CHECK(bits == int2::kBits, kOp, ": only bits = 2 is supported, got bits = ", bits);
  TORCH_CHECK(packed.defined() && packed.dim() == 2, kOp, ": packed weights must be 2-D (K/4, N)");
  TORCH_CHECK(packed.scalar_type() == at::kByte, kOp, ": packed weights must be uint8, got ", packed.scalar_type());
  std::vector<at::Tensor> quarters;
  for (int64_t i = 0; i < int2::kWeightsPerByte; ++i)
    quarters.push_back(at::bitwise_and(at::bitwise_right_shift(packed, int2::kBits * i), 3));
  return at::cat(quarters, 0).to(at::kChar) - 1;
}

// The weight helpers are ATen compositions, the same on every device.
void impl_weight_packing(torch::Library& m) {
  m.impl("pack_weights", TORCH_FN(pack_weights_impl));
  m.impl("unpack_weights", TORCH_FN(unpack_weights_impl));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(liger, m) {
  m.def("matmul_int2xint8(Tensor a, Tensor b) -> Tensor");
  m.def("pack_weights(Tensor weights, int bits=2) -> Tensor");
  m.def("unpack_weights(Tensor packed, int bits=2) -> Tensor");
}

LIGER_IMPL_CPU_AND_CUDA(impl_weight_packing)

at::Tensor matmul(const at::Tensor& a, const at::Tensor& b) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("liger::matmul_int2xint8");
  return op.call(a, b);
}

at::Tensor pack_weights(const at::Tensor& weights, int64_t bits) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, int64_t)>("liger::pack_weights");
  return op.call(weights, bits);
}

at::Tensor unpack_weights(const at::Tensor& packed, int64_t bits) {
  static const auto op = detail::typed_op<at::Tensor(const at::Tensor&, int64_t)>("liger::unpack_weights");
  return op.call(packed, bits);
}

}  // namespace liger
