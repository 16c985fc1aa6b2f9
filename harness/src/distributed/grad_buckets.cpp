#include "src/distributed/grad_buckets.h"

#include <stdexcept>

namespace ligerbench::dist {

GradBuckets::GradBuckets(std::vector<at::Tensor> params, std::vector<std::string> names, Group& group,
                         int64_t bucket_bytes, at::ScalarType reduce_dtype, bool keep_own_gradients)
    : params_(std::move(params)), names_(std::move(names)), group_(group), keep_own_(keep_own_gradients) {
  bucket_of_.assign(params_.size(), -1);
  offset_of_.assign(params_.size(), 0);
  // Reverse order of the forward: backward produces the last layers' gradients first.
  std::vector<std::vector<int>> groups;
  int64_t bytes = 0;
  for (int i = static_cast<int>(params_.size()) - 1; i >= 0; --i) {
    const int64_t b = static_cast<int64_t>(params_[i].nbytes());
    if (groups.empty() || (bytes > 0 && bytes + b > bucket_bytes)) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += b;
  }
  for (const auto& g : groups) {
    Bucket bucket;
    int64_t numel = 0;
    for (int i : g) {
      bucket_of_[i] = static_cast<int>(buckets_.size());
      offset_of_[i] = numel;
      numel += params_[i].numel();
    }
    const auto opts = params_[g.front()].options().requires_grad(false);
    if (reduce_dtype != opts.dtype()) slices_are_gradients_ = false;
    bucket.flat.push_back(at::zeros({numel}, opts.dtype(reduce_dtype)));
    bucket.members = g;
    buckets_.push_back(std::move(bucket));
  }
  for (int i = 0; i < static_cast<int>(params_.size()); ++i)
    params_[i].register_hook([this, i](const at::Tensor& grad) { return on_gradient(i, grad); });
}

void GradBuckets::start_step() {
  for (auto& p : params_) p.mutable_grad() = at::Tensor();
  for (auto& b : buckets_) {
    b.pending = static_cast<int>(b.members.size());
    b.work.reset();
  }
  next_to_start_ = 0;
}

at::Tensor GradBuckets::on_gradient(int param, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = buckets_[bucket_of_[param]];
  const at::Tensor& p = params_[param];
  at::Tensor slice = b.flat[0].narrow(0, offset_of_[param], p.numel()).view(p.sizes());
  slice.copy_(grad);
  --b.pending;
  start_ready_buckets();
  // The returned tensor becomes the gradient autograd accumulates into param.grad().
  return keep_own_ || !slices_are_gradients_ ? grad : slice;
}

void GradBuckets::start_ready_buckets() {
  while (next_to_start_ < static_cast<int>(buckets_.size()) && buckets_[next_to_start_].pending == 0) {
    Bucket& b = buckets_[next_to_start_++];
    b.work = group_.allreduce(b.flat);
  }
}

void GradBuckets::finish_step() {
  if (next_to_start_ < static_cast<int>(buckets_.size())) {
    const Bucket& b = buckets_[next_to_start_];
    for (int i : b.members)
      if (!params_[i].grad().defined())
        throw std::runtime_error("training_step: parameter " + names_[i] + " got no gradient in backward");
    throw std::runtime_error("training_step: gradient bucket " + std::to_string(next_to_start_) + " never filled");
  }
  const double n = group_.getSize();
  for (auto& b : buckets_) {
    b.work->wait();
    if (!keep_own_) b.flat[0].div_(n);
  }
  if (keep_own_) return;
  // Autograd normally keeps the slice itself; where it made a copy, the average goes there.
  for (int i = 0; i < static_cast<int>(params_.size()); ++i) {
    at::Tensor& g = params_[i].mutable_grad();
    const at::Tensor slice = buckets_[bucket_of_[i]].flat[0].narrow(0, offset_of_[i], params_[i].numel());
    if (!g.defined()) throw std::runtime_error("training_step: parameter " + names_[i] + " got no gradient in backward");
    if (g.data_ptr() != slice.data_ptr()) g.copy_(slice.view(g.sizes()));
  }
}

}  // namespace ligerbench::dist
