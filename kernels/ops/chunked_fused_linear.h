#pragma once
// The chunked fused-linear skeleton: a loss of `input @ weight^T + bias` computed chunk by chunk, so
// that only one chunk's logits (and their gradient) ever exist. Per chunk:
//   logits   = X[chunk rows] @ W^T (+ b)         in the input dtype (W and b cast to it: autocast's
//                                                fp32 weight with bf16/fp16 input)
//   loss_fn(chunk, logits)                       returns the chunk's loss contribution and, when
//                                                gradients are wanted, writes d(loss)/d(logits)
//                                                over `logits`
//   dX[chunk rows] = dlogits @ W                 input dtype
//   dW (+)= dlogits^T @ X[chunk rows]            accum_dtype, default W's dtype (matmul_into.h: the
//                                                first GEMM overwrites, later ones accumulate)
//   db += column sums of dlogits                 accum_dtype, default b's dtype
// A chunk is a list of row ranges whose logits are computed into one buffer, in that order: the
// preference losses put piece k of the chosen half and piece k of the rejected half in one chunk
// so that the pairwise loss sees both (paired_chunks); FLCE/FLJSD use consecutive rows.
// Device-agnostic (ATen GEMMs), registered by its users for CPU and CUDA alike.
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace liger::detail {

struct RowRange {
  int64_t start;
  int64_t rows;
};
using Chunk = std::vector<RowRange>;

// Liger's chunk rule for a fused-linear loss over `rows` rows: inc = ceil(vocab / hidden) and
// next_pow2(ceil(rows / inc)) rows per chunk, so that a chunk's logits are about the input's size.
// Each loss raises it to its own floor (FLCE: a logits budget, FLJSD: a GEMM-efficiency floor).
int64_t liger_chunk_rows(int64_t rows, int64_t vocab, int64_t hidden);

// Chunks of at most chunk_rows consecutive rows of `rows` (the last one shorter).
std::vector<Chunk> consecutive_chunks(int64_t rows, int64_t chunk_rows);

// Liger's preference chunking: `batch` sequences of `seq_len` rows each, chosen half [0, B/2) then
// rejected half [B/2, B). chunks = max(1, B / (2 chunk_size)); each half is split as torch.chunk
// splits it (pieces of ceil(B/2 / chunks) sequences, the last one shorter, maybe fewer pieces),
// and chunk k holds piece k of the chosen half followed by piece k of the rejected half.
std::vector<Chunk> paired_chunks(int64_t batch, int64_t seq_len, int64_t chunk_size);

// Rows of `chunk` in order: the chunk's logits rows map to these input rows.
int64_t chunk_rows(const Chunk& chunk);

// Gathers the rows of `chunk` from a tensor whose dim 0 is the flattened row axis.
at::Tensor gather_chunk_rows(const at::Tensor& t, const Chunk& chunk);

struct FusedLinearArgs {
  at::Tensor input;   // (R, H)
  at::Tensor weight;  // (V, H), any floating dtype: cast to input's for the GEMMs
  c10::optional<at::Tensor> bias;
  std::array<bool, 3> grad_mask{false, false, false};  // input, weight, bias
  c10::optional<at::ScalarType> accum_dtype;           // dW/db accumulator; default: the parameter's dtype
};

struct FusedLinearGrads {
  at::Tensor grad_input;   // input dtype, (R, H); undefined unless grad_mask[0]
  at::Tensor grad_weight;  // weight dtype; undefined unless grad_mask[1]
  at::Tensor grad_bias;    // bias dtype; undefined unless grad_mask[2] and a bias is given
};

// Called once per chunk, in order. `logits` is (chunk_rows(chunk), V) in the input dtype; with
// `compute_grad` the functor must overwrite it with d(loss)/d(logits). Returns the chunk's loss
// contribution (any shape the caller sums; an undefined tensor for none).
using ChunkLossFn = std::function<at::Tensor(const Chunk& chunk, at::Tensor& logits, bool compute_grad)>;

struct ChunkedResult {
  at::Tensor loss;  // sum of the functor's contributions (undefined if it returned none)
  FusedLinearGrads grads;
};

ChunkedResult chunked_fused_linear(const FusedLinearArgs& args, const std::vector<Chunk>& chunks,
                                   const ChunkLossFn& loss_fn);

}  // namespace liger::detail
