#include "ligerbench/input_error.h"

namespace ligerbench {

std::string quote_truncated(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  return s.substr(0, max) + "... (" + std::to_string(s.size()) + " characters)";
}

}  // namespace ligerbench
