#pragma once
// The names every op's differentiable kernel (a torch::autograd::Function, ADDING_A_KERNEL.md
// step 1) is written with, in liger's namespace.
#include <torch/csrc/autograd/custom_function.h>

namespace liger {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

}  // namespace liger
