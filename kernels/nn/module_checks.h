#pragma once
// Option checks shared by the loss modules (Liger's module asserts, as c10::Errors).
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#include <string>

namespace liger::detail {

inline void check_loss_module_options(const char* module, double label_smoothing, const std::string& reduction,
                                      c10::optional<double> softcap) {
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, module,
              ": label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  TORCH_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none", module,
              ": reduction must be 'mean', 'sum' or 'none', got '", reduction, "'");
  TORCH_CHECK(!softcap || *softcap > 0.0, module, ": softcap must be None or greater than 0, got ", *softcap);
}

inline c10::optional<at::Tensor> opt(const at::Tensor& t) {
  return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
}

}  // namespace liger::detail
