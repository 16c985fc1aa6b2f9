#pragma once
// Registration shapes that most liger operators share (ADDING_A_KERNEL.md): the differentiable
// op's Autograd kernel with its below-autograd kernel for CPU and CUDA, and a backend's kernels of
// the op's forward and backward halves.
#include <torch/library.h>

#include <string>

// The op `name` ("softmax") differentiable through `autograd_kernel`; below autograd (inference,
// or a caller that dispatches past it) `no_grad_kernel` runs, on CPU and CUDA alike, as it only
// calls the op's forward half through the dispatcher.
#define LIGER_IMPL_AUTOGRAD_AND_NO_GRAD(name, autograd_kernel, no_grad_kernel)              \
  TORCH_LIBRARY_IMPL(liger, Autograd, m) { m.impl(name, TORCH_FN(autograd_kernel)); }       \
  TORCH_LIBRARY_IMPL(liger, CPU, m) { m.impl(name, TORCH_FN(no_grad_kernel)); }             \
  TORCH_LIBRARY_IMPL(liger, CUDA, m) { m.impl(name, TORCH_FN(no_grad_kernel)); }

// Kernels that are ATen compositions, the same on every device: `impl(m)` registers them in a
// CPU and in a CUDA TORCH_LIBRARY_IMPL block.
#define LIGER_IMPL_CPU_AND_CUDA(impl)            \
  TORCH_LIBRARY_IMPL(liger, CPU, m) { impl(m); } \
  TORCH_LIBRARY_IMPL(liger, CUDA, m) { impl(m); }

namespace liger::detail {

// One backend's kernels of `<name>_forward` and `<name>_backward`, in a TORCH_LIBRARY_IMPL block.
template <auto Forward, auto Backward>
void impl_forward_backward(torch::Library& m, const std::string& name) {
  m.impl((name + "_forward").c_str(), TORCH_FN(Forward));
  m.impl((name + "_backward").c_str(), TORCH_FN(Backward));
}

}  // namespace liger::detail
