#pragma once
// `ligerbench report RESULTS.json [CURRENT.json] --html FILE`: one self-contained HTML page
// (inline SVG charts written here: no script, no network at view time) of a result file:
// speedup per kernel, latency against shape per provider, %copy, peak memory liger against
// baseline, the error table. Given two files, the first is the baseline and the page shows the
// second with a comparison: the ratio of medians per case (the plain ratio; verdicts with
// statistics are `ligerbench compare`'s).
#include <string>
#include <utility>
#include <vector>

#include "ligerbench/proto.h"

namespace ligerbench::cli {

struct NamedResult {
  std::string name;  // the file it came from, shown on the page
  v1::JobResult result;
};

// results: one (the report) or two (baseline, current). The page's charts carry
// class="chart" data-chart="..." and one class="point" element per data point.
std::string render_html_report(const std::vector<NamedResult>& results);

// argv[1] is "report"; returns the exit status (2 on bad usage or an unreadable file).
int run_report_command(int argc, char** argv);

}  // namespace ligerbench::cli
