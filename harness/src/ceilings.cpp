#include "ligerbench/ceilings.h"

#include <ATen/Parallel.h>
#include <google/protobuf/util/json_util.h>
#include <torch/version.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "ligerbench/device.h"
#include "ligerbench/gpu_state.h"
#include "ligerbench/measure.h"
#include "ligerbench/report.h"
#include "ligerbench/timestamps.h"
#include "ligerbench/version.h"

namespace ligerbench {
namespace {

std::string hostname() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown cpu";
}

// What the figures belong to: change any part and they are measured again.
std::string identity_of(const at::Device& device) {
  if (!device.is_cuda())
    return "cpu|" + hostname() + "|" + cpu_model() + "|" + std::to_string(std::thread::hardware_concurrency()) +
           " cpus|" + std::to_string(at::get_num_threads()) + " threads|torch " + TORCH_VERSION;
  const GpuBackend* gpu = gpu_backend();
  v1::NodeInfo nvml;
  record_gpu_identity(nvml_state_source(), gpu->pci_bus_id(device.index()), device.index(), nvml);
  const std::string gpu_id = !nvml.gpu_uuid().empty() ? nvml.gpu_uuid()
                                                     : gpu->device_name(device.index()) + " at " + gpu->pci_bus_id(device.index());
  return "cuda|" + gpu_id + "|driver " + gpu->driver_version() + "|torch " + TORCH_VERSION;
}

// 1 GiB copies and a bf16 8192^3 matmul on a GPU; 256 MiB and fp32 1024^3 on a CPU (a size that
// takes tens of milliseconds there, with this process's intra-op threads).
v1::DeviceCeilings measure(const at::Device& device) {
  MeasureOptions opt;
  opt.min_samples = device.is_cuda() ? 20 : 10;
  opt.timeout_s = 2;
  const bool cuda = device.is_cuda();
  const auto elem = cuda ? at::kBFloat16 : at::kFloat;
  const auto o = at::TensorOptions().device(device).dtype(elem);
  v1::DeviceCeilings c;
  {
    at::Tensor src = at::ones({cuda ? int64_t{1} << 29 : int64_t{1} << 26}, o), dst = at::empty_like(src);
    const double ms = time_region([&] { dst.copy_(src); }, device, opt).median_ms();
    c.set_copy_gb_per_s(2.0 * src.nbytes() / (ms * 1e-3) / 1e9);
  }
  const int64_t n = cuda ? 8192 : 1024;
  at::Tensor a = at::randn({n, n}, o), b = at::randn({n, n}, o), out = at::empty({n, n}, o);
  const double ms = time_region([&] { at::mm_out(out, a, b); }, device, opt).median_ms();
  c.set_matmul_tflop_per_s(2.0 * n * n * n / (ms * 1e-3) / 1e12);
  c.set_matmul_dtype(cuda ? "bf16" : "fp32");
  return c;
}

bool read_cache(const std::string& path, v1::CeilingsCache* cache) {
  std::ifstream f(path);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;  // a newer build's fields
  return google::protobuf::util::JsonStringToMessage(ss.str(), cache, o).ok();
}

// mkdir -p of the cache file's folder (0700: it describes this machine).
bool make_parents(const std::string& file) {
  for (std::size_t i = 1; (i = file.find('/', i)) != std::string::npos; ++i)
    if (mkdir(file.substr(0, i).c_str(), 0700) != 0 && errno != EEXIST) return false;
  return true;
}

}  // namespace

std::string ceilings_cache_file() {
  const char* dir = std::getenv("LIGERBENCH_CACHE_DIR");
  if (dir != nullptr && *dir != 0) return std::string(dir) + "/ceilings.json";
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != 0) return std::string(xdg) + "/ligerbench/ceilings.json";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != 0 ? home : "/tmp") + "/.cache/ligerbench/ceilings.json";
}

bool remeasure_ceilings_requested() {
  const char* v = std::getenv("LIGERBENCH_REMEASURE_CEILINGS");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

v1::DeviceCeilings cached_ceilings(const std::string& key, const std::string& device, const std::string& cache_file,
                                   bool remeasure, const std::function<v1::DeviceCeilings()>& measure_fn) {
  v1::CeilingsCache cache;
  const bool readable = read_cache(cache_file, &cache);
  if (!readable) cache.Clear();  // absent or damaged: measured and written anew
  if (!remeasure)
    for (const auto& e : cache.entries())
      if (e.key() == key && e.copy_gb_per_s() > 0 && e.matmul_tflop_per_s() > 0) {
        v1::DeviceCeilings hit = e;
        hit.set_device(device);  // the same identity may be another index in another process
        hit.set_from_cache(true);
        return hit;
      }
  v1::DeviceCeilings fresh = measure_fn();
  fresh.set_key(key);
  fresh.set_device(device);
  fresh.set_measured_at(now_rfc3339());
  v1::CeilingsCache next;
  for (const auto& e : cache.entries())
    if (e.key() != key) *next.add_entries() = e;
  *next.add_entries() = fresh;
  // write_json_file renames a temporary file into place: a concurrent reader sees the old file or the new.
  std::string why;
  if (!make_parents(cache_file)) {
    why = std::strerror(errno);
  } else {
    try {
      write_json_file(next, cache_file);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  if (!why.empty())
    std::cerr << "ligerbench: cannot write the ceilings cache " << cache_file << " (" << why
              << "); the ceilings are measured again by the next process\n";
  return fresh;
}

namespace {

std::mutex mu;
// For this process, by cache file and device: a process that changes LIGERBENCH_CACHE_DIR (a test)
// reads and fills the new file instead of answering from the old one's figures.
std::map<std::string, v1::DeviceCeilings> known;
std::set<std::string> not_cached;  // what known_ceilings looked up in vain

std::string memo_key(const std::string& device) { return ceilings_cache_file() + "|" + device; }

}  // namespace

const v1::DeviceCeilings& device_ceilings(const at::Device& device) {
  std::lock_guard<std::mutex> lock(mu);
  const std::string name = device.str(), memo = memo_key(name);
  if (auto it = known.find(memo); it != known.end()) return it->second;
  v1::DeviceCeilings c;
  c.set_device(name);
  if (!device.is_cuda() || gpu_backend() != nullptr)
    c = cached_ceilings(identity_of(device), name, ceilings_cache_file(), remeasure_ceilings_requested(),
                        [&] { return measure(device); });
  return known[memo] = c;
}

v1::DeviceCeilings known_ceilings(const at::Device& device) {
  // Called for every case: the file and the device's identity are read once a process.
  std::lock_guard<std::mutex> lock(mu);
  const std::string name = device.str(), memo = memo_key(name);
  if (auto it = known.find(memo); it != known.end()) return it->second;
  v1::DeviceCeilings none;
  none.set_device(name);
  if (not_cached.count(memo) || (device.is_cuda() && gpu_backend() == nullptr)) return none;
  not_cached.insert(memo);
  v1::CeilingsCache cache;
  if (remeasure_ceilings_requested() || !read_cache(ceilings_cache_file(), &cache)) return none;
  const std::string key = identity_of(device);
  for (const auto& e : cache.entries())
    if (e.key() == key) {
      v1::DeviceCeilings hit = e;
      hit.set_device(name);
      hit.set_from_cache(true);
      return known[memo] = hit;
    }
  return none;
}

}  // namespace ligerbench
