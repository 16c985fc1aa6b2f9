#pragma once
// What the CUDA probes share: CHECK around every CUDA call, and the median time of a launch with
// the L2 flushed (by the caller's flush) before each run, as the harness times a cold case.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                                   \
  do {                                                                                             \
    const cudaError_t e = (x);                                                                     \
    if (e != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "%s failed: %s (line %d)\n", #x, cudaGetErrorString(e), __LINE__);      \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

// flush(i) empties L2 before run i; launch() queues the work on `stream`. Three warm-up runs, then
// `runs` timed by CUDA events; returns their median in ms.
template <typename Flush, typename Launch>
double median_ms_of(Flush&& flush, Launch&& launch, int runs, cudaStream_t stream) {
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  std::vector<float> ms;
  for (int i = 0; i < runs + 3; ++i) {
    flush(i);
    CHECK(cudaEventRecord(start, stream));
    launch();
    CHECK(cudaEventRecord(stop, stream));
    CHECK(cudaEventSynchronize(stop));
    float t = 0;
    CHECK(cudaEventElapsedTime(&t, start, stop));
    if (i >= 3) ms.push_back(t);
  }
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}
