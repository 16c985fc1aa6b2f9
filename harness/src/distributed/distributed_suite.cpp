// Validation and expansion of distributed sweeps (docs/DISTRIBUTED.md).
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>
#include <sstream>

#include "ligerbench/device.h"
#include "ligerbench/distributed.h"
#include "ligerbench/key_filter.h"
#include "ligerbench/registry.h"
#include "ligerbench/runner.h"
#include "src/distributed/llama_model.h"

namespace ligerbench {
namespace {

const std::vector<std::string> kCollectives = {"all_reduce", "all_gather", "reduce_scatter"};
const std::vector<std::string> kCollectiveDtypes = {"fp32", "fp16", "bf16"};
const std::vector<std::string> kTrainingDtypes = {"fp32", "bf16"};
// What one build of a training step may need (llama_model.h, estimated_bytes): a bound that no
// sensible model reaches and that refuses a terabyte before any work.
constexpr double kMaxTrainingBytes = 256.0 * (int64_t{1} << 30);
constexpr int kMaxSizes = 64;
constexpr int64_t kMaxCollectiveBytes = int64_t{1} << 32;

void out_of_range(std::vector<SpecProblem>& out, const std::string& path, const std::string& range, const std::string& got) {
  out.push_back({path, "must be in " + range + ", got " + got});
}

void check_int(std::vector<SpecProblem>& out, const std::string& path, bool has, int64_t v, int64_t lo, int64_t hi) {
  if (has && (v < lo || v > hi))
    out_of_range(out, path, "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]", std::to_string(v));
}

void check_debug_rank(std::vector<SpecProblem>& out, const std::string& path, bool has, int v, int world_size) {
  // world_size 0 defers to --world-size: only the lower bound is known here; the launcher checks the rest.
  if (has && (v < 0 || (world_size > 0 && v >= world_size)))
    out.push_back({path, "rank " + std::to_string(v) + " is not a rank of the case (world_size " +
                             (world_size > 0 ? std::to_string(world_size) : std::string("from --world-size")) + ")"});
}

// Gradient sizes of one Llama-style decoder (distributed.proto, ModelGradientSizes), in bytes.
std::vector<int64_t> model_gradient_bytes(const v1::ModelGradientSizes& m, int64_t element_bytes) {
  if (m.hidden() == 0) return {};
  const int64_t h = m.hidden(), i = m.intermediate(), v = m.vocab();
  std::vector<int64_t> sizes = {h};                 // a norm weight
  sizes.push_back(h * h);                           // q, k, v, o projections
  if (i > 0) sizes.push_back(h * i);                // gate, up, down projections
  if (v > 0) sizes.push_back(v * h);                // embedding, head
  for (auto& s : sizes) s *= element_bytes;
  return sizes;
}

void validate_nodes(const v1::DistributedOptions& o, const std::string& oat, std::vector<SpecProblem>& out) {
  if (o.nodes_size() > kMaxPeerNodes)
    out.push_back({oat + ".nodes", "at most " + std::to_string(kMaxPeerNodes) + " peer nodes, got " + std::to_string(o.nodes_size())});
  for (int i = 0; i < o.nodes_size() && i < kMaxPeerNodes; ++i)
    if (!is_host_port(o.nodes(i), 1))
      out.push_back({oat + ".nodes[" + std::to_string(i) + "]",
                     "'" + quote_truncated(o.nodes(i)) + "' is not host:port (a ligerbenchd's gRPC address, port 1..65535)"});
  if (!o.rendezvous().empty() && !is_host_port(o.rendezvous(), 0))
    out.push_back({oat + ".rendezvous", "'" + quote_truncated(o.rendezvous()) + "' is not host:port (port 0..65535; 0: a free one)"});
}

int64_t element_bytes(const std::string& dtype) { return dtype == "fp32" ? 4 : 2; }

std::string backend_of(const std::string& device_type) { return device_type == "cuda" ? "nccl" : "gloo"; }

bool has_training_options(const v1::DistributedOptions& o) {
  return o.has_model() || o.has_steps() || o.has_warmup_steps() || o.has_lr() || o.has_loss_tolerance() ||
         o.has_bucket_mb() || o.has_skip_reduce_rank();
}

void check_open_range(std::vector<SpecProblem>& out, const std::string& path, bool has, double v, double hi) {
  if (has && !(v > 0 && v <= hi)) {
    std::ostringstream os;
    os << "(0, " << hi << "]";
    std::ostringstream got;
    got << v;
    out_of_range(out, path, os.str(), got.str());
  }
}

void validate_training(const v1::CaseSweep& sweep, const std::string& at, std::vector<SpecProblem>& out) {
  const auto& o = sweep.distributed_options();
  const std::string oat = at + ".distributed_options";
  if (!sweep.kernel().empty()) out.push_back({at + ".kernel", "a training_step case has no kernel (it builds its own model)"});
  if (!sweep.shape().empty() || !sweep.params().empty())
    out.push_back({at + (sweep.shape().empty() ? ".params" : ".shape"),
                   "a training_step case has no kernel shape or params; its sizes are distributed_options.model"});
  if (o.collectives_size() || o.sizes_bytes_size() || o.has_model_gradients() || o.has_warmup() || o.has_repetitions())
    out.push_back({oat, "collectives, sizes_bytes, model_gradients, warmup and repetitions belong to distributed: collective "
                        "(a training_step has steps and warmup_steps)"});
  for (int i = 0; i < sweep.dtypes_size(); ++i)
    if (std::find(kTrainingDtypes.begin(), kTrainingDtypes.end(), sweep.dtypes(i)) == kTrainingDtypes.end())
      out.push_back({at + ".dtypes[" + std::to_string(i) + "]",
                     "a training_step runs in fp32 or bf16, not '" + quote_truncated(sweep.dtypes(i)) + "'"});
  const v1::TrainingModel& given = o.model();
  const std::string mat = oat + ".model";
  const size_t before = out.size();
  check_int(out, mat + ".hidden", given.hidden() != 0, given.hidden(), 8, 65536);
  check_int(out, mat + ".layers", given.layers() != 0, given.layers(), 1, 256);
  check_int(out, mat + ".heads", given.heads() != 0, given.heads(), 1, 1024);
  check_int(out, mat + ".kv_heads", given.kv_heads() != 0, given.kv_heads(), 1, 1024);
  check_int(out, mat + ".intermediate", given.intermediate() != 0, given.intermediate(), 1, 262144);
  check_int(out, mat + ".vocab", given.vocab() != 0, given.vocab(), 2, 1048576);
  check_int(out, mat + ".seq", given.seq() != 0, given.seq(), 1, 131072);
  check_int(out, mat + ".batch", given.batch() != 0, given.batch(), 1, 4096);
  if (out.size() == before) {
    const v1::TrainingModel m = dist::with_defaults(given);
    if (m.hidden() % m.heads() != 0 || (m.hidden() / m.heads()) % 2 != 0)
      out.push_back({mat + ".heads", "hidden " + std::to_string(m.hidden()) + " must be heads (" + std::to_string(m.heads()) +
                                         ") x an even head size (rotary embedding rotates pairs)"});
    else if (m.kv_heads() > m.heads() || m.heads() % m.kv_heads() != 0)
      out.push_back({mat + ".kv_heads", "kv_heads " + std::to_string(m.kv_heads()) + " must divide heads " +
                                            std::to_string(m.heads())});
    else {
      int64_t widest = sweep.dtypes_size() > 0 ? 0 : element_bytes("fp32");  // the default dtype
      for (const auto& d : sweep.dtypes()) widest = std::max(widest, element_bytes(d));
      const double bytes = dist::estimated_bytes(m, widest);
      if (bytes > kMaxTrainingBytes) {
        std::ostringstream os;
        os.precision(3);
        os << "this model needs about " << bytes / (int64_t{1} << 30) << " GiB for one build (" << dist::parameter_count(m)
           << " parameters; weights, gradients, AdamW state, activations), more than the " << kMaxTrainingBytes / (int64_t{1} << 30)
           << " GiB a training_step may ask for";
        out.push_back({mat, os.str()});
      }
    }
  }
  check_int(out, oat + ".steps", o.has_steps(), o.steps(), 1, 10000);
  const int steps = o.has_steps() ? o.steps() : 5;
  if (o.has_warmup_steps() && (o.warmup_steps() < 0 || o.warmup_steps() >= steps))
    out_of_range(out, oat + ".warmup_steps", "[0, steps) = [0, " + std::to_string(steps) + ")", std::to_string(o.warmup_steps()));
  check_open_range(out, oat + ".lr", o.has_lr(), o.lr(), 1);
  check_open_range(out, oat + ".loss_tolerance", o.has_loss_tolerance(), o.loss_tolerance(), 1);
  check_open_range(out, oat + ".bucket_mb", o.has_bucket_mb(), o.bucket_mb(), 1024);
}

}  // namespace

bool is_host_port(const std::string& s, int min_port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || s.size() > 261) return false;
  for (std::size_t i = 0; i < colon; ++i) {
    const char ch = s[i];
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_')) return false;
  }
  const std::string port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
  const int p = std::stoi(port);
  return p >= min_port && p <= 65535;
}

double rank_timeout_of(const v1::DistributedOptions& o) {
  return o.has_rank_timeout_s() ? o.rank_timeout_s() : kDefaultRankTimeoutS;
}

bool validate_distributed_fields(const v1::CaseSweep& sweep, const std::string& at, std::vector<SpecProblem>& out) {
  const std::string& kind = sweep.distributed();
  if (kind.empty()) {
    if (sweep.world_size() != 0 || sweep.has_distributed_options())
      out.push_back({at + ".world_size", "world_size and distributed_options need distributed: consistency, collective or training_step"});
    return true;
  }
  if (kind != "consistency" && kind != "collective" && kind != "training_step") {
    out.push_back({at + ".distributed",
                   "unknown distributed kind '" + quote_truncated(kind) + "' (consistency, collective, training_step)"});
    return false;
  }
  check_int(out, at + ".world_size", true, sweep.world_size(), 0, 64);
  const auto& o = sweep.distributed_options();
  const std::string oat = at + ".distributed_options";
  if (o.has_rank_timeout_s() && !(o.rank_timeout_s() > 0 && o.rank_timeout_s() <= 3600)) {
    std::ostringstream got;
    got << o.rank_timeout_s();
    out_of_range(out, oat + ".rank_timeout_s", "(0, 3600]", got.str());
  }
  validate_nodes(o, oat, out);
  check_int(out, oat + ".warmup", o.has_warmup(), o.warmup(), 0, 1000);
  check_int(out, oat + ".repetitions", o.has_repetitions(), o.repetitions(), 1, 10000);
  check_debug_rank(out, oat + ".perturb_rank", o.has_perturb_rank(), o.perturb_rank(), sweep.world_size());
  check_debug_rank(out, oat + ".kill_rank", o.has_kill_rank(), o.kill_rank(), sweep.world_size());
  check_debug_rank(out, oat + ".hang_rank", o.has_hang_rank(), o.hang_rank(), sweep.world_size());
  check_debug_rank(out, oat + ".skip_reduce_rank", o.has_skip_reduce_rank(), o.skip_reduce_rank(), sweep.world_size());
  if (sweep.modes_size() || sweep.providers_size())
    out.push_back({at + (sweep.modes_size() ? ".modes" : ".providers"),
                   "a distributed case chooses its own (consistency: liger, full mode; collective: none; training_step: both)"});
  if (kind == "training_step") {
    validate_training(sweep, at, out);
    return false;
  }
  if (has_training_options(o))
    out.push_back({oat, "model, steps, warmup_steps, lr, loss_tolerance, bucket_mb and skip_reduce_rank belong to "
                        "distributed: training_step"});
  if (kind == "consistency") {
    if (o.collectives_size() || o.sizes_bytes_size() || o.has_model_gradients())
      out.push_back({oat, "collectives, sizes_bytes and model_gradients belong to distributed: collective"});
    return true;
  }
  // collective
  if (!sweep.kernel().empty()) out.push_back({at + ".kernel", "a collective case has no kernel"});
  if (!sweep.shape().empty() || !sweep.params().empty())
    out.push_back({at + (sweep.shape().empty() ? ".params" : ".shape"), "a collective case has no kernel shape or params"});
  if (o.has_perturb_rank()) out.push_back({oat + ".perturb_rank", "perturb_rank belongs to distributed: consistency or training_step"});
  for (int i = 0; i < o.collectives_size(); ++i)
    if (std::find(kCollectives.begin(), kCollectives.end(), o.collectives(i)) == kCollectives.end())
      out.push_back({oat + ".collectives[" + std::to_string(i) + "]",
                     "unknown collective '" + quote_truncated(o.collectives(i)) + "' (all_reduce, all_gather, reduce_scatter)"});
  for (int i = 0; i < sweep.dtypes_size(); ++i)
    if (std::find(kCollectiveDtypes.begin(), kCollectiveDtypes.end(), sweep.dtypes(i)) == kCollectiveDtypes.end())
      out.push_back({at + ".dtypes[" + std::to_string(i) + "]", "collectives run in fp32, fp16 or bf16, not '" +
                                                                  quote_truncated(sweep.dtypes(i)) + "'"});
  if (o.sizes_bytes_size() > kMaxSizes)
    out.push_back({oat + ".sizes_bytes", "at most " + std::to_string(kMaxSizes) + " sizes, got " + std::to_string(o.sizes_bytes_size())});
  for (int i = 0; i < o.sizes_bytes_size() && i < kMaxSizes; ++i)
    check_int(out, oat + ".sizes_bytes[" + std::to_string(i) + "]", true, o.sizes_bytes(i), 4, kMaxCollectiveBytes);
  const auto& m = o.model_gradients();
  check_int(out, oat + ".model_gradients.hidden", o.has_model_gradients(), m.hidden(), 1, 65536);
  check_int(out, oat + ".model_gradients.intermediate", o.has_model_gradients(), m.intermediate(), 0, 262144);
  check_int(out, oat + ".model_gradients.vocab", o.has_model_gradients(), m.vocab(), 0, 1048576);
  if (o.sizes_bytes_size() == 0 && !o.has_model_gradients())
    out.push_back({oat + ".sizes_bytes", "a collective case needs sizes_bytes or model_gradients"});
  return false;
}

std::vector<DistributedCase> expand_distributed(const v1::JobSpec& job, const std::vector<std::string>& devices,
                                                int world_size_override, const std::string& filter,
                                                const std::string& where) {
  const KeyFilter keep = compile_filter(filter);
  std::vector<std::string> types;
  for (const auto& d : devices) {
    const std::string t = d == "cpu" ? "cpu" : "cuda";
    if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
  }
  // Only a cuda device asks the GPU backend (the server process never touches a GPU).
  const GpuBackend* gpu = std::find(types.begin(), types.end(), "cuda") != types.end() ? gpu_backend() : nullptr;
  std::vector<DistributedCase> cases;
  for (int si = 0; si < job.cases_size(); ++si) {
    const v1::CaseSweep& sweep = job.cases(si);
    if (sweep.distributed().empty()) continue;
    const std::string at = "cases[" + std::to_string(si) + "]";
    const int ws = world_size_override > 0 ? world_size_override : sweep.world_size() > 0 ? sweep.world_size() : kDefaultWorldSize;
    const std::string ws_source = world_size_override > 0 ? "--world-size" : "key '" + at + ".world_size'";
    const auto& o = sweep.distributed_options();
    for (const auto& [name, has, rank] : {std::tuple{"perturb_rank", o.has_perturb_rank(), o.perturb_rank()},
                                          std::tuple{"kill_rank", o.has_kill_rank(), o.kill_rank()},
                                          std::tuple{"hang_rank", o.has_hang_rank(), o.hang_rank()},
                                          std::tuple{"skip_reduce_rank", o.has_skip_reduce_rank(), o.skip_reduce_rank()}})
      if (has && rank >= ws)
        throw InputError(where + ": key '" + at + ".distributed_options." + name + "': rank " + std::to_string(rank) +
                         " is not a rank of " + std::to_string(ws) + " ranks");
    // Multi-node: the ranks split evenly over this node and the peers; each node's share is
    // bounded as one node's world is (the peers check theirs against their own devices).
    const int node_count = 1 + o.nodes_size();
    if (ws % node_count != 0)
      throw InputError(where + ": " + ws_source + ": " + std::to_string(ws) + " ranks do not split evenly over " +
                       std::to_string(node_count) + " nodes (this one and key '" + at + ".distributed_options.nodes')");
    for (const auto& type : types) {
      const int limit = type == "cpu" ? kMaxCpuWorldSize : (gpu ? gpu->device_count() : 0);
      const int here = ws / node_count;
      if (here < 1 || here > limit)
        throw InputError(where + ": " + ws_source + ": " + std::to_string(here) + " ranks on " + type +
                         (node_count > 1 ? " on each of " + std::to_string(node_count) + " nodes" : std::string()) +
                         ", but at most " + std::to_string(limit) +
                         (type == "cpu" ? " ranks run on cpu" : " (one per visible GPU)"));
      DistributedCase base;
      base.kind = sweep.distributed();
      base.device_type = type;
      base.world_size = ws;
      base.rank_timeout_s = rank_timeout_of(o);
      base.seed = job.measurement().seed();
      base.options = o;
      auto add = [&](DistributedCase c) {
        v1::CaseSpec& id = *c.identity.mutable_spec();
        id.set_device(type);
        c.identity.set_device_name(type == "cpu" ? "cpu" : gpu->device_name(0));
        auto* d = c.identity.mutable_distributed();
        d->set_kind(c.kind);
        d->set_world_size(ws);
        d->set_backend(backend_of(type));
        id.set_key(id.key() + "|" + type + "|world_size=" + std::to_string(ws) +
                   (node_count > 1 ? ",nodes=" + std::to_string(node_count) : std::string()));
        if (!keep.matches(id.key())) return;
        if (c.kind != "consistency") c.rank_case = id;  // its ranks read the dtype from it
        if (cases.size() >= kMaxDistributedCases)
          throw InputError(where + ": more than " + std::to_string(kMaxDistributedCases) + " distributed cases");
        cases.push_back(std::move(c));
      };
      if (base.kind == "consistency") {
        const KernelSpec* spec = find_kernel(sweep.kernel());
        const bool full = std::find(spec->modes.begin(), spec->modes.end(), Mode::kFull) != spec->modes.end();
        v1::JobSpec points;
        v1::CaseSweep* s = points.add_cases();
        *s = sweep;
        s->clear_distributed();
        s->clear_world_size();
        s->clear_distributed_options();
        s->add_modes(full ? "full" : "forward");
        s->add_providers("liger");
        // On the device type's first device; each rank runs it on its own.
        for (const Case& p : expand_cases(points, {type == "cpu" ? "cpu" : "cuda:0"})) {
          DistributedCase c = base;
          c.rank_case = p.case_spec;
          c.identity = case_identity(p);
          v1::CaseSpec& r = *c.identity.mutable_spec();
          r.set_mode("consistency");
          r.set_key(spec->name + "|" + r.shape_label() + "|" + r.dtype() + "|consistency|liger|" +
                    params_label(p.config.params));
          add(std::move(c));
        }
      } else if (base.kind == "training_step") {
        std::vector<std::string> dtypes(sweep.dtypes().begin(), sweep.dtypes().end());
        if (dtypes.empty()) dtypes.push_back("fp32");
        const v1::TrainingModel m = dist::with_defaults(o.model());
        const std::vector<std::pair<std::string, int64_t>> axes = {
            {"hidden", m.hidden()}, {"layers", m.layers()}, {"heads", m.heads()}, {"kv_heads", m.kv_heads()},
            {"intermediate", m.intermediate()}, {"vocab", m.vocab()}, {"seq", m.seq()}, {"batch", m.batch()}};
        std::string label;
        for (const auto& [name, value] : axes) label += (label.empty() ? "" : ",") + name + "=" + std::to_string(value);
        for (const auto& dt : dtypes) {
          DistributedCase c = base;
          v1::CaseSpec& r = *c.identity.mutable_spec();
          r.set_kernel("training_step");
          r.set_provider("liger");  // the row's figures are the liger build's; speedup is against the baseline build
          r.set_mode("training_step");
          r.set_dtype(dt);
          for (const auto& [name, value] : axes) {
            auto* a = r.add_shape();
            a->set_name(name);
            a->set_value(value);
          }
          r.set_shape_label(label);
          r.set_key("training_step|" + label + "|" + dt + "|training_step|liger|");
          add(std::move(c));
        }
      } else {
        std::vector<std::string> ops(o.collectives().begin(), o.collectives().end());
        if (ops.empty()) ops = kCollectives;
        std::vector<std::string> dtypes(sweep.dtypes().begin(), sweep.dtypes().end());
        if (dtypes.empty()) dtypes.push_back("fp32");
        for (const auto& dt : dtypes) {
          std::set<int64_t> sizes(o.sizes_bytes().begin(), o.sizes_bytes().end());
          for (int64_t b : model_gradient_bytes(o.model_gradients(), element_bytes(dt))) sizes.insert(b);
          for (const auto& op : ops)
            for (int64_t bytes : sizes) {
              DistributedCase c = base;
              c.collective = op;
              c.bytes = bytes;
              v1::CaseSpec& r = *c.identity.mutable_spec();
              const std::string label = "bytes=" + std::to_string(bytes);
              r.set_kernel(op);
              r.set_provider(backend_of(type));
              r.set_mode("collective");
              r.set_dtype(dt);
              auto* a = r.add_shape();
              a->set_name("bytes");
              a->set_value(bytes);
              r.set_shape_label(label);
              r.set_key(op + "|" + label + "|" + dt + "|collective|" + backend_of(type) + "|");
              c.identity.mutable_distributed()->set_collective(op);
              add(std::move(c));
            }
        }
      }
    }
  }
  return cases;
}

}  // namespace ligerbench
