#include "ligerbench/result_upgrade.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace ligerbench {
namespace {

// The names a case's identity had at the top level of a CaseResult before CaseSpec (result.proto
// reserves them).
const char* const kPreCaseSpecFields[] = {"key",   "kernel",      "provider", "mode",   "dtype",
                                          "shape", "shape_label", "params",   "device", "timing_kind"};

}  // namespace

bool upgrade_pre_casespec_result(std::string& json) {
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(json, &root).ok()) return false;
  auto cases = root.mutable_fields()->find(std::string("cases"));
  if (cases == root.mutable_fields()->end() || !cases->second.has_list_value()) return false;
  bool moved = false;
  for (auto& value : *cases->second.mutable_list_value()->mutable_values()) {
    if (!value.has_struct_value()) continue;
    auto& fields = *value.mutable_struct_value()->mutable_fields();
    if (fields.count(std::string("spec"))) continue;
    google::protobuf::Struct spec;
    for (const std::string name : kPreCaseSpecFields) {
      auto it = fields.find(name);
      if (it == fields.end()) continue;
      (*spec.mutable_fields())[name] = std::move(it->second);
      fields.erase(it);
    }
    if (spec.fields().empty()) continue;
    *fields[std::string("spec")].mutable_struct_value() = std::move(spec);
    moved = true;
  }
  if (!moved) return false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(root, &out).ok()) return false;
  json = std::move(out);
  return true;
}

}  // namespace ligerbench
