#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <iostream>

#include "ligerbench/crash_trace.h"
#include "ligerbench/device.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ligerbench::install_crash_trace();
  if (ligerbench::gpu_backend() == nullptr)
    std::cerr << "NOTE: no CUDA device visible; every CUDA test case is SKIPPED (run them on the GPU machine)\n";
  return RUN_ALL_TESTS();
}
