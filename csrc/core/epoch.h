// Whole epochs of one model (the train and train_guarded ops, and the replay of a diverged lane
// in train_many): an epoch of steps with the update of step t fused into step t+1's forward pass,
// the run of epochs with its divergence rule, and the closed-loop forecast. Shapes as core/step.h;
// x (L, F), y (L, O) a series of L >= 1 steps.
#pragma once

#include "avx512.h"
#include "config.h"
#include "step.h"

namespace sinernn {

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
#if SINERNN_AVX512
  if constexpr (std::is_same_v<scalar_t, float> && S::kFixed && S::kFeatures == 1 && S::kOutputs == 1 &&
                S::kHidden <= 16)
    return elman_train_epoch_avx512<S::kHidden>(x, y, w1, w2, lr, L, diverged);
#endif
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

}  // namespace sinernn
