// One sequence through the network from a given context, with its backward pass through time:
// the differentiable single-sequence cell (ops seq_forward / seq_backward) and teacher-forced
// prediction (predict, predict_many). Shapes as core/step.h.
#pragma once

#include "config.h"
#include "step.h"

namespace sinernn {

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

}  // namespace sinernn
