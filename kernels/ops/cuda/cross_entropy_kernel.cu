// Cross entropy on CUDA: target statistics, the row kernel, the in-place rescale of stored
// gradients.
//
// The row kernel is memory bound: per row it must read V logits and (training) write V gradients.
// A CTA per row cannot keep a 128256-wide fp32 row (513 KB) on chip, so a second pass over the row
// would read it again from DRAM (Liger: 12.6 GB of traffic for 8192 x 128256 fp32). Here a row is
// split over a thread-block cluster of C CTAs (C <= 8, Hopper): each CTA copies its slice of the
// row into shared memory (16-byte cp.async, all of it in flight at once), folds it into an online
// softmax (max and sum of exp, the sums label smoothing needs, the argmax), the CTAs merge their
// partials through distributed shared memory, and each CTA writes the gradient of its slice from
// shared memory. One read and one write of the logits (8.4 GB at that shape). A slice is at most
// 96 KB (a row of 196608 fp32 or 393216 bf16 logits per cluster); longer rows walk their slice in
// tiles and read it a second time in the gradient pass (mostly from L2: a cluster's slice is small).
//
// Without softcap, smoothing or class weights (the common case) both passes take a fast path of
// about 5 instructions an element (exp2 by one FMA and one MUFU, one NaN-propagating max a
// pack, the target's pack found once). The figures, and the row splits swept with
// scripts/probe_ce_split.cu and not taken: docs/perf/cross_entropy.md.
#include <cooperative_groups.h>
#include <cuda_pipeline_primitives.h>

#include <algorithm>
#include <climits>

#include "cross_entropy_launch.h"
#include "common/cuda_utils.cuh"

namespace liger::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kMaxThreads = 512;           // threads of a CTA
constexpr int kPacksPerThread = 8;         // packs of a slice per thread (sets the CTA size)
constexpr int kMaxCluster = 8;             // the portable cluster size
constexpr int kSliceBytes = 64 * 1024;     // preferred slice: three CTAs fit an SM's shared memory
constexpr int kMaxSliceBytes = 96 * 1024;  // largest slice held whole (two CTAs an SM)
constexpr int kMaxWarps = kMaxThreads / 32;

// Online-softmax partial over a set of (soft-capped) logits.
struct Partial {
  float m;       // max (-inf when empty)
  float s;       // sum of exp(x - m) over the classes other than the target
  float sum_x;   // sum of x (label smoothing)
  float sum_wx;  // sum of weight * x (weighted label smoothing)
  int arg;       // first index of the max, INT_MAX when none
  int nan;       // a NaN logit was seen (fmaxf and the -inf guards would otherwise drop it)
};

__device__ __forceinline__ float rescaled(float s, float m, float to) {
  return m == -INFINITY ? 0.f : s * __expf(m - to);
}

__device__ __forceinline__ Partial merge(const Partial& a, const Partial& b) {
  Partial r;
  r.m = fmaxf(a.m, b.m);
  r.s = rescaled(a.s, a.m, r.m) + rescaled(b.s, b.m, r.m);
  r.sum_x = a.sum_x + b.sum_x;
  r.sum_wx = a.sum_wx + b.sum_wx;
  r.arg = a.m > b.m ? a.arg : (b.m > a.m ? b.arg : min(a.arg, b.arg));
  r.nan = a.nan | b.nan;
  return r;
}

// Butterfly merge: every lane ends with the warp's partial (merge is symmetric).
__device__ __forceinline__ Partial warp_merge(Partial p) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    Partial q;
    q.m = __shfl_xor_sync(0xffffffffu, p.m, o);
    q.s = __shfl_xor_sync(0xffffffffu, p.s, o);
    q.sum_x = __shfl_xor_sync(0xffffffffu, p.sum_x, o);
    q.sum_wx = __shfl_xor_sync(0xffffffffu, p.sum_wx, o);
    q.arg = __shfl_xor_sync(0xffffffffu, p.arg, o);
    q.nan = __shfl_xor_sync(0xffffffffu, p.nan, o);
    p = merge(p, q);
  }
  return p;
}

__device__ __forceinline__ Partial empty_partial() { return {-INFINITY, 0.f, 0.f, 0.f, INT_MAX, 0}; }

// Split cluster barrier (PTX barrier.cluster): arrive with release semantics, wait with acquire.
__device__ __forceinline__ void cluster_arrive() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.release.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void cluster_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#endif
}

// The partial of CTA `rank` of this cluster (distributed shared memory); only called with C > 1,
// which the launcher only picks on devices with cluster support.
__device__ __forceinline__ Partial read_cluster_partial(Partial* local, int rank) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  return *cg::this_cluster().map_shared_rank(local, rank);
#else
  return *local;
#endif
}

template <int VEC>
__device__ __forceinline__ void load_floats(const float* p, float (&out)[VEC]) {
  if constexpr (VEC % 4 == 0) {
#pragma unroll
    for (int q = 0; q < VEC / 4; ++q) {
      const float4 f = reinterpret_cast<const float4*>(p)[q];
      out[4 * q] = f.x;
      out[4 * q + 1] = f.y;
      out[4 * q + 2] = f.z;
      out[4 * q + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int k = 0; k < VEC; ++k) out[k] = p[k];
  }
}

struct RowKernelArgs {
  void* x;
  int64_t row_stride;
  int cols;
  const int64_t* target;
  const float* weight;
  const double* stats;
  const float* grad_scale;
  float* loss;
  float* z_loss;
  float* accuracy;
  int64_t* predicted;
  int64_t ignore_index;
  float lse_square_scale;
  float label_smoothing;
  float softcap;  // 0: off
  bool mean;
  bool compute_grad;
  bool token_scaling;
  int cluster;      // CTAs per row
  int slice_packs;  // packs of the row each CTA owns
  int tile_packs;   // packs of the shared-memory buffer; >= slice_packs: the slice is held whole
  int tiles;        // tiles per slice
};

// Per-row values warp 0 computes once and every thread of the CTA reads.
struct RowValues {
  float lse;
  float k_n;     // gradient factor: 1/N (mean) x p_y (token scaling) x grad_scale[row]
  float k_w;     // the same with 1/W_sum for class-weighted terms
  float a;       // 1 + 2 * lse_square_scale * lse
  float z_coef;  // 2 * lse_square_scale * lse * k_n (z-loss term of weighted rows)
  float w_y;     // weight[target]
  float g_y;     // d(loss)/d(x_y) before the softcap factor, formed in fp32 with 1 - p_y = q_y
};

// Three CTAs of 512 threads an SM (40 registers, no spills): while one waits at the cluster
// barrier, the others have their slices' copies in flight.
template <typename T, int VEC>
__global__ void __launch_bounds__(kMaxThreads, 3) ce_forward_kernel(RowKernelArgs a) {
  extern __shared__ __align__(16) unsigned char slice_raw[];
  T* buf = reinterpret_cast<T*>(slice_raw);  // tile_packs * VEC logits of this CTA's slice
  __shared__ Partial warp_parts[kMaxWarps];
  __shared__ Partial cta_part;  // read by the other CTAs of the cluster
  __shared__ RowValues rv;
  __shared__ float x_target;

  const int C = a.cluster;
  const int64_t row = blockIdx.x / C;
  const int rank = static_cast<int>(blockIdx.x % C);
  T* xr = static_cast<T*>(a.x) + row * a.row_stride;
  const int64_t y = a.target[row];
  const int p_begin = rank * a.slice_packs;
  const int p_end = min(a.cols / VEC, p_begin + a.slice_packs);
  const int tid = threadIdx.x;
  const int stride = blockDim.x;

  // Out-of-range targets were reported by the stats op; treated as ignored here, never read.
  if (y == a.ignore_index || y < 0 || y >= a.cols) {
    if (a.compute_grad) {
      Pack<T, VEC> zero;
#pragma unroll
      for (int k = 0; k < VEC; ++k) zero.v[k] = from_float<T>(0.f);
      for (int p = p_begin + tid; p < p_end; p += stride) store_pack<T, VEC>(xr + static_cast<int64_t>(p) * VEC, zero);
    }
    if (rank == 0 && tid == 0) {
      a.loss[row] = 0.f;
      if (a.z_loss) a.z_loss[row] = 0.f;
      if (a.accuracy) a.accuracy[row] = 0.f;
      if (a.predicted) a.predicted[row] = -1;
    }
    return;  // every CTA of the cluster leaves here (same row): no cluster barrier is pending
  }

  const bool capped = a.softcap > 0.f;
  const float inv_cap = capped ? 1.f / a.softcap : 0.f;
  auto soft = [&](float v) { return capped ? a.softcap * tanhf(v * inv_cap) : v; };
  const bool smoothing = a.label_smoothing > 0.f;
  const bool weighted = a.weight != nullptr;
  const bool want_arg = a.accuracy != nullptr || a.predicted != nullptr;
  const int yi = static_cast<int>(y);
  // Read before the cluster barrier, so before any CTA of the cluster writes a gradient.
  if (tid == 0) x_target = soft(to_float(xr[y]));

  // Copies packs [first, last) of the row into buf: 16-byte asynchronous copies, all in flight.
  auto load_tile = [&](int first, int last) {
    if constexpr (VEC > 1) {
      for (int p = first + tid; p < last; p += stride)
        __pipeline_memcpy_async(buf + (p - first) * VEC, xr + static_cast<int64_t>(p) * VEC, 16);
      __pipeline_commit();
      __pipeline_wait_prior(0);
    } else {
      for (int p = first + tid; p < last; p += stride) buf[p - first] = xr[p];
    }
    __syncthreads();
  };

  // Pass 1: online softmax over this thread's packs, in increasing index order.
  Partial part = empty_partial();
  // The common case (no softcap, no label smoothing) in few instructions an element: a bf16 row
  // must be consumed at 4 elements a clock an SM to keep pace with the copy bandwidth, and the
  // general loop below takes about 15 instructions an element, three times too many.
  // Folds pack p into `part` and returns true, or returns false (a NaN in the pack) to leave the
  // pack to the general loop, which keeps its exact NaN and argmax rules.
  const bool plain_stats = !capped && !smoothing;
  // Pack p (values xs, maximum pm) raises the running maximum: rescale the sum, note the argmax.
  auto raise_max = [&](int p, const float (&xs)[VEC], float pm) {
    if (!(pm > part.m)) return;  // strict: an equal maximum later keeps the first index
    if (want_arg) {
      int at = VEC - 1;
#pragma unroll
      for (int k = VEC - 1; k >= 0; --k)
        if (xs[k] == pm) at = k;
      part.arg = p * VEC + at;
    }
    part.s = rescaled(part.s, part.m, pm);
    part.m = pm;
  };
  auto fold_plain = [&](int p, const Pack<T, VEC>& pk) {
    float xs[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) xs[k] = to_float(pk.v[k]);
    float pm = xs[0];
#pragma unroll
    for (int k = 1; k < VEC; ++k) pm = max_nan(pm, xs[k]);
    if (pm != pm) return false;
    raise_max(p, xs, pm);
    if (part.m == -INFINITY) return true;
    const float mb = part.m * kLog2e;
    const int k_y = yi - p * VEC;  // the target's place in this pack, if it is here
    float e = 0.f;
    if (static_cast<unsigned>(k_y) >= static_cast<unsigned>(VEC)) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) e += exp2_ftz(fmaf(xs[k], kLog2e, -mb));
    } else {
#pragma unroll
      for (int k = 0; k < VEC; ++k)
        if (k != k_y) e += exp2_ftz(fmaf(xs[k], kLog2e, -mb));
    }
    part.s += e;
    return true;
  };
  for (int t = 0; t < a.tiles; ++t) {
    const int first = p_begin + t * a.tile_packs, last = min(p_end, first + a.tile_packs);
    if (t > 0) __syncthreads();  // the previous tile is consumed
    load_tile(first, last);
    for (int p = first + tid; p < last; p += stride) {
      const Pack<T, VEC> pk = load_pack<T, VEC>(buf + (p - first) * VEC);
      if (plain_stats && fold_plain(p, pk)) continue;
      float xs[VEC];
      float pm = -INFINITY;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        xs[k] = soft(to_float(pk.v[k]));
        pm = fmaxf(pm, xs[k]);
        part.nan |= xs[k] != xs[k];
      }
      raise_max(p, xs, pm);
      if (part.m != -INFINITY) {
#pragma unroll
        for (int k = 0; k < VEC; ++k)
          if (p * VEC + k != yi) part.s += __expf(xs[k] - part.m);
      }
      if (smoothing) {
        if (weighted) {
          float w[VEC];
          load_floats<VEC>(a.weight + p * VEC, w);
#pragma unroll
          for (int k = 0; k < VEC; ++k) part.sum_wx += w[k] * xs[k];
        } else {
#pragma unroll
          for (int k = 0; k < VEC; ++k) part.sum_x += xs[k];
        }
      }
    }
  }

  // CTA partial: warps, then warp 0 merges the warps' partials.
  const int lane = tid & 31, warp = tid >> 5, warps = (stride + 31) >> 5;
  part = warp_merge(part);
  if (lane == 0) warp_parts[warp] = part;
  __syncthreads();
  if (warp == 0) {
    part = warp_merge(lane < warps ? warp_parts[lane] : empty_partial());
    if (lane == 0) cta_part = part;
  }
  if (C > 1) {
    cluster_arrive();
    cluster_wait();  // every CTA's partial is written and visible
  }
  if (warp == 0) {
    __syncwarp();
    part = warp_merge(lane < C ? read_cluster_partial(&cta_part, lane) : empty_partial());
    if (lane == 0) {
      // The target's term apart: 1 - p_y = q_y is then a sum over a sum, free of cancellation.
      const float xy = x_target;
      const float e_y = __expf(xy - part.m);
      const float total = part.s + e_y;
      const float lse = part.nan ? NAN : part.m + logf(total);  // NaN logits: NaN loss and gradient, as torch
      const float p_y = e_y / total, q_y = part.s / total;
      const float n = static_cast<float>(a.stats[kCeNonIgnored]);
      const float w_sum = static_cast<float>(a.stats[kCeTargetWeightSum]);
      const float w_total = static_cast<float>(a.stats[kCeWeightTotal]);
      const float ls = a.label_smoothing, eps = ls / static_cast<float>(a.cols), zs = a.lse_square_scale;
      const float w_y = weighted ? a.weight[y] : 1.f;
      const float token = a.token_scaling ? p_y : 1.f;
      if (rank == 0) {
        float loss = lse - xy;
        if (weighted) loss *= w_y;
        if (smoothing) {
          const float smooth = weighted ? -eps * part.sum_wx + eps * lse * w_total : -eps * part.sum_x + ls * lse;
          loss = loss * (1.f - ls) + smooth;
        }
        float z = zs * lse * lse;
        if (a.mean) {
          loss = loss / (weighted ? w_sum : n);
          z = z / n;
        }
        loss += z;
        a.loss[row] = loss * token;
        if (a.z_loss) a.z_loss[row] = z * token;
        const int arg = part.arg == INT_MAX ? 0 : part.arg;  // no maximum (all -inf): class 0, as Liger
        if (a.accuracy) a.accuracy[row] = arg == y ? 1.f : 0.f;
        if (a.predicted) a.predicted[row] = arg;
      }
      const float rf = token * (a.grad_scale ? a.grad_scale[row] : 1.f);
      rv.lse = lse;
      rv.k_n = (a.mean ? 1.f / n : 1.f) * rf;
      rv.k_w = weighted ? (a.mean ? 1.f / w_sum : 1.f) * rf : rv.k_n;
      rv.a = 1.f + 2.f * zs * lse;
      rv.z_coef = 2.f * zs * lse * rv.k_n;
      rv.w_y = w_y;
      rv.g_y = weighted ? (-(1.f - ls) * q_y * w_y + eps * (p_y * w_total - w_y)) * rv.k_w + rv.z_coef * p_y
                        : (2.f * zs * lse * p_y - q_y + ls - eps) * rv.k_n;
    }
  }
  __syncthreads();
  if (C > 1) cluster_arrive();  // done reading the other CTAs' shared memory

  if (a.compute_grad) {
    // Pass 2: the gradient of this CTA's slice, formed in fp32 and rounded once (the true-class
    // entry from q_y = 1 - p_y, so it keeps its bits when p_y -> 1), written over the logits.
    const RowValues r = rv;
    const float ls = a.label_smoothing, eps = ls / static_cast<float>(a.cols);
    const float w_total = static_cast<float>(a.stats[kCeWeightTotal]);
    // No softcap, no class weights: the general loop's gradient with its constants folded.
    const bool plain_grad = !capped && !weighted;
    const float g_scale = r.a * r.k_n, g_shift = -eps * r.k_n, lse_b = r.lse * kLog2e;
    for (int t = 0; t < a.tiles; ++t) {
      const int first = p_begin + t * a.tile_packs, last = min(p_end, first + a.tile_packs);
      if (a.tiles > 1) {  // the slice did not fit: read the tile again
        __syncthreads();
        load_tile(first, last);
      }
      for (int p = first + tid; p < last; p += stride) {
        const Pack<T, VEC> pk = load_pack<T, VEC>(buf + (p - first) * VEC);
        if (plain_grad) {  // (a p - eps) k_n in two FMAs and one exp2 an element
          Pack<T, VEC> out;
#pragma unroll
          for (int k = 0; k < VEC; ++k)
            out.v[k] = from_float<T>(fmaf(g_scale, exp2_ftz(fmaf(to_float(pk.v[k]), kLog2e, -lse_b)), g_shift));
          const int k_y = yi - p * VEC;
          if (static_cast<unsigned>(k_y) < static_cast<unsigned>(VEC)) {
#pragma unroll
            for (int k = 0; k < VEC; ++k)
              if (k == k_y) out.v[k] = from_float<T>(r.g_y);
          }
          store_pack<T, VEC>(xr + static_cast<int64_t>(p) * VEC, out);
          continue;
        }
        float w[VEC];
        if (weighted && smoothing) load_floats<VEC>(a.weight + p * VEC, w);
        Pack<T, VEC> out;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          const float xs = soft(to_float(pk.v[k]));
          const float pr = __expf(xs - r.lse);
          float g;
          if (p * VEC + k == yi) {
            g = r.g_y;
          } else if (!weighted) {
            g = (r.a * pr - eps) * r.k_n;
          } else {
            const float wj = smoothing ? w[k] : 0.f;
            g = ((1.f - ls) * r.w_y * pr + eps * (pr * w_total - wj)) * r.k_w + r.z_coef * pr;
          }
          if (capped) {
            const float c = xs * inv_cap;
            g *= 1.f - c * c;
          }
          out.v[k] = from_float<T>(g);
        }
        store_pack<T, VEC>(xr + static_cast<int64_t>(p) * VEC, out);
      }
    }
  }
  if (C > 1) cluster_wait();  // no CTA leaves while another may still read its partial
}

// N, W_sum, the sum of all weights, and the first bad target, by one block (targets are few).
__global__ void ce_stats_kernel(CeStatsArgs a) {
  __shared__ double s_n[32], s_ws[32], s_wt[32];
  __shared__ long long s_bad[32];
  double n = 0, ws = 0, wt = 0;
  long long bad = a.rows;
  for (int64_t r = threadIdx.x; r < a.rows; r += blockDim.x) {
    const int64_t y = a.target[r];
    if (y == a.ignore_index) continue;
    if (y < 0 || y >= a.classes) {
      bad = min(bad, static_cast<long long>(r));
      continue;
    }
    n += 1;
    ws += a.weight ? static_cast<double>(a.weight[y]) : 1.0;
  }
  if (a.weight)
    for (int64_t c = threadIdx.x; c < a.classes; c += blockDim.x) wt += a.weight[c];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    n += __shfl_xor_sync(0xffffffffu, n, o);
    ws += __shfl_xor_sync(0xffffffffu, ws, o);
    wt += __shfl_xor_sync(0xffffffffu, wt, o);
    bad = min(bad, __shfl_xor_sync(0xffffffffu, bad, o));
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) {
    s_n[warp] = n;
    s_ws[warp] = ws;
    s_wt[warp] = wt;
    s_bad[warp] = bad;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < warps; ++w) {
      n += s_n[w];
      ws += s_ws[w];
      wt += s_wt[w];
      bad = min(bad, s_bad[w]);
    }
    a.stats[kCeNonIgnored] = n;
    a.stats[kCeTargetWeightSum] = ws;
    a.stats[kCeWeightTotal] = wt;
    a.stats[kCeFirstBadRow] = static_cast<double>(bad);  // exact: rows < 2^53
  }
}

// Four packs a thread per step, all loaded before any is stored: a pure read-modify-write stream.
constexpr int kRescaleUnroll = 4;

template <typename T, int VEC>
__global__ void rescale_kernel(T* data, int64_t numel, const double* grad_output, const double* applied) {
  const double g = *grad_output;
  const double ratio = g == 0.0 ? 0.0 : g / *applied;
  if (ratio == 1.0) return;  // the common case of a loss that is the last layer: nothing to do
  const float f = static_cast<float>(ratio);
  const int64_t packs = numel / VEC;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; base < packs;
       base += step * kRescaleUnroll) {
    Pack<T, VEC> pk[kRescaleUnroll];
#pragma unroll
    for (int u = 0; u < kRescaleUnroll; ++u)
      if (base + u * step < packs) pk[u] = load_pack<T, VEC>(data + (base + u * step) * VEC);
#pragma unroll
    for (int u = 0; u < kRescaleUnroll; ++u) {
      if (base + u * step >= packs) continue;
#pragma unroll
      for (int k = 0; k < VEC; ++k) pk[u].v[k] = from_float<T>(to_float(pk[u].v[k]) * f);
      store_pack<T, VEC>(data + (base + u * step) * VEC, pk[u]);
    }
  }
  if (blockIdx.x == 0)
    for (int64_t j = packs * VEC + threadIdx.x; j < numel; j += blockDim.x)
      data[j] = from_float<T>(to_float(data[j]) * f);
}

// How a row is split: `cluster` CTAs each own `slice_packs` packs, held in a shared-memory buffer
// of `tile_packs` packs (the whole slice unless the row is too long).
struct RowPlan {
  int cluster;
  int threads;
  int slice_packs;
  int tile_packs;
  int tiles;
  int smem_bytes;
};

RowPlan plan_row(int64_t packs, int pack_bytes, int max_cluster) {
  RowPlan p;
  const int64_t preferred = kSliceBytes / pack_bytes, largest = kMaxSliceBytes / pack_bytes;
  p.cluster =
      static_cast<int>(std::min<int64_t>(max_cluster, std::max<int64_t>(1, (packs + preferred - 1) / preferred)));
  p.slice_packs = static_cast<int>((packs + p.cluster - 1) / p.cluster);
  p.tile_packs = static_cast<int>(std::min<int64_t>(p.slice_packs, largest));
  p.tiles = (p.slice_packs + p.tile_packs - 1) / p.tile_packs;
  const int64_t threads = (p.tile_packs + kPacksPerThread - 1) / kPacksPerThread;
  p.threads = static_cast<int>(std::min<int64_t>(kMaxThreads, std::max<int64_t>(32, (threads + 31) / 32 * 32)));
  p.smem_bytes = p.tile_packs * pack_bytes;
  return p;
}

// Largest cluster this device runs: 8 CTAs on Hopper and later, else 1 (no clusters).
int device_max_cluster() {
  int dev = 0, supported = 0;
  cudaGetDevice(&dev);
  if (cudaDeviceGetAttribute(&supported, cudaDevAttrClusterLaunch, dev) != cudaSuccess) {
    cudaGetLastError();
    return 1;
  }
  return supported ? kMaxCluster : 1;
}

cudaLaunchConfig_t row_config(const RowPlan& p, int64_t rows, cudaStream_t stream, cudaLaunchAttribute* attr) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(rows * p.cluster));
  cfg.blockDim = dim3(p.threads);
  cfg.dynamicSmemBytes = p.smem_bytes;
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = p.cluster;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = p.cluster > 1 ? 1 : 0;
  return cfg;
}

// The probe's fixed split (CeRowSplit): the whole slice in one tile, or an invalid plan (threads 0).
RowPlan plan_split(int64_t packs, int pack_bytes, const CeRowSplit& s) {
  RowPlan p{};
  if (s.cluster < 1 || s.cluster > 2 * kMaxCluster || s.packs_per_thread < 1) return p;  // 16: non-portable
  p.cluster = s.cluster;
  p.slice_packs = static_cast<int>((packs + p.cluster - 1) / p.cluster);
  if (static_cast<int64_t>(p.slice_packs) * pack_bytes > kMaxSliceBytes) return p;
  p.tile_packs = p.slice_packs;
  p.tiles = 1;
  const int threads = (p.tile_packs + s.packs_per_thread - 1) / s.packs_per_thread;
  p.threads = std::max(32, (threads + 31) / 32 * 32);
  if (p.threads > kMaxThreads) p.threads = 0;
  p.smem_bytes = p.tile_packs * pack_bytes;
  return p;
}

template <typename T, int VEC>
cudaError_t launch_rows(const CeForwardArgs& f, const CeRowSplit* split, cudaStream_t stream) {
  // Slices above 48 KB of shared memory need the opt-in (per device, so set on every launch).
  // All of the unified L1/shared memory as shared: the copies bypass L1, and three 64 KB slices an SM
  // need the largest carveout.
  cudaError_t attr_err =
      cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributeMaxDynamicSharedMemorySize, kMaxSliceBytes);
  if (attr_err == cudaSuccess)
    attr_err = cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                    cudaSharedmemCarveoutMaxShared);
  if (attr_err != cudaSuccess) return attr_err;
  const int64_t packs = f.cols / VEC;
  const int pack_bytes = static_cast<int>(VEC * sizeof(T));
  int max_cluster = device_max_cluster();
  RowPlan plan = split ? plan_split(packs, pack_bytes, *split) : plan_row(packs, pack_bytes, max_cluster);
  if (plan.threads == 0) return cudaErrorInvalidValue;
  if (split && plan.cluster > 1)
    attr_err = cudaFuncSetAttribute(ce_forward_kernel<T, VEC>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  if (attr_err != cudaSuccess) return attr_err;
  cudaLaunchAttribute attr[1];
  // A cluster must fit on one GPC with this kernel's registers; shrink it until one does.
  while (!split && plan.cluster > 1) {
    cudaLaunchConfig_t cfg = row_config(plan, 1, stream, attr);
    int clusters = 0;
    const cudaError_t err = cudaOccupancyMaxActiveClusters(&clusters, ce_forward_kernel<T, VEC>, &cfg);
    if (err == cudaSuccess && clusters > 0) break;
    cudaGetLastError();
    max_cluster = plan.cluster / 2;
    plan = plan_row(packs, pack_bytes, max_cluster);
  }
  RowKernelArgs a{};
  a.x = f.logits;
  a.row_stride = f.row_stride;
  a.cols = static_cast<int>(f.cols);
  a.target = f.target;
  a.weight = f.weight;
  a.stats = f.stats;
  a.grad_scale = f.grad_scale;
  a.loss = f.loss;
  a.z_loss = f.z_loss;
  a.accuracy = f.accuracy;
  a.predicted = f.predicted;
  a.ignore_index = f.options.ignore_index;
  a.lse_square_scale = static_cast<float>(f.options.lse_square_scale);
  a.label_smoothing = static_cast<float>(f.options.label_smoothing);
  a.softcap = static_cast<float>(f.options.softcap);
  a.mean = f.options.mean;
  a.compute_grad = f.options.compute_grad;
  a.token_scaling = f.options.token_scaling;
  a.cluster = plan.cluster;
  a.slice_packs = plan.slice_packs;
  a.tile_packs = plan.tile_packs;
  a.tiles = plan.tiles;
  const cudaLaunchConfig_t cfg = row_config(plan, f.rows, stream, attr);
  return cudaLaunchKernelEx(&cfg, ce_forward_kernel<T, VEC>, a);
}

template <typename T>
cudaError_t forward_typed(const CeForwardArgs& f, const CeRowSplit* split, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  const int64_t es = sizeof(T);
  const bool vec = rows_allow_packs(f.cols, es, {f.logits, f.weight}) && whole_packs(f.row_stride, es);
  return vec ? launch_rows<T, kVec>(f, split, stream) : launch_rows<T, 1>(f, split, stream);
}

template <typename T>
cudaError_t rescale_typed(const RescaleArgs& r, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  const bool vec = aligned16(r.data);
  const int64_t units = vec ? r.numel / kVec : r.numel;
  const int64_t blocks = std::max<int64_t>(
      1, std::min<int64_t>((units + 256 * kRescaleUnroll - 1) / (256 * kRescaleUnroll), 8LL * num_sms()));
  T* data = static_cast<T*>(r.data);
  if (vec)
    rescale_kernel<T, kVec><<<blocks, 256, 0, stream>>>(data, r.numel, r.grad_output, r.applied);
  else
    rescale_kernel<T, 1><<<blocks, 256, 0, stream>>>(data, r.numel, r.grad_output, r.applied);
  return cudaGetLastError();
}

}  // namespace

cudaError_t ce_target_stats(const CeStatsArgs& args, cudaStream_t stream) {
  ce_stats_kernel<<<1, 1024, 0, stream>>>(args);
  return cudaGetLastError();
}

namespace {
cudaError_t ce_forward_checked(const CeForwardArgs& args, const CeRowSplit* split, cudaStream_t stream) {
  if (args.rows == 0) return cudaSuccess;
  if (args.cols <= 0 || args.cols > INT_MAX / 2) return cudaErrorInvalidValue;
  return dispatch_dtype(args.dtype, [&](auto tag) { return forward_typed<decltype(tag)>(args, split, stream); });
}
}  // namespace

cudaError_t ce_forward(const CeForwardArgs& args, cudaStream_t stream) {
  return ce_forward_checked(args, nullptr, stream);
}

cudaError_t ce_forward_with_split(const CeForwardArgs& args, const CeRowSplit& split, cudaStream_t stream) {
  return ce_forward_checked(args, &split, stream);
}

cudaError_t rescale_stored_grad(const RescaleArgs& args, cudaStream_t stream) {
  if (args.numel == 0) return cudaSuccess;
  return dispatch_dtype(args.dtype, [&](auto tag) { return rescale_typed<decltype(tag)>(args, stream); });
}

}  // namespace liger::cuda
