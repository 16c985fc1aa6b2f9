#pragma once
// When a CUDA launcher may move 16-byte packs instead of single elements: the one set of rules
// every launcher consults. A 16-byte load or store at an address that is not a multiple of 16
// faults ("misaligned address"), and LibTorch hands kernels such addresses routinely: a view that
// starts one element into its storage, a row stride or a length that is not a multiple of the
// pack. Those take the scalar path of the same kernel. No LibTorch here (.cu files include it).
#include <cstdint>
#include <initializer_list>

namespace liger::cuda {

constexpr int kPackBytes = 16;

// p is a multiple of `bytes` (nullptr: an absent operand, which never blocks the vector path).
inline bool aligned_to(const void* p, int64_t bytes) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

inline bool aligned16(const void* p) { return aligned_to(p, kPackBytes); }

inline bool all_aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (!aligned16(p)) return false;
  return true;
}

// `elements` of `elem_size` bytes span a whole number of packs (a row length, a stride, an offset).
inline bool whole_packs(int64_t elements, int elem_size) { return (elements * elem_size) % kPackBytes == 0; }

// Every stride (in elements) keeps a pack-aligned start pack-aligned.
inline bool strides_keep_packs(const int64_t* strides, int n, int elem_size) {
  for (int i = 0; i < n; ++i)
    if (!whole_packs(strides[i], elem_size)) return false;
  return true;
}

// Rows of `cols` elements laid end to end from each pointer: every row starts on a pack.
inline bool rows_allow_packs(int64_t cols, int elem_size, std::initializer_list<const void*> ptrs) {
  return whole_packs(cols, elem_size) && all_aligned16(ptrs);
}

}  // namespace liger::cuda
