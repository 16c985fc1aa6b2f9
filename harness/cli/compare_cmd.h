#pragma once
// ligerbench compare: regression verdicts between two runs (files or server jobs).
namespace ligerbench::cli {

// argv[1] is "compare"; returns the exit status: 0 no regression, 1 a regression, 2 bad input,
// 3 the server could not be reached.
int cmd_compare(int argc, char** argv);

}  // namespace ligerbench::cli
