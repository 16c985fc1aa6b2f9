#include "multi_token_attention_math.h"

#include "sparsemax_math.h"

namespace ligerbench::specs {

at::Tensor mta_composition(const at::Tensor& scores, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           const MtaConv& cv, bool sparse) {
  const int64_t L = scores.size(-1);
  const auto bool_opts = scores.options().dtype(at::kBool).requires_grad(false);
  // -1e9 does not fit in fp16 (masked_fill refuses it); there its lowest finite value, which
  // masks as completely.
  const double masked_value = scores.scalar_type() == at::kHalf ? -65504.0 : -1e9;
  const at::Tensor masked = scores.masked_fill(at::ones({L, L}, bool_opts).triu(1), masked_value);
  const at::Tensor probs = sparse ? sort_sparsemax(masked, -1, /*strict=*/true) : at::softmax(masked, -1);
  const at::Tensor o = at::conv2d(probs, weight, bias, {cv.stride, cv.stride}, {cv.padding, cv.padding},
                                  {cv.dilation, cv.dilation}, cv.groups);
  return o.masked_fill(at::ones({o.size(-2), o.size(-1)}, bool_opts).triu(1), 0);
}

}  // namespace ligerbench::specs
