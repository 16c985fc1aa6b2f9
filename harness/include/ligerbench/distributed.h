#pragma once
// Distributed cases (docs/DISTRIBUTED.md): a CaseSweep with `distributed: consistency` or
// `distributed: collective` runs on world_size rank processes (`ligerbench __rank`), which meet
// through a c10d TCPStore that the launcher hosts on loopback and talk through c10d's
// ProcessGroupGloo (cpu) or ProcessGroupNCCL (cuda).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ligerbench/proto.h"
#include "ligerbench/suite.h"

namespace ligerbench {

constexpr int kMaxCpuWorldSize = 8;
constexpr int kDefaultWorldSize = 2;
constexpr double kDefaultRankTimeoutS = 60;
// Distributed cases of one run: each starts world_size processes.
constexpr std::size_t kMaxDistributedCases = 1000;

// suite.cpp's hook: checks the distributed fields of a sweep (kind, world_size, options) and
// returns whether the sweep's kernel fields are to be checked as usual (ordinary and
// consistency sweeps), false for a collective sweep (no kernel).
bool validate_distributed_fields(const v1::CaseSweep& sweep, const std::string& at, std::vector<SpecProblem>& out);

// One distributed case: a single point of its sweep, on one device type, with its ranks.
struct DistributedCase {
  // What each rank runs (RankTask.case_spec; the launcher sets each rank's device): consistency:
  // the kernel case, expanded here once; collective, training_step: the identity's spec.
  v1::CaseSpec rank_case;
  v1::DistributedOptions options;  // the sweep's
  std::string kind;           // consistency, collective, training_step
  std::string device_type;    // cpu, cuda
  int world_size = kDefaultWorldSize;
  double rank_timeout_s = kDefaultRankTimeoutS;
  uint64_t seed = 0;
  std::string collective;     // collective cases
  int64_t bytes = 0;          // collective cases: the requested size
  v1::CaseResult identity;    // spec (key, kernel, provider, ...), device_name, distributed
};

// The distributed cases of a job on the device types of `devices`, world_size overridden by
// `world_size_override` (--world-size; 0: each sweep's own, else kDefaultWorldSize), those
// whose key matches `filter`. Throws InputError naming `where` (the suite file) and the key for a
// world size the devices cannot hold, or more than kMaxDistributedCases cases.
std::vector<DistributedCase> expand_distributed(const v1::JobSpec& job, const std::vector<std::string>& devices,
                                                int world_size_override, const std::string& filter,
                                                const std::string& where);

// Runs one case on its rank processes (`exe __rank ...`; empty exe: this executable). Never
// throws: a rank that fails, dies or hangs fails the case, and the error names the rank.
v1::CaseResult run_distributed_case(const DistributedCase& c, const std::string& exe = "");

// `ligerbench __rank TASK_FILE RESULT_FILE`: one rank of a case (the launcher starts it).
int rank_main(int argc, char** argv);

}  // namespace ligerbench
