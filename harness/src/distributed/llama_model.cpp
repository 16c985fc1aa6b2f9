// A small Llama-style decoder, liger build and baseline build (llama_model.h). The baseline's
// operators are the compositions the kernel specs use (harness/specs/*_spec.cpp): at::embedding,
// HF's LlamaRMSNorm, HF's rotate_half rotary embedding, down(silu(gate(x)) * up(x)), and
// float32 logits into at::cross_entropy_loss. Attention is at::scaled_dot_product_attention
// (causal) in both builds.
#include "src/distributed/llama_model.h"

#include <torch/version.h>

#include <cmath>

#include "liger/embedding.h"
#include "liger/fused_linear_cross_entropy.h"
#include "liger/rms_norm.h"
#include "liger/rope.h"
#include "liger/swiglu.h"

namespace ligerbench::dist {
namespace {

constexpr double kEps = 1e-6;
constexpr double kInitStd = 0.02;
constexpr double kRopeTheta = 10000.0;

int64_t or_default(int64_t v, int64_t d) { return v != 0 ? v : d; }

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// q (B, heads, T, D), k and v (B, kv_heads, T, D); grouped-query heads share their k and v.
at::Tensor causal_attention(const at::Tensor& q, at::Tensor k, at::Tensor v) {
  const int64_t groups = q.size(1) / k.size(1);
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  // LibTorch 1.13 has the same operator under its private name.
  return std::get<0>(at::_scaled_dot_product_attention(q, k, v, {}, 0.0, /*need_attn_weights=*/false, /*is_causal=*/true));
#endif
}

int64_t per_layer_parameters(const v1::TrainingModel& m) {
  const int64_t h = m.hidden(), kv = m.kv_heads() * (h / m.heads());
  return 2 * h                        // the two norms
         + 2 * h * h                  // q and o projections
         + 2 * h * kv                 // k and v projections
         + 3 * h * m.intermediate();  // gate, up, down
}

}  // namespace

v1::TrainingModel with_defaults(const v1::TrainingModel& in) {
  v1::TrainingModel m;
  m.set_hidden(or_default(in.hidden(), 64));
  m.set_layers(or_default(in.layers(), 2));
  m.set_heads(or_default(in.heads(), 4));
  m.set_kv_heads(or_default(in.kv_heads(), std::min<int64_t>(2, m.heads())));
  m.set_intermediate(or_default(in.intermediate(), 128));
  m.set_vocab(or_default(in.vocab(), 512));
  m.set_seq(or_default(in.seq(), 32));
  m.set_batch(or_default(in.batch(), 2));
  return m;
}

int64_t parameter_count(const v1::TrainingModel& m) {
  return 2 * m.vocab() * m.hidden() + m.hidden() + m.layers() * per_layer_parameters(m);
}

double flops_per_step(const v1::TrainingModel& m) {
  const double tokens = static_cast<double>(m.batch()) * m.seq();
  const double matmul_params = static_cast<double>(parameter_count(m) - m.vocab() * m.hidden());
  return 6.0 * matmul_params * tokens + 12.0 * m.layers() * m.seq() * m.hidden() * tokens;
}

double estimated_bytes(const v1::TrainingModel& m, int64_t element_bytes) {
  const double e = static_cast<double>(element_bytes);
  const double tokens = static_cast<double>(m.batch()) * m.seq();
  const double weights = 5.0 * e * parameter_count(m);  // weights, gradients, their buckets, AdamW's two moments
  const double scores = 2.0 * m.batch() * m.heads() * static_cast<double>(m.seq()) * m.seq() * (e + 4);
  const double per_layer = tokens * (12.0 * m.hidden() + 6.0 * m.intermediate()) * e + scores;
  const double logits = tokens * m.vocab() * (e + 12);  // the baseline's logits, float32 copy, softmax, gradient
  return weights + m.layers() * per_layer + logits;
}

const char* build_name(Build b) { return b == Build::kLiger ? "liger" : "baseline"; }

at::Tensor LlamaDecoder::add(const std::string& name, at::Tensor value) {
  value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

LlamaDecoder::LlamaDecoder(const v1::TrainingModel& m, Build build, at::ScalarType dtype, const at::Device& device,
                           uint64_t seed)
    : m_(m), build_(build) {
  at::manual_seed(seed);
  const auto f32 = at::TensorOptions().device(device).dtype(at::kFloat);
  const int64_t h = m.hidden(), d = h / m.heads(), kv = m.kv_heads() * d, i = m.intermediate();
  auto weight = [&](std::initializer_list<int64_t> shape) { return (at::randn(shape, f32) * kInitStd).to(dtype); };
  auto ones = [&] { return at::ones({h}, f32.dtype(dtype)); };
  embed_ = add("embed", weight({m.vocab(), h}));
  for (int64_t l = 0; l < m.layers(); ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    Layer L;
    L.attn_norm = add(p + "attn_norm", ones());
    L.wq = add(p + "wq", weight({h, h}));
    L.wk = add(p + "wk", weight({kv, h}));
    L.wv = add(p + "wv", weight({kv, h}));
    L.wo = add(p + "wo", weight({h, h}));
    L.mlp_norm = add(p + "mlp_norm", ones());
    L.w_gate = add(p + "w_gate", weight({i, h}));
    L.w_up = add(p + "w_up", weight({i, h}));
    L.w_down = add(p + "w_down", weight({h, i}));
    layers_.push_back(std::move(L));
  }
  final_norm_ = add("final_norm", ones());
  head_ = add("head", weight({m.vocab(), h}));
  // HF's rotary table: float32 angles, cos/sin of cat(freqs, freqs), cast to the model's dtype.
  const at::Tensor inv_freq = 1.0 / at::pow(kRopeTheta, at::arange(0, d, 2, f32) / static_cast<double>(d));
  const at::Tensor freqs = at::outer(at::arange(m.seq(), f32), inv_freq);
  const at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(0);  // (1, T, D)
  cos_ = emb.cos().to(dtype);
  sin_ = emb.sin().to(dtype);
}

at::Tensor LlamaDecoder::norm(const at::Tensor& x, const at::Tensor& w) const {
  if (build_ == Build::kLiger) return liger::rms_norm(x, w, kEps, 0.0, "llama", /*in_place=*/true);
  at::Tensor h = x.to(at::kFloat);  // HF's LlamaRMSNorm
  h = h * at::rsqrt(h.pow(2).mean(-1, true) + kEps);
  return w * h.to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> LlamaDecoder::rotate(const at::Tensor& q, const at::Tensor& k) const {
  if (build_ == Build::kLiger) {
    auto [rq, rk] = liger::rope(q, k, cos_, sin_);
    return {rq, rk};
  }
  const at::Tensor c = cos_.unsqueeze(1), s = sin_.unsqueeze(1);  // HF's apply_rotary_pos_emb
  return {q * c + rotate_half(q) * s, k * c + rotate_half(k) * s};
}

at::Tensor LlamaDecoder::gated(const at::Tensor& gate, const at::Tensor& up) const {
  if (build_ == Build::kLiger) return liger::swiglu(gate, up);
  return at::silu(gate) * up;
}

at::Tensor LlamaDecoder::head_loss(const at::Tensor& x, const at::Tensor& targets) const {
  const at::Tensor flat = x.reshape({-1, m_.hidden()});
  if (build_ == Build::kLiger) return std::get<0>(liger::fused_linear_cross_entropy(flat, head_, targets.reshape(-1)));
  return at::cross_entropy_loss(at::linear(flat, head_).to(at::kFloat), targets.reshape(-1));
}

at::Tensor LlamaDecoder::loss(const at::Tensor& tokens) const {
  const int64_t B = tokens.size(0), T = tokens.size(1) - 1, H = m_.hidden();
  const int64_t d = H / m_.heads();
  const at::Tensor inputs = tokens.narrow(1, 0, T), targets = tokens.narrow(1, 1, T);
  at::Tensor x = build_ == Build::kLiger ? liger::embedding(embed_, inputs) : at::embedding(embed_, inputs);
  for (const Layer& L : layers_) {
    const at::Tensor h = norm(x, L.attn_norm);
    const at::Tensor q = at::linear(h, L.wq).view({B, T, m_.heads(), d}).transpose(1, 2);
    const at::Tensor k = at::linear(h, L.wk).view({B, T, m_.kv_heads(), d}).transpose(1, 2);
    const at::Tensor v = at::linear(h, L.wv).view({B, T, m_.kv_heads(), d}).transpose(1, 2);
    const auto [rq, rk] = rotate(q, k);
    const at::Tensor a = causal_attention(rq, rk, v).transpose(1, 2).reshape({B, T, H});
    x = x + at::linear(a, L.wo);
    const at::Tensor g = norm(x, L.mlp_norm);
    x = x + at::linear(gated(at::linear(g, L.w_gate), at::linear(g, L.w_up)), L.w_down);
  }
  return head_loss(norm(x, final_norm_), targets);
}

}  // namespace ligerbench::dist
