#pragma once
// How many rows one at::parallel_for task takes on CPU: about 32K elements, at least one row,
// so short rows are batched and long rows still spread over the threads.
#include <algorithm>
#include <cstdint>

namespace liger::cpu {

inline int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)); }

}  // namespace liger::cpu
