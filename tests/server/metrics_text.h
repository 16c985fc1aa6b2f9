#pragma once
// /metrics scraped over HTTP and its Prometheus text format read into name{labels} -> value.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "http_get.h"

namespace ligerbench::testing {

// Prometheus text format: "name{labels} value" lines (comments skipped) -> value.
inline std::map<std::string, double> parse_metrics(const std::string& body) {
  std::map<std::string, double> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// The body of GET /metrics, parsed; empty when the scrape failed.
inline std::map<std::string, double> scrape_metrics(int port) {
  const std::string resp = http_get(port, "/metrics");
  const auto body = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return {};
  return parse_metrics(resp.substr(body + 4));
}

// The value of the first series of `name` whose labels contain every one of `labels`; -1 if none.
inline double find_metric(const std::map<std::string, double>& m, const std::string& name,
                          const std::vector<std::string>& labels) {
  for (const auto& [k, v] : m) {
    if (k.rfind(name, 0) != 0 || (k.size() > name.size() && k[name.size()] != '{')) continue;
    bool all = true;
    for (const auto& l : labels) all = all && k.find(l) != std::string::npos;
    if (all) return v;
  }
  return -1;
}

}  // namespace ligerbench::testing
