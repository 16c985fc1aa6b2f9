// Cross-rank consistency: every rank computes the same kernel on the same seeded inputs, so
// every output and gradient must match rank 0's bit for bit (a device, driver or build that
// computes differently shows up here). Tensors travel as their raw bytes (uint8), which every
// backend all-gathers and which compares bits, not values.
#include <sstream>

#include "src/distributed/rank_work.h"
#include "ligerbench/runner.h"

namespace ligerbench::dist {
namespace {

at::Tensor raw_bytes(const at::Tensor& t) {
  const at::Tensor c = t.detach().contiguous();
  const auto n = static_cast<int64_t>(c.nbytes());
  if (n == 0) return at::empty({0}, c.options().dtype(at::kByte));
  return at::from_blob(c.data_ptr(), {n}, c.options().dtype(at::kByte)).clone();
}

// Every rank's tensor of one name, gathered: the byte counts first (they must agree before the
// bytes can be gathered into equal buffers), then the bytes.
std::vector<at::Tensor> gather_bytes(Group& group, const at::Tensor& bytes, const std::string& device,
                                     std::vector<int64_t>& counts) {
  const int n = group.getSize();
  std::vector<at::Tensor> in_count{at::full({1}, bytes.numel(), bytes.options().dtype(at::kLong))};
  std::vector<std::vector<at::Tensor>> out_count(1);
  for (int r = 0; r < n; ++r) out_count[0].push_back(at::empty_like(in_count[0]));
  wait_for(group.allgather(out_count, in_count), device);
  counts.clear();
  for (const auto& c : out_count[0]) counts.push_back(c.cpu().item<int64_t>());
  for (int64_t c : counts)
    if (c != counts[0]) return {};
  std::vector<at::Tensor> in{bytes};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < n; ++r) out[0].push_back(at::empty_like(bytes));
  wait_for(group.allgather(out, in), device);
  std::vector<at::Tensor> cpu;
  for (const auto& t : out[0]) cpu.push_back(t.cpu());
  return cpu;
}

// "rank 1 differs from rank 0 in grad_weight: 96 of 128 elements differ, max |diff| 0.0123"
std::string describe_difference(int rank, const std::string& name, const at::Tensor& like, const at::Tensor& mine,
                                const at::Tensor& theirs) {
  std::ostringstream os;
  os << "rank " << rank << " differs from rank 0 in " << name << ": ";
  const at::Tensor a = at::from_blob(mine.data_ptr(), like.sizes(), like.options().device(at::kCPU)).to(at::kDouble);
  const at::Tensor b = at::from_blob(theirs.data_ptr(), like.sizes(), like.options().device(at::kCPU)).to(at::kDouble);
  const at::Tensor ne = a.ne(b);
  os << ne.sum().item<int64_t>() << " of " << a.numel() << " elements differ";
  if (a.numel() > 0) os << ", max |diff| " << (a - b).abs().max().item<double>();
  return os.str();
}

}  // namespace

v1::CaseResult run_consistency(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point) {
  // The launcher expanded the case; its device is this rank's.
  const Case c = resolve_case(task.case_spec(), task.seed());
  const auto& o = task.options();
  AccuracyHooks hooks;
  std::vector<std::pair<std::string, at::Tensor>> produced;
  hooks.produced = &produced;
  if (o.has_perturb_rank() && o.perturb_rank() == task.rank())
    hooks.adjust_inputs = [](KernelInputs& in) {
      for (auto& t : in.tensors)
        if (t.defined() && at::isFloatingType(t.scalar_type())) {
          t.detach().add_(1e-2);  // the leaf's data; no graph has used it yet
          return;
        }
    };
  v1::CaseResult r;
  *r.mutable_accuracy() = accuracy_of(c, hooks);
  debug_point();

  auto* info = r.mutable_distributed();
  std::string first_error;
  for (const auto& [name, t] : produced) {
    if (!t.defined()) continue;
    std::vector<int64_t> counts;
    const auto all = gather_bytes(group, raw_bytes(t).to(c.config.device), task.device(), counts);
    std::string diff;
    if (all.empty()) {
      for (std::size_t k = 1; k < counts.size() && diff.empty(); ++k)
        if (counts[k] != counts[0])
          diff = "rank " + std::to_string(k) + " differs from rank 0 in " + name + ": " + std::to_string(counts[k]) +
                 " bytes against " + std::to_string(counts[0]);
    } else {
      for (std::size_t k = 1; k < all.size() && diff.empty(); ++k)
        if (!at::equal(all[k], all[0])) diff = describe_difference(static_cast<int>(k), name, t, all[k], all[0]);
    }
    if (diff.empty()) continue;
    info->add_differing_tensors(name);
    if (first_error.empty()) first_error = diff;
  }
  r.set_ok(first_error.empty());
  if (!first_error.empty()) {
    std::string also;
    for (int i = 1; i < info->differing_tensors_size(); ++i) also += (also.empty() ? "" : ", ") + info->differing_tensors(i);
    r.set_error(first_error + (also.empty() ? "" : " (" + also + " differ too)"));
  }
  return r;
}

}  // namespace ligerbench::dist
