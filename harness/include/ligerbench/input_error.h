#pragma once
// The error of bad user input (a suite, a config, a flag, a result file): its message names the
// file, the line and the key, and the CLI and the server report it as the user's mistake.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace ligerbench {

// An error in a user's file: names the file, the line and the key.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// User input quoted in a message: at most `max` characters, then "... (N characters)".
std::string quote_truncated(const std::string& s, std::size_t max = 80);

}  // namespace ligerbench
