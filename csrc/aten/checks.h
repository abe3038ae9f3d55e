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
#include <limits>
#include <string>
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

// --- Entry checks of the ops, one per op, shared by the CPU and CUDA kernels ---------------------

// t lives on a device of the kernel's type (the dispatcher chose the kernel by the tensors' device).
inline void check_device(const char* op, const at::Tensor& t, c10::DeviceType want) {
  TORCH_CHECK(t.device().type() == want, op, ": expected ", c10::DeviceTypeName(want), " tensors, got one on ",
              t.device());
}

// step: x (F,), y (O,), h (H,), w1 (F+H, H), w2 (H, O) written in place, lr.
inline ElmanSizes check_step_args(const char* op, const at::Tensor& x, const at::Tensor& y, const at::Tensor& h,
                                  const at::Tensor& w1, const at::Tensor& w2, double lr, c10::DeviceType dev) {
  check_dim(op, "x", x, 1, "(F,)");
  check_dim(op, "y", y, 1, "(O,)");
  check_dim(op, "h", h, 1, "(H,)");
  check_same_dtype_device(op, {{"x", &x}, {"y", &y}, {"h", &h}, {"w1", &w1}, {"w2", &w2}});
  check_device(op, x, dev);
  const ElmanSizes s = check_weights(op, w1, w2, x.size(0), y.size(0));
  TORCH_CHECK(h.size(0) == s.H, op, ": h must have shape (H,) = (", s.H, ",) to match w1, got ", h.sizes());
  check_lr(op, lr);
  check_written(op, "w1", w1, {{"w2", &w2}, {"x", &x}, {"y", &y}, {"h", &h}});
  check_written(op, "w2", w2, {{"x", &x}, {"y", &y}, {"h", &h}});
  return s;
}

inline void check_epochs(const char* op, int64_t epochs, int64_t L) {
  TORCH_CHECK(epochs >= 0, op, ": epochs must be >= 0, got ", epochs);
  TORCH_CHECK(epochs <= std::numeric_limits<int64_t>::max() / L, op, ": epochs * L must fit in 64 bits, got epochs=",
              epochs, " and L=", L);
}

// train: x (L, F), y (L, O) with L >= 1, w1, w2 written in place, epochs, lr.
inline ElmanSizes check_train_args(const char* op, const at::Tensor& x, const at::Tensor& y, const at::Tensor& w1,
                                   const at::Tensor& w2, int64_t epochs, double lr, c10::DeviceType dev) {
  check_dim(op, "x", x, 2, "(L, F)");
  check_dim(op, "y", y, 2, "(L, O)");
  check_same_dtype_device(op, {{"x", &x}, {"y", &y}, {"w1", &w1}, {"w2", &w2}});
  check_device(op, x, dev);
  const int64_t L = x.size(0);
  TORCH_CHECK(L >= 1, op, ": the series must have at least one step, got x of shape ", x.sizes());
  TORCH_CHECK(y.size(0) == L, op, ": y must have shape (L, O) with L=", L, " steps like x, got ", y.sizes());
  const ElmanSizes s = check_weights(op, w1, w2, x.size(1), y.size(1));
  check_epochs(op, epochs, L);
  check_lr(op, lr);
  check_written(op, "w1", w1, {{"w2", &w2}, {"x", &x}, {"y", &y}});
  check_written(op, "w2", w2, {{"x", &x}, {"y", &y}});
  return s;
}

// The ops that read a series and a model: x (L, F) with L >= 1, one dtype and device for all of
// `tensors` (x first), w1 (F+H, H), w2 (H, O) with O taken from w2.
inline ElmanSizes check_series_and_model(const char* op, const at::Tensor& x, const at::Tensor& w1,
                                         const at::Tensor& w2,
                                         std::initializer_list<std::pair<const char*, const at::Tensor*>> tensors,
                                         c10::DeviceType dev) {
  check_dim(op, "x", x, 2, "(L, F)");
  check_same_dtype_device(op, tensors);
  check_device(op, x, dev);
  TORCH_CHECK(x.size(0) >= 1, op, ": the series must have at least one step, got x of shape ", x.sizes());
  check_dim(op, "w2", w2, 2, "(H, O)");
  return check_weights(op, w1, w2, x.size(1), w2.size(1));
}

// forecast: a series and a model with F == O, steps >= 0.
inline ElmanSizes check_forecast_args(const char* op, const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                                      int64_t steps, c10::DeviceType dev) {
  const ElmanSizes s = check_series_and_model(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, dev);
  TORCH_CHECK(s.F == s.O, op, ": forecasting feeds each prediction back as the next input, so the model needs as many "
              "outputs as inputs; got F=", s.F, " inputs and O=", s.O, " outputs");
  TORCH_CHECK(steps >= 0, op, ": steps must be >= 0, got ", steps);
  return s;
}

// The batched ops: N models, a series of L steps shared by all (x (L, F)) or one per model (x (N, L, F)).
struct ManySizes {
  ElmanSizes s;
  int64_t N, L;
  bool per_model;
};

// x (L, F) or (N, L, F) with L >= 1, w1 (N, F+H, H), w2 (N, H, O), one dtype and device for `tensors`.
inline ManySizes check_many_args(const char* op, const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                                 std::initializer_list<std::pair<const char*, const at::Tensor*>> tensors,
                                 c10::DeviceType dev) {
  check_same_dtype_device(op, tensors);
  check_device(op, x, dev);
  TORCH_CHECK(x.dim() == 2 || x.dim() == 3, op, ": x must have shape (L, F) (one series for all models) or "
              "(N, L, F) (one per model), got shape ", x.sizes());
  check_dim(op, "w1", w1, 3, "(N, F+H, H)");
  check_dim(op, "w2", w2, 3, "(N, H, O)");
  const int64_t N = w1.size(0);
  TORCH_CHECK(N >= 1, op, ": w1 must hold at least one model (N = w1.size(0) >= 1), got shape ", w1.sizes());
  TORCH_CHECK(w2.size(0) == N, op, ": w2 must have shape (N, H, O) with N=", N, " models like w1, got ", w2.sizes());
  const bool per_model = x.dim() == 3;
  TORCH_CHECK(!per_model || x.size(0) == N, op, ": x of shape (N, L, F) must hold N=", N,
              " series, one per model, got shape ", x.sizes());
  const int64_t L = x.size(x.dim() - 2);
  TORCH_CHECK(L >= 1, op, ": the series must have at least one step, got x of shape ", x.sizes());
  return {check_weights(op, w1[0], w2[0], x.size(x.dim() - 1), w2.size(2)), N, L, per_model};
}

// lr (N,) float64 on the CPU: finite and >= 0 for every model, else an error naming the first that is not.
inline void check_lr_values(const char* op, const at::Tensor& lr_cpu) {
  const double* p = lr_cpu.const_data_ptr<double>();
  for (int64_t n = 0, N = lr_cpu.numel(); n < N; ++n)
    TORCH_CHECK(std::isfinite(p[n]) && p[n] >= 0, op, ": lr must be finite and >= 0 for every model, got lr[", n,
                "]=", p[n]);
}

// train_many: the above, y shaped like x with O outputs, epochs, lr (N,) finite and >= 0, w1 and w2
// written in place. Returns the sizes; *lr_cpu receives lr as float64 on the CPU, its values checked
// (lr_cpu null: neither, the caller checks them on lr's device).
inline ManySizes check_train_many_args(const char* op, const at::Tensor& x, const at::Tensor& y, const at::Tensor& w1,
                                       const at::Tensor& w2, int64_t epochs, const at::Tensor& lr,
                                       c10::DeviceType dev, at::Tensor* lr_cpu) {
  const ManySizes m = check_many_args(op, x, w1, w2, {{"x", &x}, {"y", &y}, {"w1", &w1}, {"w2", &w2}}, dev);
  TORCH_CHECK(y.dim() == x.dim(), op, ": y must have ", x.dim(), " dims like x (",
              m.per_model ? "(N, L, O)" : "(L, O)", "), got shape ", y.sizes());
  TORCH_CHECK(y.size(y.dim() - 2) == m.L && (!m.per_model || y.size(0) == m.N) && y.size(y.dim() - 1) == m.s.O, op,
              ": y must have shape ", m.per_model ? "(N, L, O)" : "(L, O)", " with N=", m.N, ", L=", m.L, ", O=", m.s.O,
              ", got ", y.sizes());
  check_epochs(op, epochs, m.L);
  TORCH_CHECK(lr.dim() == 1 && lr.size(0) == m.N, op, ": lr must have shape (N,) = (", m.N,
              ",), one per model, got ", lr.sizes());
  TORCH_CHECK(lr.is_floating_point(), op, ": lr must be a floating-point tensor, got ", lr.scalar_type());
  if (lr_cpu != nullptr) {  // else the caller checks lr's values where they are (check_lr_values)
    *lr_cpu = lr.to(at::kCPU, at::kDouble).contiguous();
    check_lr_values(op, *lr_cpu);
  }
  check_written(op, "w1", w1, {{"w2", &w2}, {"x", &x}, {"y", &y}, {"lr", &lr}});
  check_written(op, "w2", w2, {{"x", &x}, {"y", &y}, {"lr", &lr}});
  return m;
}

// The train op's error when training diverged (epoch >= 0). sinernn.trainer parses
// "diverged at epoch E, step T" into a DivergenceError: keep that format.
inline void check_not_diverged(const char* op, int64_t epoch, int64_t step, double lr) {
  TORCH_CHECK(epoch < 0, op, ": training diverged at epoch ", epoch, ", step ", step,
              ": the loss or the weights are no longer finite (lr=", lr, "); w1 and w2 are restored to ",
              epoch == 0 ? std::string("their values before training") : "the end of epoch " + std::to_string(epoch - 1));
}

}  // namespace sinernn
