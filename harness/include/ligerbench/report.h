#pragma once
// Human and machine output of results: the result table and the protobuf JSON mapping.
#include <ostream>
#include <string>

#include "ligerbench/proto.h"

namespace ligerbench {

// JSON with proto field names and default values printed (a false or a zero is never missing).
std::string to_json(const google::protobuf::Message& msg);
// Parses JSON into msg; throws InputError naming `what` (a file name) on failure.
void from_json(const std::string& json, google::protobuf::Message* msg, const std::string& what);

void write_json_file(const google::protobuf::Message& msg, const std::string& path);
// Throws InputError "<flag> '<path>': ..." unless write_json_file could write `path` (its folder
// exists and takes a new file; the path is not a folder). Called before any work, so a run never
// ends in an unwritable output.
void check_writable(const std::string& path, const std::string& flag);
v1::JobResult read_result_file(const std::string& path);

// One line per case: kernel, shape, dtype, mode, provider, median, p20-p80, speedup, peak memory,
// GB/s, % of the node's copy bandwidth, % of a copy of the same bytes, worst rel_l2, pass.
void print_table(std::ostream& os, const v1::JobResult& result);
// One number through a printf format ("%.3fx"): a cell of the result and comparison tables.
std::string format_value(const char* printf_format, double v);
std::string progress_line(int index, int total, const v1::CaseResult& r);

}  // namespace ligerbench
