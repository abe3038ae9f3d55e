// The batched differentiable cell (ops cell_forward / cell_backward), the part every device shares:
// its argument checks and the library-product way to run it. The tutorial's network over a
// mini-batch of sequences, with optional biases:
//
//   x (L, B, F), h0 (B, H), w1 (F+H, H) = [W_x; W_h], w2 (H, O), b1 (H,) or none, b2 (O,) or none
//   hidden[t] = tanh(x[t] @ W_x + hidden[t-1] @ W_h + b1)      hidden[-1] = h0       (L, B, H)
//   pred[t]   = hidden[t] @ w2 + b2                                                   (L, B, O)
//
// Backward through time, given g_pred (L, B, O) and g_hidden (L, B, H) (gradients reaching the
// outputs from outside):
//   dh[t]  = g_pred[t] @ w2^T + g_hidden[t] + carry[t]      carry[L-1] = 0
//   dz[t]  = dh[t] * (1 - hidden[t]^2)                      carry[t-1] = dz[t] @ W_h^T
//   g_w1 = [x; hidden[t-1]]^T dz summed over t and the batch, g_w2 = hidden^T g_pred, g_b1 = sum dz,
//   g_b2 = sum g_pred, g_x[t] = dz[t] @ W_x^T, g_h0 = carry[-1].
//
// Three ways to run it (docs/nn.md, "How it runs"; figures in docs/performance.md):
// - CPU, H <= kCellLoopMaxHidden: the whole cell in loops with the batch as the vector dimension
//   (core/cell_loops.h): there a library call costs more than its product.
// - CPU with AVX-512, larger H: a step at a time, every product of the step in sinernn's
//   register-blocked product while the step's rows are in L1 (cpu/cell_blocked.h).
//   Both run the batch in fixed chunks of rows over torch's threads (cpu/cell_cpu.cpp).
// - Otherwise (CUDA above its one-launch kernels' sizes, cuda/cell_cuda.cu; CPUs without AVX-512):
//   the library path below: everything outside the recurrence is one matrix product over all L*B
//   rows through ATen (the BLAS torch links), and the recurrence L products (B, H) x (H, H); the
//   element-wise parts are the device's own (CellElementwise).
// The autograd kernel over the two ops: aten/cell_autograd.cpp.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Optional.h>

#include "tensors.h"

#include <initializer_list>
#include <utility>

namespace sinernn {

struct CellSizes {
  int64_t L, B, F, H, O;
};

// Shapes, dtypes and devices of cell_forward's arguments, each error naming the argument.
inline CellSizes check_cell_args(const char* op, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w1,
                                 const at::Tensor& w2, const c10::optional<at::Tensor>& b1,
                                 const c10::optional<at::Tensor>& b2) {
  TORCH_CHECK(x.dim() == 3, op, ": x must have shape (L, B, F), got ", x.sizes());
  TORCH_CHECK(w1.dim() == 2 && w2.dim() == 2, op, ": w1 and w2 must be matrices (F+H, H) and (H, O), got ", w1.sizes(),
              " and ", w2.sizes());
  const int64_t L = x.size(0), B = x.size(1), F = x.size(2), H = w1.size(1), O = w2.size(1);
  TORCH_CHECK(L >= 1 && B >= 1 && F >= 1 && H >= 1 && O >= 1, op, ": every size must be >= 1, got x ", x.sizes(),
              ", w1 ", w1.sizes(), ", w2 ", w2.sizes());
  TORCH_CHECK(w1.size(0) == F + H, op, ": w1 must have shape (F+H, H) = (", F + H, ", ", H, ") for F=", F,
              " inputs, got ", w1.sizes());
  TORCH_CHECK(w2.size(0) == H, op, ": w2 must have shape (H, O) with H=", H, ", got ", w2.sizes());
  TORCH_CHECK(h0.dim() == 2 && h0.size(0) == B && h0.size(1) == H, op, ": h0 must have shape (B, H) = (", B, ", ", H,
              "), got ", h0.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, op,
              ": x must be float32 or float64, got ", x.scalar_type());
  auto same = [&](const char* name, const at::Tensor& t) {
    TORCH_CHECK(t.scalar_type() == x.scalar_type(), op, ": ", name, " must have x's dtype ", x.scalar_type(), ", got ",
                t.scalar_type());
    TORCH_CHECK(t.device() == x.device(), op, ": ", name, " is on ", t.device(), " but x is on ", x.device());
  };
  same("h0", h0);
  same("w1", w1);
  same("w2", w2);
  if (b1.has_value()) {
    same("b1", *b1);
    TORCH_CHECK(b1->dim() == 1 && b1->size(0) == H, op, ": b1 must have shape (H,) = (", H, ",), got ", b1->sizes());
  }
  if (b2.has_value()) {
    same("b2", *b2);
    TORCH_CHECK(b2->dim() == 1 && b2->size(0) == O, op, ": b2 must have shape (O,) = (", O, ",), got ", b2->sizes());
  }
  return {L, B, F, H, O};
}

// cell_backward's argument checks (those of cell_forward, and the gradients' and hidden's shapes).
inline CellSizes check_cell_backward_args(const c10::optional<at::Tensor>& g_pred,
                                          const c10::optional<at::Tensor>& g_hidden, const at::Tensor& x,
                                          const at::Tensor& h0, const at::Tensor& w1, const at::Tensor& w2,
                                          const at::Tensor& hidden) {
  const char* op = "sinernn::cell_backward";
  const CellSizes s = check_cell_args(op, x, h0, w1, w2, c10::nullopt, c10::nullopt);
  auto shaped = [&](const char* name, const at::Tensor& t, std::initializer_list<int64_t> shape) {
    TORCH_CHECK(t.sizes() == at::IntArrayRef(shape), op, ": ", name, " must have shape ", at::IntArrayRef(shape),
                ", got ", t.sizes());
    TORCH_CHECK(t.scalar_type() == x.scalar_type() && t.device() == x.device(), op, ": ", name,
                " must have x's dtype and device");
  };
  if (g_pred.has_value()) shaped("grad_pred", *g_pred, {s.L, s.B, s.O});
  if (g_hidden.has_value()) shaped("grad_hidden", *g_hidden, {s.L, s.B, s.H});
  shaped("hidden", hidden, {s.L, s.B, s.H});
  return s;
}

// a @ b (+ bias broadcast over the rows), as one library product.
inline at::Tensor cell_affine(const at::Tensor& a, const at::Tensor& b, const c10::optional<at::Tensor>& bias) {
  return bias.has_value() ? at::addmm(*bias, a, b) : at::mm(a, b);
}

// The element-wise parts of the library path, per device: z = tanh(z) in place over a step's (B, H)
// values, and d = (d + carry) * (1 - h^2) in place. The CPU passes its own loops (cpu/cell_cpu.cpp:
// the project's float32 tanh, so its results match the CPU's other paths); other devices ATen's.
struct CellElementwise {
  void (*tanh)(at::Tensor& z);
  void (*slope)(at::Tensor& d, const at::Tensor& carry, const at::Tensor& h);
};

// (Named functions rather than lambdas: nvcc's host pass does not convert lambdas to function
// pointers in a braced initializer.)
inline void aten_tanh(at::Tensor& z) { z.tanh_(); }
inline void aten_slope(at::Tensor& d, const at::Tensor& carry, const at::Tensor& h) {
  d.add_(carry).mul_(h.mul(h).neg_().add_(1));
}
inline CellElementwise aten_elementwise() { return {&aten_tanh, &aten_slope}; }

// cell_forward by library products: -> pred (L, B, O), hidden (L, B, H). Inputs contiguous.
inline std::tuple<at::Tensor, at::Tensor> cell_forward_library(const at::Tensor& x, const at::Tensor& h0,
                                                               const at::Tensor& w1, const at::Tensor& w2,
                                                               const c10::optional<at::Tensor>& b1,
                                                               const c10::optional<at::Tensor>& b2, const CellSizes& s,
                                                               const CellElementwise& ew) {
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  const at::Tensor wx = w1.narrow(0, 0, F), wh = w1.narrow(0, F, H);
  at::Tensor hidden = cell_affine(x.reshape({L * B, F}), wx, b1).reshape({L, B, H});  // z = x @ W_x + b1
  at::Tensor prev = h0;
  for (int64_t t = 0; t < L; ++t) {
    at::Tensor zt = hidden.select(0, t);
    zt.addmm_(prev, wh);
    ew.tanh(zt);
    prev = zt;
  }
  at::Tensor pred = cell_affine(hidden.reshape({L * B, H}), w2, b2).reshape({L, B, O});
  return {pred, hidden};
}

// cell_backward by library products: -> g_x (L, B, F), g_h0 (B, H), g_w1 (F+H, H), g_w2 (H, O),
// g_b1 (H,), g_b2 (O,) (the bias gradients (0,) when the bias is absent). g_pred, g_hidden
// undefined: zero. Inputs contiguous.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_library(
    const at::Tensor& g_pred, const at::Tensor& g_hidden, const at::Tensor& x, const at::Tensor& h0,
    const at::Tensor& w1, const at::Tensor& w2, const at::Tensor& hidden, bool bias1, bool bias2, const CellSizes& s,
    const CellElementwise& ew) {
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  const at::Tensor wx = w1.narrow(0, 0, F), wh = w1.narrow(0, F, H);
  const at::Tensor hf = hidden.reshape({L * B, H});
  at::Tensor g_w2, g_b2 = at::empty({0}, x.options()), dz;
  // dh = g_pred @ w2^T + g_hidden, then dz in place
  if (g_pred.defined()) {
    const at::Tensor gp = g_pred.reshape({L * B, O});
    g_w2 = at::mm(hf.t(), gp);
    if (bias2) g_b2 = gp.sum(0);
    dz = g_hidden.defined() ? at::addmm(g_hidden.reshape({L * B, H}), gp, w2.t()) : at::mm(gp, w2.t());
  } else {
    g_w2 = at::zeros({H, O}, x.options());
    if (bias2) g_b2 = at::zeros({O}, x.options());
    dz = g_hidden.defined() ? g_hidden.reshape({L * B, H}).clone() : at::zeros({L * B, H}, x.options());
  }
  dz = dz.reshape({L, B, H});
  const at::Tensor wht = wh.t();
  at::Tensor carry = at::zeros({B, H}, x.options()), next = at::empty({B, H}, x.options());
  for (int64_t t = L - 1; t >= 0; --t) {
    at::Tensor d = dz.select(0, t), h = hidden.select(0, t);
    ew.slope(d, carry, h);
    at::mm_out(next, d, wht);
    std::swap(carry, next);
  }
  const at::Tensor dzf = dz.reshape({L * B, H});
  // the context rows: [h0; hidden[:-1]]^T dz, without copying the shifted contexts together
  at::Tensor g_wh = at::mm(h0.t(), dz.select(0, 0));
  if (L > 1) g_wh.addmm_(hidden.narrow(0, 0, L - 1).reshape({(L - 1) * B, H}).t(), dz.narrow(0, 1, L - 1).reshape({(L - 1) * B, H}));
  at::Tensor g_w1 = at::cat({at::mm(x.reshape({L * B, F}).t(), dzf), g_wh});
  at::Tensor g_b1 = bias1 ? dzf.sum(0) : at::empty({0}, x.options());
  at::Tensor g_x = at::mm(dzf, wx.t()).reshape({L, B, F});
  return {g_x, carry, g_w1, g_w2, g_b1, g_b2};
}

}  // namespace sinernn
