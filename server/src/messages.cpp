#include "ligerbench/server/messages.h"

namespace ligerbench::server {
namespace {

// The longest prefix of s of at most n bytes that does not end inside a UTF-8 sequence.
std::size_t utf8_prefix(const std::string& s, std::size_t n) {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

constexpr std::size_t kMaxMessage = 1024;

}  // namespace

std::string quote_input(const std::string& s, std::size_t max) {
  const std::size_t n = utf8_prefix(s, max);
  std::string out = "'";
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  out += n < s.size() ? "...' (" + std::to_string(s.size()) + " bytes)" : "'";
  return out;
}

std::string cap_message(const std::string& m) {
  if (m.size() <= kMaxMessage) return m;
  const std::string tail = "... (message cut from " + std::to_string(m.size()) + " bytes)";
  return m.substr(0, utf8_prefix(m, kMaxMessage - tail.size())) + tail;
}

}  // namespace ligerbench::server
