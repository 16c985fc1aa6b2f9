#include "ligerbench/suite.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "ligerbench/registry.h"

namespace ligerbench {
namespace {

constexpr int64_t kMaxAxisValue = int64_t{1} << 40;

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

void validate_sweep(const v1::CaseSweep& sweep, const std::string& at, std::vector<SpecProblem>& out) {
  const KernelSpec* spec = find_kernel(sweep.kernel());
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const auto& k : kernel_registry()) names.push_back(k.name);
    out.push_back({at + ".kernel", "unknown kernel '" + sweep.kernel() + "' (known: " + join(names) + ")"});
    return;
  }
  for (const auto& [axis, values] : sweep.shape()) {
    const bool known = std::any_of(spec->axes.begin(), spec->axes.end(), [&](const AxisSpec& a) { return a.name == axis; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& a : spec->axes) names.push_back(a.name);
      out.push_back({at + ".shape." + axis, "kernel " + spec->name + " has no axis '" + axis + "' (axes: " + join(names) + ")"});
      continue;
    }
    if (values.values_size() == 0) out.push_back({at + ".shape." + axis, "no values given"});
    for (int64_t v : values.values())
      if (v < 0 || v > kMaxAxisValue)
        out.push_back({at + ".shape." + axis, "value " + std::to_string(v) + " is out of range (0 .. 2^40)"});
  }
  for (int i = 0; i < sweep.dtypes_size(); ++i) {
    const std::string& d = sweep.dtypes(i);
    if (std::find(spec->dtypes.begin(), spec->dtypes.end(), d) == spec->dtypes.end())
      out.push_back({at + ".dtypes[" + std::to_string(i) + "]",
                     "kernel " + spec->name + " does not support dtype '" + d + "' (supported: " + join(spec->dtypes) + ")"});
  }
  for (int i = 0; i < sweep.modes_size(); ++i) {
    const auto m = parse_mode(sweep.modes(i));
    if (!m || std::find(spec->modes.begin(), spec->modes.end(), *m) == spec->modes.end()) {
      std::vector<std::string> names;
      for (Mode x : spec->modes) names.push_back(mode_name(x));
      out.push_back({at + ".modes[" + std::to_string(i) + "]",
                     "unknown mode '" + sweep.modes(i) + "' for " + spec->name + " (modes: " + join(names) + ")"});
    }
  }
  for (int i = 0; i < sweep.providers_size(); ++i)
    if (!parse_provider(sweep.providers(i)))
      out.push_back({at + ".providers[" + std::to_string(i) + "]",
                     "unknown provider '" + sweep.providers(i) + "' (providers: liger, baseline)"});
  for (const auto& [name, value] : sweep.params()) {
    auto it = std::find_if(spec->params.begin(), spec->params.end(), [&](const ParamSpec& p) { return p.name == name; });
    if (it == spec->params.end()) {
      std::vector<std::string> names;
      for (const auto& p : spec->params) names.push_back(p.name);
      out.push_back({at + ".params." + name, "kernel " + spec->name + " has no parameter '" + name + "' (parameters: " +
                                                 (names.empty() ? std::string("none") : join(names)) + ")"});
      continue;
    }
    std::string why;
    if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(), value) == it->choices.end())
      why = "must be one of " + join(it->choices);
    else if (it->validate)
      why = it->validate(value);
    if (!why.empty()) out.push_back({at + ".params." + name, "bad value '" + value + "': " + why});
  }
}

}  // namespace

std::vector<SpecProblem> validate_job(const v1::JobSpec& job) {
  std::vector<SpecProblem> out;
  if (job.cases_size() == 0) out.push_back({"cases", "the job has no cases"});
  for (int i = 0; i < job.cases_size(); ++i) validate_sweep(job.cases(i), "cases[" + std::to_string(i) + "]", out);
  for (int i = 0; i < job.devices_size(); ++i)
    if (!valid_device(job.devices(i)))
      out.push_back({"devices[" + std::to_string(i) + "]", "bad device '" + job.devices(i) + "' (cpu, cuda or cuda:N)"});
  const auto& m = job.measurement();
  if (m.has_min_samples() && m.min_samples() < 1) out.push_back({"measurement.min_samples", "must be at least 1"});
  if (m.has_max_samples() && m.max_samples() < std::max(1, m.min_samples()))
    out.push_back({"measurement.max_samples", "must be at least min_samples"});
  if (m.has_warmup_runs() && m.warmup_runs() < 0) out.push_back({"measurement.warmup_runs", "must not be negative"});
  if (m.has_timeout_s() && m.timeout_s() <= 0) out.push_back({"measurement.timeout_s", "must be positive"});
  if (m.has_max_noise() && m.max_noise() <= 0) out.push_back({"measurement.max_noise", "must be positive"});
  if (m.has_min_time_s() && m.min_time_s() < 0) out.push_back({"measurement.min_time_s", "must not be negative"});
  return out;
}

v1::JobSpec parse_suite(const std::string& yaml_text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(file_name + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  v1::JobSpec job;
  SourceLines lines;
  yaml_to_message(root, &job, file_name, &lines);
  const auto problems = validate_job(job);
  if (!problems.empty()) {
    std::ostringstream os;
    for (const auto& p : problems) {
      // The nearest enclosing path that has a line (map keys like shape.T record their own).
      std::string path = p.path;
      int line = 0;
      while (!path.empty()) {
        if (auto it = lines.find(path); it != lines.end()) {
          line = it->second;
          break;
        }
        const auto cut = path.find_last_of(".[");
        path = cut == std::string::npos ? "" : path.substr(0, cut);
      }
      os << file_name << (line ? ":" + std::to_string(line) : "") << ": key '" << p.path << "': " << p.message << "\n";
    }
    std::string msg = os.str();
    msg.pop_back();
    throw InputError(msg);
  }
  return job;
}

v1::JobSpec load_suite(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the suite file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_suite(ss.str(), path);
}

std::vector<Case> expand_cases(const v1::JobSpec& job, const std::vector<std::string>& devices) {
  std::vector<Case> cases;
  const uint64_t seed = job.measurement().seed();
  for (const auto& sweep : job.cases()) {
    const KernelSpec* spec = find_kernel(sweep.kernel());
    if (spec == nullptr) continue;  // validate_job reports it
    // Axis values in the spec's order; missing axes take their default.
    std::vector<std::pair<std::string, std::vector<int64_t>>> axes;
    for (const auto& a : spec->axes) {
      auto it = sweep.shape().find(a.name);
      std::vector<int64_t> vals;
      if (it != sweep.shape().end()) vals.assign(it->second.values().begin(), it->second.values().end());
      if (vals.empty()) vals.push_back(a.default_value);
      axes.emplace_back(a.name, vals);
    }
    std::vector<std::string> dtypes(sweep.dtypes().begin(), sweep.dtypes().end());
    if (dtypes.empty()) dtypes.push_back(spec->default_dtype);
    std::vector<Mode> modes;
    for (const auto& m : sweep.modes()) modes.push_back(*parse_mode(m));
    if (modes.empty()) modes = spec->modes;
    std::vector<Provider> providers;
    for (const auto& p : sweep.providers()) providers.push_back(*parse_provider(p));
    if (providers.empty()) providers = {Provider::kBaseline, Provider::kLiger};
    std::stable_sort(providers.begin(), providers.end(), [](Provider a, Provider b) {
      return a == Provider::kBaseline && b != Provider::kBaseline;
    });
    std::map<std::string, std::string> params;
    for (const auto& p : spec->params) {
      auto it = sweep.params().find(p.name);
      params[p.name] = it != sweep.params().end() ? it->second : p.default_value;
    }
    std::string params_label;
    for (const auto& [k, v] : params) params_label += (params_label.empty() ? "" : ",") + k + "=" + v;

    // Odometer over the axes.
    std::vector<std::size_t> idx(axes.size(), 0);
    while (true) {
      std::vector<std::pair<std::string, int64_t>> shape;
      std::string shape_label;
      for (std::size_t i = 0; i < axes.size(); ++i) {
        shape.emplace_back(axes[i].first, axes[i].second[idx[i]]);
        shape_label += (i ? "," : "") + axes[i].first + "=" + std::to_string(axes[i].second[idx[i]]);
      }
      for (const auto& device : devices)
        for (const auto& dt : dtypes)
          for (Mode mode : modes)
            for (Provider prov : providers) {
              Case c;
              c.spec = spec;
              c.config.shape = shape;
              c.config.dtype = *parse_dtype(dt);
              c.config.device = at::Device(device);
              c.config.params = params;
              c.config.seed = seed;
              c.mode = mode;
              c.provider = prov;
              c.shape_label = shape_label;
              c.pair_key = spec->name + "|" + shape_label + "|" + dt + "|" + mode_name(mode) + "|" + params_label + "|" + device;
              c.key = spec->name + "|" + shape_label + "|" + dt + "|" + mode_name(mode) + "|" + provider_name(prov) + "|" +
                      params_label + "|" + device;
              cases.push_back(std::move(c));
            }
      std::size_t k = 0;
      while (k < idx.size() && ++idx[k] == axes[k].second.size()) idx[k++] = 0;
      if (k == idx.size()) break;
    }
  }
  return cases;
}

}  // namespace ligerbench
