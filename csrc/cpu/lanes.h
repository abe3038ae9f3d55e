// Many models in SIMD lanes: the general lane code of the batched CPU op train_many
// (cpu/many_cpu.cpp, its only user). No ATen: dev/lanes_harness.cpp compiles it alone.
#pragma once

#include "../core/config.h"
#include "../core/step.h"
#include "../core/tanh.h"

namespace sinernn {

// V independent models side by side, one per lane. A block of V models keeps its weights
// interleaved, lane last, so that every per-model operation of core/step.h becomes one vector operation:
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
    elman_tanh_n(acc, z, H * V);
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

}  // namespace sinernn
