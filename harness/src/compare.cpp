// Verdicts of `compare`: matches cases by key, then decides each from its accuracy, peak memory
// and time (docs/COMPARE.md says why each rule is what it is).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "ligerbench/compare.h"
#include "ligerbench/input_error.h"

namespace ligerbench {
namespace {

std::string pct(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", 100 * (ratio - 1));
  return buf;
}

std::string num(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// FNV-1a: the case key seeds its own bootstrap, so a case's interval does not depend on which
// other cases the files hold or on their order.
uint64_t key_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

int severity(v1::Verdict v) {
  switch (v) {
    case v1::VERDICT_REGRESSION: return 0;
    case v1::VERDICT_MISSING: return 1;
    case v1::VERDICT_NOISY: return 2;
    case v1::VERDICT_IMPROVEMENT: return 3;
    default: return 4;
  }
}

std::vector<double> samples(const v1::CaseResult& r) {
  return {r.timing().samples_ms().begin(), r.timing().samples_ms().end()};
}

void fill_identity(const v1::CaseResult& r, v1::CaseComparison* c) {
  const v1::CaseSpec& s = r.spec();
  c->set_key(s.key());
  c->set_kernel(s.kernel());
  c->set_provider(s.provider());
  c->set_mode(s.mode());
  c->set_dtype(s.dtype());
  c->set_shape(s.shape_label());
  c->set_device(s.device());
}

}  // namespace

double case_threshold(const v1::CaseResult& b, const v1::CaseResult& cur, const CompareOptions& opt, std::string* why) {
  double t = opt.threshold;
  if ((b.throttled() || cur.throttled()) && opt.throttled_threshold > t) {
    t = opt.throttled_threshold;
    *why = std::string("clock-limited on the ") + (b.throttled() ? (cur.throttled() ? "both sides" : "baseline side") : "current side") +
           ": judged at " + num("%.3g%%", 100 * t);
  }
  const double base_ms = b.timing().median_ms();
  if (base_ms > 0 && opt.time_floor_ms / base_ms > t) {
    t = opt.time_floor_ms / base_ms;
    *why = "a change under " + num("%.3g", 1000 * opt.time_floor_ms) + " us does not count: judged at " + num("%.3g%%", 100 * t);
  }
  // Earlier runs of this build line moved the median by more than the rule above allows: a
  // change of that size is what a rerun does, not what the code did.
  auto h = opt.history.cases.find(b.spec().key());
  if (h != opt.history.cases.end() && h->second.spread > t) {
    t = h->second.spread;
    *why = "its median moved " + num("%.1f%%", 100 * t) + " between the baseline and " + std::to_string(h->second.runs) +
           " earlier run" + (h->second.runs == 1 ? "" : "s") + ": judged at " + num("%.1f%%", 100 * t);
  }
  return t;
}

namespace {

// What the time samples say: regression / improvement / same / noisy, with the reason.
v1::Verdict time_verdict(const v1::CaseResult& b, const v1::CaseResult& cur, const CompareOptions& opt,
                         v1::CaseComparison* c) {
  auto* t = c->mutable_time();
  t->set_baseline_median_ms(b.timing().median_ms());
  t->set_current_median_ms(cur.timing().median_ms());
  const auto sb = samples(b), sc = samples(cur);
  t->set_baseline_n(static_cast<int>(sb.size()));
  t->set_current_n(static_cast<int>(sc.size()));
  t->set_confidence(opt.confidence);
  if (static_cast<int>(sb.size()) < opt.min_samples || static_cast<int>(sc.size()) < opt.min_samples) {
    c->add_reasons("too few raw samples to compare (" + std::to_string(sb.size()) + " vs " +
                   std::to_string(sc.size()) + ", need " + std::to_string(opt.min_samples) +
                   "; keep_samples must be on)");
    return v1::VERDICT_NOISY;
  }
  const RatioInterval ci =
      bootstrap_median_ratio(sb, sc, opt.bootstrap_resamples, opt.confidence, opt.seed ^ key_hash(b.spec().key()));
  const double p = mann_whitney_p(sb, sc);
  t->set_compared(true);
  t->set_ratio(ci.ratio);
  t->set_ci_low(ci.low);
  t->set_ci_high(ci.high);
  t->set_mann_whitney_p(p);
  std::string raised;
  const double threshold = case_threshold(b, cur, opt, &raised);
  t->set_threshold(threshold);
  if (auto h = opt.history.cases.find(b.spec().key()); h != opt.history.cases.end()) {
    t->set_history_spread(h->second.spread);
    t->set_history_runs(h->second.runs);
  }
  if (!raised.empty()) c->add_reasons(raised);
  const double up = 1 + threshold, down = 1 / (1 + threshold);
  const std::string interval = "[" + pct(ci.low) + ", " + pct(ci.high) + "]";
  const bool significant = p < opt.alpha;
  if (ci.low > up || ci.high < down) {
    const bool slower = ci.low > up;
    if (!significant) {
      c->add_reasons("interval " + interval + " is past the threshold but the rank test is not significant (p " +
                     num("%.2g", p) + ")");
      return v1::VERDICT_NOISY;
    }
    c->add_reasons(std::string(slower ? "slower " : "faster ") + pct(ci.ratio) + ", interval " + interval);
    return slower ? v1::VERDICT_REGRESSION : v1::VERDICT_IMPROVEMENT;
  }
  // Same only when the whole interval is within the threshold; an interval that reaches past it
  // on one side but not wholly cannot tell "within" from "past" apart.
  if (ci.low < down || ci.high > up) {
    c->add_reasons("interval " + interval + " reaches past " + num("%.3g%%", 100 * threshold) +
                   " without being wholly past it: too wide to decide");
    return v1::VERDICT_NOISY;
  }
  if (significant && (ci.low > 1 || ci.high < 1))
    c->add_reasons(pct(ci.ratio) + ", interval " + interval + ": within the threshold");
  return v1::VERDICT_SAME;
}

// Accuracy always counts: a tensor that passed (or was not checked) and fails now, or one that
// failed already and whose error grew by more than kErrorGrowth, is a regression; a failure that
// is no worse than the baseline's is reported but not counted again.
constexpr double kErrorGrowth = 1.10;

bool accuracy_regressed(const v1::CaseResult& b, const v1::CaseResult& cur, v1::CaseComparison* c) {
  c->set_baseline_accuracy_passed(b.accuracy().passed());
  c->set_current_accuracy_passed(cur.accuracy().passed());
  if (!cur.accuracy().checked() || cur.accuracy().passed()) return false;
  std::map<std::string, const v1::TensorError*> before;
  if (b.accuracy().checked())
    for (const auto& e : b.accuracy().tensors()) before[e.name()] = &e;
  bool regressed = false, known = false;
  for (const auto& e : cur.accuracy().tensors()) {
    if (e.passed()) continue;
    auto it = before.find(e.name());
    const v1::TensorError* was = it == before.end() ? nullptr : it->second;
    const std::string figures = e.name() + " rel_l2 " + num("%.3g", e.rel_l2()) + (e.finite() ? "" : " (not finite)") +
                                ", tolerance " + num("%.3g", e.rel_l2_tol()) +
                                (was ? ", baseline " + num("%.3g", was->rel_l2()) : std::string());
    if (was != nullptr && !was->passed()) {
      const bool grew = e.rel_l2() > kErrorGrowth * was->rel_l2() || (was->finite() && !e.finite());
      if (grew) {
        c->add_reasons("accuracy: " + figures + ": failed before, error grew");
        regressed = true;
      } else {
        known = true;
      }
    } else {
      c->add_reasons("accuracy: " + figures + ": " + (was ? "passed before, fails now" : "fails (not checked before)"));
      regressed = true;
    }
  }
  if (!regressed && !known) {  // failed with no failing tensor listed
    c->add_reasons("accuracy: fails now");
    regressed = true;
  }
  if (!regressed) c->add_reasons("accuracy fails on both sides, no worse than the baseline");
  return regressed;
}

// Peak memory: growth past the threshold (and the floor) is a regression; a drop, an improvement.
int memory_change(const v1::CaseResult& b, const v1::CaseResult& cur, const CompareOptions& opt,
                  v1::CaseComparison* c) {
  if (!b.memory().measured() || !cur.memory().measured()) return 0;
  const int64_t pb = b.memory().peak_bytes(), pc = cur.memory().peak_bytes();
  c->set_baseline_peak_bytes(pb);
  c->set_current_peak_bytes(pc);
  if (pb <= 0) {
    if (pc > opt.memory_floor_bytes) {
      c->add_reasons("peak memory " + num("%.1f", pc / 1048576.0) + " MiB, was 0");
      return 1;
    }
    return 0;
  }
  const double ratio = static_cast<double>(pc) / static_cast<double>(pb);
  c->set_memory_ratio(ratio);
  const int64_t delta = pc - pb;
  if (std::llabs(delta) < opt.memory_floor_bytes) return 0;
  const std::string what = "peak memory " + pct(ratio) + " (" + num("%.1f", pb / 1048576.0) + " -> " +
                           num("%.1f", pc / 1048576.0) + " MiB)";
  if (ratio > 1 + opt.memory_threshold) {
    c->add_reasons(what);
    return 1;
  }
  if (ratio < 1 / (1 + opt.memory_threshold)) {
    c->add_reasons(what);
    return -1;
  }
  return 0;
}

v1::CaseComparison compare_case(const v1::CaseResult& b, const v1::CaseResult& cur, const CompareOptions& opt) {
  v1::CaseComparison c;
  fill_identity(cur, &c);
  if (!cur.ok() || !b.ok()) {
    c.mutable_time()->set_baseline_median_ms(b.timing().median_ms());
    c.mutable_time()->set_current_median_ms(cur.timing().median_ms());
    c.set_verdict(!cur.ok() && b.ok()   ? v1::VERDICT_REGRESSION
                  : cur.ok() && !b.ok() ? v1::VERDICT_IMPROVEMENT
                                        : v1::VERDICT_NOISY);
    c.add_reasons(!cur.ok() && b.ok() ? "errors now: " + (cur.error().empty() ? "(no message)" : cur.error().substr(0, 300))
                  : cur.ok()          ? "no longer errors (baseline: " + b.error().substr(0, 200) + ")"
                                      : "errors on both sides: " + cur.error().substr(0, 200));
    return c;
  }
  const bool accuracy_bad = accuracy_regressed(b, cur, &c);
  const bool accuracy_fixed = b.accuracy().checked() && !b.accuracy().passed() && cur.accuracy().checked() &&
                              cur.accuracy().passed();
  if (accuracy_fixed) c.add_reasons("accuracy: failed before, passes now");
  const int memory = memory_change(b, cur, opt, &c);
  const v1::Verdict time = time_verdict(b, cur, opt, &c);
  if (accuracy_bad || memory > 0 || time == v1::VERDICT_REGRESSION)
    c.set_verdict(v1::VERDICT_REGRESSION);
  else if (time == v1::VERDICT_NOISY)
    c.set_verdict(v1::VERDICT_NOISY);
  else if (accuracy_fixed || memory < 0 || time == v1::VERDICT_IMPROVEMENT)
    c.set_verdict(v1::VERDICT_IMPROVEMENT);
  else
    c.set_verdict(v1::VERDICT_SAME);
  return c;
}

// GPU models of a run: the device names its cases ran on ("cpu" for CPU cases).
std::string gpu_models(const v1::JobResult& r) {
  std::set<std::string> names;
  for (const auto& c : r.cases())
    if (!c.device_name().empty()) names.insert(c.device_name());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// What differs between two runs' environments: GPU model, driver, CUDA and LibTorch versions.
std::vector<v1::EnvironmentDifference> environment(const v1::JobResult& b, const v1::JobResult& cur) {
  const std::pair<std::string, std::pair<std::string, std::string>> fields[] = {
      {"gpu", {gpu_models(b), gpu_models(cur)}},
      {"driver", {b.node().driver_version(), cur.node().driver_version()}},
      {"cuda", {b.node().cuda_version(), cur.node().cuda_version()}},
      {"libtorch", {b.node().torch_version(), cur.node().torch_version()}},
  };
  std::vector<v1::EnvironmentDifference> out;
  for (const auto& [field, values] : fields) {
    if (values.first == values.second) continue;
    auto& d = out.emplace_back();
    d.set_field(field);
    d.set_baseline(values.first);
    d.set_current(values.second);
  }
  return out;
}

// A median that says something: a finite time above zero of a case that ran.
bool timed(const v1::CaseResult& c) {
  const double m = c.timing().median_ms();
  return c.ok() && std::isfinite(m) && m > 0;
}

}  // namespace

HistorySpread history_spread(const v1::JobResult& baseline, const std::vector<v1::JobResult>& runs,
                             const std::vector<std::string>& names) {
  HistorySpread h;
  std::map<std::string, double> base;  // key -> baseline median (the baseline's own spread is 0)
  for (const auto& c : baseline.cases())
    if (timed(c)) base[c.spec().key()] = c.timing().median_ms();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string name = i < names.size() ? names[i] : "run " + std::to_string(i + 1);
    const auto diff = environment(baseline, runs[i]);
    if (!diff.empty()) {
      std::string what;
      for (const auto& d : diff)
        what += (what.empty() ? "" : ", ") + d.field() + " '" + d.current() + "', baseline '" + d.baseline() + "'";
      h.warnings.push_back("--history " + name + " ignored, its environment differs from the baseline's: " + what);
      continue;
    }
    ++h.runs;
    for (const auto& c : runs[i].cases()) {
      auto it = base.find(c.spec().key());
      if (it == base.end() || !timed(c)) continue;
      CaseSpread& s = h.cases[it->first];
      s.spread = std::max(s.spread, std::abs(c.timing().median_ms() / it->second - 1));
      ++s.runs;
    }
  }
  return h;
}

void check_result_for_compare(const v1::JobResult& r, const std::string& name) {
  std::set<std::string> keys;
  for (int i = 0; i < r.cases_size(); ++i) {
    const auto& c = r.cases(i);
    const std::string where = name + ": cases[" + std::to_string(i) + "]";
    const std::string& key = c.spec().key();
    if (key.empty()) throw InputError(where + ": no spec.key");
    if (!keys.insert(key).second) throw InputError(where + ": key '" + key + "' appears twice");
    if (c.timing().samples_ms_size() > kMaxCompareSamples)
      throw InputError(where + " (" + key + "): " + std::to_string(c.timing().samples_ms_size()) +
                       " samples, at most " + std::to_string(kMaxCompareSamples));
    for (double v : c.timing().samples_ms())
      if (!std::isfinite(v) || v < 0)
        throw InputError(where + " (" + key + "): sample " + num("%g", v) + " ms is not a finite time");
    if (c.memory().peak_bytes() < 0) throw InputError(where + " (" + key + "): negative peak_bytes");
  }
}

std::string verdict_name(v1::Verdict v) {
  std::string n = v1::Verdict_Name(v);
  if (n.rfind("VERDICT_", 0) == 0) n = n.substr(8);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return n;
}

int verdict_count(const v1::ComparisonReport& r, v1::Verdict v) {
  auto it = r.counts().find(verdict_name(v));
  return it == r.counts().end() ? 0 : it->second;
}

v1::ComparisonReport compare_results(const v1::JobResult& baseline, const v1::JobResult& current,
                                     const CompareOptions& opt, const std::string& baseline_name,
                                     const std::string& current_name) {
  v1::ComparisonReport r;
  r.set_baseline(baseline_name);
  r.set_current(current_name);
  r.set_baseline_job_id(baseline.job_id());
  r.set_current_job_id(current.job_id());
  auto* s = r.mutable_settings();
  s->set_threshold(opt.threshold);
  s->set_memory_threshold(opt.memory_threshold);
  s->set_throttled_threshold(opt.throttled_threshold);
  s->set_time_floor_ms(opt.time_floor_ms);
  s->set_confidence(opt.confidence);
  s->set_alpha(opt.alpha);
  s->set_bootstrap_resamples(opt.bootstrap_resamples);
  s->set_seed(opt.seed);
  for (auto& d : environment(baseline, current)) *r.add_environment() = std::move(d);
  r.set_history_runs(opt.history.runs);
  for (const auto& w : opt.history.warnings) r.add_warnings(w);

  std::map<std::string, const v1::CaseResult*> base;
  for (const auto& c : baseline.cases()) base[c.spec().key()] = &c;
  std::set<std::string> seen;
  for (const auto& c : current.cases()) {
    if (!seen.insert(c.spec().key()).second) continue;  // a key twice (check_result_for_compare rejects it): the first counts
    auto it = base.find(c.spec().key());
    if (it == base.end()) {
      auto* m = r.add_cases();
      fill_identity(c, m);
      m->set_verdict(v1::VERDICT_MISSING);
      m->set_side("current");
      m->add_reasons("not in the baseline");
      continue;
    }
    *r.add_cases() = compare_case(*it->second, c, opt);
  }
  for (const auto& [key, c] : base) {
    if (seen.count(key)) continue;
    auto* m = r.add_cases();
    fill_identity(*c, m);
    m->set_verdict(v1::VERDICT_MISSING);
    m->set_side("baseline");
    m->add_reasons("in the baseline only");
  }
  std::stable_sort(r.mutable_cases()->begin(), r.mutable_cases()->end(),
                   [](const v1::CaseComparison& a, const v1::CaseComparison& b) {
                     const int sa = severity(a.verdict()), sb = severity(b.verdict());
                     return sa != sb ? sa < sb : a.key() < b.key();
                   });
  for (v1::Verdict v : {v1::VERDICT_REGRESSION, v1::VERDICT_MISSING, v1::VERDICT_NOISY, v1::VERDICT_IMPROVEMENT,
                        v1::VERDICT_SAME})
    (*r.mutable_counts())[verdict_name(v)] = 0;
  for (const auto& c : r.cases()) ++(*r.mutable_counts())[verdict_name(c.verdict())];
  return r;
}

}  // namespace ligerbench
