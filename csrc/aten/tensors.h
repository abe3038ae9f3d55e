// Tensor helpers of the op entry points (CPU and CUDA): contiguous copies with named errors,
// finite checks, and in-place arguments worked on as contiguous copies.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/all.h>
#include <ATen/ops/isfinite.h>

#include <cmath>

namespace sinernn {

template <typename scalar_t>
inline bool all_finite(const at::Tensor& contiguous) {
  const scalar_t* p = contiguous.const_data_ptr<scalar_t>();
  for (int64_t i = 0, n = contiguous.numel(); i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// t (contiguous) holds only finite numbers.
inline void check_finite(const char* op, const char* name, const at::Tensor& t) {
  bool ok = true;
  if (t.device().is_cpu())
    AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "sinernn_all_finite", [&] { ok = all_finite<scalar_t>(t); });
  else
    ok = at::isfinite(t).all().item<bool>();  // one reduction on the device, one sync
  TORCH_CHECK(ok, op, ": ", name, " contains NaN or Inf");
}

// A contiguous version of t; a copy that can't be had (say, an expanded view of 2^40 steps)
// fails with the op and argument named instead of the allocator's bare message.
inline at::Tensor contiguous(const char* op, const char* name, const at::Tensor& t) {
  try {
    return t.contiguous();
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, op, ": cannot make a contiguous copy of ", name, " (shape ", t.sizes(), ", ",
                static_cast<double>(t.numel()) * static_cast<double>(t.element_size()), " bytes): ",
                e.what_without_backtrace());
  }
}

// The contiguous, finite version of an input.
inline at::Tensor finite_input(const char* op, const char* name, const at::Tensor& t) {
  at::Tensor c = contiguous(op, name, t);
  check_finite(op, name, c);
  return c;
}

// Work on a contiguous version of an in-place argument; write back if it was a copy.
// check = false: the caller checks work's values itself (before any update).
struct ContiguousInOut {
  at::Tensor& target;
  at::Tensor work;
  ContiguousInOut(const char* op, const char* name, at::Tensor& t, bool check = true)
      : target(t), work(contiguous(op, name, t)) {
    if (check) check_finite(op, name, work);  // before any update: a failed check leaves the target untouched
  }
  void write_back() {
    if (!work.is_same(target)) target.copy_(work);
  }
};

}  // namespace sinernn
