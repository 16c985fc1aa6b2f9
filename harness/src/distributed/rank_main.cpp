// One rank process (`ligerbench __rank TASK RESULT`): reads its RankTask, joins the launcher's
// store, builds the process group, does the case's work and writes a CaseResult. Whatever it
// can report it writes; the launcher turns a rank that writes nothing (killed, crashed, hung)
// into an error naming the rank.
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "src/distributed/rank_work.h"
#include "ligerbench/record_failure.h"
#include "ligerbench/device.h"
#include "ligerbench/distributed.h"

#ifdef LIGERBENCH_TORCH_HAS_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace ligerbench {
namespace {

// Where this rank runs, for the result: device index, name and (on CUDA) UUID.
v1::RankInfo describe_rank(const v1::RankTask& task) {
  v1::RankInfo info;
  info.set_rank(task.rank());
  info.set_device(task.device());
  info.set_pid(static_cast<int>(getpid()));
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  info.set_hostname(host);
  info.set_device_index(-1);
  info.set_device_name("cpu");
  if (task.device() != "cpu") {
    const int index = std::stoi(task.device().substr(5));
    info.set_device_index(index);
    if (const GpuBackend* gpu = gpu_backend()) info.set_device_name(gpu->device_name(index));
#ifdef LIGERBENCH_TORCH_HAS_CUDA
    const auto* prop = at::cuda::getDeviceProperties(index);
    std::ostringstream uuid;
    uuid << "GPU-" << std::hex;
    for (int i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) uuid << "-";
      uuid << ((static_cast<unsigned>(static_cast<unsigned char>(prop->uuid.bytes[i])) >> 4) & 0xf)
           << (static_cast<unsigned>(static_cast<unsigned char>(prop->uuid.bytes[i])) & 0xf);
    }
    info.set_device_uuid(uuid.str());
#endif
  }
  return info;
}

void write_result(const v1::CaseResult& r, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    r.SerializeToOstream(&f);
  }
  std::rename(tmp.c_str(), path.c_str());  // the launcher never reads half a result
}

}  // namespace

int rank_main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: ligerbench __rank TASK_FILE RESULT_FILE (started by the launcher)\n");
    return 2;
  }
  v1::RankTask task;
  {
    std::ifstream f(argv[2], std::ios::binary);
    if (!f || !task.ParseFromIstream(&f)) {
      std::fprintf(stderr, "ligerbench __rank: cannot read the task file %s\n", argv[2]);
      return 2;
    }
  }
  v1::CaseResult r;
  v1::RankInfo info = describe_rank(task);
  record_failure(r, [&] {
    // Ranks share the machine's cores; the same count on every rank keeps their arithmetic alike.
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const int here = task.local_ranks() > 0 ? task.local_ranks() : task.world_size();
    at::set_num_threads(static_cast<int>(std::max(1u, cores / static_cast<unsigned>(here))));
#ifdef LIGERBENCH_TORCH_HAS_CUDA
    if (info.device_index() >= 0) c10::cuda::set_device(static_cast<c10::DeviceIndex>(info.device_index()));
#endif
    const auto& o = task.options();
    const auto timeout = std::chrono::milliseconds(
        static_cast<int64_t>(1000 * rank_timeout_of(o)));
    const std::string host = task.store_host().empty() ? "127.0.0.1" : task.store_host();
    auto store = dist::connect_store(host, task.store_port(), timeout);
    auto group = dist::make_group(store, task.rank(), task.world_size(), task.device(), host, timeout);
    auto debug_point = [&] {
      if (o.has_kill_rank() && o.kill_rank() == task.rank()) std::raise(SIGKILL);
      if (o.has_hang_rank() && o.hang_rank() == task.rank())
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    };
    const std::string& kind = task.kind();
    r = kind == "consistency"     ? dist::run_consistency(task, *group, debug_point)
        : kind == "training_step" ? dist::run_training_step(task, *group, debug_point)
                                  : dist::run_collective(task, *group, debug_point);
    // Every rank has what it needs from the others before any leaves (a rank that exits while
    // a peer still reads from it would fail that peer).
    dist::wait_for(group->barrier(), task.device());
  });
  info.set_ok(r.ok());
  info.set_error(r.error());
  if (r.distributed().has_training()) *info.mutable_training() = r.distributed().training();
  *r.mutable_distributed()->add_ranks() = info;
  write_result(r, argv[3]);
  // Skip the group's destructors: a peer that died leaves Gloo/NCCL teardown waiting on it.
  std::fflush(nullptr);
  _exit(r.ok() ? 0 : 1);
}

}  // namespace ligerbench
