#pragma once
// Command-line parsing shared by the CLI's commands: --key value options and --flag switches.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ligerbench/yaml_proto.h"

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

}  // namespace ligerbench::cli
