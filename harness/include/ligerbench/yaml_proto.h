#pragma once
// YAML -> protobuf through reflection, so the YAML suites need no hand-written twin of the schema.
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <string>

#include "ligerbench/input_error.h"

namespace ligerbench {

// Where each field of a parsed document came from: "cases[0].dtypes[1]" -> line (1-based).
using SourceLines = std::map<std::string, int>;

// Bounds on a YAML document, checked before any of it is converted. A suite is a few KB; these
// leave room for generated ones while keeping a hostile file's cost small.
constexpr std::size_t kMaxYamlFileBytes = std::size_t{1} << 20;
// Nesting of mappings and lists: a JobSpec needs 5 levels.
constexpr int kMaxYamlDepth = 32;
// Nodes of the document with every alias expanded. Without aliases a file within
// kMaxYamlFileBytes has at most about half a million ("1," per node), so only aliases reach it.
constexpr std::size_t kMaxYamlExpandedNodes = 1000000;

// Parses one YAML document. Throws InputError naming `file` (and the line): a syntax error, an
// unterminated quoted string, nesting deeper than kMaxYamlDepth, aliases that expand past
// kMaxYamlExpandedNodes, more than one document, a text over kMaxYamlFileBytes.
YAML::Node parse_yaml(const std::string& text, const std::string& file);
// Reads and parses a file: also refuses a missing or unreadable file, a directory, or one over
// kMaxYamlFileBytes (checked before reading).
YAML::Node load_yaml_file(const std::string& path);

// Fills `msg` from `node`. Unknown keys, duplicate keys, keys that are not scalars and values of
// the wrong type raise InputError naming `file`, the line and the key path. Conveniences: a
// scalar where a list is expected is a list of one, and a message whose only field is a list may
// be written as that list.
void yaml_to_message(const YAML::Node& node, google::protobuf::Message* msg, const std::string& file,
                     SourceLines* lines);

// The line of `path` or of its nearest enclosing path that has one ("cases[0].shape.T[3]" ->
// "cases[0].shape.T" -> ...); 0 when none has.
int line_of(const SourceLines& lines, std::string path);

}  // namespace ligerbench
