#pragma once
// What error messages quote from a request. gRPC sends a status message as a header of limited
// size, so a message that echoes a 100 KiB id fails as "metadata size exceeds limit" instead of
// saying what was wrong: quotes are cut to a few dozen bytes and the whole message to 1 KiB.
#include <cstddef>
#include <string>

namespace ligerbench::server {

// 's' in single quotes, at most `max` bytes of it (cut on a UTF-8 boundary, control bytes shown
// as '?'); a cut quote ends in "..." and says how long the input was.
std::string quote_input(const std::string& s, std::size_t max = 64);

// The message cut to at most 1 KiB (on a UTF-8 boundary), saying so when it was cut.
std::string cap_message(const std::string& m);

}  // namespace ligerbench::server
