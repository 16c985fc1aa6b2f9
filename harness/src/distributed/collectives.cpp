// Collective ceilings, as nccl-tests measures them (docs/DISTRIBUTED.md): bytes is the size
// nccl-tests names (all_reduce: the buffer; all_gather: the gathered output; reduce_scatter: the
// input), algbw = bytes / time, busbw = algbw x 2(n-1)/n (all_reduce) or (n-1)/n (all_gather,
// reduce_scatter). Each sample is the slowest rank's time for one call (ranks start together
// after a barrier); the result reports the median sample.
#include <chrono>
#include <sstream>

#include "src/distributed/rank_work.h"
#include "ligerbench/kernel_spec.h"
#include "ligerbench/measure.h"

namespace ligerbench::dist {
namespace {

constexpr int kDefaultWarmup = 3;
constexpr int kDefaultRepetitions = 20;

double bus_factor(const std::string& op, int n) {
  if (n <= 1) return 0;  // nccl-tests: no traffic between ranks
  return op == "all_reduce" ? 2.0 * (n - 1) / n : static_cast<double>(n - 1) / n;
}

// One call of the collective on preallocated buffers; `method` says how it ran when that is not
// the backend's own call of that name.
struct Collective {
  std::function<c10::intrusive_ptr<c10d::Work>()> start;
  std::function<void()> finish;  // local work after the transfer (the reduction of a composed reduce_scatter)
  int64_t bytes = 0;
  std::string method;
};

Collective make_collective(const v1::RankTask& task, Group& group, at::ScalarType dtype, const at::Device& device) {
  const int n = task.world_size();
  const int64_t esize = static_cast<int64_t>(c10::elementSize(dtype));
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  Collective c;
  const std::string& op = task.collective();
  if (op == "all_reduce") {
    auto buf = std::make_shared<std::vector<at::Tensor>>(1, at::ones({std::max<int64_t>(1, task.bytes() / esize)}, opts));
    c.bytes = (*buf)[0].numel() * esize;
    c.start = [&group, buf] { return group.allreduce(*buf); };
    return c;
  }
  const int64_t chunk = std::max<int64_t>(1, task.bytes() / esize / n);
  c.bytes = chunk * n * esize;
  if (op == "all_gather") {
    auto in = std::make_shared<std::vector<at::Tensor>>(1, at::ones({chunk}, opts));
    auto out = std::make_shared<std::vector<std::vector<at::Tensor>>>(1);
    for (int r = 0; r < n; ++r) (*out)[0].push_back(at::empty({chunk}, opts));
    c.start = [&group, in, out] { return group.allgather(*out, *in); };
    return c;
  }
  // reduce_scatter
  auto input = std::make_shared<at::Tensor>(at::ones({n * chunk}, opts));
  if (task.device() == "cpu") {
    // ProcessGroupGloo (LibTorch 1.13) has no reduce_scatter: the same traffic as an
    // all-to-all of the chunks, then each rank sums the n chunks it received.
    auto recv = std::make_shared<at::Tensor>(at::empty({n * chunk}, opts));
    auto result = std::make_shared<at::Tensor>(at::empty({chunk}, opts));
    c.start = [&group, input, recv] {
      std::vector<int64_t> even;  // empty: equal splits
      return group.alltoall_base(*recv, *input, even, even);
    };
    c.finish = [recv, result, n, chunk] { at::sum_out(*result, recv->view({n, chunk}), {0}); };
    c.method = "gloo: alltoall_base + local sum (ProcessGroupGloo has no reduce_scatter)";
    return c;
  }
  auto in = std::make_shared<std::vector<std::vector<at::Tensor>>>(1);
  for (int r = 0; r < n; ++r) (*in)[0].push_back(input->narrow(0, r * chunk, chunk));
  auto out = std::make_shared<std::vector<at::Tensor>>(1, at::empty({chunk}, opts));
  c.start = [&group, in, out] { return group.reduce_scatter(*out, *in); };
  return c;
}

}  // namespace

v1::CaseResult run_collective(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point) {
  const auto dtype = parse_dtype(task.case_spec().dtype());
  if (!dtype) throw std::runtime_error("collective: bad dtype");
  const at::Device device(task.device());
  const auto& o = task.options();
  const int warmup = o.has_warmup() ? o.warmup() : kDefaultWarmup;
  const int reps = o.has_repetitions() ? o.repetitions() : kDefaultRepetitions;
  Collective c = make_collective(task, group, *dtype, device);
  debug_point();
  auto once = [&] {
    wait_for(c.start(), task.device());
    if (c.finish) c.finish();
  };
  for (int i = 0; i < warmup; ++i) once();
  std::vector<double> samples_ms;
  for (int i = 0; i < reps; ++i) {
    wait_for(group.barrier(), task.device());
    const auto t0 = std::chrono::steady_clock::now();
    once();
    samples_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // The slowest rank's time per sample: a collective is done when its last rank is.
  std::vector<at::Tensor> slowest{at::tensor(samples_ms, at::TensorOptions().dtype(at::kDouble)).to(device)};
  c10d::AllreduceOptions max;
  max.reduceOp = c10d::ReduceOp::MAX;
  wait_for(group.allreduce(slowest, max), task.device());
  const at::Tensor s = slowest[0].cpu();
  samples_ms.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());

  v1::CaseResult r;
  *r.mutable_timing() = summarize(samples_ms);
  r.mutable_timing()->set_clock("steady_clock");
  r.mutable_timing()->set_stop_reason("repetitions");
  auto* d = r.mutable_distributed();
  const double seconds = r.timing().median_ms() * 1e-3;
  d->set_collective(task.collective());
  d->set_bytes(c.bytes);
  d->set_bus_factor(bus_factor(task.collective(), task.world_size()));
  d->set_method(c.method);
  if (seconds > 0) {
    d->set_algbw_gb_per_s(static_cast<double>(c.bytes) / seconds / 1e9);
    d->set_busbw_gb_per_s(d->algbw_gb_per_s() * d->bus_factor());
  }
  std::ostringstream note;
  note.precision(3);
  note << "algbw " << d->algbw_gb_per_s() << " GB/s, busbw " << d->busbw_gb_per_s() << " GB/s (nccl-tests)";
  if (!c.method.empty()) note << "; " << c.method;
  r.set_note(note.str());
  r.mutable_throughput()->set_bytes(static_cast<double>(c.bytes));
  r.mutable_throughput()->set_gb_per_s(d->algbw_gb_per_s());
  r.set_ok(true);
  return r;
}

}  // namespace ligerbench::dist
