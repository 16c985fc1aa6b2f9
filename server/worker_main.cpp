// ligerbench-worker: runs cases for ligerbenchd, one request at a time, on stdin/stdout (framed
// protos, see worker.h). A crash here fails one case; the server starts a new worker.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <iostream>
#include <string>

#include "ligerbench/crash_trace.h"
#include "ligerbench/device.h"
#include "ligerbench/distributed.h"
#include "ligerbench/runner.h"
#include "ligerbench/server/debug_kernel.h"
#include "ligerbench/server/worker.h"

namespace {

using namespace ligerbench;

// Runs the case the request names. Admission validated and expanded the job; the worker only
// resolves the CaseSpec against its registry (a name it does not know fails the case).
v1::WorkerResponse run_one(const v1::RunCaseRequest& req) {
  v1::WorkerResponse resp;
  Case c;
  try {
    c = resolve_case(req.spec(), req.measurement().seed());
  } catch (const InputError& e) {
    resp.set_error(std::string("bad case: ") + e.what());
    return resp;
  }
  *resp.mutable_case_result() = run_case(c, resolve_options(req.measurement()));
  return resp;
}

// CUDA errors after which the context stays unusable: every later call in this process fails.
bool context_is_broken(const v1::CaseResult& r) {
  if (r.ok()) return false;
  for (const char* sticky : {"illegal memory access", "illegal address", "device-side assert", "unspecified launch failure",
                             "misaligned address", "illegal instruction"})
    if (r.error().find(sticky) != std::string::npos) return true;
  return false;
}

v1::WorkerResponse node(const v1::NodeInfoRequest&) {
  v1::WorkerResponse resp;
  std::vector<std::string> devices;
  const GpuBackend* gpu = gpu_backend();
  for (int i = 0; gpu && i < gpu->device_count(); ++i) {
    devices.push_back("cuda:" + std::to_string(i));
    resp.add_device_memory_bytes(gpu->total_memory(i));
  }
  devices.push_back("cpu");
  resp.add_device_memory_bytes(static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE));
  for (const auto& d : devices) resp.add_device_ids(d);
  std::vector<std::string> gpus(devices.begin(), devices.end() - 1);
  *resp.mutable_node() = node_info(gpus.empty() ? std::vector<std::string>{"cpu"} : gpus);
  return resp;
}

}  // namespace

int main(int argc, char** argv) {
  ligerbench::install_crash_trace();
  // A rank of a distributed case (the server's launcher starts it; docs/DISTRIBUTED.md).
  if (argc > 1 && std::strcmp(argv[1], "__rank") == 0) return ligerbench::rank_main(argc, argv);
  pid_t parent = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--debug-kernels") {
      ligerbench::server::register_debug_kernels();
    } else if (a.rfind("--parent-pid=", 0) == 0) {
      parent = static_cast<pid_t>(std::stol(a.substr(13)));
    } else {
      std::cerr << "ligerbench-worker: unknown argument " << a << "\n";
      return 2;
    }
  }
  // Die with the server (even a SIGKILLed one): an orphan would hold the GPU. Not
  // PR_SET_PDEATHSIG: it fires when the server *thread* that started us ends, not the server.
  if (parent != 0) {
    std::thread([parent] {
      while (getppid() == parent) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::_Exit(1);
    }).detach();
  }
  // The protocol owns stdout; anything a library prints there goes to stderr instead.
  const int in = 0, out = dup(1);
  dup2(2, 1);
  // The hello: start-up is over, so the server's per-case limit starts with the request.
  if (!ligerbench::server::write_frame(out, v1::WorkerResponse())) return 1;
  v1::WorkerRequest req;
  while (ligerbench::server::read_frame(in, &req)) {
    v1::WorkerResponse resp;
    if (req.has_run_case()) {
      resp = run_one(req.run_case());
      resp.set_exiting(context_is_broken(resp.case_result()));
    }
    else if (req.has_node_info())
      resp = node(req.node_info());
    else
      resp.set_error("empty request");
    if (!ligerbench::server::write_frame(out, resp)) return 1;
    if (resp.exiting()) return 3;
    req.Clear();
  }
  return 0;
}
