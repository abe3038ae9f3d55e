// The batched cell a step at a time in sinernn's register-blocked product (cpu/gemm.h), for larger
// H on CPUs with AVX-512: every product of a step, the recurrence's and the gradients' alike, runs
// while the step's rows are in the L1 cache, and none goes through a library call (why:
// docs/performance.md, "The fused cell"). Plain pointers in the ops' row-major layouts; the math is
// aten/cell.h's. Called by cpu/cell_cpu.cpp on chunks of rows.
#pragma once

#include <cstdint>

#include "../core/config.h"
#include "../core/tanh.h"
#include "gemm.h"

namespace sinernn {

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

}  // namespace sinernn
