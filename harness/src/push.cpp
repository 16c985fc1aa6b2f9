#include "ligerbench/push.h"

#include <prometheus/gateway.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <memory>

#include "ligerbench/case_gauges.h"
#include "ligerbench/compare.h"
#include "ligerbench/input_error.h"

namespace ligerbench {
namespace {

struct HostPort {
  std::string host;  // with its scheme, as prometheus::Gateway wants it
  std::string port;
};

HostPort split_url(const std::string& url) {
  const std::string scheme = url.rfind("https://", 0) == 0 ? "https://" : "http://";
  if (url.rfind(scheme, 0) != 0) throw InputError("--push-gateway '" + url + "': expected http://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos)
    throw InputError("--push-gateway '" + url + "': expected http://HOST:PORT (no path)");
  const std::string port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535)
    throw InputError("--push-gateway '" + url + "': port must be 1 .. 65535");
  return {scheme + rest.substr(0, colon), port};
}

void check_segment(const std::string& what, const std::string& v) {
  if (v.empty() || v.size() > 200 ||
      v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != std::string::npos)
    throw InputError(what + " '" + v + "': use 1 to 200 letters, digits, '_', '-' or '.'");
}

std::string instance_of(const PushTarget& t) {
  if (!t.instance.empty()) return t.instance;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

void send(const PushTarget& t, const std::shared_ptr<prometheus::Registry>& registry, bool replace) {
  validate_push_target(t);
  const HostPort hp = split_url(t.url);
  prometheus::Gateway gateway(hp.host, hp.port, t.job, {{"instance", instance_of(t)}});
  gateway.RegisterCollectable(registry);
  // prometheus-cpp's names are the other way round from the Pushgateway's: its PushAdd() sends
  // PUT (replace the whole group) and its Push() sends POST (replace same-named metrics only).
  const int status = replace ? gateway.PushAdd() : gateway.Push();
  if (status < 200 || status >= 300)
    throw std::runtime_error("push to the Pushgateway at " + t.url + " failed (" +
                             (status > 0 ? "HTTP status " + std::to_string(status) : "no connection") + ")");
}

}  // namespace

void validate_push_target(const PushTarget& t) {
  split_url(t.url);
  check_segment("--push-job", t.job);
  check_segment("--push-instance", instance_of(t));
}

void push_run(const PushTarget& t, const v1::JobResult& result) {
  auto registry = std::make_shared<prometheus::Registry>();
  CaseGauges gauges(*registry);
  for (const auto& c : result.cases()) gauges.set(c);
  send(t, registry, true);
}

void push_comparison(const PushTarget& t, const v1::ComparisonReport& report) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& ratio = prometheus::BuildGauge()
                    .Name("ligerbench_compare_ratio")
                    .Help("Current median latency over the baseline's, per case, with the compare verdict")
                    .Register(*registry);
  auto& cases = prometheus::BuildGauge()
                    .Name("ligerbench_compare_cases")
                    .Help("Cases of the last comparison with each verdict")
                    .Register(*registry);
  for (const auto& c : report.cases()) {
    if (!c.time().compared()) continue;
    ratio
        .Add({{"kernel", c.kernel()}, {"provider", c.provider()}, {"mode", c.mode()}, {"dtype", c.dtype()},
              {"shape", c.shape()}, {"device", c.device()}, {"verdict", verdict_name(c.verdict())}})
        .Set(c.time().ratio());
  }
  for (const auto& [verdict, n] : report.counts()) cases.Add({{"verdict", verdict}}).Set(n);
  send(t, registry, false);
}

}  // namespace ligerbench
