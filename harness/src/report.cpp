#include "ligerbench/report.h"

#include <google/protobuf/util/json_util.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "ligerbench/case_outcome.h"
#include "ligerbench/input_error.h"
#include "ligerbench/result_upgrade.h"

namespace ligerbench {

std::string format_value(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

namespace {

double worst_rel_l2(const v1::CaseResult& r) {
  double w = 0;
  for (const auto& t : r.accuracy().tensors()) w = std::max(w, t.rel_l2());
  return w;
}

// The case's outcome in the table: "-" for a case that passed without an accuracy check.
std::string verdict(const v1::CaseResult& r) {
  const std::string outcome = case_outcome(r);
  if (outcome == "error") return "ERROR";
  if (outcome == "failed") return "FAIL";
  return r.accuracy().checked() ? "pass" : "-";
}

}  // namespace

std::string to_json(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(msg, &out, o);
  if (!status.ok()) throw std::runtime_error("cannot write JSON: " + std::string(status.message()));
  return out;
}

void from_json(const std::string& json, google::protobuf::Message* msg, const std::string& what) {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(json, msg, o);
  if (!status.ok()) throw InputError(what + ": not a valid " + msg->GetDescriptor()->full_name() + ": " + std::string(status.message()));
}

void write_json_file(const google::protobuf::Message& msg, const std::string& path) {
  // Write to a temporary file and rename, so a crash never leaves a half-written result; the
  // name is this process's, so two processes writing one file (the ceilings cache) never mix.
  const std::string tmp = path + "." + std::to_string(getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw InputError(path + ": cannot open for writing");
    out << to_json(msg);
    if (!out) throw InputError(path + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw InputError(path + ": cannot rename " + tmp + " into place");
}

void check_writable(const std::string& path, const std::string& flag) {
  const std::string at = flag + " '" + quote_truncated(path) + "': ";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw InputError(at + "is a directory");
  // The probe is the file write_json_file writes first, so the check is the write itself.
  const std::string tmp = path + "." + std::to_string(getpid()) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(at + "cannot write there (" + std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(tmp.c_str());
}

v1::JobResult read_result_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string json = ss.str();
  v1::JobResult r;
  try {
    from_json(json, &r, path);
  } catch (const InputError&) {
    // A file written before CaseSpec: its cases' identity fields move into `spec`, once.
    if (!upgrade_pre_casespec_result(json)) throw;
    r.Clear();
    from_json(json, &r, path);
  }
  return r;
}

namespace {

// The throttle reasons of a case's GPU samples, before, during and after, by name.
std::string throttle_reasons_of(const v1::CaseResult& r) {
  std::set<std::string> names(r.gpu_before().throttle_names().begin(), r.gpu_before().throttle_names().end());
  names.insert(r.gpu_after().throttle_names().begin(), r.gpu_after().throttle_names().end());
  for (const auto& s : r.gpu_during()) names.insert(s.throttle_names().begin(), s.throttle_names().end());
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

void print_table(std::ostream& os, const v1::JobResult& result) {
  struct Row {
    std::vector<std::string> cells;
  };
  std::vector<std::string> head = {"kernel", "shape", "dtype", "mode", "timing", "provider", "median ms", "p20-p80 ms",
                                   "speedup", "peak MB", "GB/s", "%bw", "%copy", "max rel_l2", "pass"};
  std::vector<Row> rows;
  for (const auto& r : result.cases()) {
    Row row;
    const bool ok = r.ok();
    const v1::CaseSpec& c = r.spec();
    row.cells = {c.kernel(),
                 c.shape_label(),
                 c.dtype(),
                 c.mode(),
                 c.timing_kind().empty() ? "cold" : c.timing_kind(),  // distributed and pre-timing cases have none
                 c.provider(),
                 ok ? format_value("%.4f", r.timing().median_ms()) + (r.throttled() ? "!" : "") : "-",
                 ok ? format_value("%.4f", r.timing().p20_ms()) + "-" + format_value("%.4f", r.timing().p80_ms()) : "-",
                 r.speedup() > 0 ? format_value("%.2fx", r.speedup()) : (r.note().empty() ? "" : "n/a*"),
                 r.memory().measured() ? format_value("%.1f", r.memory().peak_bytes() / 1048576.0) : "-",
                 ok && r.throughput().gb_per_s() > 0 ? format_value("%.0f", r.throughput().gb_per_s()) : "-",
                 r.throughput().bandwidth_fraction() > 0 ? format_value("%.0f%%", 100 * r.throughput().bandwidth_fraction()) : "-",
                 r.throughput().size_matched_fraction() > 0 ? format_value("%.0f%%", 100 * r.throughput().size_matched_fraction()) : "-",
                 r.accuracy().checked() ? format_value("%.2e", worst_rel_l2(r)) : "-",
                 verdict(r)};
    rows.push_back(row);
  }
  std::vector<std::size_t> w(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < head.size(); ++i) w[i] = std::max(w[i], row.cells[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) os << std::left << std::setw(static_cast<int>(w[i]) + 2) << cells[i];
    os << "\n";
  };
  line(head);
  for (const auto& row : rows) line(row.cells);
  std::set<std::string> noted;  // one line per kernel and note
  for (const auto& r : result.cases())
    if (!r.note().empty() && noted.insert(r.spec().kernel() + " " + r.spec().mode() + ": " + r.note()).second)
      os << "* " << r.spec().kernel() << " " << r.spec().mode() << ": " << r.note() << "\n";
  for (const auto& r : result.cases())
    if (r.throttled()) os << "! " << r.spec().key() << ": the GPU throttled during this case (" << throttle_reasons_of(r) << ")\n";
  for (const auto& r : result.cases())
    if (!r.ok()) os << "error: " << r.spec().key() << ": " << r.error() << "\n";
  os << result.cases_size() << " cases, " << result.failed_cases() << " failed";
  for (const auto& c : result.node().ceilings())
    if (c.copy_gb_per_s() > 0)
      os << "; " << c.device() << " ceilings: copy " << format_value("%.0f", c.copy_gb_per_s()) << " GB/s, " << c.matmul_dtype()
         << " matmul " << format_value(c.matmul_tflop_per_s() >= 10 ? "%.0f" : "%.3g", c.matmul_tflop_per_s()) << " TFLOP/s"
         << (c.from_cache() ? " (cached " + c.measured_at() + ")" : std::string());
  if (result.node().ceilings_size() == 0 && result.node().copy_bandwidth_gb_per_s() > 0)  // a result file from before
    os << "; ceilings: copy " << format_value("%.0f", result.node().copy_bandwidth_gb_per_s()) << " GB/s, bf16 matmul "
       << format_value("%.0f", result.node().matmul_tflop_per_s()) << " TFLOP/s";
  if (!result.node().nvml().empty() && result.node().nvml() != "ok") os << "; " << result.node().nvml();
  os << "\n";
}

std::string progress_line(int index, int total, const v1::CaseResult& r) {
  std::ostringstream os;
  const v1::CaseSpec& c = r.spec();
  os << "[" << index + 1 << "/" << total << "] " << c.kernel() << " " << c.shape_label() << " " << c.dtype() << " "
     << c.mode() << " " << c.provider() << ": ";
  if (!r.ok())
    os << "ERROR " << r.error().substr(0, 200);
  else
    os << format_value("%.4f ms", r.timing().median_ms()) << (r.speedup() > 0 ? format_value(" (%.2fx)", r.speedup()) : "") << " "
       << verdict(r);
  return os.str();
}

}  // namespace ligerbench
