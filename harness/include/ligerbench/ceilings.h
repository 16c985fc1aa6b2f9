#pragma once
// Each device's measured ceilings (docs/MEASUREMENT.md, Ceilings): the copy bandwidth and the
// dense matmul rate that a case's bandwidth_fraction and compute_fraction divide by. Measured once
// per device identity (a GPU by UUID, driver and LibTorch; a CPU by host, model, threads and
// LibTorch) and kept in a cache file, so a run pays for them once per node, not per process.
#include <ATen/ATen.h>

#include <functional>
#include <string>

#include "ligerbench/proto.h"

namespace ligerbench {

// The ceilings of `device` (cpu or cuda:N): from this process's memory, else the cache file,
// else measured and added to it. A device without a backend here (cuda on a CPU-only build) has
// zeros.
const v1::DeviceCeilings& device_ceilings(const at::Device& device);

// The same without measuring: this process's figures or the cache file's, else zeros. What a case
// divides by (node_info measures, once, before a run's cases; a case's time limit never pays
// for it, and a server's workers read what its start-up probe measured).
v1::DeviceCeilings known_ceilings(const at::Device& device);

// Where the cache lives: $LIGERBENCH_CACHE_DIR/ceilings.json, else $XDG_CACHE_HOME/ligerbench/,
// else ~/.cache/ligerbench/. LIGERBENCH_REMEASURE_CEILINGS=1 (`run --remeasure-ceilings`)
// measures again and replaces the cached entries.
std::string ceilings_cache_file();
bool remeasure_ceilings_requested();

// The cache step itself, for tests: the entry for `key` in `cache_file`, or measure() stored there
// (with key, device and time) when there is none, the file is unreadable, or `remeasure` is set.
// A cache that cannot be written costs a note on stderr, never the result.
v1::DeviceCeilings cached_ceilings(const std::string& key, const std::string& device, const std::string& cache_file,
                                   bool remeasure, const std::function<v1::DeviceCeilings()>& measure);

}  // namespace ligerbench
