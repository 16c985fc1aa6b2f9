#include "ligerbench/timestamps.h"

#include <cstdio>
#include <ctime>

namespace ligerbench {
namespace {

// The time in UTC to the second, then milliseconds when asked for, then "Z".
std::string rfc3339(bool with_ms) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[48];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (with_ms) n += static_cast<std::size_t>(std::snprintf(buf + n, sizeof buf - n, ".%03ld", ts.tv_nsec / 1000000));
  std::snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

}  // namespace

std::string now_rfc3339() { return rfc3339(false); }
std::string now_rfc3339_ms() { return rfc3339(true); }

}  // namespace ligerbench
