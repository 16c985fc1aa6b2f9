// c10d store and process groups for the rank processes. The backends' headers are guarded by
// LIGERBENCH_HAVE_GLOO / LIGERBENCH_HAVE_NCCL, which harness/CMakeLists.txt defines only where
// their headers (gloo's, nccl.h) were found (the wheel defines USE_C10D_GLOO regardless).
#include "src/distributed/process_group.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <stdexcept>

#include "ligerbench/device.h"
#include "ligerbench/distributed.h"

#ifdef LIGERBENCH_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef LIGERBENCH_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace ligerbench::dist {

c10::intrusive_ptr<c10d::Store> connect_store(const std::string& host, int port, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = false;
  opts.waitWorkers = false;
  opts.timeout = timeout;
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

c10::intrusive_ptr<Group> make_group(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                                     const std::string& device, const std::string& store_host,
                                     std::chrono::milliseconds timeout) {
  if (device == "cpu") {
#ifdef LIGERBENCH_HAVE_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Gloo's pairs listen on the address of the name given: loopback while the rendezvous is
    // (every rank on this machine, or peers on loopback), else this host's own address, which the
    // other nodes reach.
    const bool loopback = store_host.rfind("127.", 0) == 0 || store_host == "localhost";
    opts->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, opts);
#else
    throw std::runtime_error(distributed_backend_unavailable(device));
#endif
  }
#ifdef LIGERBENCH_HAVE_NCCL
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, opts);
#else
  throw std::runtime_error("device " + device + ": " + distributed_backend_unavailable(device));
#endif
}

void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& device) {
  work->wait();
  if (device != "cpu")
    if (const GpuBackend* gpu = gpu_backend()) gpu->synchronize(std::stoi(device.substr(5)));
}

}  // namespace ligerbench::dist

namespace ligerbench {

std::string distributed_backend_unavailable(const std::string& device) {
  if (device == "cpu") {
#ifdef LIGERBENCH_HAVE_GLOO
    return "";
#else
    return "this build has no ProcessGroupGloo (LibTorch's Gloo headers were not found)";
#endif
  }
#ifdef LIGERBENCH_HAVE_NCCL
  return "";
#else
  return "this build has no ProcessGroupNCCL (needs a CUDA LibTorch and nccl.h)";
#endif
}

}  // namespace ligerbench
