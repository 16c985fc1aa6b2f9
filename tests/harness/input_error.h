#pragma once
// The message of the InputError a call throws ("" when it throws none), for tests of refusals.
#include <string>
#include <utility>

#include "ligerbench/suite.h"

namespace ligerbench::testing {

template <typename F>
std::string input_error_of(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// The error of parsing `yaml` as a suite named suite.yaml.
inline std::string error_of(const std::string& yaml) {
  return input_error_of([&] { parse_suite(yaml, "suite.yaml"); });
}

}  // namespace ligerbench::testing
