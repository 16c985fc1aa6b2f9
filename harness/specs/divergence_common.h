#pragma once
// Pieces the kl_div, jsd and fused_linear_jsd specs share: parameter checks, shift_labels with
// ignored rows, the PyTorch JSD the upstream benchmarks compare with, and float64 references
// computed row chunk by row chunk so that a (8192, 128256) case fits on the device.
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "ligerbench/kernel_spec.h"

namespace ligerbench::specs {

std::string validate_integer(const std::string& v);
std::string validate_unit_interval(const std::string& v);  // a number in [0, 1]
std::string validate_fraction_or_none(const std::string& v);  // "none" or a number in [0, 1]

// shift_labels for `rows` rows: absent (undefined) when the case's ignore_fraction is "none",
// else labels in [0, vocab) with round(ignore_fraction * rows) random rows set to ignore_index.
at::Tensor make_shift_labels(const CaseConfig& c, int64_t rows, int64_t vocab);

// Liger's benchmark TorchJSD (benchmark_jsd.py): KLDivLoss(reduction="none", log_target=True)
// compositions in fp32, the rows masked by the labels and averaged over the rows kept, returned
// in `out_dtype`. beta 0 and 1 are forward and reverse KL (the lerp formula is 0 there).
at::Tensor torch_jsd(const at::Tensor& log_q, const at::Tensor& log_p, const at::Tensor& labels, double beta,
                     int64_t ignore_index, at::ScalarType out_dtype);

// The generalised JSD of each row (KERNELS.md section 16), in the inputs' dtype, not divided by n.
at::Tensor jsd_rows(const at::Tensor& log_q, const at::Tensor& log_p, double beta);

// A scalar loss evaluated in pieces turned back into one autograd node: its value is `value` and
// its gradient with respect to wrt[i] is grads[i] (a dot product with each, minus its own value).
at::Tensor attach_gradients(double value, const std::vector<at::Tensor>& wrt, const std::vector<at::Tensor>& grads);

// Rows per chunk of a float64 reference over rows of `row_elements` elements: about 256 MB per
// (rows, row_elements) float64 tensor.
int64_t reference_chunk_rows(int64_t row_elements);

}  // namespace ligerbench::specs
