// The step math of the tutorial's Elman network, written once.
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
// their arguments once (elman_checks.h) before calling in. Functions are plain inline under g++
// and __host__ __device__ under nvcc, so the CPU op and a CUDA kernel share the same code.
//
// Sizes come as a Sizes<F, H, O> value: a template argument that is non-zero is a compile-time
// size (loops unroll, small vectors stay in registers), zero means "read it at run time". The
// arithmetic, and its order, is the same for every instantiation, so a fixed-size run and a
// run-time-size run of the same problem round identically.
//
// Every sum runs in a fixed order (index order, or a fixed tree for the output dot), with fused
// multiply-adds where the hardware has them, so the per-step op and the whole-loop op, which
// both call into this file, agree bit for bit.
#pragma once

#include <cmath>
#include <cstring>
#include <cstdint>
#include <type_traits>

#if defined(__CUDACC__)
#define SINERNN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SINERNN_HOST_DEVICE inline
#endif
#define SINERNN_RESTRICT __restrict__
// Element-wise loops over the hidden units: vectorise them even when short, where the compiler
// would otherwise unroll them completely and then fail to vectorise the pieces. They hold no
// reduction, so no sum is reordered. Takes effect with -fopenmp-simd (set by the build).
#if defined(__CUDA_ARCH__)
#define SINERNN_SIMD
#else
#define SINERNN_SIMD _Pragma("omp simd")
#endif
// Unroll a short loop of compile-time length completely (the lanes' sweep over the rows of w1:
// measured 14% faster at the tutorial's sizes, the row sums then stay in registers).
#if defined(__CUDACC__)
#define SINERNN_UNROLL _Pragma("unroll")
#else
#define SINERNN_UNROLL _Pragma("GCC unroll 16")
#endif

namespace sinernn {

// Sizes of one model; a non-zero template argument fixes that size at compile time.
template <int kF = 0, int kH = 0, int kO = 0>
struct Sizes {
  static constexpr int64_t kFeatures = kF, kHidden = kH, kOutputs = kO;  // 0: known at run time only
  static constexpr bool kFixed = kF > 0 && kH > 0 && kO > 0;              // every size at compile time
  int64_t f = kF, h = kH, o = kO;
  SINERNN_HOST_DEVICE constexpr int64_t F() const { return kF ? kF : f; }
  SINERNN_HOST_DEVICE constexpr int64_t H() const { return kH ? kH : h; }
  SINERNN_HOST_DEVICE constexpr int64_t O() const { return kO ? kO : o; }
};
using DynamicSizes = Sizes<0, 0, 0>;

// a * b + c, fused (one rounding) where the hardware has an FMA instruction, else two roundings.
// The choice is fixed per build, so every caller in one binary rounds the same way.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t fmadd(scalar_t a, scalar_t b, scalar_t c) {
#if defined(__CUDA_ARCH__) || defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// tanh. float64: the C library's. float32: float arithmetic only, with no branch and no library
// call, so loops over the hidden units vectorise (16 per AVX-512 register), and the same formula
// serves the scalar loop, the lanes and CUDA:
//   |x| < 0.9:  x + x^3 P(x^2), P of degree 6 fitted for least maximum relative error;
//   |x| >= 0.9: 1 - 2 / (e + 1), e = exp(2 min(|x|, 9.5)) = 2^k p(r), r = 2|x| - k ln 2 (ln 2 in two
//               parts, |r| <= 0.35), p the Taylor polynomial to r^7 (from 9.01 on tanh rounds to 1);
// the sign put back at the end (tanh(-0) = -0). Both sides are evaluated and one is selected.
// Measured against tanhl over every float of magnitude 2^-126 .. 10: at most 1.17 ulp (at 0.887;
// scripts/tanh_accuracy.cpp); 1.25 ulp where fmadd is two roundings (a build without FMA). The
// previous version, the large-|x| formula evaluated in double and rounded once, was within 0.93 ulp
// by the same count (1 ulp off from 9.01 to 10, where it clamped at 9) at twice the cost: 1.2 vs
// 0.57 ns per value, 16 to a vector, and 63 vs 55 ns per tutorial step. (torch's own float tanh:
// 0.56 ulp on tests/test_tanh.py's 6 million floats.) NaN stays NaN; +-Inf gives +-1; tanh(-0) = -0.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_tanh(scalar_t x) {
  return std::tanh(x);
}

template <>
SINERNN_HOST_DEVICE float elman_tanh<float>(float x) {
  const float ax = std::fabs(x);
  // small |x|: ax + ax^3 * q(ax^2), q in Estrin's scheme
  const float s = ax * ax, s2 = s * s, s4 = s2 * s2;
  const float q01 = fmadd(s, 0.13332977890968323f, -0.33333322405815125f);
  const float q23 = fmadd(s, 0.021663542836904526f, -0.05392930284142494f);
  const float q45 = fmadd(s, 0.00258266762830317f, -0.008264543488621712f);
  const float q = fmadd(s4, fmadd(s2, -0.00045545989996753633f, q45), fmadd(s2, q23, q01));
  const float small = fmadd(ax * s, q, ax);
  // large |x|: 1 - 2 / (exp(y) + 1), y = 2|x|
  const float y = 2.0f * (ax > 9.5f ? 9.5f : ax);  // NaN passes through
  const float shift = 0x1.8p23f;                    // adding it rounds to an integer, kept in the low bits
  const float kf = fmadd(y, 1.44269504088896341f, shift);  // k = round(y / ln 2), 0..27
  uint32_t k_bits;
  std::memcpy(&k_bits, &kf, sizeof kf);
  const float k = kf - shift;
  float r = fmadd(k, -0.693359375f, y);  // y - k ln 2: k * 0.693359375 is exact
  r = fmadd(k, 2.12194440e-4f, r);
  const float r2 = r * r, r4 = r2 * r2;  // e^r = sum r^n / n!, n <= 7
  const float p01 = fmadd(r, 1.0f, 1.0f), p23 = fmadd(r, 1.0f / 6, 0.5f);
  const float p45 = fmadd(r, 1.0f / 120, 1.0f / 24), p67 = fmadd(r, 1.0f / 5040, 1.0f / 720);
  const float p = fmadd(r4, fmadd(r2, p67, p45), fmadd(r2, p23, p01));
  const uint32_t scale_bits = (k_bits - 0x4B400000u + 127) << 23;  // 2^k: kf's bits are the shift's + k
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const float large = 1.0f - 2.0f / fmadd(p, scale, 1.0f);
  return std::copysign(ax < 0.9f ? small : large, x);
}

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
  SINERNN_SIMD for (int64_t j = 0; j < s.H(); ++j) h_new[j] = elman_tanh(h_new[j]);
  for (int64_t k = 0; k < s.O(); ++k) pred[k] = elman_output_dot(h_new, w2, k, s);
}

// Forward pass of one step: h_new = tanh(concat(x, h) @ w1), pred = h_new @ w2.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_forward(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                       const scalar_t* SINERNN_RESTRICT w1, const scalar_t* SINERNN_RESTRICT w2,
                                       scalar_t* SINERNN_RESTRICT h_new, scalar_t* SINERNN_RESTRICT pred, S s) {
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

// Workspace of elman_train_epoch: three context buffers (H each), dz (H), pred (O).
SINERNN_HOST_DEVICE constexpr int64_t elman_epoch_workspace(int64_t H, int64_t O) { return 4 * H + O; }

// True when all n values are finite.
template <typename scalar_t>
SINERNN_HOST_DEVICE bool elman_all_finite(const scalar_t* v, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= std::isfinite(v[i]);
  return ok;
}

// One epoch over a series of L >= 1 steps, context starting at zero. x (L, F), y (L, O).
// Returns the sum of the step losses, accumulated in scalar_t in time order as the tutorial's
// `total_loss += loss`. Same arithmetic as L calls of elman_train_step, bit for bit.
// Divergence: the epoch stops at the first step whose loss is not finite and stores that step in
// *diverged (else -1). The caller restores the weights (the epoch has changed them).
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE scalar_t elman_train_epoch(const scalar_t* x, const scalar_t* y, scalar_t* w1, scalar_t* w2,
                                               scalar_t lr, scalar_t* workspace, int64_t L, S s, int64_t* diverged) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  scalar_t* h_prev = workspace;      // context going into step t
  scalar_t* h_cur = h_prev + H;      // step t's new context
  scalar_t* h_next = h_cur + H;      // step t+1's new context
  scalar_t* dz = h_next + H;
  scalar_t* pred = dz + H;
  for (int64_t j = 0; j < H; ++j) h_prev[j] = 0;
  elman_forward(x, h_prev, w1, w2, h_cur, pred, s);
  scalar_t total = 0;
  *diverged = -1;
  for (int64_t t = 0; t < L; ++t) {
    const scalar_t* x_t = x + t * F;
    const scalar_t* y_t = y + t * O;
    const scalar_t loss = elman_loss(pred, y_t, s);
    if (!std::isfinite(loss)) {
      *diverged = t;
      return total;
    }
    total += loss;
    elman_backward_output(h_cur, pred, y_t, w2, dz, lr, s);
    if (t + 1 < L) {
      elman_update_w1_and_forward(x_t, h_prev, dz, x_t + F, h_cur, w1, w2, h_next, pred, lr, s);
      scalar_t* spare = h_prev;  // rotate: step t's new context is step t+1's context
      h_prev = h_cur;
      h_cur = h_next;
      h_next = spare;
    } else {
      elman_update_w1(x_t, h_prev, dz, w1, lr, s);
    }
  }
  return total;
}

// The train op's run: `epochs` epochs of elman_train_epoch, losses[e] = epoch e's total. An epoch
// whose loss stops being finite, or that leaves a weight that is not finite (the last update
// overflowed: step L-1), is undone (w1, w2 back to its start) and ends the run; *diverged_epoch and
// *diverged_step say where (else both -1; the diverged epoch's losses[e] is left as computed).
// snapshot: (F+H)*H + H*O scalars; workspace: elman_epoch_workspace(H, O).
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_train_epochs(const scalar_t* x, const scalar_t* y, scalar_t* w1, scalar_t* w2,
                                            scalar_t lr, int64_t epochs, int64_t L, scalar_t* snapshot,
                                            scalar_t* workspace, scalar_t* losses, int64_t* diverged_epoch,
                                            int64_t* diverged_step, S s) {
  const int64_t n1 = (s.F() + s.H()) * s.H(), n2 = s.H() * s.O();
  *diverged_epoch = *diverged_step = -1;
  for (int64_t e = 0; e < epochs; ++e) {
    for (int64_t q = 0; q < n1; ++q) snapshot[q] = w1[q];
    for (int64_t q = 0; q < n2; ++q) snapshot[n1 + q] = w2[q];
    int64_t step = -1;
    losses[e] = elman_train_epoch<scalar_t>(x, y, w1, w2, lr, workspace, L, s, &step);
    if (step < 0 && !(elman_all_finite(w1, n1) && elman_all_finite(w2, n2))) step = L - 1;
    if (step >= 0) {  // diverged: back to the end of the last finite epoch
      for (int64_t q = 0; q < n1; ++q) w1[q] = snapshot[q];
      for (int64_t q = 0; q < n2; ++q) w2[q] = snapshot[n1 + q];
      *diverged_epoch = e;
      *diverged_step = step;
      return;
    }
  }
}

// Closed-loop forecast (F == O): a teacher-forced warm-up over x (L, F) from a zero context, then
// each prediction fed back as the next input; out (steps, O), row 0 the prediction after x's last
// row. work: 2H + O scalars.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_forecast(const scalar_t* x, const scalar_t* w1, const scalar_t* w2, scalar_t* out,
                                        int64_t L, int64_t steps, scalar_t* work, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  scalar_t* h = work;
  scalar_t* h_new = work + H;
  scalar_t* pred = work + 2 * H;
  for (int64_t j = 0; j < H; ++j) h[j] = 0;
  for (int64_t t = 0; t < L + steps - 1; ++t) {
    // warm-up on x, then the closed loop on the previous prediction, written out first
    const scalar_t* in = t < L ? x + t * F : out + (t - L) * O;
    elman_forward<scalar_t>(in, h, w1, w2, h_new, pred, s);
    scalar_t* spare = h;
    h = h_new;
    h_new = spare;
    if (t + 1 >= L)
      for (int64_t k = 0; k < O; ++k) out[(t + 1 - L) * O + k] = pred[k];
  }
}

// --- The differentiable cell (autograd ops seq_forward / seq_backward) -----------------------
// Forward over a sequence from a given context h0: hidden[t] = tanh([x_t, hidden[t-1]] @ w1),
// pred[t] = hidden[t] @ w2, hidden[-1] = h0. x (L, F), h0 (H,) -> pred (L, O), hidden (L, H).
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_seq_forward(const scalar_t* x, const scalar_t* h0, const scalar_t* w1, const scalar_t* w2,
                                           scalar_t* pred, scalar_t* hidden, int64_t L, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  for (int64_t t = 0; t < L; ++t)
    elman_forward(x + t * F, t == 0 ? h0 : hidden + (t - 1) * H, w1, w2, hidden + t * H, pred + t * O, s);
}

// Its backward (backpropagation through time over the whole sequence): given dLoss/dpred (L, O) and
// dLoss/dhidden (L, H) (gradients that reach the hidden states from outside, e.g. a loss on them),
// accumulates dLoss/dw1 into g_w1 (F+H, H) and dLoss/dw2 into g_w2 (H, O) (zeroed by the caller) and
// writes dLoss/dx (L, F) and dLoss/dh0 (H,). work: 2H + (F+H) values.
//   dh_t = g_hidden[t] + w2 g_pred[t] + carry;  dz = dh_t * (1 - hidden[t]^2)
//   g_w2 += hidden[t]^T g_pred[t];  g_w1 += [x_t, hidden[t-1]]^T dz;  [g_x[t], carry] = w1 dz
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_seq_backward(const scalar_t* x, const scalar_t* h0, const scalar_t* w1, const scalar_t* w2,
                                            const scalar_t* hidden, const scalar_t* g_pred, const scalar_t* g_hidden,
                                            scalar_t* g_x, scalar_t* g_h0, scalar_t* g_w1, scalar_t* g_w2,
                                            scalar_t* work, int64_t L, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  scalar_t* carry = work;       // (H,) dLoss/dhidden[t] through the recurrence
  scalar_t* dz = work + H;      // (H,)
  scalar_t* dxh = work + 2 * H; // (F+H,)
  for (int64_t j = 0; j < H; ++j) carry[j] = 0;
  for (int64_t t = L - 1; t >= 0; --t) {
    const scalar_t* h_t = hidden + t * H;
    const scalar_t* h_prev = t == 0 ? h0 : hidden + (t - 1) * H;
    const scalar_t* gp = g_pred + t * O;
    for (int64_t j = 0; j < H; ++j) {
      scalar_t dh = g_hidden[t * H + j] + carry[j];
      for (int64_t k = 0; k < O; ++k) {
        dh = fmadd(w2[j * O + k], gp[k], dh);
        g_w2[j * O + k] = fmadd(h_t[j], gp[k], g_w2[j * O + k]);
      }
      dz[j] = dh * (1 - h_t[j] * h_t[j]);
    }
    for (int64_t i = 0; i < F + H; ++i) {
      const scalar_t xh_i = i < F ? x[t * F + i] : h_prev[i - F];
      scalar_t acc = 0;
      for (int64_t j = 0; j < H; ++j) {
        g_w1[i * H + j] = fmadd(xh_i, dz[j], g_w1[i * H + j]);
        acc = fmadd(w1[i * H + j], dz[j], acc);
      }
      dxh[i] = acc;
    }
    for (int64_t i = 0; i < F; ++i) g_x[t * F + i] = dxh[i];
    for (int64_t j = 0; j < H; ++j) carry[j] = dxh[F + j];
  }
  for (int64_t j = 0; j < H; ++j) g_h0[j] = carry[j];
}

// --- Many models in SIMD lanes (the batched op train_many) ------------------------------------
// V independent models side by side, one per lane. A block of V models keeps its weights
// interleaved, lane last, so that every per-model operation above becomes one vector operation:
//   w1 ((F+H) * H * V): w1[i, j] of lane l at (i * H + j) * V + l
//   w2 (H * O * V):     w2[j, k] of lane l at (j * O + k) * V + l
// Each lane performs exactly the operations of elman_train_epoch on its own model, in the same
// order (row order in the pre-activations, the 8-part tree of elman_output_dot, the loss and the
// updates written as there), with the same fmadd and elman_tanh: a lane's weights and losses equal
// those of the single-model op bit for bit. Only the loops are arranged differently.
//
// The series: shared by all lanes (lane stride 0: one broadcast value) or one per lane (stride L*F
// and L*O between the lanes' series, read with a gather).
template <typename scalar_t>
struct LaneSeries {
  const scalar_t* x;  // lane 0's (L, F)
  const scalar_t* y;  // lane 0's (L, O)
  int64_t x_lane_stride, y_lane_stride;  // elements between lane l's series and lane l+1's; 0: shared
};

// Workspace of elman_train_epoch_lanes, in scalars: three contexts and dz (H * V each), pred (O * V),
// and the step's inputs and targets and the next step's inputs ((2F + O) * V).
SINERNN_HOST_DEVICE constexpr int64_t elman_lanes_workspace(int64_t F, int64_t H, int64_t O, int64_t V) {
  return (4 * H + O + 2 * F + O) * V;
}

// dst (n, V) = lane l's src[l * lane_stride + i] for i < n (a broadcast when lane_stride is 0).
template <typename scalar_t, int V>
SINERNN_HOST_DEVICE void elman_lanes_load(const scalar_t* src, int64_t lane_stride, int64_t n, scalar_t* dst) {
  if (lane_stride == 0) {  // a broadcast, not a gather of V equal addresses
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t v = src[i];
      SINERNN_SIMD for (int l = 0; l < V; ++l) dst[i * V + l] = v;
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    SINERNN_SIMD for (int l = 0; l < V; ++l) dst[i * V + l] = src[l * lane_stride + i];
}

// One sweep over w1 of the lane block: when kUpdate, row i += (-lr * xh_t[i]) * dz (step t's SGD update,
// elman_update_w1 per lane); when kForward, z = xh_next @ w1 with the updated rows, then z = tanh(z)
// and pred = z @ w2 (step t+1's forward: elman_update_w1_and_forward / elman_forward per lane).
// xh_t = [x_t (F, V), h (H, V)], xh_next = [x_next (F, V), h_next_ctx (H, V)].
template <typename scalar_t, int V, bool kUpdate, bool kForward, class S>
SINERNN_HOST_DEVICE void elman_lanes_sweep(const scalar_t* SINERNN_RESTRICT x_t, const scalar_t* SINERNN_RESTRICT h,
                                           const scalar_t* SINERNN_RESTRICT x_next,
                                           const scalar_t* SINERNN_RESTRICT h_next_ctx,
                                           const scalar_t* SINERNN_RESTRICT dz, const scalar_t* SINERNN_RESTRICT neg_lr,
                                           scalar_t* SINERNN_RESTRICT w1, const scalar_t* SINERNN_RESTRICT w2,
                                           scalar_t* z, scalar_t* SINERNN_RESTRICT pred, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  scalar_t c[V];  // step t's row factor -lr * xh_t[i] (local: the stores into w1 cannot change it)
  // The pre-activation sums: a local array when H is a compile-time size (registers), else z itself.
  constexpr int64_t kAcc = S::kHidden > 0 ? S::kHidden * V : 1;
  scalar_t local[kAcc];
  scalar_t* acc = S::kHidden > 0 ? local : z;
  SINERNN_UNROLL for (int64_t i = 0; i < F + H; ++i) {
    if constexpr (kUpdate) {
      const scalar_t* SINERNN_RESTRICT xh = i < F ? x_t + i * V : h + (i - F) * V;
      // elman_w1_row_factor(xh, lr) == -lr * xh; neg_lr holds -lr (negation is exact)
      SINERNN_SIMD for (int l = 0; l < V; ++l) c[l] = neg_lr[l] * xh[l];
    }
    const scalar_t* SINERNN_RESTRICT xn = i < F ? x_next + i * V : h_next_ctx + (i - F) * V;
    scalar_t* SINERNN_RESTRICT row = w1 + i * H * V;
    for (int64_t j = 0; j < H; ++j) {
      SINERNN_SIMD for (int l = 0; l < V; ++l) {
        scalar_t w = row[j * V + l];
        if constexpr (kUpdate) row[j * V + l] = w = fmadd(c[l], dz[j * V + l], w);
        if constexpr (kForward) acc[j * V + l] = fmadd(xn[l], w, i == 0 ? scalar_t(0) : acc[j * V + l]);
      }
    }
  }
  if constexpr (kForward) {
    SINERNN_SIMD for (int64_t q = 0; q < H * V; ++q) z[q] = elman_tanh(acc[q]);
    // elman_output_dot per lane: part m sums j = m, m+8, ... in j order; then the same tree
    for (int64_t k = 0; k < O; ++k) {
      SINERNN_SIMD for (int l = 0; l < V; ++l) {
        auto part = [&](int64_t m) {
          scalar_t sum = 0;
          for (int64_t j = m; j < H; j += 8) sum = fmadd(z[j * V + l], w2[(j * O + k) * V + l], sum);
          return sum;
        };
        pred[k * V + l] = ((part(0) + part(1)) + (part(2) + part(3))) + ((part(4) + part(5)) + (part(6) + part(7)));
      }
    }
  }
}

// One epoch of V models at once (elman_train_epoch per lane). total (V,) receives each lane's sum of
// step losses. No divergence stop: a lane whose loss stops being finite carries on with non-finite
// numbers (lanes don't affect each other); the caller sees it in total or in the weights and replays
// that lane's epoch with elman_train_epoch to learn where it diverged.
template <typename scalar_t, int V, class S>
SINERNN_HOST_DEVICE void elman_train_epoch_lanes(const LaneSeries<scalar_t>& ser, scalar_t* SINERNN_RESTRICT w1,
                                                 scalar_t* SINERNN_RESTRICT w2, const scalar_t* SINERNN_RESTRICT neg_lr,
                                                 scalar_t* SINERNN_RESTRICT workspace, int64_t L, S s,
                                                 scalar_t* SINERNN_RESTRICT total) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  scalar_t* h_prev = workspace;
  scalar_t* h_cur = h_prev + H * V;
  scalar_t* h_next = h_cur + H * V;
  scalar_t* SINERNN_RESTRICT dz = h_next + H * V;
  scalar_t* SINERNN_RESTRICT e = dz + H * V;       // (O, V) the prediction, then its error pred - y
  scalar_t* x_t = e + O * V;                        // (F, V)
  scalar_t* x_next = x_t + F * V;                   // (F, V)
  scalar_t* SINERNN_RESTRICT y_t = x_next + F * V;  // (O, V)
  SINERNN_SIMD for (int64_t q = 0; q < H * V; ++q) h_prev[q] = 0;
  elman_lanes_load<scalar_t, V>(ser.x, ser.x_lane_stride, F, x_next);
  // step 0's forward: elman_forward from a zero context
  elman_lanes_sweep<scalar_t, V, false, true>(x_t, h_prev, x_next, h_prev, dz, neg_lr, w1, w2, h_cur, e, s);
  SINERNN_SIMD for (int l = 0; l < V; ++l) total[l] = 0;
  for (int64_t t = 0; t < L; ++t) {
    scalar_t* const x_in = x_next;  // step t's inputs were loaded as "next" by the step before
    x_next = x_t;
    x_t = x_in;
    elman_lanes_load<scalar_t, V>(ser.y + t * O, ser.y_lane_stride, O, y_t);
    for (int64_t k = 0; k < O; ++k)
      SINERNN_SIMD for (int l = 0; l < V; ++l) e[k * V + l] = e[k * V + l] - y_t[k * V + l];
    SINERNN_SIMD for (int l = 0; l < V; ++l) {  // elman_loss
      scalar_t sum = 0;
      for (int64_t k = 0; k < O; ++k) sum = fmadd(e[k * V + l], e[k * V + l], sum);
      total[l] += sum / 2;
    }
    // elman_backward_output: dz from the old w2, then w2's update
    for (int64_t k = 0; k < O; ++k)
      for (int64_t j = 0; j < H; ++j)
        SINERNN_SIMD for (int l = 0; l < V; ++l) {
          const scalar_t ek = e[k * V + l];
          const scalar_t w = w2[(j * O + k) * V + l];
          dz[j * V + l] = fmadd(ek, w, k == 0 ? scalar_t(0) : dz[j * V + l]);
          w2[(j * O + k) * V + l] = fmadd(neg_lr[l], h_cur[j * V + l] * ek, w);
        }
    SINERNN_SIMD for (int64_t q = 0; q < H * V; ++q) dz[q] = dz[q] * (1 - h_cur[q] * h_cur[q]);
    if (t + 1 < L) {
      elman_lanes_load<scalar_t, V>(ser.x + (t + 1) * F, ser.x_lane_stride, F, x_next);
      elman_lanes_sweep<scalar_t, V, true, true>(x_t, h_prev, x_next, h_cur, dz, neg_lr, w1, w2, h_next, e, s);
      scalar_t* spare = h_prev;
      h_prev = h_cur;
      h_cur = h_next;
      h_next = spare;
    } else {
      elman_lanes_sweep<scalar_t, V, true, false>(x_t, h_prev, x_next, h_cur, dz, neg_lr, w1, w2, h_next, e, s);
    }
  }
}

// Call fn(sizes) with compile-time sizes for the common single-series shapes (the tutorial's F=1,
// O=1 with H up to kMaxHidden), run-time sizes otherwise. The arithmetic is the same either way.
// Compile-time sizes matter most for odd H: measured (train op, L=1000, float32, one process) at
// run-time sizes H = 1, 3, 5, 7, 9, 12, 15, 16: 64, 96, 107, 126, 143, 161, 277, 116 ns a step, at
// compile-time sizes 29, 46, 50, 68, 61, 89, 129, 86 (the remainders of the element-wise loops run
// as scalars at run-time sizes). Each size is compiled once per op: 16 sizes about double the build.
constexpr int64_t kFixedHidden = 16;

template <int64_t kH, int64_t kMaxHidden, class Fn>
inline bool with_fixed_hidden(int64_t H, Fn& fn) {
  if (H == kH) {
    fn(Sizes<1, kH, 1>{});
    return true;
  }
  if constexpr (kH < kMaxHidden) return with_fixed_hidden<kH + 1, kMaxHidden>(H, fn);
  return false;
}

template <int64_t kMaxHidden = kFixedHidden, class Fn>
inline void with_sizes(int64_t F, int64_t H, int64_t O, Fn&& fn) {
  if (F == 1 && O == 1 && with_fixed_hidden<1, kMaxHidden>(H, fn)) return;
  fn(DynamicSizes{F, H, O});
}

}  // namespace sinernn
