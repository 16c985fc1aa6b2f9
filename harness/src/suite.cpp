#include "ligerbench/suite.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "ligerbench/distributed.h"
#include "ligerbench/measure.h"
#include "ligerbench/registry.h"

namespace ligerbench {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool valid_device(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5) return false;
  return std::all_of(d.begin() + 5, d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void validate_timing(const google::protobuf::RepeatedPtrField<std::string>& kinds, const std::string& at,
                     std::vector<SpecProblem>& out) {
  std::set<std::string> seen;
  for (int i = 0; i < kinds.size(); ++i) {
    const std::string path = at + "[" + std::to_string(i) + "]";
    if (!is_timing_kind(kinds[i]))
      out.push_back({path, "unknown timing '" + quote_truncated(kinds[i]) + "' (timing kinds: hot, cold, graph)"});
    else if (!seen.insert(kinds[i]).second)
      out.push_back({path, "timing '" + kinds[i] + "' is listed twice"});
  }
}

void validate_sweep(const v1::CaseSweep& sweep, const std::string& at, std::vector<SpecProblem>& out) {
  if (!validate_distributed_fields(sweep, at, out)) return;
  const KernelSpec* spec = find_kernel(sweep.kernel());
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const auto& k : kernel_registry()) names.push_back(k.name);
    out.push_back({at + ".kernel", "unknown kernel '" + quote_truncated(sweep.kernel()) + "' (known: " + join(names) + ")"});
    return;
  }
  for (const auto& [axis, values] : sweep.shape()) {
    const bool known = std::any_of(spec->axes.begin(), spec->axes.end(), [&](const AxisSpec& a) { return a.name == axis; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& a : spec->axes) names.push_back(a.name);
      out.push_back({at + ".shape." + axis, "kernel " + spec->name + " has no axis '" + quote_truncated(axis) + "' (axes: " + join(names) + ")"});
      continue;
    }
    if (values.values_size() == 0) out.push_back({at + ".shape." + axis, "no values given"});
    const AxisSpec& a = *std::find_if(spec->axes.begin(), spec->axes.end(), [&](const AxisSpec& x) { return x.name == axis; });
    for (int64_t v : values.values())
      if (v < a.min_value || v > kMaxAxisValue)
        out.push_back({at + ".shape." + axis, "value " + std::to_string(v) + " is out of range (" +
                                                  std::to_string(a.min_value) + " .. 2^40)"});
      else if (v % a.multiple_of != 0)
        out.push_back({at + ".shape." + axis, "value " + std::to_string(v) + " is not a multiple of " +
                                                  std::to_string(a.multiple_of) + " (" + a.description + ")"});
      else if (a.validate && !a.validate(v).empty())
        out.push_back({at + ".shape." + axis, "value " + std::to_string(v) + ": " + a.validate(v)});
  }
  for (int i = 0; i < sweep.dtypes_size(); ++i) {
    const std::string& d = sweep.dtypes(i);
    if (std::find(spec->dtypes.begin(), spec->dtypes.end(), d) == spec->dtypes.end())
      out.push_back({at + ".dtypes[" + std::to_string(i) + "]",
                     "kernel " + spec->name + " does not support dtype '" + quote_truncated(d) + "' (supported: " + join(spec->dtypes) + ")"});
  }
  for (int i = 0; i < sweep.modes_size(); ++i) {
    const auto m = parse_mode(sweep.modes(i));
    if (!m || std::find(spec->modes.begin(), spec->modes.end(), *m) == spec->modes.end()) {
      std::vector<std::string> names;
      for (Mode x : spec->modes) names.push_back(mode_name(x));
      out.push_back({at + ".modes[" + std::to_string(i) + "]",
                     "unknown mode '" + quote_truncated(sweep.modes(i)) + "' for " + spec->name + " (modes: " + join(names) + ")"});
    }
  }
  for (int i = 0; i < sweep.providers_size(); ++i)
    if (!parse_provider(sweep.providers(i)))
      out.push_back({at + ".providers[" + std::to_string(i) + "]",
                     "unknown provider '" + quote_truncated(sweep.providers(i)) + "' (providers: liger, baseline)"});
  validate_timing(sweep.timing(), at + ".timing", out);
  for (const auto& [name, value] : sweep.params()) {
    auto it = std::find_if(spec->params.begin(), spec->params.end(), [&](const ParamSpec& p) { return p.name == name; });
    if (it == spec->params.end()) {
      std::vector<std::string> names;
      for (const auto& p : spec->params) names.push_back(p.name);
      out.push_back({at + ".params." + name, "kernel " + spec->name + " has no parameter '" + quote_truncated(name) + "' (parameters: " +
                                                 (names.empty() ? std::string("none") : join(names)) + ")"});
      continue;
    }
    std::string why;
    if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(), value) == it->choices.end())
      why = "must be one of " + join(it->choices);
    else if (it->validate)
      why = it->validate(value);
    if (!why.empty()) out.push_back({at + ".params." + name, "bad value '" + quote_truncated(value) + "': " + why});
  }
}

// Range checks written so that NaN fails them (every comparison with NaN is false).
void check_range(std::vector<SpecProblem>& out, const std::string& path, bool has, double v, double lo, double hi,
                 bool lo_open = false) {
  if (!has) return;
  const bool above_lo = lo_open ? v > lo : v >= lo;
  if (above_lo && v <= hi) return;
  std::ostringstream os;
  os << "must be a finite number in " << (lo_open ? "(" : "[") << lo << ", " << hi << "], got " << v;
  out.push_back({path, os.str()});
}

void check_range(std::vector<SpecProblem>& out, const std::string& path, bool has, int64_t v, int64_t lo, int64_t hi) {
  if (!has || (v >= lo && v <= hi)) return;
  out.push_back({path, "must be at least " + std::to_string(lo) + " and at most " + std::to_string(hi) + ", got " +
                           std::to_string(v)});
}

uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

std::string locate_problem(const SpecProblem& p, const std::string& file_name, const SourceLines& lines) {
  const int line = line_of(lines, p.path);  // map keys like shape.T record their own line
  return file_name + (line ? ":" + std::to_string(line) : "") + ": key '" + p.path + "': " + p.message;
}

namespace {

std::string format_problems(const std::vector<SpecProblem>& problems, const std::string& file_name,
                            const SourceLines& lines) {
  std::ostringstream os;
  for (std::size_t i = 0; i < problems.size() && i < kMaxReportedProblems; ++i)
    os << (i ? "\n" : "") << locate_problem(problems[i], file_name, lines);
  if (problems.size() > kMaxReportedProblems)
    os << "\n" << file_name << ": ... and " << problems.size() - kMaxReportedProblems << " more problems";
  return os.str();
}

}  // namespace

std::vector<SpecProblem> validate_job(const v1::JobSpec& job) {
  std::vector<SpecProblem> out;
  if (job.cases_size() == 0) out.push_back({"cases", "the job has no cases"});
  for (int i = 0; i < job.cases_size(); ++i) validate_sweep(job.cases(i), "cases[" + std::to_string(i) + "]", out);
  for (int i = 0; i < job.devices_size(); ++i)
    if (!valid_device(job.devices(i)))
      out.push_back({"devices[" + std::to_string(i) + "]", "bad device '" + quote_truncated(job.devices(i)) + "' (cpu, cuda or cuda:N)"});
  // The ranges stated in job.proto.
  const auto& m = job.measurement();
  check_range(out, "measurement.warmup_runs", m.has_warmup_runs(), int64_t{m.warmup_runs()}, 0, 10000);
  check_range(out, "measurement.min_samples", m.has_min_samples(), int64_t{m.min_samples()}, 1, 1000000);
  check_range(out, "measurement.max_samples", m.has_max_samples(), int64_t{m.max_samples()},
              std::max(1, m.has_min_samples() ? m.min_samples() : 1), 1000000);
  check_range(out, "measurement.min_time_s", m.has_min_time_s(), m.min_time_s(), 0.0, 3600.0);
  check_range(out, "measurement.max_noise", m.has_max_noise(), m.max_noise(), 0.0, 1.0, /*lo_open=*/true);
  check_range(out, "measurement.timeout_s", m.has_timeout_s(), m.timeout_s(), 0.0, 3600.0, /*lo_open=*/true);
  check_range(out, "measurement.warmup_s", m.has_warmup_s(), m.warmup_s(), 0.0, 3600.0);
  check_range(out, "measurement.target_rel_ci", m.has_target_rel_ci(), m.target_rel_ci(), 0.0, 1.0, /*lo_open=*/true);
  check_range(out, "measurement.max_time_s", m.has_max_time_s(), m.max_time_s(),
              m.has_min_time_s() && m.min_time_s() >= 0 ? m.min_time_s() : 0.0, 3600.0);
  validate_timing(m.timing(), "measurement.timing", out);
  if (m.has_cold() && m.timing_size() > 0)
    out.push_back({"measurement.cold", "is the older form of measurement.timing; give one of them"});
  if (m.has_flush() && m.flush() != "memset" && m.flush() != "clean")
    out.push_back({"measurement.flush", "unknown flush '" + quote_truncated(m.flush()) + "' (memset or clean)"});
  check_range(out, "priority", true, int64_t{job.priority()}, kMinPriority, kMaxPriority);
  return out;
}

namespace {

v1::JobSpec to_job(const YAML::Node& root, const std::string& file_name) {
  v1::JobSpec job;
  SourceLines lines;
  yaml_to_message(root, &job, file_name, &lines);
  if (const auto problems = validate_job(job); !problems.empty()) throw InputError(format_problems(problems, file_name, lines));
  return job;
}

}  // namespace

v1::JobSpec parse_suite(const std::string& yaml_text, const std::string& file_name) {
  return to_job(parse_yaml(yaml_text, file_name), file_name);
}

v1::JobSpec load_suite(const std::string& path) { return to_job(load_yaml_file(path), path); }

uint64_t sweep_case_count(const v1::CaseSweep& sweep, std::size_t devices, const v1::MeasurementOptions& m) {
  if (!sweep.distributed().empty()) return 0;  // expand_distributed counts and bounds those
  const KernelSpec* spec = find_kernel(sweep.kernel());
  if (spec == nullptr) return 0;  // expand_case_specs skips it; validate_job reports it
  // The same defaults as expand_case_specs: an axis, dtype, mode or provider list not given counts
  // as its default.
  uint64_t n = devices;
  for (const auto& a : spec->axes) {
    auto it = sweep.shape().find(a.name);
    n = saturating_mul(n, it == sweep.shape().end() ? 1 : std::max(1, it->second.values_size()));
  }
  n = saturating_mul(n, std::max(1, sweep.dtypes_size()));
  n = saturating_mul(n, sweep.modes_size() ? sweep.modes_size() : default_modes(*spec).size());
  n = saturating_mul(n, sweep.providers_size() ? sweep.providers_size() : 2);
  n = saturating_mul(n, timing_kinds(sweep, m).size());
  return n;
}

uint64_t job_case_count(const v1::JobSpec& job, std::size_t devices) {
  uint64_t n = 0;
  for (const auto& sweep : job.cases()) n = saturating_add(n, sweep_case_count(sweep, devices, job.measurement()));
  return n;
}

void check_case_count(const v1::JobSpec& job, std::size_t devices, uint64_t max_cases, const std::string& where,
                      const std::string& raise_hint) {
  max_cases = std::min(max_cases, kMaxCasesPerJob);
  const uint64_t n = job_case_count(job, devices);
  if (n <= max_cases) return;
  throw InputError(where + ": the job expands to " + (n == UINT64_MAX ? std::string("2^64 or more") : std::to_string(n)) +
                   " cases, more than the " + std::to_string(max_cases) + " allowed" +
                   (raise_hint.empty() ? "" : " (" + raise_hint + ")"));
}

}  // namespace ligerbench
