#include "ligerbench/key_filter.h"

#include <re2/re2.h>

#include "ligerbench/input_error.h"

namespace ligerbench {

KeyFilter::KeyFilter(const std::string& pattern) {
  if (pattern.empty()) {
    match_all_ = true;
    return;
  }
  if (pattern.size() > kMaxFilterLength) {
    error_ = "longer than " + std::to_string(kMaxFilterLength) + " characters";
    return;
  }
  RE2::Options options;
  options.set_log_errors(false);  // the error goes to the user in the message, not to stderr
  re_ = std::make_unique<re2::RE2>(pattern, options);
  if (!re_->ok()) error_ = "not a valid RE2 regular expression (" + re_->error() + ")";
}

KeyFilter::~KeyFilter() = default;
KeyFilter::KeyFilter(KeyFilter&&) noexcept = default;
KeyFilter& KeyFilter::operator=(KeyFilter&&) noexcept = default;

bool KeyFilter::matches(const std::string& key) const {
  if (match_all_) return true;
  return ok() && RE2::PartialMatch(key, *re_);
}

KeyFilter compile_filter(const std::string& pattern) {
  KeyFilter f(pattern);
  if (!f.ok()) throw InputError("filter '" + quote_truncated(pattern) + "': " + f.error());
  return f;
}

}  // namespace ligerbench
