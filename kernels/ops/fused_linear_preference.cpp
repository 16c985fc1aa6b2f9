// The alignment-loss family's forward and autograd (fused_linear_preference.h). Device-agnostic:
// ATen GEMMs through the chunked skeleton and ATen ops for the per-chunk log-softmax, gather and
// pairwise loss, so the same code is the CPU and the CUDA kernel.
#include "fused_linear_preference.h"

#include <cmath>

#include "chunked_fused_linear.h"
#include "common/autograd_function.h"
#include "liger/cross_entropy.h"
#include "liger/fused_linear_preference.h"
#include "preference_pair_loss.h"

namespace liger::detail {
namespace {

void check_same_device(const at::Tensor& t, const at::Tensor& input, const char* name, const char* op) {
  TORCH_CHECK(t.device() == input.device(), op, ": ", name, " is on ", t.device(), " but input is on ",
              input.device());
}

// A (B, T, H) hidden-state tensor and its (V, H) lm_head (+ (V,) bias).
void check_linear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, const at::Tensor& input,
                  const char* xname, const char* wname, const char* bname, const char* op) {
  TORCH_CHECK(x.dim() == 3, op, ": ", xname, " must be 3-D (B, T, H), got ", x.sizes());
  TORCH_CHECK(w.dim() == 2 && w.size(1) == x.size(2) && w.size(0) > 0, op, ": ", wname,
              " must be (V, H) with H = ", x.size(2), " (", xname, "'s last dim) and V > 0, got ", w.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()) && at::isFloatingType(w.scalar_type()), op, ": ", xname, " and ",
              wname, " must be floating point, got ", x.scalar_type(), " and ", w.scalar_type());
  check_same_device(x, input, xname, op);
  check_same_device(w, input, wname, op);
  if (b && b->defined()) {
    TORCH_CHECK(b->dim() == 1 && b->size(0) == w.size(0), op, ": ", bname, " must have shape (", w.size(0), ",), got ",
                b->sizes());
    TORCH_CHECK(at::isFloatingType(b->scalar_type()), op, ": ", bname, " must be floating point, got ",
                b->scalar_type());
    check_same_device(*b, input, bname, op);
  }
}

void check_labels(const at::Tensor& y, const at::Tensor& input, int64_t vocab, int64_t ignore_index, const char* name,
                  const char* op) {
  TORCH_CHECK(y.dim() == 2 && y.size(0) == input.size(0) && y.size(1) == input.size(1), op, ": ", name,
              " must be (B, T) = (", input.size(0), ", ", input.size(1), "), got ", y.sizes());
  TORCH_CHECK(y.scalar_type() == at::kLong || y.scalar_type() == at::kInt, op, ": ", name,
              " must be int64 or int32, got ", y.scalar_type());
  check_same_device(y, input, name, op);
  const at::Tensor bad = (y != ignore_index) & ((y < 0) | (y >= vocab));
  TORCH_CHECK(!bad.any().item<bool>(), op, ": ", name, " has a label outside [0, ", vocab,
              ") that is not ignore_index (", ignore_index, ")");
}

void check_inputs(const PreferenceTensors& t, const PreferenceOptions& o) {
  const char* op = o.op;
  check_linear(t.input, t.weight, t.bias, t.input, "input", "weight", "bias", op);
  const int64_t batch = t.input.size(0);
  TORCH_CHECK(batch >= 2 && batch % 2 == 0, op,
              ": the batch must hold chosen then rejected sequences (B even, at least 2), got B = ", batch);
  // No token: no sequence log-prob, and the logits means would divide by zero.
  TORCH_CHECK(t.input.size(1) >= 1, op, ": input must have at least one token per sequence (T >= 1), got ",
              t.input.sizes());
  TORCH_CHECK(o.chunk_size >= 1, op, ": chunk_size must be at least 1, got ", o.chunk_size);
  TORCH_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, op, ": label_smoothing must be in [0, 1], got ",
              o.label_smoothing);
  TORCH_CHECK(std::isfinite(o.beta), op, ": beta must be finite, got ", o.beta);
  const int64_t vocab = t.weight.size(0);
  check_labels(t.target, t.input, vocab, o.ignore_index, "target", op);
  if (t.nll_target && t.nll_target->defined())
    check_labels(*t.nll_target, t.input, vocab, o.ignore_index, "nll_target", op);
  if (o.method != PreferenceMethod::kDPO || !o.use_ref_model) return;
  const bool has_c = t.ref_chosen_logps && t.ref_chosen_logps->defined();
  const bool has_r = t.ref_rejected_logps && t.ref_rejected_logps->defined();
  TORCH_CHECK(has_c == has_r, op, ": give both ref_chosen_logps and ref_rejected_logps, or neither");
  if (has_c) {
    for (const at::Tensor* l : {&*t.ref_chosen_logps, &*t.ref_rejected_logps}) {
      TORCH_CHECK(l->dim() == 1 && l->size(0) == batch / 2 && at::isFloatingType(l->scalar_type()), op,
                  ": precomputed reference log-probs must be floating point of shape (", batch / 2, ",), got ",
                  l->sizes(), " ", l->scalar_type());
      check_same_device(*l, t.input, "the reference log-probs", op);
    }
    return;
  }
  TORCH_CHECK(t.ref_input && t.ref_input->defined() && t.ref_weight && t.ref_weight->defined(), op,
              ": use_ref_model needs ref_input and ref_weight (or ref_chosen_logps and ref_rejected_logps)");
  check_linear(*t.ref_input, *t.ref_weight, t.ref_bias, t.input, "ref_input", "ref_weight", "ref_bias", op);
  TORCH_CHECK(t.ref_input->size(0) == batch && t.ref_input->size(1) == t.input.size(1), op,
              ": ref_input must have input's (B, T) = (", batch, ", ", t.input.size(1), "), got ", t.ref_input->sizes());
  TORCH_CHECK(t.ref_weight->size(0) == vocab, op, ": ref_weight must have V = ", vocab, " rows, got ",
              t.ref_weight->sizes());
}

// Per-token log-probs of one chunk's labels and the per-sequence sums (or means).
struct ChunkLogps {
  at::Tensor logp;    // (rows, V) log-softmax in the compute dtype
  at::Tensor labels;  // (rows,) int64, ignored positions replaced by 0
  at::Tensor mask;    // (rows,) compute dtype: 1 where the label counts
  at::Tensor count;   // (sequences,) valid tokens per sequence
  at::Tensor seq;     // (sequences,) log-prob of each sequence
};

ChunkLogps chunk_logps(const at::Tensor& logits, const at::Tensor& y, int64_t seq_len, int64_t ignore_index,
                       bool average, at::ScalarType ct) {
  ChunkLogps l;
  l.logp = at::log_softmax(logits, 1, ct);
  const at::Tensor valid = y != ignore_index;
  l.labels = at::where(valid, y, at::zeros_like(y)).to(at::kLong);
  l.mask = valid.to(ct);
  const at::Tensor lp = l.logp.gather(1, l.labels.unsqueeze(1)).squeeze(1) * l.mask;
  l.seq = lp.view({-1, seq_len}).sum(1);
  l.count = l.mask.view({-1, seq_len}).sum(1);
  if (average) l.seq = l.seq / l.count;  // no valid token: NaN, as Liger
  return l;
}

// A (B, T, H) model's (B/2,) chosen and rejected log-probs, chunk by chunk, without gradients.
std::pair<at::Tensor, at::Tensor> sequence_logps(const at::Tensor& input, const at::Tensor& weight,
                                                 const c10::optional<at::Tensor>& bias, const at::Tensor& target,
                                                 const PreferenceOptions& o, at::ScalarType ct) {
  const int64_t batch = input.size(0), seq_len = input.size(1), half = batch / 2;
  const at::Tensor y = target.reshape({-1});
  at::Tensor chosen = at::empty({half}, input.options().dtype(ct)), rejected = at::empty_like(chosen);
  FusedLinearArgs args{input.reshape({batch * seq_len, input.size(2)}), weight, bias, {false, false, false}, {}};
  chunked_fused_linear(args, paired_chunks(batch, seq_len, o.chunk_size),
                       [&](const Chunk& chunk, at::Tensor& logits, bool) {
                         const int64_t first = chunk[0].start / seq_len, n = chunk[0].rows / seq_len;
                         const ChunkLogps l = chunk_logps(logits, gather_chunk_rows(y, chunk), seq_len, o.ignore_index,
                                                          o.average_log_prob, ct);
                         chosen.narrow(0, first, n).copy_(l.seq.narrow(0, 0, n));
                         rejected.narrow(0, first, n).copy_(l.seq.narrow(0, n, n));
                         return at::Tensor();
                       });
  return {chosen, rejected};
}

}  // namespace

PreferenceForward preference_forward(const PreferenceTensors& t, const PreferenceOptions& o,
                                     std::array<bool, 3> grad_mask) {
  check_inputs(t, o);
  const int64_t batch = t.input.size(0), seq_len = t.input.size(1), hidden = t.input.size(2);
  const int64_t vocab = t.weight.size(0), half = batch / 2;
  // Log-softmax and loss math in fp32 (fp64 for fp64 inputs, so gradients can be checked exactly).
  const at::ScalarType ct = t.input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto copts = t.input.options().dtype(ct);
  const at::Tensor y = t.target.reshape({-1});
  const at::Tensor y_nll = t.nll_target && t.nll_target->defined() ? t.nll_target->reshape({-1}) : y;
  const bool nll = o.compute_nll_loss;
  // The NLL divides by the valid tokens of the whole chosen half, so chunk sums add up exactly.
  const at::Tensor nll_count = (y_nll.narrow(0, 0, half * seq_len) != o.ignore_index).sum().to(ct);

  at::Tensor ref_chosen = at::zeros({half}, copts), ref_rejected = at::zeros({half}, copts);
  if (o.method == PreferenceMethod::kDPO && o.use_ref_model) {
    if (t.ref_chosen_logps && t.ref_chosen_logps->defined()) {
      ref_chosen = t.ref_chosen_logps->detach().to(ct);
      ref_rejected = t.ref_rejected_logps->detach().to(ct);
    } else {
      std::tie(ref_chosen, ref_rejected) =
          sequence_logps(t.ref_input->detach(), t.ref_weight->detach(),
                         t.ref_bias ? c10::optional<at::Tensor>(t.ref_bias->detach()) : c10::nullopt, t.target, o, ct);
    }
  }

  at::Tensor chosen = at::empty({half}, copts), rejected = at::empty({half}, copts);
  at::Tensor logits_sum = at::zeros({2}, copts), nll_sum = at::zeros({}, copts);
  const double alpha = o.method == PreferenceMethod::kORPO ? 1.0 : o.alpha;
  const bool has_bias = t.bias && t.bias->defined();
  FusedLinearArgs args{t.input.reshape({batch * seq_len, hidden}), t.weight, t.bias,
                       {grad_mask[0], grad_mask[1], grad_mask[2] && has_bias}, {}};
  auto loss_fn = [&](const Chunk& chunk, at::Tensor& logits, bool compute_grad) {
    const int64_t first = chunk[0].start / seq_len, n = chunk[0].rows / seq_len, chosen_rows = chunk[0].rows;
    logits_sum[0].add_(logits.narrow(0, 0, chosen_rows).sum(ct));
    logits_sum[1].add_(logits.narrow(0, chosen_rows, logits.size(0) - chosen_rows).sum(ct));
    ChunkLogps l = chunk_logps(logits, gather_chunk_rows(y, chunk), seq_len, o.ignore_index, o.average_log_prob, ct);
    const at::Tensor c = l.seq.narrow(0, 0, n), r = l.seq.narrow(0, n, n);
    chosen.narrow(0, first, n).copy_(c);
    rejected.narrow(0, first, n).copy_(r);
    at::Tensor contribution;
    at::Tensor nll_labels, nll_mask;
    if (nll) {
      const at::Tensor yn = y_nll.narrow(0, chunk[0].start, chosen_rows);
      const at::Tensor valid = yn != o.ignore_index;
      nll_labels = at::where(valid, yn, at::zeros_like(yn)).to(at::kLong);
      nll_mask = valid.to(ct);
      const at::Tensor nll_chunk =
          -(l.logp.narrow(0, 0, chosen_rows).gather(1, nll_labels.unsqueeze(1)).squeeze(1) * nll_mask).sum() / nll_count;
      nll_sum.add_(nll_chunk);
      contribution = alpha * nll_chunk;
    }
    const PairTerms p = pair_terms(o, c, r, ref_chosen.narrow(0, first, n), ref_rejected.narrow(0, first, n));
    const at::Tensor pref = p.loss.sum() / static_cast<double>(half);
    contribution = contribution.defined() ? contribution + pref : pref;
    if (!compute_grad) return contribution;
    // d loss / d logp[t, v] is g_t at the target (and the NLL's at its target); through the
    // log-softmax: dlogits = onehot-weighted g - softmax * (sum of g over the row).
    at::Tensor g_seq = at::cat({p.d_chosen, p.d_rejected}) / static_cast<double>(half);
    if (o.average_log_prob) g_seq = g_seq / l.count;
    const at::Tensor g_tok = g_seq.unsqueeze(1).expand({2 * n, seq_len}).reshape({-1}) * l.mask;
    at::Tensor g_row = g_tok;
    at::Tensor g_nll;
    if (nll) {
      g_nll = nll_mask * (-alpha) / nll_count;
      g_row = g_tok.clone();
      g_row.narrow(0, 0, chosen_rows).add_(g_nll);
    }
    at::Tensor d = l.logp.exp_();  // softmax, in place of the log-probs (gathered above)
    d.mul_(-g_row.unsqueeze(1));
    d.scatter_add_(1, l.labels.unsqueeze(1), g_tok.unsqueeze(1));
    if (nll) d.narrow(0, 0, chosen_rows).scatter_add_(1, nll_labels.unsqueeze(1), g_nll.unsqueeze(1));
    logits.copy_(d);
    return contribution;
  };
  ChunkedResult res = chunked_fused_linear(args, paired_chunks(batch, seq_len, o.chunk_size), loss_fn);

  PreferenceForward f;
  f.loss = res.loss;
  const at::Tensor means = logits_sum / static_cast<double>(half * seq_len * vocab);
  const bool dpo = o.method == PreferenceMethod::kDPO;
  f.aux = {chosen, rejected, means[0], means[1], nll ? nll_sum : at::zeros({}, copts),
           o.beta * (dpo ? chosen - ref_chosen : chosen), o.beta * (dpo ? rejected - ref_rejected : rejected)};
  if (o.method == PreferenceMethod::kORPO) {
    const at::Tensor lo = orpo_log_odds(chosen, rejected);
    f.aux.push_back(at::log_sigmoid(lo).sum() / static_cast<double>(half));
    f.aux.push_back(lo.sum() / static_cast<double>(half));
  }
  if (res.grads.grad_input.defined()) f.grad_input = res.grads.grad_input.view({batch, seq_len, hidden});
  f.grad_weight = res.grads.grad_weight;
  f.grad_bias = res.grads.grad_bias;
  return f;
}

PreferenceOptions preference_options(PreferenceMethod method, int64_t ignore_index, double beta, bool compute_nll_loss,
                                     int64_t chunk_size) {
  PreferenceOptions o;
  o.method = method;
  o.ignore_index = ignore_index;
  o.beta = beta;
  o.compute_nll_loss = compute_nll_loss;
  o.chunk_size = chunk_size;
  return o;
}

PreferenceSchemas preference_schemas(const std::string& name, const std::string& options_schema) {
  // The forward half's arguments are the op's without defaults: each "type name=default" loses
  // its "=default" (no default value holds a comma).
  std::string required;
  bool in_default = false;
  for (const char c : options_schema) {
    if (c == '=' || c == ',') in_default = c == '=';
    if (!in_default) required += c;
  }
  return {name + "(Tensor input, Tensor weight, Tensor target, Tensor? bias=None, " + options_schema +
              ") -> (Tensor loss, Tensor[] aux)",
          name + "_forward(Tensor input, Tensor weight, Tensor target, Tensor? bias, " + required +
              ", bool[3] grad_mask) -> (Tensor loss, Tensor[] aux, Tensor grad_input, Tensor grad_weight, "
              "Tensor grad_bias)"};
}

PreferenceForwardTuple as_tuple(PreferenceForward f) {
  return {std::move(f.loss), std::move(f.aux), std::move(f.grad_input), std::move(f.grad_weight),
          std::move(f.grad_bias)};
}

PreferenceForward from_tuple(PreferenceForwardTuple t) {
  return {std::move(std::get<0>(t)), std::move(std::get<1>(t)), std::move(std::get<2>(t)), std::move(std::get<3>(t)),
          std::move(std::get<4>(t))};
}

namespace {

class PreferenceFunction : public torch::autograd::Function<PreferenceFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const at::Tensor& weight,
                               const c10::optional<at::Tensor>& bias, const PreferenceRunner& run,
                               std::array<bool, 3> grad_mask) {
    at::AutoDispatchBelowADInplaceOrView guard;
    PreferenceForward f = run(grad_mask);
    ctx->save_for_backward(
        {f.grad_input, f.grad_weight, f.grad_bias, at::ones({}, input.options().dtype(at::kDouble))});
    variable_list outputs = {f.loss};
    outputs.insert(outputs.end(), f.aux.begin(), f.aux.end());
    ctx->mark_non_differentiable(variable_list(outputs.begin() + 1, outputs.end()));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    variable_list grads(5);
    const at::Tensor& g = grad_outputs[0];
    if (!g.defined()) return grads;
    auto saved = ctx->get_saved_variables();
    at::AutoDispatchBelowADInplaceOrView guard;
    std::vector<at::Tensor> stored;
    for (int i = 0; i < 3; ++i)
      if (saved[i].defined()) stored.push_back(saved[i]);
    rescale_stored_grads_(stored, g, saved[3]);
    grads[0] = saved[0];
    grads[1] = saved[1];
    grads[2] = saved[2];
    return grads;
  }
};

}  // namespace

PreferenceLossTuple preference_autograd(const at::Tensor& input, const at::Tensor& weight,
                                        const c10::optional<at::Tensor>& bias, const PreferenceRunner& run) {
  // Each tensor's own flag decides its gradient.
  const bool grad_mode = at::GradMode::is_enabled();
  const std::array<bool, 3> mask = {grad_mode && input.requires_grad(), grad_mode && weight.requires_grad(),
                                    grad_mode && bias && bias->defined() && bias->requires_grad()};
  if (!(mask[0] || mask[1] || mask[2])) return preference_no_grad(run);
  variable_list out = PreferenceFunction::apply(input, weight, bias, run, mask);
  return {out[0], std::vector<at::Tensor>(out.begin() + 1, out.end())};
}

PreferenceLossTuple preference_no_grad(const PreferenceRunner& run) {
  at::AutoDispatchBelowADInplaceOrView guard;
  PreferenceForward f = run({false, false, false});
  return {f.loss, f.aux};
}

}  // namespace liger::detail

namespace liger {

PreferenceLossOutput preference_loss_output(const at::Tensor& loss, const std::vector<at::Tensor>& aux) {
  TORCH_CHECK(aux.size() == 7 || aux.size() == 9, "preference_loss_output: expected 7 or 9 aux outputs, got ",
              aux.size());
  PreferenceLossOutput o{loss, aux[0], aux[1], aux[2], aux[3], aux[4], aux[5], aux[6], {}, {}};
  if (aux.size() == 9) {
    o.log_odds_ratio = aux[7];
    o.log_odds_chosen = aux[8];
  }
  return o;
}

}  // namespace liger
