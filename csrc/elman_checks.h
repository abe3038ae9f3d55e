// Argument checks shared by every backend's op entry points. Each check names the op, the
// argument, what was expected and what was given; they run before any weight is touched, so an
// op that fails a check changes nothing.
#pragma once

#include <ATen/MemoryOverlap.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace sinernn {

struct ElmanSizes {
  int64_t F;  // input features
  int64_t H;  // hidden units
  int64_t O;  // outputs
};

inline void check_dim(const char* op, const char* name, const at::Tensor& t, int64_t dim,
                      const char* shape) {
  TORCH_CHECK(t.dim() == dim, op, ": ", name, " must have shape ", shape, " (", dim,
              " dims), got shape ", t.sizes());
}

// Every tensor argument shares the first one's floating dtype (float32 or float64) and device.
inline void check_same_dtype_device(const char* op,
                                    std::initializer_list<std::pair<const char*, const at::Tensor*>> args) {
  const auto& [first_name, first] = *args.begin();
  TORCH_CHECK(first->scalar_type() == at::kFloat || first->scalar_type() == at::kDouble, op, ": ",
              first_name, " must be float32 or float64, got ", first->scalar_type());
  for (const auto& [name, t] : args) {
    TORCH_CHECK(t->scalar_type() == first->scalar_type(), op, ": ", name, " has dtype ",
                t->scalar_type(), " but ", first_name, " has dtype ", first->scalar_type(),
                "; all tensors must share one dtype");
    TORCH_CHECK(t->device() == first->device(), op, ": ", name, " is on ", t->device(), " but ",
                first_name, " is on ", first->device(), "; all tensors must be on one device");
  }
}

// w1 (F+H, H) and w2 (H, O), with F taken from the input and O from the target.
inline ElmanSizes check_weights(const char* op, const at::Tensor& w1, const at::Tensor& w2,
                                int64_t F, int64_t O) {
  check_dim(op, "w1", w1, 2, "(F+H, H)");
  check_dim(op, "w2", w2, 2, "(H, O)");
  const int64_t H = w1.size(1);
  TORCH_CHECK(F >= 1, op, ": the input must have at least one feature (F >= 1), got F=", F);
  TORCH_CHECK(O >= 1, op, ": the target must have at least one output (O >= 1), got O=", O);
  TORCH_CHECK(H >= 1, op, ": w1 must have at least one hidden unit (H = w1.size(1) >= 1), got shape ",
              w1.sizes());
  TORCH_CHECK(w1.size(0) == F + H, op, ": w1 must have shape (F+H, H) = (", F + H, ", ", H,
              ") for F=", F, " input features and H=", H, " hidden units, got ", w1.sizes());
  TORCH_CHECK(w2.size(0) == H && w2.size(1) == O, op, ": w2 must have shape (H, O) = (", H, ", ",
              O, "), got ", w2.sizes());
  return {F, H, O};
}

inline void check_lr(const char* op, double lr) {
  TORCH_CHECK(std::isfinite(lr) && lr >= 0, op, ": lr must be a finite number >= 0, got ", lr);
}

// The bytes [first, last) a strided tensor can touch (sizes >= 1 assumed; strides may be any sign).
inline std::pair<uintptr_t, uintptr_t> byte_span(const at::Tensor& t) {
  int64_t lo = 0, hi = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t reach = (t.size(d) - 1) * t.stride(d);
    (reach < 0 ? lo : hi) += reach;
  }
  const auto base = reinterpret_cast<uintptr_t>(t.const_data_ptr());
  const int64_t item = static_cast<int64_t>(t.element_size());
  return {base + lo * item, base + (hi + 1) * item};
}

// Whether every element of t has its own memory location. Dense and stride-0 views are decided by
// ATen; otherwise the dims, sorted by |stride|, must each step past everything the smaller ones reach
// (a sufficient condition: a layout it cannot prove distinct is treated as overlapping).
inline bool elements_distinct(const at::Tensor& t) {
  const at::MemOverlap overlap = at::has_internal_overlap(t);
  if (overlap != at::MemOverlap::TooHard) return overlap == at::MemOverlap::No;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size) of the dims with size > 1
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1) dims.emplace_back(std::abs(t.stride(d)), t.size(d));
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // the largest offset the dims so far can reach
  for (const auto& [stride, size] : dims) {
    int64_t span = 0;
    if (stride <= reach || __builtin_mul_overflow(size - 1, stride, &span) ||
        __builtin_add_overflow(reach, span, &reach))
      return false;
  }
  return true;
}

// A weight the op writes in place: a float tensor whose elements are distinct memory (not an
// expanded or otherwise self-overlapping view), that shares no memory with the tensors the op reads.
// Two views of one buffer count as sharing when their byte ranges meet.
inline void check_written(const char* op, const char* name, const at::Tensor& w,
                          std::initializer_list<std::pair<const char*, const at::Tensor*>> others) {
  TORCH_CHECK(elements_distinct(w), op, ": ", name,
              " is written in place but several of its elements share one memory location (an expanded "
              "or overlapping view, strides ", w.strides(), "); pass ", name, ".clone()");
  TORCH_CHECK(!(w.requires_grad() && at::GradMode::is_enabled()), op, ": ", name,
              " requires grad and is written in place; call the op under torch.no_grad() or pass ", name,
              ".detach()");
  if (w.numel() == 0) return;
  const auto [w_lo, w_hi] = byte_span(w);
  for (const auto& [other_name, other] : others) {
    if (other->numel() == 0 || !w.storage().is_alias_of(other->storage())) continue;
    const auto [o_lo, o_hi] = byte_span(*other);
    TORCH_CHECK(w_hi <= o_lo || o_hi <= w_lo, op, ": ", name, " is written in place but shares memory with ",
                other_name, "; pass separate tensors (e.g. ", other_name, ".clone())");
  }
}

}  // namespace sinernn
