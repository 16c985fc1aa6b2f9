#pragma once
// LIGER_HOST_DEVICE marks the helpers that the CPU kernels and the CUDA kernels share (one
// definition of the math for both): __host__ __device__ under nvcc, nothing for the host
// compiler. Free of LibTorch so that .cu files can include it.
#if defined(__CUDACC__)
#define LIGER_HOST_DEVICE __host__ __device__
#else
#define LIGER_HOST_DEVICE
#endif
