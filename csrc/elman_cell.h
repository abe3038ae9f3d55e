// The batched differentiable cell (ops cell_forward / cell_backward; autograd: elman_cell_autograd.cpp):
// the tutorial's network over a mini-batch of sequences, with optional biases.
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
//   (cell_forward_small / cell_backward_small): there a library call costs more than its product.
// - CPU with AVX-512, larger H: a step at a time, every product of the step in sinernn's
//   register-blocked product (elman_gemm.h) while the step's rows are in L1 (cell_*_blocked).
// - Otherwise (CUDA above its one-launch kernels' sizes, CPUs without AVX-512): everything outside
//   the recurrence is one matrix product over all L*B rows through ATen (the BLAS torch links), and
//   the recurrence L products (B, H) x (H, H), the element-wise parts in sinernn's loops on the CPU,
//   ATen's elsewhere.
// On the CPU the first two run the batch in fixed chunks of rows over torch's threads.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Optional.h>

#include <algorithm>
#include <string>
#include <utility>

#include "elman_cell_loops.h"
#include "elman_gemm.h"
#include "elman_math.h"

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

// a @ b (+ bias broadcast over the rows), as one library product.
inline at::Tensor cell_affine(const at::Tensor& a, const at::Tensor& b, const c10::optional<at::Tensor>& bias) {
  return bias.has_value() ? at::addmm(*bias, a, b) : at::mm(a, b);
}

// On the CPU, the batch-last loops up to this H; above, and on other devices, library products.
constexpr int64_t kCellLoopMaxHidden = 12;

// The cell a step at a time in sinernn's register-blocked product (elman_gemm.h), for larger H on
// CPUs with AVX-512: every product of a step, the recurrence's and the gradients' alike, runs while
// the step's rows are in the L1 cache, and none goes through a library call (at H = 64 and B = 64 a
// library product costs ~40 us a (L*B, 1) x (1, H) call, and the recurrence's (B, H) x (H, H) takes
// 7 us in MKL against 5 us here). Tensors in the ops' row-major layouts.

// C (M, N) = bias + A (M, K) @ Wt (N, K)^T as dot products (for N = O or F, a few columns: the
// blocked product would compute a whole vector of columns for each).
template <typename scalar_t>
inline void cell_rows_dot(const scalar_t* SINERNN_RESTRICT A, int64_t lda, const scalar_t* SINERNN_RESTRICT Wt,
                          int64_t ldw, const scalar_t* bias, scalar_t* SINERNN_RESTRICT C, int64_t ldc, int64_t M,
                          int64_t N, int64_t K) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const scalar_t* a = A + m * lda;
      const scalar_t* w = Wt + n * ldw;
      scalar_t acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t k = 0; k < K; ++k) acc += a[k] * w[k];
      C[m * ldc + n] = (bias ? bias[n] : scalar_t(0)) + acc;
    }
}

// w2T (O, H) = w2^T; b1, b2 may be null.
template <typename scalar_t>
void cell_forward_blocked(const scalar_t* x, const scalar_t* h0, const scalar_t* w1, const scalar_t* w2T,
                          const scalar_t* b1, const scalar_t* b2, scalar_t* hidden, scalar_t* pred, int64_t L, int64_t B, int64_t Bs,
                          int64_t F, int64_t H, int64_t O) {
  const scalar_t* wh = w1 + F * H;
  const scalar_t* prev = h0;
  for (int64_t t = 0; t < L; ++t) {
    scalar_t* z = hidden + t * Bs * H;
    cell_gemm(x + t * Bs * F, F, 1, w1, H, z, H, B, H, F, b1, /*accumulate=*/false);  // b1 + x[t] @ W_x
    cell_gemm(prev, H, 1, wh, H, z, H, B, H, H, static_cast<const scalar_t*>(nullptr), /*accumulate=*/true);
    elman_tanh_n(z, z, B * H);
    cell_rows_dot(z, H, w2T, H, b2, pred + t * Bs * O, O, B, O, H);
    prev = z;
  }
}

// Its backward. whT (H, H) = W_h^T, w2T (O, H); g_h0 (B, H) doubles as the carry; g_w1 (F+H, H),
// g_w2T (O, H) = g_w2^T, g_b1, g_b2 accumulate and must start at zero (null when absent); d: (B, H)
// scratch.
template <typename scalar_t>
void cell_backward_blocked(const scalar_t* g_pred, const scalar_t* g_hidden, const scalar_t* x, const scalar_t* h0,
                           const scalar_t* w1, const scalar_t* w2T, const scalar_t* whT, const scalar_t* hidden,
                           scalar_t* g_x, scalar_t* g_h0, scalar_t* g_w1, scalar_t* g_w2T, scalar_t* g_b1,
                           scalar_t* g_b2, scalar_t* d, int64_t L, int64_t B, int64_t Bs, int64_t F, int64_t H, int64_t O) {
  const scalar_t* none = nullptr;
  scalar_t* SINERNN_RESTRICT carry = g_h0;
  for (int64_t q = 0; q < B * H; ++q) carry[q] = 0;
  for (int64_t t = L - 1; t >= 0; --t) {
    const scalar_t* SINERNN_RESTRICT ht = hidden + t * Bs * H;
    const scalar_t* hp = t == 0 ? h0 : hidden + (t - 1) * Bs * H;
    const scalar_t* xt = x + t * Bs * F;
    const scalar_t* gp = g_pred ? g_pred + t * Bs * O : nullptr;
    if (g_hidden) {
      const scalar_t* SINERNN_RESTRICT gh = g_hidden + t * Bs * H;
      SINERNN_SIMD for (int64_t q = 0; q < B * H; ++q) d[q] = gh[q] + carry[q];
    } else {
      SINERNN_SIMD for (int64_t q = 0; q < B * H; ++q) d[q] = carry[q];
    }
    if (gp) cell_gemm(gp, O, 1, w2T, H, d, H, B, H, O, none, /*accumulate=*/true);  // + g_pred[t] @ w2^T
    SINERNN_SIMD for (int64_t q = 0; q < B * H; ++q) d[q] = d[q] * (1 - ht[q] * ht[q]);
    cell_gemm(d, H, 1, whT, H, carry, H, B, H, H, none, /*accumulate=*/false);    // carry = d @ W_h^T
    cell_gemm(hp, 1, H, d, H, g_w1 + F * H, H, H, H, B, none, /*accumulate=*/true);  // g_W_h += h[t-1]^T d
    cell_gemm(xt, 1, F, d, H, g_w1, H, F, H, B, none, /*accumulate=*/true);          // g_W_x += x[t]^T d
    cell_rows_dot(d, H, w1, H, none, g_x + t * Bs * F, F, B, F, H);                   // g_x[t] = d @ W_x^T
    if (g_b1)
      for (int64_t b = 0; b < B; ++b) SINERNN_SIMD for (int64_t j = 0; j < H; ++j) g_b1[j] += d[b * H + j];
    if (gp) {
      cell_gemm(gp, 1, O, ht, H, g_w2T, H, O, H, B, none, /*accumulate=*/true);  // g_w2^T += g_pred[t]^T h[t]
      if (g_b2)
        for (int64_t b = 0; b < B; ++b) SINERNN_SIMD for (int64_t k = 0; k < O; ++k) g_b2[k] += gp[b * O + k];
    }
  }
}

// Which code runs: the batch-last loops (CPU, small H), or a library product a step (large H, and
// every other device).
inline bool cell_small(const at::Tensor& x, int64_t H) { return x.device().is_cpu() && H <= kCellLoopMaxHidden; }
inline bool cell_blocked(const at::Tensor& x, int64_t H) {
  return x.device().is_cpu() && H > kCellLoopMaxHidden && cell_gemm_available();
}

// On the CPU the batch runs in chunks of this many rows (sequences are independent until the
// weight gradients, which each chunk sums on its own), spread over torch's threads. A fixed size,
// not one per thread: the results do not depend on the number of threads.
constexpr int64_t kCellChunkRows = 64;
inline int64_t cell_chunks(int64_t B) { return (B + kCellChunkRows - 1) / kCellChunkRows; }

// cell_forward: -> pred (L, B, O), hidden (L, B, H). Inputs contiguous (the op makes them so).
inline std::tuple<at::Tensor, at::Tensor> cell_forward_impl(const at::Tensor& x, const at::Tensor& h0,
                                                            const at::Tensor& w1, const at::Tensor& w2,
                                                            const c10::optional<at::Tensor>& b1,
                                                            const c10::optional<at::Tensor>& b2, const CellSizes& s) {
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  if (cell_small(x, H) || cell_blocked(x, H)) {
    const bool small = cell_small(x, H);
    at::Tensor hidden = at::empty({L, B, H}, x.options()), pred = at::empty({L, B, O}, x.options());
    const at::Tensor w2T = small ? at::Tensor() : w2.t().contiguous();
    const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor(), b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_forward_cpu", [&] {
      auto ptr = [](const at::Tensor& t) { return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr; };
      const scalar_t *xp = ptr(x), *h0p = ptr(h0), *w1p = ptr(w1), *w2p = ptr(w2), *w2Tp = ptr(w2T), *b1p = ptr(b1c),
                     *b2p = ptr(b2c);
      scalar_t *hp = hidden.mutable_data_ptr<scalar_t>(), *pp = pred.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, cell_chunks(B), 1, [&](int64_t c0, int64_t c1) {
        // scratch from torch's allocator: 64-byte aligned, as the vector loops want (a std::vector's
        // 16-byte alignment made the backward 1.6x slower at B = 32, H = 6)
        at::Tensor work = at::empty({small ? cell_forward_small_work(std::min(kCellChunkRows, B), F, H, O) : 0}, x.options());
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t r0 = c * kCellChunkRows, rows = std::min(kCellChunkRows, B - r0);
          if (small)
            cell_forward_small<scalar_t>(xp + r0 * F, h0p + r0 * H, w1p, w2p, b1p, b2p, hp + r0 * H, pp + r0 * O,
                                         work.mutable_data_ptr<scalar_t>(), L, rows, B, F, H, O);
          else
            cell_forward_blocked<scalar_t>(xp + r0 * F, h0p + r0 * H, w1p, w2Tp, b1p, b2p, hp + r0 * H, pp + r0 * O,
                                           L, rows, B, F, H, O);
        }
      });
    });
    return {pred, hidden};
  }
  const at::Tensor wx = w1.narrow(0, 0, F), wh = w1.narrow(0, F, H);
  at::Tensor hidden = cell_affine(x.reshape({L * B, F}), wx, b1).reshape({L, B, H});  // z = x @ W_x + b1
  at::Tensor prev = h0;
  for (int64_t t = 0; t < L; ++t) {
    at::Tensor zt = hidden.select(0, t);
    zt.addmm_(prev, wh);
    if (x.device().is_cpu()) {  // the library's product, then elman_tanh over the step's B*H values
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_tanh", [&] {
        scalar_t* z = zt.mutable_data_ptr<scalar_t>();
        elman_tanh_n(z, z, B * H);
      });
    } else {
      zt.tanh_();
    }
    prev = zt;
  }
  at::Tensor pred = cell_affine(hidden.reshape({L * B, H}), w2, b2).reshape({L, B, O});
  return {pred, hidden};
}

// cell_backward: -> g_x (L, B, F), g_h0 (B, H), g_w1 (F+H, H), g_w2 (H, O), g_b1 (H,), g_b2 (O,)
// (the bias gradients (0,) when the bias is absent). g_pred, g_hidden undefined: zero.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_impl(
    const at::Tensor& g_pred, const at::Tensor& g_hidden, const at::Tensor& x, const at::Tensor& h0,
    const at::Tensor& w1, const at::Tensor& w2, const at::Tensor& hidden, bool bias1, bool bias2, const CellSizes& s) {
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  if (cell_small(x, H) || cell_blocked(x, H)) {
    // Each chunk of rows sums its own weight gradients (g_w1, g_w2 (blocked: transposed), g_b1,
    // g_b2): into the outputs when there is one chunk, else into a row of `parts` each, then summed
    // over the chunks in order.
    const bool small = cell_small(x, H);
    const int64_t chunks = cell_chunks(B), n1 = (F + H) * H, n2 = H * O, n = n1 + n2 + H + O;
    at::Tensor g_x = at::empty({L, B, F}, x.options()), g_h0 = at::empty({B, H}, x.options());
    at::Tensor g_w1 = at::zeros({F + H, H}, x.options());
    at::Tensor g_w2 = small ? at::zeros({H, O}, x.options()) : at::zeros({O, H}, x.options());
    at::Tensor g_b1 = at::zeros({bias1 ? H : 0}, x.options()), g_b2 = at::zeros({bias2 ? O : 0}, x.options());
    at::Tensor parts = chunks > 1 ? at::zeros({chunks, n}, x.options()) : at::Tensor();
    const at::Tensor w2T = small ? at::Tensor() : w2.t().contiguous();
    const at::Tensor whT = small ? at::Tensor() : w1.narrow(0, F, H).t().contiguous();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_backward_cpu", [&] {
      auto ptr = [](const at::Tensor& t) { return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr; };
      const scalar_t *gpp = ptr(g_pred), *ghp = ptr(g_hidden), *xp = ptr(x), *h0p = ptr(h0), *w1p = ptr(w1),
                     *w2p = ptr(w2), *w2Tp = ptr(w2T), *whTp = ptr(whT), *hp = ptr(hidden);
      scalar_t *gxp = g_x.mutable_data_ptr<scalar_t>(), *gh0p = g_h0.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
        const int64_t most = std::min(kCellChunkRows, B);
        at::Tensor work = at::empty({small ? cell_backward_small_work(most, F, H, O) : most * H}, x.options());
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t r0 = c * kCellChunkRows, rows = std::min(kCellChunkRows, B - r0);
          scalar_t* part = chunks > 1 ? parts.mutable_data_ptr<scalar_t>() + c * n : nullptr;
          scalar_t* gw1 = part ? part : g_w1.mutable_data_ptr<scalar_t>();
          scalar_t* gw2 = part ? part + n1 : g_w2.mutable_data_ptr<scalar_t>();
          scalar_t* gb1 = !bias1 ? nullptr : part ? part + n1 + n2 : g_b1.mutable_data_ptr<scalar_t>();
          scalar_t* gb2 = !bias2 ? nullptr : part ? part + n1 + n2 + H : g_b2.mutable_data_ptr<scalar_t>();
          const scalar_t* gp = gpp ? gpp + r0 * O : nullptr;
          const scalar_t* gh = ghp ? ghp + r0 * H : nullptr;
          if (small)
            cell_backward_small<scalar_t>(gp, gh, xp + r0 * F, h0p + r0 * H, w1p, w2p, hp + r0 * H, gxp + r0 * F,
                                          gh0p + r0 * H, gw1, gw2, gb1, gb2, work.mutable_data_ptr<scalar_t>(), L,
                                          rows, B, F, H, O);
          else
            cell_backward_blocked<scalar_t>(gp, gh, xp + r0 * F, h0p + r0 * H, w1p, w2Tp, whTp, hp + r0 * H,
                                            gxp + r0 * F, gh0p + r0 * H, gw1, gw2, gb1, gb2,
                                            work.mutable_data_ptr<scalar_t>(), L, rows, B, F, H, O);
        }
      });
    });
    if (chunks > 1) {
      const at::Tensor total = parts.sum(0);
      g_w1.copy_(total.narrow(0, 0, n1).view({F + H, H}));
      g_w2.copy_(total.narrow(0, n1, n2).view(g_w2.sizes()));
      if (bias1) g_b1.copy_(total.narrow(0, n1 + n2, H));
      if (bias2) g_b2.copy_(total.narrow(0, n1 + n2 + H, O));
    }
    return {g_x, g_h0, g_w1, small ? g_w2 : g_w2.t().contiguous(), g_b1, g_b2};
  }
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
    if (x.device().is_cpu()) {  // d = (d + carry) * (1 - h^2) in one pass, then the library's product
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_slope", [&] {
        scalar_t* dp = d.mutable_data_ptr<scalar_t>();
        const scalar_t* cp = carry.const_data_ptr<scalar_t>();
        const scalar_t* hp = h.const_data_ptr<scalar_t>();
        SINERNN_SIMD for (int64_t q = 0; q < B * H; ++q) dp[q] = (dp[q] + cp[q]) * (1 - hp[q] * hp[q]);
      });
    } else {
      d.add_(carry).mul_(h.mul(h).neg_().add_(1));
    }
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

// The op entry points, for any device: argument checks, contiguous inputs, then the above.
inline std::tuple<at::Tensor, at::Tensor> cell_forward_op(const at::Tensor& x, const at::Tensor& h0,
                                                          const at::Tensor& w1, const at::Tensor& w2,
                                                          const c10::optional<at::Tensor>& b1,
                                                          const c10::optional<at::Tensor>& b2) {
  const CellSizes s = check_cell_args("sinernn::cell_forward", x, h0, w1, w2, b1, b2);
  return cell_forward_impl(x.contiguous(), h0.contiguous(), w1.contiguous(), w2.contiguous(), b1, b2, s);
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

inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_op(
    const c10::optional<at::Tensor>& g_pred, const c10::optional<at::Tensor>& g_hidden, const at::Tensor& x,
    const at::Tensor& h0, const at::Tensor& w1, const at::Tensor& w2, const at::Tensor& hidden, bool bias1, bool bias2) {
  const CellSizes s = check_cell_backward_args(g_pred, g_hidden, x, h0, w1, w2, hidden);
  const at::Tensor gp = g_pred.has_value() ? g_pred->contiguous() : at::Tensor();
  const at::Tensor gh = g_hidden.has_value() ? g_hidden->contiguous() : at::Tensor();
  return cell_backward_impl(gp, gh, x.contiguous(), h0.contiguous(), w1.contiguous(), w2.contiguous(),
                            hidden.contiguous(), bias1, bias2, s);
}

}  // namespace sinernn
