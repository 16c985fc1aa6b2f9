#pragma once
// YAML -> protobuf through reflection, so the YAML suites need no hand-written twin of the schema.
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <stdexcept>
#include <string>

namespace ligerbench {

// An error in a user's file: names the file, the line and the key.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where each field of a parsed document came from: "cases[0].dtypes[1]" -> line (1-based).
using SourceLines = std::map<std::string, int>;

// Fills `msg` from `node`. Unknown keys and values of the wrong type raise InputError naming
// `file`, the line and the key path. Conveniences: a scalar where a list is expected is a list
// of one, and a message whose only field is a list may be written as that list.
void yaml_to_message(const YAML::Node& node, google::protobuf::Message* msg, const std::string& file,
                     SourceLines* lines);

}  // namespace ligerbench
