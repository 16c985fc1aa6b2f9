// embedding: KERNELS.md section 18. Baseline: at::embedding (nn.Embedding's functional form).
#include "liger/embedding.h"

#include <string>

#include "specs.h"

namespace ligerbench::specs {
namespace {

c10::optional<int64_t> padding_of(const CaseConfig& c) {
  const std::string& p = c.param("padding_idx");
  if (p == "none") return c10::nullopt;
  const int64_t v = std::stoll(p);
  return v < 0 ? v + c.axis("V") : v;
}

std::string validate_padding(const std::string& v) {
  if (v == "none") return "";
  try {
    std::size_t used = 0;
    (void)std::stoll(v, &used);
    if (used == v.size()) return "";
  } catch (const std::exception&) {
  }
  return "expected 'none' or an integer row index";
}

// Token ids as Liger's benchmark draws them (uniform over the vocabulary), (BT/1024, 1024) when
// BT allows; with padding_idx, the last eighth of every sequence is padding (a padded batch).
KernelInputs make_inputs(const CaseConfig& c) {
  const int64_t BT = c.axis("BT"), V = c.axis("V"), D = c.axis("D");
  const int64_t T = BT % 1024 == 0 ? 1024 : BT;
  const auto opts = at::TensorOptions().device(c.device);
  at::Tensor weight = at::randn({V, D}, opts.dtype(c.dtype));
  at::Tensor indices = at::randint(0, V, {BT / T, T}, opts.dtype(at::kLong));
  if (const auto pad = padding_of(c)) {
    weight[*pad].zero_();  // as both modules initialise it
    indices.narrow(1, T - T / 8, T / 8).fill_(*pad);
  }
  KernelInputs in;
  in.tensors = {weight.requires_grad_(true), indices};
  in.names = {"weight", "indices"};
  return in;
}

std::vector<at::Tensor> liger_fn(const KernelInputs& in, const CaseConfig& c) {
  return {liger::embedding(in.tensors[0], in.tensors[1], padding_of(c))};
}

std::vector<at::Tensor> baseline_fn(const KernelInputs& in, const CaseConfig& c) {
  return {at::embedding(in.tensors[0], in.tensors[1], padding_of(c).value_or(-1))};
}

// Rows gathered in float64; padding positions forced to 0 (so the padding row gets no gradient).
std::vector<at::Tensor> reference_fn(const KernelInputs& in, const CaseConfig& c) {
  const at::Tensor& w = in.tensors[0];
  const at::Tensor& idx = in.tensors[1];
  std::vector<int64_t> shape(idx.sizes().begin(), idx.sizes().end());
  shape.push_back(w.size(1));
  at::Tensor out = w.index_select(0, idx.reshape({-1})).view(shape);
  if (const auto pad = padding_of(c)) out = out.masked_fill((idx == *pad).unsqueeze(-1), 0);
  return {out};
}

Cost cost(const CaseConfig& c, Mode m) {
  const double BT = c.axis("BT"), V = c.axis("V"), D = c.axis("D"), es = at::elementSize(c.dtype);
  const Cost fwd{2 * BT * D * es + 8 * BT, 0};
  // dW is dense: every row written (zeros included); the gathered rows of dOut read once.
  const Cost bwd{V * D * es + 2 * BT * D * es + 8 * BT, BT * D};
  return cost_by_mode(m, fwd, bwd);
}

}  // namespace

KernelSpec embedding() {
  KernelSpec s = named_spec("embedding", "embedding",
                            "Embedding lookup; weight gradient summed in fp32 per distinct index",
                            {"liger::embedding_forward", "liger::embedding_backward"});
  s.small_axes = {{"BT", 19}, {"V", 37}, {"D", 24}};
  s.axes = {{"BT", 1024, "tokens (batch x 1024-token sequences)"},
            {"V", 128256, "vocabulary (rows of the table)"},
            {"D", 4096, "embedding dim"}};
  s.params = {{"padding_idx", "none", {}, validate_padding}};
  offer_float_dtypes(s, "bf16");
  set_calls(s, {make_inputs, liger_fn, baseline_fn, reference_fn, cost});
  s.memory_estimate = [](const CaseConfig& c) {
    const double es = at::elementSize(c.dtype);
    return (2.0 * c.axis("V") + 4.0 * c.axis("BT")) * c.axis("D") * es;
  };
  return s;
}

}  // namespace ligerbench::specs
