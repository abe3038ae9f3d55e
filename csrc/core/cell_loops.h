// The batched cell in batch-last loops (CPU, small H), on plain pointers: no ATen here, so
// tests/native/cell_block_check.cpp builds it without torch to check the CUDA kernels' body against
// it. The CPU entry points and the other two ways to run the cell: cpu/cell_cpu.cpp, aten/cell.h.
#pragma once

#include <cstdint>

#include "config.h"
#include "tanh.h"

namespace sinernn {

// dst (C, R) = src (R, C)^T: between the ops' row-major tensors and the loops' batch-last steps.
template <typename scalar_t>
inline void cell_transpose(const scalar_t* SINERNN_RESTRICT src, scalar_t* SINERNN_RESTRICT dst, int64_t R, int64_t C) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < R; ++r) dst[c * R + r] = src[r * C + c];
}

// The whole cell in batch-last loops, for small H on the CPU: at these sizes a library product costs
// more in its call than in its arithmetic, so the input
// and output layers and every gradient are loops over vectors of B values too. The tensors keep the
// ops' row-major layouts (x (L, B, F), h0 (B, H), hidden (L, B, H), pred (L, B, O)); each step is
// turned batch-last (T: (H, B)) in scratch here, a step at a time, which costs less than permuting
// whole tensors through ATen (docs/performance.md, "Figures behind the code"). With F = 1 or O = 1 the row-major
// step already is batch-last and is used in place. b1, b2 may be null. A call runs B rows of the
// batch (pointers at its first row); Bs is the whole batch, the rows between one step and the next.

// Scratch of cell_forward_small, in values.
inline int64_t cell_forward_small_work(int64_t B, int64_t F, int64_t H, int64_t O) { return (F + 2 * H + O) * B; }

template <typename scalar_t>
void cell_forward_small(const scalar_t* x, const scalar_t* h0, const scalar_t* w1, const scalar_t* w2,
                        const scalar_t* b1, const scalar_t* b2, scalar_t* hidden, scalar_t* pred, scalar_t* work,
                        int64_t L, int64_t B, int64_t Bs, int64_t F, int64_t H, int64_t O) {
  const scalar_t* wh = w1 + F * H;
  scalar_t* xs = work;         // (F, B) x[t] batch-last when F > 1
  scalar_t* hs[2] = {xs + F * B, xs + F * B + H * B};  // (H, B) the previous and this step's hidden
  scalar_t* ps = hs[1] + H * B;  // (O, B) pred[t] batch-last when O > 1
  cell_transpose(h0, hs[0], B, H);
  for (int64_t t = 0; t < L; ++t) {
    const scalar_t* SINERNN_RESTRICT xt = x + t * Bs * F;
    if (F > 1) {
      cell_transpose(xt, xs, B, F);
      xt = xs;
    }
    const scalar_t* SINERNN_RESTRICT hp = hs[t & 1];
    scalar_t* SINERNN_RESTRICT ht = hs[(t + 1) & 1];
    for (int64_t j = 0; j < H; ++j) {
      scalar_t* SINERNN_RESTRICT acc = ht + j * B;
      const scalar_t bias = b1 ? b1[j] : scalar_t(0);
      SINERNN_SIMD for (int64_t b = 0; b < B; ++b) acc[b] = bias;
      for (int64_t f = 0; f < F; ++f) {
        const scalar_t w = w1[f * H + j];
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) acc[b] = fmadd(xt[f * B + b], w, acc[b]);
      }
      for (int64_t i = 0; i < H; ++i) {
        const scalar_t w = wh[i * H + j];
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) acc[b] = fmadd(hp[i * B + b], w, acc[b]);
      }
    }
    elman_tanh_n(ht, ht, H * B);
    cell_transpose(ht, hidden + t * Bs * H, H, B);
    scalar_t* SINERNN_RESTRICT pt = O > 1 ? ps : pred + t * Bs;
    for (int64_t k = 0; k < O; ++k) {
      scalar_t* SINERNN_RESTRICT out = pt + k * B;
      const scalar_t bias = b2 ? b2[k] : scalar_t(0);
      SINERNN_SIMD for (int64_t b = 0; b < B; ++b) out[b] = bias;
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t w = w2[j * O + k];
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) out[b] = fmadd(ht[j * B + b], w, out[b]);
      }
    }
    if (O > 1) cell_transpose(ps, pred + t * Bs * O, O, B);
  }
}

// Scratch of cell_backward_small, in values: the per-model gradients of w1, w2, b1, b2 (summed over
// the batch at the end), then dz, carry, three hidden steps and x / g_x steps, all batch-last.
inline int64_t cell_backward_small_work(int64_t B, int64_t F, int64_t H, int64_t O) {
  return ((F + H) * H + H * O + H + O + 5 * H + 2 * F + O) * B;
}

// Its backward: g_pred (L, B, O) or null, g_hidden (L, B, H) or null -> g_x (L, B, F), g_h0 (B, H),
// g_w1 (F+H, H), g_w2 (H, O), g_b1 (H,) or null, g_b2 (O,) or null (all written, not accumulated).
// The weight gradients accumulate per model (B lanes each) over the steps, one multiply-add a value
// a step, and are summed over the batch once at the end.
template <typename scalar_t>
void cell_backward_small(const scalar_t* g_pred, const scalar_t* g_hidden, const scalar_t* x, const scalar_t* h0,
                         const scalar_t* w1, const scalar_t* w2, const scalar_t* hidden, scalar_t* g_x, scalar_t* g_h0,
                         scalar_t* g_w1, scalar_t* g_w2, scalar_t* g_b1, scalar_t* g_b2, scalar_t* work, int64_t L,
                         int64_t B, int64_t Bs, int64_t F, int64_t H, int64_t O) {
  const scalar_t* wh = w1 + F * H;
  scalar_t* SINERNN_RESTRICT a_w1 = work;                    // (F+H, H, B) g_w1 per model
  scalar_t* SINERNN_RESTRICT a_w2 = a_w1 + (F + H) * H * B;  // (H, O, B)
  scalar_t* SINERNN_RESTRICT a_b1 = a_w2 + H * O * B;        // (H, B)
  scalar_t* SINERNN_RESTRICT a_b2 = a_b1 + H * B;            // (O, B)
  scalar_t* SINERNN_RESTRICT dz = a_b2 + O * B;              // (H, B) this step's dz
  scalar_t* SINERNN_RESTRICT carry = dz + H * B;             // (H, B) the gradient reaching h[t-1] through the recurrence
  scalar_t* h0s = carry + H * B;                             // (H, B) h0
  scalar_t* hs[2] = {h0s + H * B, h0s + 2 * H * B};          // (H, B) hidden[t] and hidden[t-1], in turn
  scalar_t* xs = h0s + 3 * H * B;                            // (F, B) x[t] when F > 1
  scalar_t* gxs = xs + F * B;                                // (F, B) g_x[t] when F > 1
  scalar_t* gps = gxs + F * B;                               // (O, B) g_pred[t] when O > 1
  for (int64_t q = 0; q < ((F + H) * H + H * O + H + O) * B; ++q) a_w1[q] = 0;
  for (int64_t q = 0; q < H * B; ++q) carry[q] = 0;
  cell_transpose(h0, h0s, B, H);
  cell_transpose(hidden + (L - 1) * Bs * H, hs[(L - 1) & 1], B, H);
  for (int64_t t = L - 1; t >= 0; --t) {
    const scalar_t* SINERNN_RESTRICT ht = hs[t & 1];
    scalar_t* hp_buf = hs[(t + 1) & 1];
    if (t > 0) cell_transpose(hidden + (t - 1) * Bs * H, hp_buf, B, H);
    const scalar_t* SINERNN_RESTRICT hp = t == 0 ? h0s : hp_buf;
    const scalar_t* SINERNN_RESTRICT xt = x + t * Bs * F;
    if (F > 1) {
      cell_transpose(xt, xs, B, F);
      xt = xs;
    }
    const scalar_t* SINERNN_RESTRICT gp = nullptr;
    if (g_pred) {
      gp = g_pred + t * Bs * O;
      if (O > 1) {
        cell_transpose(gp, gps, B, O);
        gp = gps;
      }
    }
    const scalar_t* SINERNN_RESTRICT gh = g_hidden ? g_hidden + t * Bs * H : nullptr;
    for (int64_t j = 0; j < H; ++j) {  // dz = (g_hidden + w2 g_pred + carry) * (1 - h^2)
      scalar_t* SINERNN_RESTRICT d = dz + j * B;
      const scalar_t* SINERNN_RESTRICT c = carry + j * B;
      const scalar_t* SINERNN_RESTRICT h = ht + j * B;
      if (gh) {
        for (int64_t b = 0; b < B; ++b) d[b] = gh[b * H + j] + c[b];
      } else {
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) d[b] = c[b];
      }
      if (gp)
        for (int64_t k = 0; k < O; ++k) {
          const scalar_t w = w2[j * O + k];
          SINERNN_SIMD for (int64_t b = 0; b < B; ++b) d[b] = fmadd(gp[k * B + b], w, d[b]);
        }
      SINERNN_SIMD for (int64_t b = 0; b < B; ++b) d[b] = d[b] * (1 - h[b] * h[b]);
    }
    if (gp) {
      for (int64_t j = 0; j < H; ++j)
        for (int64_t k = 0; k < O; ++k) {
          scalar_t* SINERNN_RESTRICT a = a_w2 + (j * O + k) * B;
          SINERNN_SIMD for (int64_t b = 0; b < B; ++b) a[b] = fmadd(ht[j * B + b], gp[k * B + b], a[b]);
        }
      for (int64_t k = 0; k < O; ++k) SINERNN_SIMD for (int64_t b = 0; b < B; ++b) a_b2[k * B + b] += gp[k * B + b];
    }
    for (int64_t i = 0; i < F + H; ++i) {
      const scalar_t* SINERNN_RESTRICT xi = i < F ? xt + i * B : hp + (i - F) * B;
      for (int64_t j = 0; j < H; ++j) {
        scalar_t* SINERNN_RESTRICT a = a_w1 + (i * H + j) * B;
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) a[b] = fmadd(xi[b], dz[j * B + b], a[b]);
      }
    }
    SINERNN_SIMD for (int64_t q = 0; q < H * B; ++q) a_b1[q] += dz[q];
    scalar_t* SINERNN_RESTRICT gxt = F > 1 ? gxs : g_x + t * Bs;
    for (int64_t f = 0; f < F; ++f) {  // g_x[t] = W_x dz
      scalar_t* SINERNN_RESTRICT gx = gxt + f * B;
      SINERNN_SIMD for (int64_t b = 0; b < B; ++b) gx[b] = 0;
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t w = w1[f * H + j];
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) gx[b] = fmadd(dz[j * B + b], w, gx[b]);
      }
    }
    if (F > 1) cell_transpose(gxs, g_x + t * Bs * F, F, B);
    for (int64_t i = 0; i < H; ++i) {  // carry = W_h dz
      scalar_t* SINERNN_RESTRICT c = carry + i * B;
      SINERNN_SIMD for (int64_t b = 0; b < B; ++b) c[b] = 0;
      for (int64_t j = 0; j < H; ++j) {
        const scalar_t w = wh[i * H + j];
        SINERNN_SIMD for (int64_t b = 0; b < B; ++b) c[b] = fmadd(dz[j * B + b], w, c[b]);
      }
    }
  }
  cell_transpose(carry, g_h0, H, B);
  auto batch_sum = [B](const scalar_t* a) {
    scalar_t acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t b = 0; b < B; ++b) acc += a[b];
    return acc;
  };
  for (int64_t q = 0; q < (F + H) * H; ++q) g_w1[q] = batch_sum(a_w1 + q * B);
  for (int64_t q = 0; q < H * O; ++q) g_w2[q] = batch_sum(a_w2 + q * B);
  if (g_b1) for (int64_t j = 0; j < H; ++j) g_b1[j] = batch_sum(a_b1 + j * B);
  if (g_b2) for (int64_t k = 0; k < O; ++k) g_b2[k] = batch_sum(a_b2 + k * B);
}

}  // namespace sinernn
