// One model's whole training run on one GPU thread, over a batch stored interleaved in groups of
// 32 models: model n's i-th value at p[((n / 32) * rows + i) * 32 + n % 32], so the 32 threads of a
// warp, taking consecutive models, read and write 128 consecutive bytes (coalesced), and a thread's
// values lie at compile-time offsets (i * 32) from its own base. The same operations in the same
// order as elman_train_epochs (core/epoch.h: row order in the pre-activations, the 8-part tree of
// elman_output_dot, fmadd, elman_tanh's arithmetic), so a thread's weights, losses and divergence
// equal the single-model op's bit for bit wherever both fuse multiply-adds.
// tests/native/test_thread_model.py checks that on the CPU, this header compiled for the host
// against elman_train_epochs. (A "lane" in this project is a SIMD lane only: cpu/lanes.h.)
//
// Storage is a template parameter, so one function serves two layouts:
//  - Fixed<K>: a thread-local array of K values indexed with compile-time indices only (every loop
//    here has a compile-time trip count when the sizes are compile-time and is fully unrolled), so
//    the compiler keeps it in registers: the kernel's working weights, contexts and gradient at the
//    tutorial's sizes;
//  - Strided: interleaved global memory, stride 32 between a model's values: every buffer at
//    run-time sizes.
// The contexts are copied from step to step (h_prev <- h_cur <- h_next), never rotated through
// pointers: a pointer that selects among register arrays forces them into local memory.
#pragma once

#include "config.h"
#include "tanh.h"

namespace sinernn {

#if defined(__CUDACC__)
#define SINERNN_THREAD_UNROLL _Pragma("unroll")
#else
#define SINERNN_THREAD_UNROLL
#endif

// K values in a thread's own array (registers, when indexed at compile time).
template <typename scalar_t, int64_t K>
struct Fixed {
  scalar_t v[K];
  SINERNN_HOST_DEVICE scalar_t& operator[](int64_t i) { return v[i]; }
};

// Models per group of the interleaved layout: one warp.
constexpr int64_t kGroup = 32;

// Values of one model of an interleaved buffer: value i at p[i * kGroup].
template <typename scalar_t>
struct Strided {
  scalar_t* p;
  SINERNN_HOST_DEVICE scalar_t& operator[](int64_t i) const { return p[i * kGroup]; }
};

// A model's base in a buffer of `rows` values a model: model n's value 0.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t* group_base(scalar_t* p, int64_t rows, int64_t n) {
  return p + (n / kGroup) * rows * kGroup + n % kGroup;
}

// Rows padded to whole groups: the element count of an interleaved buffer of N models.
SINERNN_HOST_DEVICE constexpr int64_t group_buffer_size(int64_t rows, int64_t N) {
  return (N + kGroup - 1) / kGroup * kGroup * rows;
}

template <typename scalar_t>
struct StridedConst {
  const scalar_t* p;
  int64_t stride;
  SINERNN_HOST_DEVICE scalar_t operator[](int64_t i) const { return p[i * stride]; }
};

// One thread's working state: weights w1 (F+H, H), w2 (H, O), contexts, gradient and prediction.
// Each member is Fixed<...> or Strided.
template <class W1, class W2, class Hb, class Ob>
struct ThreadState {
  W1 w1;
  W2 w2;
  Hb h_prev, h_cur, h_next, dz;  // (H,) each
  Ob pred;                       // (O,)
};

// z = tanh(xh @ w1) into st.h_next, pred = h_next @ w2, with xh = [x_t (F), ctx (H)] and, when kUpdate,
// each row of w1 first updated by (-lr * xh_t[i]) * dz (step t's SGD step fused with step t+1's
// forward pass, as elman_update_w1_and_forward; xh_t = [x_prev, st.h_prev]).
template <bool kUpdate, typename scalar_t, class S, class St, class X>
SINERNN_HOST_DEVICE void thread_forward(St& st, const X& x_prev, int64_t prev_off, const X& x_t, int64_t t_off,
                                      bool ctx_is_cur, scalar_t neg_lr, const TanhTable& table, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  // step t+1's context is step t's new one (h_cur), or zero at the epoch's start (h_prev, zeroed)
  SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.h_next[j] = scalar_t(0);
  SINERNN_THREAD_UNROLL for (int64_t i = 0; i < F + H; ++i) {
    scalar_t c = scalar_t(0);
    if constexpr (kUpdate) c = neg_lr * (i < F ? x_prev[prev_off + i] : st.h_prev[i - F]);  // elman_w1_row_factor
    const scalar_t xn = i < F ? x_t[t_off + i] : (ctx_is_cur ? st.h_cur[i - F] : st.h_prev[i - F]);
    SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) {
      scalar_t w = st.w1[i * H + j];
      if constexpr (kUpdate) {
        w = fmadd(c, st.dz[j], w);
        st.w1[i * H + j] = w;
      }
      st.h_next[j] = fmadd(xn, w, st.h_next[j]);  // row order from zero, as elman_accumulate_rows
    }
  }
  SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.h_next[j] = elman_tanh_with(st.h_next[j], table);
  SINERNN_THREAD_UNROLL for (int64_t k = 0; k < O; ++k) {  // elman_output_dot: parts j mod 8, then the tree
    scalar_t part[8];
    SINERNN_THREAD_UNROLL for (int m = 0; m < 8; ++m) part[m] = scalar_t(0);
    // j = j0 + m: compile-time part indices (registers) at run-time H too
    SINERNN_THREAD_UNROLL for (int64_t j0 = 0; j0 < H; j0 += 8)
      SINERNN_THREAD_UNROLL for (int m = 0; m < 8; ++m)
        if (j0 + m < H) part[m] = fmadd(st.h_next[j0 + m], st.w2[(j0 + m) * O + k], part[m]);
    st.pred[k] = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  }
}

// The last step's update alone (elman_update_w1): row i += (-lr * xh_t[i]) * dz.
template <typename scalar_t, class S, class St, class X>
SINERNN_HOST_DEVICE void thread_update_w1(St& st, const X& x, int64_t off, scalar_t neg_lr, S s) {
  const int64_t F = s.F(), H = s.H();
  SINERNN_THREAD_UNROLL for (int64_t i = 0; i < F + H; ++i) {
    const scalar_t c = neg_lr * (i < F ? x[off + i] : st.h_prev[i - F]);
    SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.w1[i * H + j] = fmadd(c, st.dz[j], st.w1[i * H + j]);
  }
}

// One epoch (elman_train_epoch): x (L, F), y (L, O) as views of the thread's model. Returns the sum of the step
// losses; *diverged_step = the first step whose loss is not finite (the epoch stops there), else -1.
template <typename scalar_t, class S, class St, class X>
SINERNN_HOST_DEVICE scalar_t thread_epoch(St& st, const X& x, const X& y, int64_t L, scalar_t neg_lr,
                                        const TanhTable& table, int64_t* diverged_step, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.h_prev[j] = scalar_t(0);
  thread_forward<false, scalar_t>(st, x, 0, x, 0, false, neg_lr, table, s);  // step 0 from a zero context
  SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.h_cur[j] = st.h_next[j];
  scalar_t total = 0;
  *diverged_step = -1;
  for (int64_t t = 0; t < L; ++t) {
    scalar_t sum = 0;  // elman_loss
    SINERNN_THREAD_UNROLL for (int64_t k = 0; k < O; ++k) {
      const scalar_t e = st.pred[k] - y[t * O + k];
      sum = fmadd(e, e, sum);
    }
    const scalar_t loss = sum / 2;
    if (!std::isfinite(loss)) {
      *diverged_step = t;
      return total;
    }
    total += loss;
    // elman_backward_output: dz from the old w2, w2's update, then through the tanh
    SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.dz[j] = scalar_t(0);
    SINERNN_THREAD_UNROLL for (int64_t k = 0; k < O; ++k) {
      const scalar_t e = st.pred[k] - y[t * O + k];
      SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) {
        st.dz[j] = fmadd(e, st.w2[j * O + k], st.dz[j]);
        st.w2[j * O + k] = fmadd(neg_lr, st.h_cur[j] * e, st.w2[j * O + k]);
      }
    }
    SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) st.dz[j] = st.dz[j] * (1 - st.h_cur[j] * st.h_cur[j]);
    if (t + 1 < L) {
      thread_forward<true, scalar_t>(st, x, t * F, x, (t + 1) * F, true, neg_lr, table, s);
      SINERNN_THREAD_UNROLL for (int64_t j = 0; j < H; ++j) {
        st.h_prev[j] = st.h_cur[j];
        st.h_cur[j] = st.h_next[j];
      }
    } else {
      thread_update_w1<scalar_t>(st, x, t * F, neg_lr, s);
    }
  }
  return total;
}

// The run (elman_train_epochs): `epochs` epochs from the weights in st.w1, st.w2. keep1, keep2
// receive the weights at the start of every epoch (a view of the thread's model in the caller's output or scratch
// buffer, not registers): an epoch that diverges (a non-finite loss, or a weight not finite at its
// end: step L-1) is undone from there, and the run stops with *diverged_epoch, *diverged_step set
// (else both -1). losses[e] receives each finite epoch's loss sum; the diverged epoch's and later
// entries are left as they were (the caller fills them with NaN). Returns true when the weights in
// st are the run's result (no divergence), false when keep1, keep2 hold it.
template <typename scalar_t, class S, class St, class X, class K1, class K2, class Ls>
SINERNN_HOST_DEVICE bool thread_run(St& st, const X& x, const X& y, int64_t L, int64_t epochs, scalar_t lr,
                                  const TanhTable& table, K1& keep1, K2& keep2, Ls& losses, int64_t* diverged_epoch,
                                  int64_t* diverged_step, S s) {
  const int64_t n1 = (s.F() + s.H()) * s.H(), n2 = s.H() * s.O();
  const scalar_t neg_lr = -lr;  // exact; elman_w1_row_factor's -lr * xh and the w2 update's -lr
  *diverged_epoch = *diverged_step = -1;
  for (int64_t e = 0; e < epochs; ++e) {
    SINERNN_THREAD_UNROLL for (int64_t q = 0; q < n1; ++q) keep1[q] = st.w1[q];
    SINERNN_THREAD_UNROLL for (int64_t q = 0; q < n2; ++q) keep2[q] = st.w2[q];
    int64_t step = -1;
    const scalar_t total = thread_epoch<scalar_t>(st, x, y, L, neg_lr, table, &step, s);
    if (step < 0) {  // elman_all_finite over both matrices
      bool ok = true;
      SINERNN_THREAD_UNROLL for (int64_t q = 0; q < n1; ++q) ok &= std::isfinite(st.w1[q]);
      SINERNN_THREAD_UNROLL for (int64_t q = 0; q < n2; ++q) ok &= std::isfinite(st.w2[q]);
      if (!ok) step = L - 1;
    }
    if (step >= 0) {
      *diverged_epoch = e;
      *diverged_step = step;
      return false;
    }
    losses[e] = total;
  }
  return true;
}

// A batch of models stored interleaved in groups of 32 (rows values a model, group_base), trained
// one model per thread by thread_train_model: the body of the batched CUDA kernel, also run on the
// CPU by tests/native/thread_model_check.cpp. Buffers hold group_buffer_size(rows, N) values (whole groups).
template <typename scalar_t>
struct ThreadBatch {
  const scalar_t* x;   // per_model: interleaved, rows L*F; else the one shared series (L, F)
  const scalar_t* y;   // likewise rows L*O, or (L, O)
  bool per_model;
  scalar_t* w1;        // interleaved, rows n1: the initial weights in, the result out
  scalar_t* w2;        // rows n2
  const double* lr;    // (N,), cast to scalar_t as the CPU op does
  scalar_t* losses;    // interleaved, rows epochs, filled with NaN by the caller
  int64_t* diverged;   // interleaved, rows 2: epoch and step where model n diverged, else -1
  scalar_t* scratch;   // run-time sizes only: rows thread_scratch_rows(F, H, O)
  int64_t N, L, epochs;
};

SINERNN_HOST_DEVICE constexpr int64_t thread_scratch_rows(int64_t F, int64_t H, int64_t O) {
  return (F + H) * H + H * O + 4 * H + O;
}

// Model n of the batch: its whole run. Compile-time sizes keep the working weights, contexts and
// gradient in registers and the epoch-start copy in the output buffer; run-time sizes work in the
// interleaved buffers (output and scratch) throughout.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void thread_train_model(const ThreadBatch<scalar_t>& b, int64_t n, const TanhTable& table, S s) {
  const int64_t F = s.F(), H = s.H(), O = s.O(), L = b.L;
  const int64_t n1 = (F + H) * H, n2 = H * O;
  const StridedConst<scalar_t> x{b.per_model ? group_base(b.x, L * F, n) : b.x, b.per_model ? kGroup : 1};
  const StridedConst<scalar_t> y{b.per_model ? group_base(b.y, L * O, n) : b.y, b.per_model ? kGroup : 1};
  Strided<scalar_t> out1{group_base(b.w1, n1, n)}, out2{group_base(b.w2, n2, n)}, losses{group_base(b.losses, b.epochs, n)};
  const scalar_t lr = static_cast<scalar_t>(b.lr[n]);
  int64_t epoch = -1, step = -1;
  if constexpr (S::kFixed) {
    constexpr int64_t k1 = (S::kFeatures + S::kHidden) * S::kHidden, k2 = S::kHidden * S::kOutputs;
    ThreadState<Fixed<scalar_t, k1>, Fixed<scalar_t, k2>, Fixed<scalar_t, S::kHidden>, Fixed<scalar_t, S::kOutputs>> st;
    SINERNN_THREAD_UNROLL for (int64_t q = 0; q < k1; ++q) st.w1[q] = out1[q];
    SINERNN_THREAD_UNROLL for (int64_t q = 0; q < k2; ++q) st.w2[q] = out2[q];
    if (thread_run<scalar_t>(st, x, y, L, b.epochs, lr, table, out1, out2, losses, &epoch, &step, s)) {
      SINERNN_THREAD_UNROLL for (int64_t q = 0; q < k1; ++q) out1[q] = st.w1[q];
      SINERNN_THREAD_UNROLL for (int64_t q = 0; q < k2; ++q) out2[q] = st.w2[q];
    }  // else the outputs hold the diverged epoch's start, written there by thread_run
  } else {
    scalar_t* sc = group_base(b.scratch, thread_scratch_rows(F, H, O), n);
    Strided<scalar_t> keep1{sc}, keep2{sc + n1 * kGroup};
    scalar_t* ctx = sc + (n1 + n2) * kGroup;
    constexpr int64_t G = kGroup;
    ThreadState<Strided<scalar_t>, Strided<scalar_t>, Strided<scalar_t>, Strided<scalar_t>> st{
        out1, out2, {ctx}, {ctx + H * G}, {ctx + 2 * H * G}, {ctx + 3 * H * G}, {ctx + 4 * H * G}};
    if (!thread_run<scalar_t>(st, x, y, L, b.epochs, lr, table, keep1, keep2, losses, &epoch, &step, s)) {
      for (int64_t q = 0; q < n1; ++q) out1[q] = keep1[q];
      for (int64_t q = 0; q < n2; ++q) out2[q] = keep2[q];
    }
  }
  int64_t* where = group_base(b.diverged, 2, n);
  where[0] = epoch;
  where[kGroup] = step;
}

}  // namespace sinernn

