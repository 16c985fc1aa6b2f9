#pragma once
// The three kinds of work a rank does once its process group is up (docs/DISTRIBUTED.md).
#include <functional>

#include "src/distributed/process_group.h"
#include "ligerbench/proto.h"
#include "ligerbench/v1/rank_task.pb.h"

namespace ligerbench::dist {

// `debug_point` runs the sweep's kill_rank / hang_rank hooks: called once, after this rank's
// own computation and before the first collective that needs the other ranks' data.

// The kernel's liger op forward+backward on the seeded inputs, checked against float64; outputs
// and gradients all-gathered and compared bit for bit with rank 0's.
v1::CaseResult run_consistency(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point);

// One collective at one size, timed; algbw and busbw as nccl-tests defines them.
v1::CaseResult run_collective(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point);

// The data-parallel training step, liger build then baseline build; loss curves compared, and
// the parameters compared across ranks.
v1::CaseResult run_training_step(const v1::RankTask& task, Group& group, const std::function<void()>& debug_point);

}  // namespace ligerbench::dist
