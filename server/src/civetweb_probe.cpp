#include "ligerbench/server/civetweb_probe.h"

#include <civetweb.h>

#include <mutex>

namespace ligerbench::server {
namespace {

// civetweb reports start-up problems through the log callback of the context it is building;
// the callback has no user pointer at that point, so the messages go to one guarded string.
std::mutex g_log_mutex;
std::string* g_log = nullptr;

int collect_log_message(const mg_connection*, const char* message) {
  if (g_log != nullptr && message != nullptr) {
    if (!g_log->empty()) *g_log += "; ";
    *g_log += message;
  }
  return 1;  // handled: civetweb prints nothing itself
}

}  // namespace

std::string civetweb_start_error(const std::string& listen) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::string log;
  g_log = &log;

  mg_callbacks callbacks{};
  callbacks.log_message = collect_log_message;
  // The options prometheus-cpp's Exposer(listen, 2) passes.
  const char* options[] = {"listening_ports", listen.c_str(), "num_threads", "2", nullptr};
  mg_init_data init{&callbacks, nullptr, options};
  unsigned code = 0;
  char text[512] = {0};
  mg_error_data error{&code, text, sizeof text};

  mg_context* ctx = mg_start2(&init, &error);
  g_log = nullptr;
  if (ctx != nullptr) {
    mg_stop(ctx);
    return "civetweb started on a second attempt (a transient failure)";
  }
  std::string why = code != 0 ? "civetweb error " + std::to_string(code) : std::string("civetweb error");
  if (text[0] != '\0') why += ": " + std::string(text);
  if (!log.empty()) why += " (log: " + log + ")";
  return why;
}

}  // namespace ligerbench::server
