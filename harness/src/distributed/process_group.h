#pragma once
// The c10d pieces a rank uses, behind one header: the group type differs between LibTorch 1.13
// (c10d::ProcessGroup) and 2.x (backends such as ProcessGroupGloo derive from c10d::Backend).
#include <torch/version.h>

#include <chrono>
#include <string>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace ligerbench::dist {

#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

// A client of the launcher's TCPStore at host:port.
c10::intrusive_ptr<c10d::Store> connect_store(const std::string& host, int port, std::chrono::milliseconds timeout);

// ProcessGroupGloo for "cpu", ProcessGroupNCCL for "cuda:N". Throws when this build has no such
// backend (a LibTorch without Gloo headers, or without NCCL). store_host picks Gloo's interface.
c10::intrusive_ptr<Group> make_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                     const std::string& device, const std::string& store_host,
                                     std::chrono::milliseconds timeout);

// Waits for a collective and, on CUDA, for the device: the time a sample covers is the
// collective's, not its launch's.
void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& device);

}  // namespace ligerbench::dist
