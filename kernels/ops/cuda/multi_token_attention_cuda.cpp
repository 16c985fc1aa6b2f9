// Binds multi-token attention's CUDA row launchers to liger::multi_token_attention_probs and
// liger::multi_token_attention_probs_backward_ (the convolutions are cuDNN, through ATen, in
// ops/multi_token_attention.cpp).
#include <torch/library.h>

#include "../multi_token_attention_checks.h"
#include "common/cuda_binding.h"
#include "multi_token_attention_launch.h"

namespace liger {
namespace {

// The row layout that the forward's and the backward's launch arguments share, from `t` (named
// `arg` in errors): rows of the last dim's length.
template <typename Args>
void set_rows(Args& a, const char* op, const at::Tensor& t, const char* arg, bool sparse) {
  a.dtype = cuda::dtype_of(t, op, arg);
  a.len = t.size(-1);
  a.rows = a.len == 0 ? 0 : t.numel() / a.len;
  a.sparse = sparse;
}

at::Tensor mta_probs_cuda(const at::Tensor& scores, bool sparse) {
  constexpr const char* kOp = "liger::multi_token_attention_probs";
  detail::check_mta_scores(kOp, scores);
  const c10::cuda::CUDAGuard guard(scores.device());
  const at::Tensor x = scores.contiguous();
  at::Tensor y = at::empty_like(x);
  cuda::MtaProbsArgs a{};
  set_rows(a, kOp, x, "scores", sparse);
  a.scores = x.data_ptr();
  a.probs = y.data_ptr();
  cuda::check_launch(cuda::mta_probs(a, at::cuda::getCurrentCUDAStream()), kOp);
  return y;
}

at::Tensor& mta_probs_backward_cuda(at::Tensor& grad_probs, const at::Tensor& probs_in, bool sparse) {
  constexpr const char* kOp = "liger::multi_token_attention_probs_backward_";
  detail::check_mta_probs_grad(kOp, grad_probs, probs_in);
  const c10::cuda::CUDAGuard guard(probs_in.device());
  const at::Tensor p = probs_in.contiguous();
  cuda::MtaProbsBackwardArgs a{};
  set_rows(a, kOp, p, "probs", sparse);
  a.grad = grad_probs.data_ptr();
  a.probs = p.data_ptr();
  cuda::check_launch(cuda::mta_probs_backward(a, at::cuda::getCurrentCUDAStream()), kOp);
  return grad_probs;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("multi_token_attention_probs", TORCH_FN(mta_probs_cuda));
  m.impl("multi_token_attention_probs_backward_", TORCH_FN(mta_probs_backward_cuda));
}

}  // namespace liger
