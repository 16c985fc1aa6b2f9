// Binds the cross-entropy CUDA launchers to liger::cross_entropy_target_stats,
// liger::cross_entropy_forward and liger::rescale_stored_grads_.
#include <ATen/MemoryOverlap.h>
#include <torch/library.h>

#include <climits>

#include "../cross_entropy_checks.h"
#include "../deferred_target_check.h"
#include "cross_entropy_launch.h"
#include "common/cuda_binding.h"

namespace liger {
namespace {

constexpr const char* kOp = "liger::cross_entropy";

at::Tensor class_weight_fp32(const c10::optional<at::Tensor>& weight) {
  if (!weight || !weight->defined()) return at::Tensor();
  return weight->to(at::kFloat).contiguous();
}

at::Tensor target_stats_cuda(const at::Tensor& target, const c10::optional<at::Tensor>& weight, int64_t ignore_index,
                             int64_t num_classes, bool defer_check) {
  TORCH_CHECK(target.dim() == 1, kOp, ": target must be 1-D, got ", target.sizes());
  detail::check_ce_target(target, target.size(0), target.device(), kOp);
  detail::check_class_weight(weight, num_classes, target.device(), kOp);
  const c10::cuda::CUDAGuard guard(target.device());
  const at::Tensor t = target.to(at::kLong).contiguous();
  const at::Tensor w = class_weight_fp32(weight);
  at::Tensor stats = at::empty({kCeNumStats}, target.options().dtype(at::kDouble));
  cuda::CeStatsArgs a{};
  a.target = t.data_ptr<int64_t>();
  a.weight = w.defined() ? w.data_ptr<float>() : nullptr;
  a.stats = stats.data_ptr<double>();
  a.rows = t.size(0);
  a.classes = num_classes;
  a.ignore_index = ignore_index;
  cuda::check_launch(cuda::ce_target_stats(a, at::cuda::getCurrentCUDAStream()), kOp);
  // Unless the caller defers it (detail::DeferredTargetCheck), the check is a host sync: one
  // value read back.
  if (!defer_check) detail::DeferredTargetCheck(stats, t, num_classes, ignore_index, kOp).finish();
  return stats;
}

detail::CeForwardOutputs cross_entropy_forward_cuda(at::Tensor& input, const at::Tensor& target,
                                                    const c10::optional<at::Tensor>& weight, const at::Tensor& stats,
                                                    const c10::optional<at::Tensor>& grad_scale,
                                                    const CrossEntropyRowOptions& o,
                                                    detail::CeOptionalOutputs outputs) {
  const int64_t rows = input.size(0), cols = input.size(1);
  TORCH_CHECK(cols > 0 && cols < INT_MAX / 2, kOp, ": the CUDA kernel needs 0 < V < 2^30 classes, got ", cols);
  TORCH_CHECK(rows < (int64_t{1} << 28), kOp, ": the CUDA kernel takes fewer than 2^28 rows, got ", rows);
  const cuda::DType dt = cuda::dtype_of(input, kOp, "input");
  if (o.compute_grad) at::assert_no_internal_overlap(input);
  const c10::cuda::CUDAGuard guard(input.device());
  // The kernel walks rows with unit column stride; other layouts work on a copy written back.
  at::Tensor x = input.stride(1) == 1 ? input : input.contiguous();
  const at::Tensor t = target.to(at::kLong).contiguous();
  const at::Tensor w = class_weight_fp32(weight);
  const at::Tensor gs = grad_scale && grad_scale->defined() ? grad_scale->to(at::kFloat).contiguous() : at::Tensor();
  const auto opts = input.options();
  at::Tensor loss = at::empty({rows}, opts.dtype(at::kFloat));
  at::Tensor z = outputs.z_loss ? at::empty({rows}, opts.dtype(at::kFloat)) : at::Tensor();
  at::Tensor acc = outputs.token_accuracy ? at::empty({rows}, opts.dtype(at::kFloat)) : at::Tensor();
  at::Tensor pred = outputs.predicted_tokens ? at::empty({rows}, opts.dtype(at::kLong)) : at::Tensor();
  cuda::CeForwardArgs a{};
  a.logits = x.data_ptr();
  a.rows = rows;
  a.cols = cols;
  a.row_stride = x.stride(0);
  a.dtype = dt;
  a.target = t.data_ptr<int64_t>();
  a.weight = w.defined() ? w.data_ptr<float>() : nullptr;
  a.stats = stats.data_ptr<double>();
  a.grad_scale = gs.defined() ? gs.data_ptr<float>() : nullptr;
  a.loss = loss.data_ptr<float>();
  a.z_loss = z.defined() ? z.data_ptr<float>() : nullptr;
  a.accuracy = acc.defined() ? acc.data_ptr<float>() : nullptr;
  a.predicted = pred.defined() ? pred.data_ptr<int64_t>() : nullptr;
  a.options = o;
  cuda::check_launch(cuda::ce_forward(a, at::cuda::getCurrentCUDAStream()), kOp);
  if (o.compute_grad && !x.is_same(input)) input.copy_(x);
  return {loss, z, acc, pred};
}

void rescale_stored_grads_cuda(at::TensorList grads, const at::Tensor& grad_output, at::Tensor& applied_scale) {
  constexpr const char* op = "liger::rescale_stored_grads_";
  TORCH_CHECK(grad_output.numel() == 1, op, ": grad_output must be a scalar, got ", grad_output.sizes());
  TORCH_CHECK(applied_scale.numel() == 1 && applied_scale.scalar_type() == at::kDouble && applied_scale.is_cuda(), op,
              ": applied_scale must be a float64 scalar on the GPU");
  const c10::cuda::CUDAGuard guard(applied_scale.device());
  const at::Tensor g = grad_output.to(applied_scale.device(), at::kDouble).reshape({});  // no sync
  for (const at::Tensor& t : grads) {
    if (!t.defined()) continue;
    TORCH_CHECK(t.device() == applied_scale.device(), op, ": gradient on ", t.device(), " but applied_scale on ",
                applied_scale.device());
    if (t.is_contiguous() && t.scalar_type() != at::kDouble) {
      cuda::RescaleArgs a{};
      a.data = t.data_ptr();
      a.numel = t.numel();
      a.dtype = cuda::dtype_of(t, op, "gradient");
      a.grad_output = g.data_ptr<double>();
      a.applied = applied_scale.data_ptr<double>();
      cuda::check_launch(cuda::rescale_stored_grad(a, at::cuda::getCurrentCUDAStream()), op);
    } else {  // strided or float64 buffers: the same factor with ATen ops (no skip, still no sync)
      t.mul_(at::where(g == 0, at::zeros_like(g), g / applied_scale));
    }
  }
  applied_scale.copy_(g);
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  m.impl("cross_entropy_target_stats", TORCH_FN(target_stats_cuda));
  m.impl("cross_entropy_forward", TORCH_FN(detail::ce_forward_kernel<cross_entropy_forward_cuda>));
  m.impl("rescale_stored_grads_", TORCH_FN(rescale_stored_grads_cuda));
}

}  // namespace liger
