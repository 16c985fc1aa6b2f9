#include "ligerbench/case_spec.h"

#include <algorithm>

#include "ligerbench/measure.h"
#include "ligerbench/registry.h"
#include "ligerbench/suite.h"

namespace ligerbench {
namespace {

// A sweep's lists with their defaults filled in, in expansion order.
struct SweepAxes {
  std::vector<std::pair<std::string, std::vector<int64_t>>> axes;  // in the kernel's axis order
  std::vector<std::string> dtypes, timings;
  std::vector<Mode> modes;
  std::vector<Provider> providers;  // baseline first
  std::map<std::string, std::string> params;
};

SweepAxes axes_of(const KernelSpec& spec, const v1::CaseSweep& sweep, const v1::MeasurementOptions& m) {
  SweepAxes s;
  for (const auto& a : spec.axes) {
    auto it = sweep.shape().find(a.name);
    std::vector<int64_t> vals;
    if (it != sweep.shape().end()) vals.assign(it->second.values().begin(), it->second.values().end());
    if (vals.empty()) vals.push_back(a.default_value);
    s.axes.emplace_back(a.name, vals);
  }
  s.dtypes.assign(sweep.dtypes().begin(), sweep.dtypes().end());
  if (s.dtypes.empty()) s.dtypes.push_back(spec.default_dtype);
  for (const auto& mode : sweep.modes()) s.modes.push_back(*parse_mode(mode));
  if (s.modes.empty()) s.modes = default_modes(spec);
  for (const auto& p : sweep.providers()) s.providers.push_back(*parse_provider(p));
  if (s.providers.empty()) s.providers = {Provider::kBaseline, Provider::kLiger};
  std::stable_sort(s.providers.begin(), s.providers.end(),
                   [](Provider a, Provider b) { return a == Provider::kBaseline && b != Provider::kBaseline; });
  for (const auto& p : spec.params) {
    auto it = sweep.params().find(p.name);
    s.params[p.name] = it != sweep.params().end() ? it->second : p.default_value;
  }
  s.timings = timing_kinds(sweep, m);
  return s;
}

// The key of a case, with or without its provider (the pair key); `params` is its params_label,
// built once per sweep by the caller.
std::string key_of(const v1::CaseSpec& c, const std::string& params, bool with_provider) {
  return c.kernel() + "|" + c.shape_label() + "|" + c.dtype() + "|" + c.mode() + "|" +
         (with_provider ? c.provider() + "|" : "") + params + "|" + c.device() + timing_key_suffix(c.timing_kind());
}

}  // namespace

std::string params_label(const std::map<std::string, std::string>& params) {
  std::string s;
  for (const auto& [k, v] : params) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s;
}

std::vector<v1::CaseSpec> expand_case_specs(const v1::JobSpec& job, const std::vector<std::string>& devices) {
  // Callers check their own (lower) limit first, with a message of their own; this one keeps
  // every caller from allocating without bound.
  check_case_count(job, devices.size(), kMaxCasesPerJob, "job", "");
  std::vector<v1::CaseSpec> cases;
  for (const auto& sweep : job.cases()) {
    const KernelSpec* spec = find_kernel(sweep.kernel());
    if (spec == nullptr || !sweep.distributed().empty()) continue;  // validate_job reports it; distributed: own expansion
    const SweepAxes s = axes_of(*spec, sweep, job.measurement());
    v1::CaseSpec point;  // the fields every case of the sweep shares
    point.set_kernel(spec->name);
    for (const auto& [k, v] : s.params) (*point.mutable_params())[k] = v;
    const std::string params = params_label(s.params);

    // Odometer over the axes.
    std::vector<std::size_t> idx(s.axes.size(), 0);
    while (true) {
      point.clear_shape();
      std::string shape_label;
      for (std::size_t i = 0; i < s.axes.size(); ++i) {
        auto* a = point.add_shape();
        a->set_name(s.axes[i].first);
        a->set_value(s.axes[i].second[idx[i]]);
        shape_label += (i ? "," : "") + a->name() + "=" + std::to_string(a->value());
      }
      point.set_shape_label(shape_label);
      for (const auto& device : devices)
        for (const auto& dt : s.dtypes)
          for (Mode mode : s.modes)
            for (const std::string& timing : s.timings)
              for (Provider prov : s.providers) {
                v1::CaseSpec c = point;
                c.set_device(device);
                c.set_dtype(dt);
                c.set_mode(mode_name(mode));
                c.set_timing_kind(timing);
                c.set_provider(provider_name(prov));
                c.set_key(key_of(c, params, /*with_provider=*/true));
                cases.push_back(std::move(c));
              }
      std::size_t k = 0;
      while (k < idx.size() && ++idx[k] == s.axes[k].second.size()) idx[k++] = 0;
      if (k == idx.size()) break;
    }
  }
  return cases;
}

Case resolve_case(const v1::CaseSpec& spec, uint64_t seed) {
  // The key whole: it comes from our own expansion, and it is what names the case everywhere.
  auto refuse = [&](const std::string& why) { return InputError("case '" + spec.key() + "': " + why); };
  Case c;
  c.spec = find_kernel(spec.kernel());
  if (c.spec == nullptr) throw refuse("no kernel '" + quote_truncated(spec.kernel()) + "' in this build's registry");
  const auto dtype = parse_dtype(spec.dtype());
  const auto mode = parse_mode(spec.mode());
  const auto provider = parse_provider(spec.provider());
  if (!dtype) throw refuse("unknown dtype '" + quote_truncated(spec.dtype()) + "'");
  if (!mode) throw refuse("unknown mode '" + quote_truncated(spec.mode()) + "'");
  if (!provider) throw refuse("unknown provider '" + quote_truncated(spec.provider()) + "'");
  if (!is_timing_kind(spec.timing_kind())) throw refuse("unknown timing kind '" + quote_truncated(spec.timing_kind()) + "'");
  try {
    c.config.device = at::Device(spec.device());
  } catch (const std::exception&) {
    throw refuse("bad device '" + quote_truncated(spec.device()) + "'");
  }
  c.case_spec = spec;
  for (const auto& a : spec.shape()) c.config.shape.emplace_back(a.name(), a.value());
  c.config.dtype = *dtype;
  c.config.params.insert(spec.params().begin(), spec.params().end());
  c.config.seed = seed;
  c.mode = *mode;
  c.provider = *provider;
  c.pair_key = key_of(spec, params_label(c.config.params), /*with_provider=*/false);
  return c;
}

std::vector<Case> expand_cases(const v1::JobSpec& job, const std::vector<std::string>& devices) {
  std::vector<Case> cases;
  const uint64_t seed = job.measurement().seed();
  for (const v1::CaseSpec& spec : expand_case_specs(job, devices)) cases.push_back(resolve_case(spec, seed));
  return cases;
}

}  // namespace ligerbench
