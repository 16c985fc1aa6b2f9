#pragma once
// multi_token_attention's composition (KERNELS.md section 8), the one formula its spec's baseline
// and float64 reference and the kernel tests (which also vary the conv options the harness does
// not expose) all use: mask_0(conv2d(softmax or sparsemax(mask_-1e9(scores)))), as Liger's test
// and benchmark write it.
#include <ATen/ATen.h>

namespace ligerbench::specs {

struct MtaConv {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
};

// scores (B, C_in, L, L); the output mask is on the conv output's own grid (L' x L'), which is the
// L x L grid with padding K/2, stride 1, dilation 1 (the harness's cases). `sparse` takes the
// strict sort-based sparsemax (sparsemax_math.h) instead of softmax.
at::Tensor mta_composition(const at::Tensor& scores, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
                           const MtaConv& conv, bool sparse);

}  // namespace ligerbench::specs
