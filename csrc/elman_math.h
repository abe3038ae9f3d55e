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
//
// Everything here takes raw pointers and sizes and checks nothing: the op entry points check
// their arguments once (elman_checks.h) before calling in. Functions are plain inline under g++
// and __host__ __device__ under nvcc, so the CPU op and a CUDA kernel share the same code.
// Overloaded std::tanh keeps float64 runs in float64.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SINERNN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SINERNN_HOST_DEVICE inline
#endif

namespace sinernn {

// Forward pass of one step: h_new = tanh(concat(x, h) @ w1), pred = h_new @ w2.
template <typename scalar_t>
SINERNN_HOST_DEVICE void elman_forward(const scalar_t* x, const scalar_t* h, const scalar_t* w1,
                                       const scalar_t* w2, scalar_t* h_new, scalar_t* pred,
                                       int64_t F, int64_t H, int64_t O) {
  for (int64_t j = 0; j < H; ++j) {
    scalar_t z = 0;
    for (int64_t i = 0; i < F; ++i) z += x[i] * w1[i * H + j];        // input rows of w1
    for (int64_t i = 0; i < H; ++i) z += h[i] * w1[(F + i) * H + j];  // context rows of w1
    h_new[j] = std::tanh(z);
  }
  for (int64_t k = 0; k < O; ++k) {
    scalar_t p = 0;
    for (int64_t j = 0; j < H; ++j) p += h_new[j] * w2[j * O + k];
    pred[k] = p;
  }
}

// loss = 0.5 * sum_k (pred_k - y_k)^2
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_loss(const scalar_t* pred, const scalar_t* y, int64_t O) {
  scalar_t sum = 0;
  for (int64_t k = 0; k < O; ++k) {
    const scalar_t e = pred[k] - y[k];
    sum += e * e;
  }
  return sum / 2;
}

// Backward pass and SGD update of one step, the context h treated as a constant (the tutorial
// detaches it after every step). With e = pred - y:
//   gw2[j,k] = h_new[j] * e[k]
//   dz[j]    = (sum_k e[k] * w2[j,k]) * (1 - h_new[j]^2)     w2 taken *before* its update
//   gw1[i,j] = xh[i] * dz[j]                                  xh = concat(x, h)
//   w -= lr * g, element by element, as the tutorial's `w.data -= lr * w.grad.data`.
// Column j of both gradients depends only on dz[j], so each column is updated as soon as its
// dz is known and no workspace is needed.
template <typename scalar_t>
SINERNN_HOST_DEVICE void elman_sgd_update(const scalar_t* x, const scalar_t* h,
                                          const scalar_t* h_new, const scalar_t* pred,
                                          const scalar_t* y, scalar_t* w1, scalar_t* w2,
                                          scalar_t lr, int64_t F, int64_t H, int64_t O) {
  for (int64_t j = 0; j < H; ++j) {
    scalar_t back = 0;  // (e @ w2.T)[j], from the weights before this step's update
    for (int64_t k = 0; k < O; ++k) back += (pred[k] - y[k]) * w2[j * O + k];
    for (int64_t k = 0; k < O; ++k) w2[j * O + k] -= lr * (h_new[j] * (pred[k] - y[k]));
    const scalar_t dz = back * (1 - h_new[j] * h_new[j]);  // through tanh
    for (int64_t i = 0; i < F; ++i) w1[i * H + j] -= lr * (x[i] * dz);
    for (int64_t i = 0; i < H; ++i) w1[(F + i) * H + j] -= lr * (h[i] * dz);
  }
}

// One fused training step: forward, loss, backward, SGD. Returns the step's loss.
// h and h_new must not overlap (the update still reads h).
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_train_step(const scalar_t* x, const scalar_t* y,
                                              const scalar_t* h, scalar_t* h_new, scalar_t* pred,
                                              scalar_t* w1, scalar_t* w2, scalar_t lr, int64_t F,
                                              int64_t H, int64_t O) {
  elman_forward(x, h, w1, w2, h_new, pred, F, H, O);
  const scalar_t loss = elman_loss(pred, y, O);
  elman_sgd_update(x, h, h_new, pred, y, w1, w2, lr, F, H, O);
  return loss;
}

// One epoch over a series of L steps, context starting at zero. x (L, F), y (L, O).
// h_a, h_b (H,) are ping-pong context buffers, pred (O,) a scratch output. Returns the sum of
// the step losses, accumulated in scalar_t in time order as the tutorial's `total_loss += loss`.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_train_epoch(const scalar_t* x, const scalar_t* y,
                                               scalar_t* w1, scalar_t* w2, scalar_t lr,
                                               scalar_t* h_a, scalar_t* h_b, scalar_t* pred,
                                               int64_t L, int64_t F, int64_t H, int64_t O) {
  for (int64_t j = 0; j < H; ++j) h_a[j] = 0;
  scalar_t total = 0;
  for (int64_t t = 0; t < L; ++t) {
    total += elman_train_step(x + t * F, y + t * O, h_a, h_b, pred, w1, w2, lr, F, H, O);
    scalar_t* swap = h_a;  // h_b holds the new context: it becomes the next step's h
    h_a = h_b;
    h_b = swap;
  }
  return total;
}

}  // namespace sinernn
