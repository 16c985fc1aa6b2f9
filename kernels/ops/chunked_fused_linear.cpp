// The chunked fused-linear skeleton (chunked_fused_linear.h).
#include "chunked_fused_linear.h"

#include <algorithm>

#include "common/matmul_into.h"
#include "fused_linear_autocast.h"

namespace liger::detail {

int64_t liger_chunk_rows(int64_t rows, int64_t vocab, int64_t hidden) {
  const int64_t inc = (vocab + hidden - 1) / std::max<int64_t>(hidden, 1);
  const int64_t want = (rows + inc - 1) / std::max<int64_t>(inc, 1);
  int64_t pow2 = 1;
  while (pow2 < want) pow2 *= 2;
  return pow2;
}

std::vector<Chunk> consecutive_chunks(int64_t rows, int64_t chunk_rows) {
  TORCH_CHECK(chunk_rows > 0, "consecutive_chunks: chunk_rows must be positive, got ", chunk_rows);
  std::vector<Chunk> chunks;
  for (int64_t start = 0; start < rows; start += chunk_rows) chunks.push_back({{start, std::min(chunk_rows, rows - start)}});
  return chunks;
}

std::vector<Chunk> paired_chunks(int64_t batch, int64_t seq_len, int64_t chunk_size) {
  TORCH_CHECK(chunk_size > 0, "paired_chunks: chunk_size must be positive, got ", chunk_size);
  const int64_t half = batch / 2;
  const int64_t count = std::max<int64_t>(1, batch / (2 * chunk_size));
  const int64_t piece = half > 0 ? (half + count - 1) / count : 0;
  std::vector<Chunk> chunks;
  for (int64_t s = 0; s < half; s += piece) {
    const int64_t n = std::min(piece, half - s);
    chunks.push_back({{s * seq_len, n * seq_len}, {(half + s) * seq_len, n * seq_len}});
  }
  return chunks;
}

int64_t chunk_rows(const Chunk& chunk) {
  int64_t n = 0;
  for (const RowRange& r : chunk) n += r.rows;
  return n;
}

at::Tensor gather_chunk_rows(const at::Tensor& t, const Chunk& chunk) {
  if (chunk.size() == 1) return t.narrow(0, chunk[0].start, chunk[0].rows);
  std::vector<at::Tensor> parts;
  for (const RowRange& r : chunk) parts.push_back(t.narrow(0, r.start, r.rows));
  return at::cat(parts, 0);
}

ChunkedResult chunked_fused_linear(const FusedLinearArgs& args, const std::vector<Chunk>& chunks,
                                   const ChunkLossFn& loss_fn) {
  const at::Tensor& input = args.input;
  const int64_t rows = input.size(0), hidden = input.size(1), vocab = args.weight.size(0);
  const bool has_bias = args.bias && args.bias->defined();
  const bool want_dx = args.grad_mask[0], want_dw = args.grad_mask[1], want_db = args.grad_mask[2] && has_bias;
  const bool any_grad = want_dx || want_dw || want_db;
  // The GEMMs run in the input dtype (autocast's rule); a wider weight is cast once, not per chunk
  // (and on the CPU, where 16-bit products are computed in fp32, widened once: gemm_operand).
  const at::Tensor w = gemm_operand(args.weight, input);
  const at::Tensor b = has_bias ? weight_for_matmul(*args.bias, input) : at::Tensor();
  const at::Tensor wt = w.t();
  const bool fused_bias = has_bias && has_native_gemm(input);  // the bias as the logits GEMM's epilogue

  ChunkedResult out;
  const auto opts = input.options();
  int64_t covered = 0;
  for (const Chunk& c : chunks) covered += chunk_rows(c);
  // Every row in some chunk: each is written once by its dX GEMM; otherwise the rest must be 0.
  if (want_dx) out.grads.grad_input = covered == rows ? at::empty({rows, hidden}, opts) : at::zeros({rows, hidden}, opts);
  const auto dw_opts = opts.dtype(args.accum_dtype.value_or(args.weight.scalar_type()));
  bool dw_written = false;
  if (want_dw) out.grads.grad_weight = chunks.empty() ? at::zeros({vocab, hidden}, dw_opts) : at::empty({vocab, hidden}, dw_opts);
  if (want_db) out.grads.grad_bias = at::zeros({vocab}, opts.dtype(args.accum_dtype.value_or(args.bias->scalar_type())));

  for (const Chunk& chunk : chunks) {
    at::Tensor logits = at::empty({chunk_rows(chunk), vocab}, opts);
    int64_t offset = 0;
    for (const RowRange& r : chunk) {
      const at::Tensor x = input.narrow(0, r.start, r.rows);
      at::Tensor dst = logits.narrow(0, offset, r.rows);
      // Straight into the chunk's buffer: a GEMM into a temporary and a copy would add one more
      // pass over every chunk's logits, the step's largest buffer.
      if (fused_bias) at::addmm_out(dst, b, x, wt);
      else {
        matmul_into(dst, x, wt, /*accumulate=*/false);
        if (has_bias) dst.add_(b);
      }
      offset += r.rows;
    }
    at::Tensor contribution = loss_fn(chunk, logits, any_grad);
    if (contribution.defined()) out.loss = out.loss.defined() ? out.loss + contribution : contribution;
    if (!any_grad) continue;
    const at::Tensor& dlogits = logits;  // the functor wrote the gradient over the logits
    offset = 0;
    for (const RowRange& r : chunk) {
      const at::Tensor d = dlogits.narrow(0, offset, r.rows);
      const at::Tensor x = input.narrow(0, r.start, r.rows);
      if (want_dx) {
        at::Tensor dx = out.grads.grad_input.narrow(0, r.start, r.rows);
        matmul_into(dx, d, w, /*accumulate=*/false);
      }
      if (want_dw) {
        matmul_into(out.grads.grad_weight, d.t(), x, /*accumulate=*/dw_written);
        dw_written = true;
      }
      offset += r.rows;
    }
    if (want_db) out.grads.grad_bias.add_(dlogits.sum(at::IntArrayRef{0}, false, out.grads.grad_bias.scalar_type()));
  }
  if (want_dw) out.grads.grad_weight = out.grads.grad_weight.to(args.weight.scalar_type());
  if (want_db) out.grads.grad_bias = out.grads.grad_bias.to(args.bias->scalar_type());
  return out;
}

}  // namespace liger::detail
