// One step of the tutorial's Elman network, written once: forward, loss, backward through the
// output layer, the SGD updates, and the update fused with the next step's forward pass.
//
// Shapes (all row-major, contiguous, one model):
//   x      (F,)        input at time t
//   y      (O,)        target at time t (the next point of the series)
//   h      (H,)        context from the previous step (zeros at the start of an epoch)
//   w1     (F+H, H)    input+context -> hidden;  rows 0..F-1 take x, rows F..F+H-1 take h
//   w2     (H, O)      hidden -> output
//   h_new  (H,)        new context  tanh(concat(x, h) @ w1)
//   pred   (O,)        prediction   h_new @ w2
//   dz     (H,)        workspace: the gradient at the tanh's input
//
// Everything here takes raw pointers and sizes and checks nothing: the op entry points check
// their arguments once (aten/checks.h) before calling in. Functions are plain inline under g++
// and __host__ __device__ under nvcc, so the CPU op and a CUDA kernel share the same code.
//
// Sizes come as a Sizes<F, H, O> value (core/config.h): a template argument that is non-zero is a
// compile-time size (loops unroll, small vectors stay in registers), zero means "read it at run
// time". The arithmetic, and its order, is the same for every instantiation, so a fixed-size run
// and a run-time-size run of the same problem round identically.
#pragma once

#include "avx512.h"
#include "config.h"
#include "tanh.h"

namespace sinernn {

// Column blocks. A pre-activation z[j] = sum_i xh_i * w1[i, j] is accumulated over the F+H rows
// in a local array of compile-time width N (registers), not in memory: a chain through memory
// would add a store-to-load round trip to every row. Blocks are 1 KiB of columns (256 floats,
// 128 doubles: each row is swept in long contiguous runs), then halves down to 1 column for the
// rest, or exactly H when H is a compile-time size that fits one block. Every z[j] still
// accumulates its rows in order 0..F+H-1, so the blocking changes no rounding.
template <typename scalar_t>
constexpr int64_t kColumnBlock = 1024 / sizeof(scalar_t);

template <typename scalar_t, class S, class Fn>
SINERNN_HOST_DEVICE void for_column_blocks(S s, Fn&& fn) {
  constexpr int64_t kBlock = kColumnBlock<scalar_t>;
  if constexpr (S::kHidden > 0 && S::kHidden <= kBlock) {
    fn(std::integral_constant<int64_t, S::kHidden>{}, int64_t(0));
  } else {
    const int64_t H = s.H();
    int64_t j0 = 0;
    for (; j0 + kBlock <= H; j0 += kBlock) fn(std::integral_constant<int64_t, kBlock>{}, j0);
    auto tail = [&](auto width) {
      if constexpr (decltype(width)::value >= 1) {
        if (H - j0 >= decltype(width)::value) {
          fn(width, j0);
          j0 += decltype(width)::value;
        }
      }
    };
    tail(std::integral_constant<int64_t, kBlock / 2>{});
    tail(std::integral_constant<int64_t, kBlock / 4>{});
    tail(std::integral_constant<int64_t, kBlock / 8>{});
    tail(std::integral_constant<int64_t, kBlock / 16>{});
    tail(std::integral_constant<int64_t, kBlock / 32>{});
    tail(std::integral_constant<int64_t, kBlock / 64>{});
    tail(std::integral_constant<int64_t, kBlock / 128>{});
    tail(std::integral_constant<int64_t, kBlock / 256>{});  // 1 column for float; 0 (skipped) for double
  }
}

// z (H,) = sum_i xh_i * w1[i, :] over the F input rows then the H context rows, in row order.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_accumulate_rows(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                               const scalar_t* SINERNN_RESTRICT w1, scalar_t* SINERNN_RESTRICT z,
                                               S s) {
  const int64_t F = s.F(), H = s.H();
  for_column_blocks<scalar_t>(s, [&](auto width, int64_t j0) {
    constexpr int64_t N = decltype(width)::value;
    scalar_t acc[N] = {};
    for (int64_t i = 0; i < F; ++i)
      SINERNN_SIMD for (int64_t l = 0; l < N; ++l) acc[l] = fmadd(x[i], w1[i * H + j0 + l], acc[l]);
    for (int64_t i = 0; i < H; ++i)
      SINERNN_SIMD for (int64_t l = 0; l < N; ++l) acc[l] = fmadd(h[i], w1[(F + i) * H + j0 + l], acc[l]);
    for (int64_t l = 0; l < N; ++l) z[j0 + l] = acc[l];
  });
}

// sum_j h[j] * w2[j, k]: eight partial sums (lane l takes j = l mod 8) added in a fixed tree,
// so the sum is not one chain of H dependent multiply-adds and it vectorises.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE scalar_t elman_output_dot(const scalar_t* SINERNN_RESTRICT h, const scalar_t* SINERNN_RESTRICT w2,
                                              int64_t k, S s) {
  constexpr int kParts = 8;
  const int64_t H = s.H(), O = s.O();
  scalar_t part[kParts] = {};
  int64_t j = 0;
  for (; j + kParts <= H; j += kParts)
    for (int l = 0; l < kParts; ++l) part[l] = fmadd(h[j + l], w2[(j + l) * O + k], part[l]);
  for (int l = 0; j + l < H; ++l) part[l] = fmadd(h[j + l], w2[(j + l) * O + k], part[l]);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

// h_new = tanh(z) in place; pred = h_new @ w2.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_activate_and_output(scalar_t* SINERNN_RESTRICT h_new, const scalar_t* SINERNN_RESTRICT w2,
                                                   scalar_t* SINERNN_RESTRICT pred, S s) {
  elman_tanh_n(h_new, h_new, s.H());
  for (int64_t k = 0; k < s.O(); ++k) pred[k] = elman_output_dot(h_new, w2, k, s);
}

// Forward pass of one step: h_new = tanh(concat(x, h) @ w1), pred = h_new @ w2.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_forward(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                       const scalar_t* SINERNN_RESTRICT w1, const scalar_t* SINERNN_RESTRICT w2,
                                       scalar_t* SINERNN_RESTRICT h_new, scalar_t* SINERNN_RESTRICT pred, S s) {
#if SINERNN_AVX512
  // float32, F = O = 1, a compile-time H <= 16: the same operations in registers (core/avx512.h)
  if constexpr (std::is_same_v<scalar_t, float> && S::kFixed && S::kFeatures == 1 && S::kOutputs == 1 &&
                S::kHidden <= 16) {
    elman_forward_avx512<S::kHidden>(x, h, w1, w2, h_new, pred);
    return;
  }
#endif
  elman_accumulate_rows(x, h, w1, h_new, s);
  elman_activate_and_output(h_new, w2, pred, s);
}

// loss = 0.5 * sum_k (pred_k - y_k)^2
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE scalar_t elman_loss(const scalar_t* SINERNN_RESTRICT pred, const scalar_t* SINERNN_RESTRICT y, S s) {
  scalar_t sum = 0;
  for (int64_t k = 0; k < s.O(); ++k) {
    const scalar_t e = pred[k] - y[k];
    sum = fmadd(e, e, sum);
  }
  return sum / 2;
}

// Backward through the output layer, and its SGD update. With e = pred - y:
//   dz[j]    = (sum_k e[k] * w2[j,k]) * (1 - h_new[j]^2)     w2 taken *before* its update
//   w2[j,k] -= lr * h_new[j] * e[k]                            (gw2 = outer(h_new, e))
// The context h is a constant here: the tutorial detaches it after every step.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_backward_output(const scalar_t* SINERNN_RESTRICT h_new, const scalar_t* SINERNN_RESTRICT pred,
                                               const scalar_t* SINERNN_RESTRICT y, scalar_t* SINERNN_RESTRICT w2,
                                               scalar_t* SINERNN_RESTRICT dz, scalar_t lr, S s) {
  const int64_t H = s.H(), O = s.O();
  for (int64_t j = 0; j < H; ++j) dz[j] = 0;
  for (int64_t k = 0; k < O; ++k) {
    const scalar_t e = pred[k] - y[k];
    for (int64_t j = 0; j < H; ++j) {
      dz[j] = fmadd(e, w2[j * O + k], dz[j]);        // (e @ w2.T)[j], old w2
      w2[j * O + k] = fmadd(-lr, h_new[j] * e, w2[j * O + k]);
    }
  }
  for (int64_t j = 0; j < H; ++j) dz[j] = dz[j] * (1 - h_new[j] * h_new[j]);  // through tanh
}

// w1[i, :] -= lr * xh_i * dz, with xh = concat(x, h)   (gw1 = outer(xh, dz)),
// as w1[i, j] = fma(-lr * xh_i, dz[j], w1[i, j]): one multiply-add per weight. The reference
// rounds xh_i * dz[j] and then lr times it instead; the difference is one rounding per update.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_w1_row_factor(scalar_t xh_i, scalar_t lr) {
  return -lr * xh_i;
}

template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_update_w1_row(scalar_t xh_i, const scalar_t* SINERNN_RESTRICT dz,
                                             scalar_t* SINERNN_RESTRICT w1_row, scalar_t lr, S s) {
  const scalar_t c = elman_w1_row_factor(xh_i, lr);
  SINERNN_SIMD for (int64_t j = 0; j < s.H(); ++j) w1_row[j] = fmadd(c, dz[j], w1_row[j]);
}

template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_update_w1(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                         const scalar_t* SINERNN_RESTRICT dz, scalar_t* SINERNN_RESTRICT w1, scalar_t lr,
                                         S s) {
  const int64_t F = s.F(), H = s.H();
  for (int64_t i = 0; i < F; ++i) elman_update_w1_row(x[i], dz, w1 + i * H, lr, s);
  for (int64_t i = 0; i < H; ++i) elman_update_w1_row(h[i], dz, w1 + (F + i) * H, lr, s);
}

// One fused training step: forward, loss, backward, SGD. Returns the step's loss.
// h and h_new must not overlap (the update still reads h).
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE scalar_t elman_train_step(const scalar_t* x, const scalar_t* y, const scalar_t* h, scalar_t* h_new,
                                              scalar_t* pred, scalar_t* dz, scalar_t* w1, scalar_t* w2, scalar_t lr,
                                              S s) {
  elman_forward(x, h, w1, w2, h_new, pred, s);
  const scalar_t loss = elman_loss(pred, y, s);
  elman_backward_output(h_new, pred, y, w2, dz, lr, s);
  elman_update_w1(x, h, dz, w1, lr, s);
  return loss;
}

// Step t's w1 update fused with step t+1's forward pass: one sweep over w1 instead of two.
// Row i is updated, then immediately multiplied into the next pre-activation, so each updated
// weight and each partial sum is rounded exactly as in update-then-forward: the result is bit
// for bit that of elman_update_w1 followed by elman_forward.
//   x, h      step t's input and context (xh_t, for the update)
//   x_next    step t+1's input; h_next_ctx = step t's new context (xh_{t+1} = [x_next, h_next_ctx])
//   z_next    (H,) receives tanh(xh_{t+1} @ w1_new) and pred_next (O,) the prediction
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_update_w1_and_forward(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                                     const scalar_t* SINERNN_RESTRICT dz,
                                                     const scalar_t* SINERNN_RESTRICT x_next,
                                                     const scalar_t* SINERNN_RESTRICT h_next_ctx,
                                                     scalar_t* SINERNN_RESTRICT w1, const scalar_t* SINERNN_RESTRICT w2,
                                                     scalar_t* SINERNN_RESTRICT z_next, scalar_t* SINERNN_RESTRICT pred_next,
                                                     scalar_t lr, S s) {
  const int64_t F = s.F(), H = s.H();
  for_column_blocks<scalar_t>(s, [&](auto width, int64_t j0) {
    constexpr int64_t N = decltype(width)::value;
    // Local copies: the compiler then knows the stores into w1 cannot change them (pointers
    // captured by a lambda lose __restrict__) and keeps them in registers across the rows.
    scalar_t d[N], acc[N] = {};
    for (int64_t l = 0; l < N; ++l) d[l] = dz[j0 + l];
    for (int64_t i = 0; i < F + H; ++i) {
      scalar_t* row = w1 + i * H + j0;
      const scalar_t c = elman_w1_row_factor(i < F ? x[i] : h[i - F], lr);  // step t's input row
      const scalar_t xn_i = i < F ? x_next[i] : h_next_ctx[i - F];         // step t+1's
      SINERNN_SIMD for (int64_t l = 0; l < N; ++l) {
        row[l] = fmadd(c, d[l], row[l]);
        acc[l] = fmadd(xn_i, row[l], acc[l]);
      }
    }
    for (int64_t l = 0; l < N; ++l) z_next[j0 + l] = acc[l];
  });
  elman_activate_and_output(z_next, w2, pred_next, s);
}

}  // namespace sinernn
