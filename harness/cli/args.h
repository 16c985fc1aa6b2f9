#pragma once
// Command-line parsing shared by the CLI's commands: --key value options and --flag switches.
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "ligerbench/input_error.h"

namespace ligerbench::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::multimap<std::string, std::string> repeated;  // every value, for options that may repeat (--label)
  std::set<std::string> flags;

  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
};

// Anything unknown is a usage error (InputError).
inline Args parse_args(int argc, char** argv, int first, const std::set<std::string>& with_value,
                       const std::set<std::string>& switches) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string value;
      bool has_value = false;
      if (auto eq = s.find('='); eq != std::string::npos) {
        value = s.substr(eq + 1);
        s = s.substr(0, eq);
        has_value = true;
      }
      if (with_value.count(s)) {
        if (!has_value) {
          if (i + 1 >= argc) throw InputError("option " + s + " needs a value");
          value = argv[++i];
        }
        a.options[s] = value;
        a.repeated.emplace(s, value);
      } else if (switches.count(s) && !has_value) {
        a.flags.insert(s);
      } else {
        throw InputError("unknown option " + s);
      }
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

// The value of option `key` as an integer in [lo, hi], `fallback` when absent. Anything else is an
// InputError "flag --key: ..." (exit 2), never std::stoi's bare "stoi".
inline long long int_flag(const Args& a, const std::string& key, long long fallback, long long lo, long long hi) {
  auto it = a.options.find(key);
  if (it == a.options.end()) return fallback;
  const std::string& s = it->second;
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  const std::string range = " (between " + std::to_string(lo) + " and " + std::to_string(hi) + ")";
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
    throw InputError("flag " + key + ": expected an integer" + range + ", got '" + quote_truncated(s) + "'");
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw InputError("flag " + key + ": " + quote_truncated(s) + " is out of range" + range);
  return v;
}

// The value of option `key` as a finite number in [lo, hi], `fallback` when absent.
inline double number_flag(const Args& a, const std::string& key, double fallback, double lo, double hi) {
  auto it = a.options.find(key);
  if (it == a.options.end()) return fallback;
  const std::string& s = it->second;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  std::ostringstream range;
  range << " (a finite number between " << lo << " and " << hi << ")";
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size())
    throw InputError("flag " + key + ": expected a number" + range.str() + ", got '" + quote_truncated(s) + "'");
  if (ec == std::errc::result_out_of_range || !std::isfinite(v) || v < lo || v > hi)
    throw InputError("flag " + key + ": " + quote_truncated(s) + " is out of range" + range.str());
  return v;
}

}  // namespace ligerbench::cli
