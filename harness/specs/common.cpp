#include <cmath>
#include <string>

#include "specs.h"

namespace ligerbench::specs {

std::string validate_number(const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(d)) return "not a finite number";
  } catch (const std::exception&) {
    return "not a number";
  }
  return "";
}

std::string validate_positive(const std::string& v) {
  if (auto why = validate_number(v); !why.empty()) return why;
  return std::stod(v) > 0 ? "" : "must be positive";
}

}  // namespace ligerbench::specs
