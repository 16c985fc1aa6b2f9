#pragma once
// Data-parallel gradient averaging for the training step, the way DDP does it: parameters are
// grouped into buckets of at most bucket_bytes (in reverse order of the forward, the order their
// gradients arrive in backward); a hook on each parameter copies its gradient into its bucket's
// flat buffer and hands autograd the buffer's slice as the gradient, so param.grad() is a view of
// the bucket (no second copy). When a bucket is full it is all-reduced asynchronously while
// backward goes on; buckets start strictly in order (the same order on every rank, as the
// collectives must be). finish() waits for them and divides by the world size.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/distributed/process_group.h"

namespace ligerbench::dist {

class GradBuckets {
 public:
  // params: every parameter, in the forward's order; all of one dtype and device. With
  // keep_own_gradients the rank joins every all-reduce but param.grad() keeps its own gradient
  // (the debug option skip_reduce_rank). reduce_dtype: the buckets' dtype (ProcessGroupGloo in
  // LibTorch 1.13 has no bf16 all-reduce: float32 buckets there); where it is not the parameters'
  // dtype the averages are copied back into param.grad() instead of the gradient being the slice.
  GradBuckets(std::vector<at::Tensor> params, std::vector<std::string> names, Group& group, int64_t bucket_bytes,
              at::ScalarType reduce_dtype, bool keep_own_gradients);
  GradBuckets(const GradBuckets&) = delete;
  GradBuckets& operator=(const GradBuckets&) = delete;

  // Before each backward: clears the gradients (to undefined, so that autograd takes the
  // bucket slices the hooks return rather than adding into a previous gradient).
  void start_step();
  // After backward: waits for every bucket's all-reduce and averages. Throws naming a parameter
  // that got no gradient (its bucket could not start).
  void finish_step();

  int buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<at::Tensor> flat;  // one tensor: what the collective takes
    std::vector<int> members;      // parameter indices
    int pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  at::Tensor on_gradient(int param, const at::Tensor& grad);
  void start_ready_buckets();

  std::vector<at::Tensor> params_;
  std::vector<std::string> names_;
  Group& group_;
  bool keep_own_;
  bool slices_are_gradients_ = true;  // the buckets have the parameters' dtype
  std::vector<Bucket> buckets_;
  std::vector<int> bucket_of_;     // per parameter
  std::vector<int64_t> offset_of_;  // per parameter, in its bucket
  int next_to_start_ = 0;
  std::mutex mu_;                  // hooks run on autograd's thread for the device
};

}  // namespace ligerbench::dist
