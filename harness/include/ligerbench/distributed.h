#pragma once
// Distributed cases (docs/DISTRIBUTED.md): a CaseSweep with `distributed: consistency` or
// `distributed: collective` runs on world_size rank processes (`ligerbench __rank`), which meet
// through a c10d TCPStore that the launcher hosts on loopback and talk through c10d's
// ProcessGroupGloo (cpu) or ProcessGroupNCCL (cuda).
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ligerbench/proto.h"
#include "ligerbench/v1/rank_task.pb.h"
#include "ligerbench/suite.h"

namespace ligerbench {

constexpr int kMaxCpuWorldSize = 8;  // ranks of one case on one machine's cpu
constexpr int kMaxPeerNodes = 15;     // distributed_options.nodes: peers beside the receiving server
constexpr int kDefaultWorldSize = 2;
constexpr double kDefaultRankTimeoutS = 60;
// Distributed cases of one run: each starts world_size processes.
constexpr std::size_t kMaxDistributedCases = 1000;

// "host:port" (host a name or IPv4 address, no scheme or spaces; port in [min_port, 65535]): the
// form of distributed_options.nodes and rendezvous, and of a rank task's store address.
bool is_host_port(const std::string& s, int min_port);

// "" when this build has the process-group backend of `device` ("cpu": Gloo, "cuda...": NCCL),
// else why not: a build finds each backend's headers at configure time (docs/DISTRIBUTED.md).
std::string distributed_backend_unavailable(const std::string& device);

// The options' rank_timeout_s, or kDefaultRankTimeoutS when unset.
double rank_timeout_of(const v1::DistributedOptions& o);

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

// Multi-node: runs one peer node's ranks (`node` host:port, `tasks` in rank order) and returns
// their outcomes in task order; throws, naming the node, when it cannot be reached or refuses
// them. Called on a thread of its own. `abandon` turns true when the case has failed elsewhere:
// the call should then stop the peer's ranks and return.
using RunOnPeer = std::function<std::vector<v1::RankOutcome>(const std::string& node, const std::vector<v1::RankTask>& tasks,
                                                             const std::atomic<bool>& abandon)>;

struct LaunchOptions {
  std::string exe;           // the rank executable (`exe __rank TASK RESULT`); empty: this one
  std::function<bool()> stop;  // polled while ranks run; true kills them (a cancelled job)
  RunOnPeer run_on_peer;     // needed by cases whose distributed_options name nodes (the server's)
};

// The node (host:port, "" for this one) of each rank of `c`: the world_size ranks split evenly,
// ranks 0 .. k-1 here, then k per entry of distributed_options.nodes.
std::vector<std::string> rank_nodes(const DistributedCase& c);

// Runs one case on its rank processes. Never throws: a rank that fails, dies or hangs, or a peer
// node that cannot be reached, fails the case, and the error names the rank (or node).
v1::CaseResult run_distributed_case(const DistributedCase& c, const LaunchOptions& options = {});

// Runs `tasks` (ranks of one case, which meet at the store the tasks name) as processes of this
// machine, and waits for every one: once one has failed the others get a short grace, and none
// outlives rank_timeout_s plus the start-up allowance, or stop() giving a reason (empty: go on). One outcome per
// task, in order; a rank without a result says how it ended ("rank 1 of 4 was killed by ...").
std::vector<v1::RankOutcome> run_local_ranks(const std::vector<v1::RankTask>& tasks, double rank_timeout_s,
                                             const std::string& exe, const std::function<std::string()>& stop);

// `ligerbench __rank TASK_FILE RESULT_FILE`: one rank of a case (the launcher starts it).
int rank_main(int argc, char** argv);

}  // namespace ligerbench
