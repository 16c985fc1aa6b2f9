# Enables the CUDA language when nvcc exists. Must run before find_package(Torch): the CUDA
# LibTorch's config expects the CUDA toolchain to be set up already.
include(CheckLanguage)
set(LIGERBENCH_HAVE_NVCC OFF)
if(LIGERBENCH_WITH_CUDA)
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # Hopper (H100/H200) is the target; one architecture keeps CI compile time low.
      set(CMAKE_CUDA_ARCHITECTURES 90a)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(LIGERBENCH_HAVE_NVCC ON)
  endif()
endif()
