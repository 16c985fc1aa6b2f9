// One case identity end to end: expansion yields CaseSpecs once, resolution needs no sweep, and a
// result file's cases carry the CaseSpec they ran (older files are read by moving it there).
#include <gtest/gtest.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <fstream>

#include "files.h"
#include "ligerbench/case_spec.h"
#include "ligerbench/registry.h"
#include "ligerbench/report.h"
#include "ligerbench/runner.h"

namespace {

using namespace ligerbench;
using google::protobuf::util::MessageDifferencer;

v1::JobSpec tiny_job() {
  return parse_suite(R"(
measurement: {min_samples: 1, max_samples: 1, min_time_s: 0, warmup_runs: 0, warmup_s: 0, timeout_s: 2, seed: 7}
cases:
  - kernel: rms_norm
    shape: {T: [4, 8], H: 16}
    modes: [forward]
    params: {casting_mode: gemma}
)", "tiny.yaml");
}

TEST(CaseSpec, ExpansionNamesEveryCaseOnce) {
  const auto specs = expand_case_specs(tiny_job(), {"cpu"});
  ASSERT_EQ(specs.size(), 4u);  // 2 shapes x 2 providers, baseline first
  const v1::CaseSpec& s = specs[0];
  EXPECT_EQ(s.kernel(), "rms_norm");
  EXPECT_EQ(s.provider(), "baseline");
  EXPECT_EQ(specs[1].provider(), "liger");
  EXPECT_EQ(s.mode(), "forward");
  EXPECT_EQ(s.dtype(), find_kernel("rms_norm")->default_dtype) << "the kernel's default dtype";
  EXPECT_EQ(s.device(), "cpu");
  EXPECT_EQ(s.timing_kind(), "cold");
  EXPECT_EQ(s.shape_label(), "T=4,H=16");
  ASSERT_EQ(s.shape_size(), 2);
  EXPECT_EQ(s.shape(0).name(), "T");
  EXPECT_EQ(s.shape(0).value(), 4);
  EXPECT_EQ(s.params().at("casting_mode"), "gemma");
  EXPECT_EQ(s.params().count("eps"), 1u) << "defaults are filled in";
  const std::map<std::string, std::string> params(s.params().begin(), s.params().end());
  EXPECT_EQ(s.key(), "rms_norm|T=4,H=16|" + s.dtype() + "|forward|baseline|" + params_label(params) + "|cpu");
}

TEST(CaseSpec, ResolvesWithoutASweep) {
  const v1::JobSpec job = tiny_job();
  const auto specs = expand_case_specs(job, {"cpu"});
  const auto cases = expand_cases(job, {"cpu"});
  ASSERT_EQ(cases.size(), specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const Case c = resolve_case(specs[i], job.measurement().seed());
    EXPECT_TRUE(MessageDifferencer::Equals(c.case_spec, specs[i]));
    EXPECT_TRUE(MessageDifferencer::Equals(cases[i].case_spec, specs[i]));
    EXPECT_EQ(c.spec, find_kernel("rms_norm"));
    EXPECT_EQ(c.config.shape, cases[i].config.shape);
    EXPECT_EQ(c.config.params, cases[i].config.params);
    EXPECT_EQ(c.config.dtype, *parse_dtype(specs[i].dtype()));
    EXPECT_EQ(c.config.seed, 7u);
    EXPECT_EQ(c.config.device.str(), "cpu");
    EXPECT_EQ(c.mode, Mode::kForward);
    EXPECT_EQ(c.pair_key, cases[i].pair_key);
  }
  EXPECT_EQ(cases[0].pair_key, cases[1].pair_key) << "a pair shares its pair key";
}

TEST(CaseSpec, ResolutionRefusesNamesItDoesNotKnow) {
  const v1::CaseSpec good = expand_case_specs(tiny_job(), {"cpu"}).at(0);
  auto refused = [&](auto edit) {
    v1::CaseSpec s = good;
    edit(s);
    try {
      resolve_case(s, 0);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string kernel = refused([](v1::CaseSpec& s) { s.set_kernel("rms_nrom"); });
  EXPECT_NE(kernel.find("case '" + good.key() + "': no kernel 'rms_nrom'"), std::string::npos) << kernel;
  EXPECT_NE(refused([](v1::CaseSpec& s) { s.set_dtype("fp8"); }).find("unknown dtype 'fp8'"), std::string::npos);
  EXPECT_NE(refused([](v1::CaseSpec& s) { s.set_mode("sideways"); }).find("unknown mode"), std::string::npos);
  EXPECT_NE(refused([](v1::CaseSpec& s) { s.set_provider("other"); }).find("unknown provider"), std::string::npos);
  EXPECT_NE(refused([](v1::CaseSpec& s) { s.set_timing_kind("warm"); }).find("unknown timing kind"), std::string::npos);
  EXPECT_NE(refused([](v1::CaseSpec& s) { s.set_device("tpu:x"); }).find("bad device"), std::string::npos);
}

TEST(CaseSpec, AResultFileCaseCarriesItsSpec) {
  const v1::JobSpec job = tiny_job();
  const auto cases = select_cases(job, {"cpu"}, "T=4,.*\\|liger\\|");
  ASSERT_EQ(cases.size(), 1u);
  const v1::JobResult result = run_cases(job, cases, {});
  ASSERT_EQ(result.cases_size(), 1);
  EXPECT_TRUE(result.cases(0).ok()) << result.cases(0).error();
  const std::string path = testing_files::make_temp_dir("case_spec") + "/r.json";
  write_json_file(result, path);

  // In the file: the case's identity is its spec, and none of it sits at the case's top level.
  google::protobuf::Struct file;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(testing_files::slurp(path), &file).ok());
  const auto& c = file.fields().at("cases").list_value().values(0).struct_value().fields();
  ASSERT_TRUE(c.count("spec"));
  EXPECT_EQ(c.at("spec").struct_value().fields().at("key").string_value(), cases[0].case_spec.key());
  for (const char* moved : {"key", "kernel", "provider", "mode", "dtype", "shape", "shape_label", "params", "device"})
    EXPECT_EQ(c.count(moved), 0u) << moved;
  const v1::JobResult back = read_result_file(path);
  EXPECT_TRUE(MessageDifferencer::Equals(back.cases(0).spec(), cases[0].case_spec)) << back.cases(0).spec().ShortDebugString();
  std::remove(path.c_str());
}

TEST(CaseSpec, AFileWrittenBeforeCaseSpecIsReadWithItsIdentityMoved) {
  const std::string path = testing_files::make_temp_dir("case_spec_old") + "/old.json";
  std::ofstream(path) << R"({"job_id": "old", "cases": [{"key": "rms_norm|T=4,H=16|fp32|forward|liger|eps=1e-6|cpu",
    "kernel": "rms_norm", "provider": "liger", "mode": "forward", "dtype": "fp32",
    "shape": [{"name": "T", "value": "4"}, {"name": "H", "value": "16"}], "shape_label": "T=4,H=16",
    "params": {"eps": "1e-6"}, "device": "cpu", "device_name": "cpu", "ok": true,
    "timing": {"median_ms": 0.25, "n": 3, "samples_ms": [0.25, 0.5, 0.125]}}]})";
  const v1::JobResult r = read_result_file(path);
  ASSERT_EQ(r.cases_size(), 1);
  const v1::CaseSpec& s = r.cases(0).spec();
  EXPECT_EQ(s.key(), "rms_norm|T=4,H=16|fp32|forward|liger|eps=1e-6|cpu") << "baselines keep matching on their keys";
  EXPECT_EQ(s.kernel(), "rms_norm");
  EXPECT_EQ(s.shape(1).value(), 16);
  EXPECT_EQ(s.params().at("eps"), "1e-6");
  EXPECT_EQ(r.cases(0).device_name(), "cpu");
  EXPECT_EQ(r.cases(0).timing().samples_ms_size(), 3);
  EXPECT_EQ(r.cases(0).timing().n(), 3);

  // Anything else that does not parse still fails, naming the file and the field.
  std::ofstream(path, std::ios::trunc) << R"({"cases": [{"spec": {"key": "k"}, "kernel": "rms_norm"}]})";
  try {
    read_result_file(path);
    FAIL() << "a case with both a spec and an old field was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not a valid ligerbench.v1.JobResult"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace
