// Binds the embedding CUDA launchers to the liger::embedding_forward/backward operators.
#include <ATen/cuda/CUDAEvent.h>
#include <torch/library.h>

#include <unordered_map>

#include "../common/op_registration.h"
#include "../embedding_checks.h"
#include "common/cuda_binding.h"
#include "embedding_launch.h"

namespace liger {
namespace {

// Two int64 of mapped pinned host memory per device and host thread, kept for the thread's life
// with their device address (looked up once): a call waits for its check before it returns, so
// one slot a thread is never shared.
struct BadIndexSlot {
  int64_t* host = nullptr;
  int64_t* device = nullptr;
};

const BadIndexSlot& bad_index_slot(int device) {
  thread_local std::unordered_map<int, BadIndexSlot> slots;
  BadIndexSlot& slot = slots[device];
  if (slot.host == nullptr) {
    void* p = nullptr;
    C10_CUDA_CHECK(cudaHostAlloc(&p, 2 * sizeof(int64_t), cudaHostAllocMapped | cudaHostAllocPortable));
    void* d = nullptr;
    C10_CUDA_CHECK(cudaHostGetDevicePointer(&d, p, 0));
    slot = {static_cast<int64_t*>(p), static_cast<int64_t*>(d)};
  }
  return slot;
}

// The table fields that the forward's and the backward's launch arguments share.
template <typename Args>
void set_table(Args& a, const detail::EmbeddingProblem& p) {
  a.n = p.n;
  a.num_embeddings = p.num_embeddings;
  a.dim = p.dim;
  a.padding_idx = p.padding_idx;
}

at::Tensor embedding_forward_cuda(const at::Tensor& weight, const at::Tensor& indices,
                                  c10::optional<int64_t> padding_idx) {
  constexpr const char* op = "liger::embedding";
  const detail::EmbeddingProblem p = detail::check_embedding_forward(op, weight, indices, padding_idx);
  const int64_t V = p.num_embeddings, D = p.dim, n = p.n;
  const c10::cuda::CUDAGuard guard(weight.device());
  const at::Tensor w = weight.contiguous();
  at::Tensor out = at::empty(detail::embedding_output_shape(p.indices, D), w.options());
  if (n == 0) return out;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  // Range check without stalling the GPU: one small kernel writes any offending index straight
  // into mapped pinned host memory, the gather is queued right behind it (it writes 0 for an
  // out-of-range row, never reads it), and the host waits for the check only. (The earlier
  // at::aminmax + device-to-host copy put a generic reduction and a copy in front of every gather.
  // Running the check on a side stream beside the gather was measured slower on the H200: 0.047
  // vs 0.042 ms at 8192 x 4096 bf16, the extra event and stream work delaying the gather's launch.)
  const BadIndexSlot& slot = bad_index_slot(weight.device().index());
  int64_t* bad = slot.host;
  bad[0] = 0;
  cuda::check_launch(cuda::embedding_find_bad_index(p.indices.data_ptr<int64_t>(), n, V, slot.device, stream), op);
  at::cuda::CUDAEvent checked;
  checked.record(at::cuda::getCurrentCUDAStream());

  cuda::EmbeddingForwardArgs a{};
  a.weight = w.data_ptr();
  a.indices = p.indices.data_ptr<int64_t>();
  a.out = out.data_ptr();
  set_table(a, p);
  a.dtype = cuda::dtype_of(w, op, "weight");
  cuda::check_launch(cuda::embedding_forward(a, stream), op);

  checked.synchronize();
  const volatile int64_t* seen = bad;
  if (seen[0] != 0) detail::check_index_bounds(op, seen[1], seen[1], V);
  return out;
}

at::Tensor embedding_backward_cuda(const at::Tensor& grad_out, const at::Tensor& indices, int64_t num_embeddings,
                                   c10::optional<int64_t> padding_idx) {
  constexpr const char* op = "liger::embedding_backward";
  const detail::EmbeddingProblem p =
      detail::check_embedding_backward(op, grad_out, indices, num_embeddings, padding_idx);
  const int64_t V = p.num_embeddings, D = p.dim, n = p.n;
  TORCH_CHECK(n < 0x7fffffff && V < 0x7fffffff, op, ": the CUDA kernel takes fewer than 2^31 indices and rows, got ",
              n, " indices and ", V, " rows");
  const c10::cuda::CUDAGuard guard(grad_out.device());
  const at::Tensor g = grad_out.contiguous();
  at::Tensor dw = at::empty({V, D}, g.options());
  const size_t ws_bytes = cuda::embedding_backward_workspace_bytes(n, V);
  at::Tensor ws = at::empty({static_cast<int64_t>(ws_bytes)}, g.options().dtype(at::kByte));
  cuda::EmbeddingBackwardArgs a{};
  a.grad_out = g.data_ptr();
  a.indices = p.indices.data_ptr<int64_t>();
  a.grad_weight = dw.data_ptr();
  set_table(a, p);
  a.dtype = cuda::dtype_of(g, op, "grad_out");
  a.workspace = ws_bytes > 0 ? ws.data_ptr() : nullptr;
  a.workspace_bytes = ws_bytes;
  cuda::check_launch(cuda::embedding_backward(a, at::cuda::getCurrentCUDAStream()), op);
  return dw;
}

}  // namespace

TORCH_LIBRARY_IMPL(liger, CUDA, m) {
  detail::impl_forward_backward<embedding_forward_cuda, embedding_backward_cuda>(m, "embedding");
}

}  // namespace liger
