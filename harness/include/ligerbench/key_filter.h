#pragma once
// The case filter: a user's pattern matched against case keys with RE2, whose matching time is
// linear in the key (std::regex backtracks: '(.*)*Q' never ends). Used by `ligerbench run
// --filter`, the scheduler's case selection and the server's admission.
#include <memory>
#include <string>

namespace re2 {
class RE2;
}

namespace ligerbench {

// Longer patterns are refused before compiling: a key is a few hundred characters.
constexpr std::size_t kMaxFilterLength = 1024;

class KeyFilter {
 public:
  // An empty pattern matches every key. Check ok() / error() before use.
  explicit KeyFilter(const std::string& pattern);
  ~KeyFilter();
  KeyFilter(KeyFilter&&) noexcept;
  KeyFilter& operator=(KeyFilter&&) noexcept;

  bool ok() const { return error_.empty(); }
  // Why the pattern is unusable, e.g. "not a valid RE2 regular expression (missing ): ()".
  const std::string& error() const { return error_; }
  // Unanchored search, as grep: "rms_norm" matches every rms_norm key. False when !ok().
  bool matches(const std::string& key) const;

 private:
  std::unique_ptr<re2::RE2> re_;
  std::string error_;
  bool match_all_ = false;
};

// Compiles the pattern or throws InputError "filter '<pattern>': <why>" (pattern truncated).
KeyFilter compile_filter(const std::string& pattern);

}  // namespace ligerbench
