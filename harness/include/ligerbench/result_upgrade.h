#pragma once
// Result files written before cases carried their CaseSpec: read by moving each case's identity
// fields into its `spec`, so older baselines still compare (docs/COMPARE.md).
#include <string>

namespace ligerbench {

// `json`, a JobResult in the protobuf JSON mapping, with every case that has identity fields at
// its top level (and no `spec`) rewritten to hold them in `spec`. False, leaving `json` as it
// is, when it is not such a file (no case to move, or not JSON at all).
bool upgrade_pre_casespec_result(std::string& json);

}  // namespace ligerbench
