// The outputs of `compare`: terminal table, Markdown summary, JUnit XML.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <vector>

#include "ligerbench/compare.h"
#include "ligerbench/report.h"
#include "ligerbench/timestamps.h"

namespace ligerbench {
namespace {

std::string joined_reasons(const v1::CaseComparison& c) {
  std::string out;
  for (const auto& r : c.reasons()) out += (out.empty() ? "" : "; ") + r;
  return out;
}

std::string ratio_cell(const v1::CaseComparison& c) { return c.time().compared() ? format_value("%.3fx", c.time().ratio()) : "-"; }

std::string interval_cell(const v1::CaseComparison& c) {
  return c.time().compared() ? format_value("%.3f", c.time().ci_low()) + "-" + format_value("%.3f", c.time().ci_high()) : "-";
}

std::string ms_cell(double ms, bool present) { return present && ms > 0 ? format_value("%.4f", ms) : "-"; }

std::string p_cell(const v1::CaseComparison& c) { return c.time().compared() ? format_value("%.2g", c.time().mann_whitney_p()) : "-"; }

std::string memory_cell(const v1::CaseComparison& c) {
  return c.memory_ratio() > 0 ? format_value("%.3fx", c.memory_ratio()) : "-";
}

// The cells every output shows, in one order.
std::vector<std::string> cells(const v1::CaseComparison& c) {
  const bool timed = c.verdict() != v1::VERDICT_MISSING;
  return {verdict_name(c.verdict()),
          c.kernel(),
          c.shape(),
          c.dtype(),
          c.mode(),
          c.provider(),
          c.device(),
          ms_cell(c.time().baseline_median_ms(), timed),
          ms_cell(c.time().current_median_ms(), timed),
          ratio_cell(c),
          interval_cell(c),
          p_cell(c),
          memory_cell(c),
          joined_reasons(c)};
}

std::vector<std::string> header(const v1::ComparisonReport& r) {
  return {"verdict", "kernel", "shape", "dtype", "mode", "provider", "device", "base ms", "cur ms", "ratio",
          format_value("%.0f%% CI", 100 * r.settings().confidence()), "p", "memory", "why"};
}

std::string counts_line(const v1::ComparisonReport& r) {
  std::string out;
  for (v1::Verdict v : {v1::VERDICT_REGRESSION, v1::VERDICT_MISSING, v1::VERDICT_NOISY, v1::VERDICT_IMPROVEMENT,
                        v1::VERDICT_SAME})
    out += (out.empty() ? "" : ", ") + std::to_string(verdict_count(r, v)) + " " + verdict_name(v);
  return out;
}

// With --history: the earlier runs whose spread can raise a case's threshold (every warning so
// far is a history run left out).
std::string history_note(const v1::ComparisonReport& r) {
  if (r.history_runs() == 0 && r.warnings_size() == 0) return "";
  return "; raised to a case's median spread over " + std::to_string(r.history_runs()) + " earlier run" +
         (r.history_runs() == 1 ? "" : "s") + (r.warnings_size() ? ", " + std::to_string(r.warnings_size()) + " ignored" : "");
}

std::string settings_line(const v1::ComparisonReport& r) {
  const auto& s = r.settings();
  return "threshold " + format_value("%.3g%%", 100 * s.threshold()) + " (time; " + format_value("%.3g%%", 100 * s.throttled_threshold()) +
         " clock-limited; changes under " + format_value("%.3g", 1000 * s.time_floor_ms()) + " us do not count" +
         history_note(r) + "), " +
         format_value("%.3g%%", 100 * s.memory_threshold()) + " (peak memory); " + format_value("%.0f%%", 100 * s.confidence()) + " bootstrap interval of the ratio of medians, " +
         "Mann-Whitney p < " + format_value("%.3g", s.alpha());
}

// Markdown table cells: a pipe ends a cell, HTML would be rendered inside <details>.
std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else if (ch == '\n') out += ' ';
    else out += ch;
  }
  return out;
}

void md_table(std::ostringstream& os, const std::vector<std::string>& head,
              const std::vector<const v1::CaseComparison*>& rows) {
  os << "|";
  for (const auto& h : head) os << " " << md_escape(h) << " |";
  os << "\n|";
  for (std::size_t i = 0; i < head.size(); ++i) os << "---|";
  os << "\n";
  for (const auto* c : rows) {
    os << "|";
    for (const auto& cell : cells(*c)) os << " " << md_escape(cell) << " |";
    os << "\n";
  }
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') out += ' ';
        else out += static_cast<char>(ch);
    }
  }
  return out;
}

// JUnit's schema gives its timestamp no zone: the RFC 3339 time without its "Z" (UTC).
std::string junit_timestamp() {
  std::string t = now_rfc3339();
  t.pop_back();
  return t;
}

}  // namespace

void print_comparison(std::ostream& os, const v1::ComparisonReport& r) {
  os << "baseline " << r.baseline() << " vs current " << r.current() << "\n";
  for (const auto& e : r.environment())
    os << "ENVIRONMENT DIFFERS: " << e.field() << ": baseline '" << e.baseline() << "', current '" << e.current()
       << "'\n";
  for (const auto& w : r.warnings()) os << "WARNING: " << w << "\n";
  const auto head = header(r);
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : r.cases()) rows.push_back(cells(c));
  std::vector<std::size_t> w(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i + 1 < head.size(); ++i) w[i] = std::max(w[i], row[i].size());
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i)
      os << std::left << std::setw(i + 1 < row.size() ? static_cast<int>(w[i]) + 2 : 0) << row[i];
    os << "\n";
  };
  line(head);
  for (const auto& row : rows) line(row);
  os << counts_line(r) << "; " << settings_line(r) << "\n";
}

std::string comparison_markdown(const v1::ComparisonReport& r) {
  std::ostringstream os;
  const int regressions = verdict_count(r, v1::VERDICT_REGRESSION);
  os << "## ligerbench compare: " << (regressions ? "REGRESSION" : "no regression") << " (" << counts_line(r)
     << ")\n\n";
  os << "Baseline `" << md_escape(r.baseline()) << "` vs current `" << md_escape(r.current()) << "`; "
     << settings_line(r) << ".\n\n";
  if (r.environment_size() > 0) {
    os << "> **Environment differs**: the two runs are not on the same software or hardware.\n\n"
       << "| field | baseline | current |\n|---|---|---|\n";
    for (const auto& e : r.environment())
      os << "| " << md_escape(e.field()) << " | " << md_escape(e.baseline()) << " | " << md_escape(e.current())
         << " |\n";
    os << "\n";
  }
  for (const auto& w : r.warnings()) os << "> **Warning**: " << md_escape(w) << "\n\n";
  std::vector<const v1::CaseComparison*> bad, rest;
  for (const auto& c : r.cases()) (c.verdict() == v1::VERDICT_REGRESSION ? bad : rest).push_back(&c);
  const auto head = header(r);
  if (!bad.empty()) {
    os << "### Regressions (" << bad.size() << ")\n\n";
    md_table(os, head, bad);
    os << "\n";
  }
  if (!rest.empty()) {
    // GitHub renders Markdown inside <details> only after a blank line.
    os << "<details><summary>" << (bad.empty() ? "All " : "Other ") << rest.size() << " cases</summary>\n\n";
    md_table(os, head, rest);
    os << "\n</details>\n";
  }
  return os.str();
}

std::string comparison_junit(const v1::ComparisonReport& r) {
  int failures = 0, skipped = 0;
  for (const auto& c : r.cases()) {
    failures += c.verdict() == v1::VERDICT_REGRESSION;
    skipped += c.verdict() == v1::VERDICT_MISSING || c.verdict() == v1::VERDICT_NOISY;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::ostringstream os;
  const std::string counts = "tests=\"" + std::to_string(r.cases_size()) + "\" failures=\"" + std::to_string(failures) +
                             "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\"";
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<testsuites name=\"ligerbench compare\" " << counts << " time=\"0\">\n"
     << "  <testsuite name=\"ligerbench compare\" " << counts << " time=\"0\" timestamp=\"" << junit_timestamp()
     << "\" hostname=\"" << xml_escape(host) << "\">\n"
     << "    <properties>\n"
     << "      <property name=\"baseline\" value=\"" << xml_escape(r.baseline()) << "\"/>\n"
     << "      <property name=\"current\" value=\"" << xml_escape(r.current()) << "\"/>\n"
     << "      <property name=\"settings\" value=\"" << xml_escape(settings_line(r)) << "\"/>\n";
  for (const auto& e : r.environment())
    os << "      <property name=\"environment_differs." << xml_escape(e.field()) << "\" value=\""
       << xml_escape(e.baseline() + " -> " + e.current()) << "\"/>\n";
  for (int i = 0; i < r.warnings_size(); ++i)
    os << "      <property name=\"warning." << i + 1 << "\" value=\"" << xml_escape(r.warnings(i)) << "\"/>\n";
  os << "    </properties>\n";
  for (const auto& c : r.cases()) {
    const double seconds = c.time().current_median_ms() > 0 ? c.time().current_median_ms() * 1e-3 : 0;
    os << "    <testcase classname=\"ligerbench." << xml_escape(c.kernel() + "." + c.provider()) << "\" name=\""
       << xml_escape(c.key()) << "\" time=\"" << format_value("%.6f", seconds) << "\"";
    const std::string why = xml_escape(verdict_name(c.verdict()) + ": " + joined_reasons(c));
    if (c.verdict() == v1::VERDICT_REGRESSION) {
      os << ">\n      <failure message=\"" << why << "\" type=\"regression\">";
      for (const auto& cell : cells(c)) os << xml_escape(cell) << "  ";
      os << "</failure>\n    </testcase>\n";
    } else if (c.verdict() == v1::VERDICT_MISSING || c.verdict() == v1::VERDICT_NOISY) {
      os << ">\n      <skipped message=\"" << why << "\"/>\n    </testcase>\n";
    } else {
      os << ">\n      <system-out>" << why << "</system-out>\n    </testcase>\n";
    }
  }
  os << "  </testsuite>\n</testsuites>\n";
  return os.str();
}

}  // namespace ligerbench
