// ligerbenchd: the benchmark service. `ligerbenchd --config configs/server.yaml`; flags override.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "ligerbench/crash_trace.h"
#include "ligerbench/input_error.h"
#include "ligerbench/server/config.h"
#include "ligerbench/server/server.h"
#include "ligerbench/version.h"

namespace {

constexpr const char* kUsage = R"(usage: ligerbenchd [--config FILE] [--listen HOST:PORT] [--metrics-listen HOST:PORT|off]
                   [--db FILE] [--devices cpu,cuda:0,...] [--insecure-listen-any] [--debug-kernels]
defaults: listen 127.0.0.1:50051, metrics 127.0.0.1:9464, db ligerbench.db
)";

std::string self_exe() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("ligerbenchd");
}

ligerbench::v1::ServerConfig parse_flags(int argc, char** argv) {
  using ligerbench::InputError;
  ligerbench::v1::ServerConfig config, flags;
  bool any_devices = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], value;
    const bool takes_value = a == "--config" || a == "--listen" || a == "--metrics-listen" || a == "--db" ||
                             a == "--devices";
    if (auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (takes_value) {
      if (i + 1 >= argc) throw InputError("option " + a + " needs a value");
      value = argv[++i];
    }
    if (a == "--config") {
      config = ligerbench::server::load_config(value);
    } else if (a == "--listen") {
      flags.set_listen(value);
    } else if (a == "--metrics-listen") {
      flags.set_metrics_listen(value);
    } else if (a == "--db") {
      flags.set_db(value);
    } else if (a == "--devices") {
      any_devices = true;
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        const std::string d = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!d.empty()) flags.add_devices(d);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (a == "--insecure-listen-any") {
      flags.set_insecure_listen_any(true);
    } else if (a == "--debug-kernels") {
      flags.set_debug_kernels(true);
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw InputError("unknown option " + a);
    }
  }
  // Flags win over the file (MergeFrom appends repeated fields, so devices are replaced first).
  if (any_devices) config.clear_devices();
  config.MergeFrom(flags);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  ligerbench::install_crash_trace();
  // SIGTERM and SIGINT go to one thread that shuts down cleanly (never work in a signal handler);
  // block them before any other thread exists so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    auto config = parse_flags(argc, argv);
    ligerbench::server::apply_defaults(config, self_exe());
    ligerbench::server::Server server(config);
    server.start();
    std::cout << "ligerbenchd " << ligerbench::kVersion << ": serving ligerbench.v1.BenchService on "
              << config.listen().substr(0, config.listen().rfind(':')) << ":" << server.port()
              << (config.tls().cert_file().empty() ? " (plaintext)" : " (TLS)");
    if (server.metrics_port() > 0)
      std::cout << ", metrics on http://" << config.metrics_listen().substr(0, config.metrics_listen().rfind(':')) << ":"
                << server.metrics_port() << "/metrics";
    std::cout << ", database " << config.db() << std::endl;
    std::thread stopper([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      std::cout << "ligerbenchd: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down" << std::endl;
      server.shutdown();
    });
    server.wait();
    stopper.join();
    std::cout << "ligerbenchd: stopped" << std::endl;
    return 0;
  } catch (const ligerbench::InputError& e) {
    std::cerr << "ligerbenchd: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ligerbenchd: " << e.what() << "\n";
    return 1;
  }
}
