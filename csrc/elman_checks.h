// Argument checks shared by every backend's op entry points. Each check names the op, the
// argument, what was expected and what was given; they run before any weight is touched, so an
// op that fails a check changes nothing.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>

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

}  // namespace sinernn
