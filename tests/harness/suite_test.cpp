// Suites: YAML -> JobSpec, validation errors naming file, line and key, case expansion, JSON.
#include <gtest/gtest.h>

#include <cstdio>

#include "input_error.h"
#include "ligerbench/report.h"
#include "ligerbench/suite.h"

namespace {

using namespace ligerbench;
using ligerbench::testing::error_of;

TEST(Suite, ParsesSweepsWithShorthands) {
  const auto job = parse_suite(R"(
name: demo
labels: {commit: abc123}
measurement: {min_samples: 3, cold: true}
cases:
  - kernel: rms_norm
    shape: {T: [16, 32], H: 64}
    dtypes: fp32
    modes: [forward, full]
    params: {casting_mode: gemma, offset: 1.0}
)", "demo.yaml");
  EXPECT_EQ(job.name(), "demo");
  EXPECT_EQ(job.labels().at("commit"), "abc123");
  EXPECT_EQ(job.measurement().min_samples(), 3);
  EXPECT_TRUE(job.measurement().has_cold());
  ASSERT_EQ(job.cases_size(), 1);
  EXPECT_EQ(job.cases(0).shape().at("T").values_size(), 2);
  EXPECT_EQ(job.cases(0).shape().at("H").values(0), 64);
  EXPECT_EQ(job.cases(0).dtypes_size(), 1);
  const auto cases = expand_cases(job, {"cpu"});
  // 2 shapes x 1 dtype x 2 modes x 2 providers, baseline before liger in each pair.
  ASSERT_EQ(cases.size(), 8u);
  EXPECT_EQ(cases[0].provider, Provider::kBaseline);
  EXPECT_EQ(cases[1].provider, Provider::kLiger);
  EXPECT_EQ(cases[0].pair_key, cases[1].pair_key);
  EXPECT_EQ(cases[0].case_spec.shape_label(), "T=16,H=64");
  EXPECT_EQ(cases[0].config.param("casting_mode"), "gemma");
  EXPECT_EQ(cases[0].config.param("eps"), "1e-6") << "defaults fill unspecified params";
  EXPECT_EQ(cases.back().case_spec.shape_label(), "T=32,H=64");
}

TEST(Suite, UnknownKernelNamesFileLineAndKey) {
  const auto err = error_of("cases:\n  - kernel: rms_nrom\n");
  EXPECT_NE(err.find("suite.yaml:2: key 'cases[0].kernel': unknown kernel 'rms_nrom'"), std::string::npos) << err;
}

TEST(Suite, UnknownKeyNamesItAndListsKnownKeys) {
  const auto err = error_of("cases:\n  - kernel: rms_norm\n    dtype: bf16\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].dtype': unknown key"), std::string::npos) << err;
  EXPECT_NE(err.find("dtypes"), std::string::npos) << err;
}

TEST(Suite, BadShapeAxisAndValue) {
  auto err = error_of("cases:\n  - kernel: rms_norm\n    shape: {T: 8, V: 3}\n");
  EXPECT_NE(err.find("key 'cases[0].shape.V': kernel rms_norm has no axis 'V'"), std::string::npos) << err;
  err = error_of("cases:\n  - kernel: rms_norm\n    shape: {T: -8}\n");
  EXPECT_NE(err.find("key 'cases[0].shape.T': value -8 is out of range"), std::string::npos) << err;
  err = error_of("cases:\n  - kernel: rms_norm\n    shape: {T: abc}\n");
  EXPECT_NE(err.find("suite.yaml:3: key 'cases[0].shape.T[0]': expected an integer, got 'abc'"), std::string::npos) << err;
}

TEST(Suite, BadDtypeModeProviderParamDevice) {
  const auto err = error_of(R"(devices: [gpu7]
cases:
  - kernel: rms_norm
    dtypes: [bf16, int4]
    modes: [sideways]
    providers: [triton]
    params: {casting_mode: mistral, eps: x, colour: red}
)");
  for (const char* want : {"suite.yaml:4: key 'cases[0].dtypes[1]': kernel rms_norm does not support dtype 'int4'",
                           "suite.yaml:5: key 'cases[0].modes[0]': unknown mode 'sideways'",
                           "suite.yaml:6: key 'cases[0].providers[0]': unknown provider 'triton'",
                           "key 'cases[0].params.casting_mode': bad value 'mistral': must be one of llama, gemma, none",
                           "key 'cases[0].params.eps': bad value 'x': not a number",
                           "key 'cases[0].params.colour': kernel rms_norm has no parameter 'colour'",
                           "suite.yaml:1: key 'devices[0]': bad device 'gpu7'"})
    EXPECT_NE(err.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << err;
}

TEST(Suite, SyntaxErrorAndMissingFile) {
  EXPECT_NE(error_of("cases: [\n  - kernel").find("suite.yaml:"), std::string::npos);
  EXPECT_NE(error_of("cases: [\n  - kernel").find("YAML syntax error"), std::string::npos);
  try {
    load_suite("/nonexistent/suite.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/suite.yaml: cannot open"), std::string::npos);
  }
}

TEST(Suite, EmptyJobIsAnError) { EXPECT_NE(error_of("name: x\n").find("the job has no cases"), std::string::npos); }

TEST(ResultJson, RoundTripKeepsDefaultsAndFieldNames) {
  v1::JobResult r;
  r.set_job_id("j1");
  auto* c = r.add_cases();
  c->mutable_spec()->set_kernel("rms_norm");
  c->set_ok(false);
  c->mutable_timing()->set_median_ms(0.051);
  c->mutable_timing()->add_samples_ms(0.05);
  c->mutable_memory()->set_measured(false);
  c->mutable_accuracy()->set_checked(true);
  auto* t = c->mutable_accuracy()->add_tensors();
  t->set_name("out");
  t->set_rel_l2(1.5e-3);
  const std::string json = to_json(r);
  EXPECT_NE(json.find("\"median_ms\": 0.051"), std::string::npos) << json;
  EXPECT_NE(json.find("\"passed\": false"), std::string::npos) << "defaults must be printed:\n" << json;
  EXPECT_NE(json.find("\"peak_bytes\": \"0\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"measured\": false"), std::string::npos) << json;
  v1::JobResult back;
  from_json(json, &back, "mem");
  EXPECT_EQ(back.SerializeAsString(), r.SerializeAsString());

  const std::string path = ::testing::TempDir() + "/roundtrip.json";
  write_json_file(r, path);
  EXPECT_EQ(read_result_file(path).SerializeAsString(), r.SerializeAsString());
  std::remove(path.c_str());
}

TEST(ResultJson, RejectsUnknownFieldsNamingTheFile) {
  v1::JobResult r;
  try {
    from_json("{\"cases\": [{\"kernal\": \"x\"}]}", &r, "old.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("old.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("kernal"), std::string::npos) << e.what();
  }
}

}  // namespace
