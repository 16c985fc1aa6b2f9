#include "report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "args.h"
#include "ligerbench/report.h"

namespace ligerbench::cli {
namespace {

constexpr const char* kUsage = "usage: ligerbench report RESULTS.json [CURRENT.json] --html FILE\n"
                               "  one file: its report; two: the second against the first (ratio of medians)\n";

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Colours per series name: the two providers fixed, anything else from a palette in order seen.
class Palette {
 public:
  std::string operator()(const std::string& series) {
    if (series.rfind("liger", 0) == 0 && series.find("baseline") == std::string::npos && fixed_) return "#1f77b4";
    if (series.rfind("baseline", 0) == 0 && fixed_) return "#ff7f0e";
    auto it = seen_.find(series);
    if (it == seen_.end()) it = seen_.emplace(series, kColors[seen_.size() % 8]).first;
    return it->second;
  }
  explicit Palette(bool provider_colours) : fixed_(provider_colours) {}

 private:
  static constexpr const char* kColors[8] = {"#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                             "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  bool fixed_;
  std::map<std::string, std::string> seen_;
};

struct Bar {
  std::string row;     // the row's label
  std::string series;  // one bar per series within a row
  double value;
};

// Horizontal bars, one row per label, one bar per series in it; a dashed line at `reference`
// (when > 0). Values must be positive; the scale runs from 0 to the largest value.
std::string bar_chart(const std::string& id, const std::vector<Bar>& bars, const std::string& unit,
                      const char* value_fmt, double reference) {
  std::vector<std::string> rows, series;
  for (const auto& b : bars) {
    if (std::find(rows.begin(), rows.end(), b.row) == rows.end()) rows.push_back(b.row);
    if (std::find(series.begin(), series.end(), b.series) == series.end()) series.push_back(b.series);
  }
  double vmax = reference;
  for (const auto& b : bars) vmax = std::max(vmax, b.value);
  if (!(vmax > 0)) vmax = 1;
  const int label_w = 330, plot_w = 460, bar_h = 11, gap = 6;
  const int row_h = static_cast<int>(series.size()) * bar_h + gap, top = 24;
  const int height = top + static_cast<int>(rows.size()) * row_h + 30;
  const auto x_of = [&](double v) { return label_w + plot_w * v / (vmax * 1.08); };
  Palette colour(true);
  std::ostringstream o;
  o << "<svg class=\"chart\" data-chart=\"" << esc(id) << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\""
    << label_w + plot_w + 90 << "\" height=\"" << height << "\">\n";
  // legend
  int lx = label_w;
  for (const auto& s : series) {
    o << "<rect x=\"" << lx << "\" y=\"6\" width=\"10\" height=\"10\" fill=\"" << colour(s) << "\"/><text x=\"" << lx + 14
      << "\" y=\"15\">" << esc(s) << "</text>\n";
    lx += 24 + 7 * static_cast<int>(s.size());
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int y0 = top + static_cast<int>(r) * row_h;
    o << "<text class=\"row\" x=\"" << label_w - 6 << "\" y=\"" << y0 + row_h / 2 + 3 << "\" text-anchor=\"end\">"
      << esc(rows[r]) << "</text>\n";
    for (const auto& b : bars) {
      if (b.row != rows[r]) continue;
      const int k = static_cast<int>(std::find(series.begin(), series.end(), b.series) - series.begin());
      const int y = y0 + k * bar_h;
      const double w = std::max(1.0, x_of(b.value) - label_w);
      o << "<rect class=\"point\" data-series=\"" << esc(b.series) << "\" data-label=\"" << esc(b.row)
        << "\" data-value=\"" << num("%.6g", b.value) << "\" x=\"" << label_w << "\" y=\"" << y << "\" width=\""
        << num("%.1f", w) << "\" height=\"" << bar_h - 1 << "\" fill=\"" << colour(b.series) << "\"><title>"
        << esc(b.row + " " + b.series + ": " + num(value_fmt, b.value) + unit) << "</title></rect>"
        << "<text x=\"" << num("%.1f", label_w + w + 3) << "\" y=\"" << y + bar_h - 2 << "\" class=\"value\">"
        << esc(num(value_fmt, b.value) + unit) << "</text>\n";
    }
  }
  const int axis_y = top + static_cast<int>(rows.size()) * row_h;
  o << "<line x1=\"" << label_w << "\" y1=\"" << top - 2 << "\" x2=\"" << label_w << "\" y2=\"" << axis_y
    << "\" stroke=\"#444\"/>\n";
  if (reference > 0) {
    const double x = x_of(reference);
    o << "<line class=\"reference\" x1=\"" << num("%.1f", x) << "\" y1=\"" << top - 2 << "\" x2=\"" << num("%.1f", x)
      << "\" y2=\"" << axis_y << "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"" << num("%.1f", x)
      << "\" y=\"" << axis_y + 14 << "\" text-anchor=\"middle\">" << esc(num(value_fmt, reference) + unit) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

struct LinePoint {
  std::string series;
  std::size_t x;  // index into the chart's categories
  double value;
};

// Points joined per series over categorical x (shapes), on a log-scaled y axis.
std::string line_chart(const std::string& id, const std::vector<std::string>& categories,
                       const std::vector<LinePoint>& points, const std::string& unit) {
  double lo = INFINITY, hi = 0;
  for (const auto& p : points) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  if (!(hi > 0)) lo = hi = 1;
  const double l0 = std::floor(std::log10(lo)), l1 = std::max(l0 + 1, std::ceil(std::log10(hi)));
  const int left = 60, width = 380, top = 30, height = 170;
  const double step = categories.size() > 1 ? static_cast<double>(width) / (categories.size() - 1) : 0;
  const auto x_of = [&](std::size_t i) { return left + (categories.size() > 1 ? i * step : width / 2.0); };
  const auto y_of = [&](double v) { return top + height * (l1 - std::log10(v)) / (l1 - l0); };
  std::map<std::string, std::vector<const LinePoint*>> by_series;
  for (const auto& p : points) by_series[p.series].push_back(&p);
  Palette colour(false);
  std::ostringstream o;
  o << "<svg class=\"chart\" data-chart=\"" << esc(id) << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\""
    << left + width + 170 << "\" height=\"" << top + height + 60 << "\">\n";
  for (double e = l0; e <= l1; ++e) {
    const double y = y_of(std::pow(10, e));
    o << "<line x1=\"" << left << "\" x2=\"" << left + width << "\" y1=\"" << num("%.1f", y) << "\" y2=\""
      << num("%.1f", y) << "\" stroke=\"#ddd\"/><text x=\"" << left - 4 << "\" y=\"" << num("%.1f", y + 4)
      << "\" text-anchor=\"end\">" << esc(num("%g", std::pow(10, e)) + unit) << "</text>\n";
  }
  for (std::size_t i = 0; i < categories.size(); ++i)
    o << "<text class=\"category\" x=\"" << num("%.1f", x_of(i)) << "\" y=\"" << top + height + 16
      << "\" text-anchor=\"middle\">" << esc(categories[i]) << "</text>\n";
  int ly = top;
  for (const auto& [series, pts] : by_series) {
    std::vector<const LinePoint*> sorted = pts;
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->x < b->x; });
    const std::string c = colour(series);
    o << "<polyline fill=\"none\" stroke=\"" << c << "\" points=\"";
    for (const auto* p : sorted) o << num("%.1f", x_of(p->x)) << "," << num("%.1f", y_of(p->value)) << " ";
    o << "\"/>\n";
    for (const auto* p : sorted)
      o << "<circle class=\"point\" data-series=\"" << esc(series) << "\" data-label=\"" << esc(categories[p->x])
        << "\" data-value=\"" << num("%.6g", p->value) << "\" cx=\"" << num("%.1f", x_of(p->x)) << "\" cy=\""
        << num("%.1f", y_of(p->value)) << "\" r=\"3.5\" fill=\"" << c << "\"><title>"
        << esc(series + " " + categories[p->x] + ": " + num("%.4g", p->value) + unit) << "</title></circle>\n";
    o << "<rect x=\"" << left + width + 12 << "\" y=\"" << ly << "\" width=\"10\" height=\"10\" fill=\"" << c
      << "\"/><text x=\"" << left + width + 26 << "\" y=\"" << ly + 9 << "\">" << esc(series) << "</text>\n";
    ly += 15;
  }
  o << "</svg>\n";
  return o.str();
}

std::string case_row(const v1::CaseResult& r) {
  const v1::CaseSpec& c = r.spec();
  return c.kernel() + " " + c.mode() + " " + c.dtype() + " " + c.shape_label() + (c.device() == "cpu" ? "" : " " + c.device());
}

std::string section(const std::string& id, const std::string& title, const std::string& what, const std::string& body) {
  return "<section id=\"" + esc(id) + "\"><h2>" + esc(title) + "</h2><p class=\"what\">" + esc(what) + "</p>\n" + body +
         "</section>\n";
}

std::string not_measured(const std::string& id, const std::string& why) {
  return "<p class=\"empty\" data-empty=\"" + esc(id) + "\">" + esc(why) + "</p>\n";
}

std::string node_line(const NamedResult& r) {
  const auto& n = r.result.node();
  std::string devices;
  for (const auto& d : n.devices()) devices += (devices.empty() ? "" : ", ") + d;
  std::string s = esc(r.name) + ": job " + esc(r.result.job_id().empty() ? "-" : r.result.job_id()) + ", " +
                  std::to_string(r.result.cases_size()) + " cases, " + std::to_string(r.result.failed_cases()) +
                  " failed; node " + esc(n.hostname()) + ", ligerbench " + esc(n.ligerbench_version()) + ", torch " +
                  esc(n.torch_version());
  if (!n.cuda_version().empty()) s += ", CUDA " + esc(n.cuda_version()) + ", driver " + esc(n.driver_version());
  s += "; devices " + esc(devices);
  if (n.copy_bandwidth_gb_per_s() > 0)
    s += "; ceilings: copy " + num("%.0f", n.copy_bandwidth_gb_per_s()) + " GB/s, bf16 matmul " +
         num("%.0f", n.matmul_tflop_per_s()) + " TFLOP/s";
  if (!r.result.started_at().empty()) s += "; " + esc(r.result.started_at()) + " to " + esc(r.result.finished_at());
  return "<p class=\"node\">" + s + "</p>\n";
}

std::string speedup_section(const v1::JobResult& r) {
  // Geometric mean of liger's speedup over each kernel's shapes, per dtype (row) and mode (bar).
  std::map<std::pair<std::string, std::string>, std::pair<double, int>> acc;
  for (const auto& c : r.cases())
    if (c.ok() && c.spec().provider() == "liger" && c.speedup() > 0) {
      auto& a = acc[{c.spec().kernel() + " " + c.spec().dtype(), c.spec().mode()}];
      a.first += std::log(c.speedup());
      a.second += 1;
    }
  std::vector<Bar> bars;
  for (const auto& [k, a] : acc) bars.push_back({k.first, k.second, std::exp(a.first / a.second)});
  return section("speedup", "Speedup per kernel",
                 "Geometric mean over shapes of baseline median latency / liger median latency; the dashed line is 1x.",
                 bars.empty() ? not_measured("speedup", "No liger case has a baseline pair in this file.")
                              : bar_chart("speedup", bars, "x", "%.2f", 1.0));
}

std::string latency_section(const v1::JobResult& r) {
  // One chart per kernel and mode: x the shapes (ordered by the bytes the case must move), one
  // line per provider and dtype.
  std::map<std::string, std::vector<const v1::CaseResult*>> by_chart;
  for (const auto& c : r.cases())
    if (c.ok() && c.timing().median_ms() > 0) by_chart[c.spec().kernel() + " " + c.spec().mode()].push_back(&c);
  std::string body;
  for (const auto& [title, cases] : by_chart) {
    std::map<std::string, double> bytes;  // shape -> smallest bytes model seen, for ordering
    for (const auto* c : cases) {
      auto [it, fresh] = bytes.emplace(c->spec().shape_label(), c->throughput().bytes());
      if (!fresh) it->second = std::min(it->second, c->throughput().bytes());
    }
    std::vector<std::string> shapes;
    for (const auto& [s, b] : bytes) shapes.push_back(s);
    std::stable_sort(shapes.begin(), shapes.end(), [&](const auto& a, const auto& b) { return bytes[a] < bytes[b]; });
    std::vector<LinePoint> pts;
    for (const auto* c : cases) {
      const auto x =
          static_cast<std::size_t>(std::find(shapes.begin(), shapes.end(), c->spec().shape_label()) - shapes.begin());
      pts.push_back({c->spec().provider() + " " + c->spec().dtype(), x, c->timing().median_ms()});
    }
    body += "<figure><figcaption>" + esc(title) + "</figcaption>\n" +
            line_chart("latency:" + title, shapes, pts, " ms") + "</figure>\n";
  }
  return section("latency", "Latency against shape",
                 "Median latency (log scale) per shape, one line per provider and dtype; shapes ordered by the bytes "
                 "the case must move.",
                 body.empty() ? not_measured("latency", "No case ran successfully.") : "<div class=\"grid\">" + body + "</div>");
}

std::string copy_section(const v1::JobResult& r) {
  std::vector<Bar> bars;
  for (const auto& c : r.cases())
    if (c.ok() && c.throughput().size_matched_fraction() > 0)
      bars.push_back({case_row(c), c.spec().provider(), 100 * c.throughput().size_matched_fraction()});
  return section("copy", "%copy",
                 "Achieved bandwidth over a device copy of the same bytes, timed the same way (hot or cold): how "
                 "close a memory-bound case gets to what its size allows.",
                 bars.empty() ? not_measured("copy", "No %copy figures: the size-matched copy is measured on CUDA "
                                                     "devices only, and these cases ran elsewhere.")
                              : bar_chart("copy", bars, "%", "%.0f", 100.0));
}

std::string memory_section(const v1::JobResult& r) {
  std::vector<Bar> bars;
  for (const auto& c : r.cases())
    if (c.ok() && c.memory().measured())
      bars.push_back({case_row(c), c.spec().provider(), c.memory().peak_bytes() / 1048576.0});
  return section("memory", "Peak memory, liger against baseline",
                 "Peak bytes allocated during the case above what was allocated before it (CUDA caching allocator).",
                 bars.empty() ? not_measured("memory", "No peak memory figures: memory is measured by the CUDA caching "
                                                       "allocator only, and these cases ran elsewhere.")
                              : bar_chart("memory", bars, " MiB", "%.1f", 0));
}

std::string error_section(const v1::JobResult& r) {
  std::ostringstream o;
  o << "<table class=\"errors\"><thead><tr><th>kernel</th><th>provider</th><th>mode</th><th>dtype</th><th>shape</th>"
       "<th>device</th><th>tensor</th><th>max abs</th><th>max rel</th><th>rel L2</th><th>rel L2 tol</th><th>atol</th>"
       "<th>rtol</th><th>finite</th><th>verdict</th></tr></thead><tbody>\n";
  int rows = 0;
  for (const auto& c : r.cases()) {
    const v1::CaseSpec& id = c.spec();
    const std::string head = "<td>" + esc(id.kernel()) + "</td><td>" + esc(id.provider()) + "</td><td>" + esc(id.mode()) +
                             "</td><td>" + esc(id.dtype()) + "</td><td>" + esc(id.shape_label()) + "</td><td>" +
                             esc(id.device()) + "</td>";
    if (!c.ok()) {
      o << "<tr class=\"error\">" << head << "<td colspan=\"8\">" << esc(c.error()) << "</td><td>error</td></tr>\n";
      ++rows;
      continue;
    }
    for (const auto& t : c.accuracy().tensors()) {
      o << "<tr class=\"" << (t.passed() ? "pass" : "fail") << "\">" << head << "<td>" << esc(t.name()) << "</td><td>"
        << num("%.3g", t.max_abs()) << "</td><td>" << num("%.3g", t.max_rel()) << "</td><td>" << num("%.3g", t.rel_l2())
        << "</td><td>" << num("%.3g", t.rel_l2_tol()) << "</td><td>" << num("%.3g", t.atol()) << "</td><td>"
        << num("%.3g", t.rtol()) << "</td><td>" << (t.finite() ? "yes" : "no") << "</td><td>"
        << (t.passed() ? "pass" : "FAIL") << "</td></tr>\n";
      ++rows;
    }
  }
  o << "</tbody></table>\n";
  return section("errors", "Numerical error",
                 "Each output and gradient against the float64 reference: pass when |x - ref| <= atol + rtol |ref| "
                 "everywhere, rel L2 within its tolerance and every value finite.",
                 rows ? o.str() : not_measured("errors", "No case was checked against its reference."));
}

std::string comparison_section(const NamedResult& base, const NamedResult& cur) {
  std::map<std::string, const v1::CaseResult*> old;
  for (const auto& c : base.result.cases()) old[c.spec().key()] = &c;
  std::vector<Bar> bars;
  std::ostringstream table;
  table << "<table class=\"comparison\"><thead><tr><th>case</th><th>provider</th><th>baseline median ms</th>"
           "<th>current median ms</th><th>current / baseline</th></tr></thead><tbody>\n";
  std::vector<std::string> only_current;
  for (const auto& c : cur.result.cases()) {
    auto it = old.find(c.spec().key());
    if (it == old.end()) {
      only_current.push_back(c.spec().key());
      continue;
    }
    const auto* b = it->second;
    old.erase(it);
    if (!c.ok() || !b->ok() || b->timing().median_ms() <= 0 || c.timing().median_ms() <= 0) {
      table << "<tr class=\"error\"><td>" << esc(case_row(c)) << "</td><td>" << esc(c.spec().provider())
            << "</td><td colspan=\"3\">" << (b->ok() ? "" : "baseline: " + esc(b->error()) + " ")
            << (c.ok() ? "" : "current: " + esc(c.error())) << "</td></tr>\n";
      continue;
    }
    const double ratio = c.timing().median_ms() / b->timing().median_ms();
    bars.push_back({case_row(c), c.spec().provider(), ratio});
    table << "<tr><td>" << esc(case_row(c)) << "</td><td>" << esc(c.spec().provider()) << "</td><td>"
          << num("%.4f", b->timing().median_ms()) << "</td><td>" << num("%.4f", c.timing().median_ms())
          << "</td><td>" << num("%.3f", ratio) << "</td></tr>\n";
  }
  table << "</tbody></table>\n";
  std::string missing;
  for (const auto& [k, c] : old) missing += "<li>only in " + esc(base.name) + ": " + esc(k) + "</li>\n";
  for (const auto& k : only_current) missing += "<li>only in " + esc(cur.name) + ": " + esc(k) + "</li>\n";
  return section("comparison", "Comparison: " + cur.name + " against " + base.name,
                 "Current median latency / baseline median latency per case, matched by case key (above 1: slower). "
                 "A plain ratio of medians; `ligerbench compare` gives verdicts with their statistics.",
                 (bars.empty() ? not_measured("comparison", "No case ran in both files.")
                               : bar_chart("comparison", bars, "", "%.3f", 1.0)) +
                     table.str() + (missing.empty() ? "" : "<ul class=\"missing\">" + missing + "</ul>\n"));
}

constexpr const char* kStyle = R"(body{font:13px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ccc}
.what,.node{color:#555}.empty{color:#a40;font-style:italic}
svg text{font:11px system-ui,sans-serif;fill:#222}.grid{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;border:1px solid #eee}figcaption{font-weight:600;padding:4px 8px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
td:nth-child(-n+7),th{text-align:left}tr.fail td,tr.error td{background:#fde2e1}
)";

}  // namespace

std::string render_html_report(const std::vector<NamedResult>& results) {
  const NamedResult& cur = results.back();
  std::string title = "ligerbench report: " + cur.name;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
                     "</title><style>" + kStyle + "</style></head><body>\n<h1>" + esc(title) + "</h1>\n";
  for (const auto& r : results) html += node_line(r);
  if (results.size() == 2) html += comparison_section(results[0], results[1]);
  html += speedup_section(cur.result) + latency_section(cur.result) + copy_section(cur.result) +
          memory_section(cur.result) + error_section(cur.result);
  return html + "</body></html>\n";
}

int run_report_command(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv, 2, {"--html"}, {});
    if (a.positional.empty() || a.positional.size() > 2) throw InputError("report needs one or two result files");
    const std::string out = a.get("--html");
    if (out.empty()) throw InputError("report needs --html FILE");
    std::vector<NamedResult> results;
    for (const auto& p : a.positional) results.push_back({p, read_result_file(p)});
    const std::string html = render_html_report(results);
    const std::string tmp = out + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary);
      if (!f) throw InputError(out + ": cannot open for writing");
      f << html;
      if (!f.flush()) throw InputError(out + ": write failed");
    }
    if (std::rename(tmp.c_str(), out.c_str()) != 0) throw InputError(out + ": cannot rename " + tmp + " into place");
    std::cerr << "report written to " << out << " (" << html.size() << " bytes)\n";
    return 0;
  } catch (const InputError& e) {
    std::cerr << "ligerbench report: " << e.what() << "\n" << kUsage;
    return 2;
  }
}

}  // namespace ligerbench::cli
