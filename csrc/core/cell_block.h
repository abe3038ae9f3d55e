// The body of the batched cell's one-launch CUDA kernels (cuda/cell_cuda.cu), as __host__
// __device__ phases, so tests/native/cell_block_check.cpp runs the same code on the CPU.
//
// A block owns R rows of the batch, rows blk*R .. blk*R + R - 1; thread (j, r) is hidden unit j of
// row r (tid = r*H + j of nt = R*H threads). The kernel calls each phase on every thread of the
// block with a barrier (__syncthreads) between consecutive phases; the CPU emulation calls a phase
// on all threads, one after another, before the next phase, which is what the barriers guarantee.
// Within a phase a thread writes only its own shared entries (named at each phase), and reads
// others' only when they were written in an earlier phase.
//
// Each value is the CPU loops' (core/cell_loops.h, cell_forward_small / cell_backward_small) chain of
// multiply-adds in the same order, with the same tanh (elman_tanh_with: float32 from the table).
#pragma once

#include <cstdint>

#include "config.h"
#include "tanh.h"

namespace sinernn {

// Threads a block has at most, and the rows it owns: as many as fit, at most 32.
constexpr int kCellBlockThreads = 256;
SINERNN_HOST_DEVICE int64_t cell_block_rows(int64_t H) {
  const int64_t rows = kCellBlockThreads / H;
  return rows < 1 ? 1 : rows > 32 ? 32 : rows;
}

template <typename scalar_t>
struct CellBlockArgs {
  const scalar_t *x, *h0, *w1, *w2, *b1, *b2;  // b1, b2 may be null
  scalar_t *hidden_out, *pred;                  // forward's outputs
  const scalar_t *hidden, *g_pred, *g_hidden;   // backward's inputs; the gradients may be null (zero)
  scalar_t *g_x, *g_h0, *part_w1, *part_w2, *part_b1, *part_b2;  // backward's outputs (parts: per block)
  int64_t L, B, F, H, O, R;
};

// Shared values, forward: w1 (F+H, H), w2 (H, O), two (R, H) hidden buffers.
SINERNN_HOST_DEVICE int64_t cell_block_forward_shared(int64_t R, int64_t F, int64_t H, int64_t O) {
  return (F + H) * H + H * O + 2 * R * H;
}

// Shared values, backward: w1, w2, the block's sums of g_w1, g_w2, g_b1, g_b2, and per row h[t],
// h[t-1], dz, carry (H each), x[t] (F), g_pred[t] (O).
SINERNN_HOST_DEVICE int64_t cell_block_backward_shared(int64_t R, int64_t F, int64_t H, int64_t O) {
  return 2 * ((F + H) * H + H * O) + H + O + R * (4 * H + F + O);
}

template <typename scalar_t>
struct CellForwardShared {
  scalar_t *w1, *w2, *hs;  // hs: [2][R][H]
  SINERNN_HOST_DEVICE CellForwardShared(scalar_t* base, const CellBlockArgs<scalar_t>& a)
      : w1(base), w2(base + (a.F + a.H) * a.H), hs(base + (a.F + a.H) * a.H + a.H * a.O) {}
};

// Forward, phase 0: the weights (entries tid, tid + nt, ...) and row r's h0 (entry (r, j) of buffer 0).
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_forward_load(const CellBlockArgs<scalar_t>& a, CellForwardShared<scalar_t> s,
                                                 int64_t blk, int64_t j, int64_t r) {
  const int64_t H = a.H, tid = r * H + j, nt = a.R * H, b = blk * a.R + r;
  for (int64_t q = tid; q < (a.F + H) * H; q += nt) s.w1[q] = a.w1[q];
  for (int64_t q = tid; q < H * a.O; q += nt) s.w2[q] = a.w2[q];
  s.hs[r * H + j] = b < a.B ? a.h0[b * H + j] : scalar_t(0);
}

// Forward, step t, phase 1: hidden[t] of (row r, unit j) from buffer t & 1 into buffer (t + 1) & 1
// (entry (r, j)) and the output.
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_forward_hidden(const CellBlockArgs<scalar_t>& a, CellForwardShared<scalar_t> s,
                                                   const TanhTable& table, int64_t blk, int64_t t, int64_t j,
                                                   int64_t r) {
  const int64_t F = a.F, H = a.H, R = a.R, b = blk * R + r;
  if (b >= a.B) return;
  const scalar_t* hp = s.hs + (t & 1) * R * H + r * H;
  const scalar_t* xt = a.x + (t * a.B + b) * F;
  scalar_t z = a.b1 ? a.b1[j] : scalar_t(0);
  for (int64_t f = 0; f < F; ++f) z = fmadd(xt[f], s.w1[f * H + j], z);
  for (int64_t i = 0; i < H; ++i) z = fmadd(hp[i], s.w1[(F + i) * H + j], z);
  const scalar_t h = elman_tanh_with(z, table);
  s.hs[((t + 1) & 1) * R * H + r * H + j] = h;
  a.hidden_out[(t * a.B + b) * H + j] = h;
}

// Forward, step t, phase 2: predictions k = j, j + H, ... of row r (reads buffer (t + 1) & 1; writes
// no shared entry, so the next step's phase 1 may follow it without a barrier of its own: it writes
// buffer t & 1, which this phase does not read).
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_forward_output(const CellBlockArgs<scalar_t>& a, CellForwardShared<scalar_t> s,
                                                   int64_t blk, int64_t t, int64_t j, int64_t r) {
  const int64_t H = a.H, O = a.O, R = a.R, b = blk * R + r;
  if (b >= a.B) return;
  const scalar_t* hc = s.hs + ((t + 1) & 1) * R * H + r * H;
  for (int64_t k = j; k < O; k += H) {
    scalar_t p = a.b2 ? a.b2[k] : scalar_t(0);
    for (int64_t i = 0; i < H; ++i) p = fmadd(hc[i], s.w2[i * O + k], p);
    a.pred[(t * a.B + b) * O + k] = p;
  }
}

template <typename scalar_t>
struct CellBackwardShared {
  scalar_t *w1, *w2, *gw1, *gw2, *gb1, *gb2, *hts, *hps, *ds, *cs, *xs, *gps;
  SINERNN_HOST_DEVICE CellBackwardShared(scalar_t* base, const CellBlockArgs<scalar_t>& a) {
    const int64_t F = a.F, H = a.H, O = a.O, R = a.R;
    w1 = base;
    w2 = w1 + (F + H) * H;
    gw1 = w2 + H * O;   // (F+H, H): entry (i, j) belongs to thread (j, i mod R)
    gw2 = gw1 + (F + H) * H;  // (H, O): entry (j, k) to thread (j, k mod R)
    gb1 = gw2 + H * O;  // (H,): thread (j, 0)
    gb2 = gb1 + H;      // (O,): thread (k mod H, 0)
    hts = gb2 + O;      // (R, H) h[t]
    hps = hts + R * H;  // (R, H) h[t-1]
    ds = hps + R * H;   // (R, H) dz
    cs = ds + R * H;    // (R, H) carry
    xs = cs + R * H;    // (R, F) x[t]
    gps = xs + R * F;   // (R, O) g_pred[t]
  }
};

// Backward, phase 0: the weights, zero sums (entries tid, tid + nt, ...), a zero carry (r, j).
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_backward_init(const CellBlockArgs<scalar_t>& a, CellBackwardShared<scalar_t> s,
                                                  int64_t j, int64_t r) {
  const int64_t F = a.F, H = a.H, O = a.O, tid = r * H + j, nt = a.R * H;
  for (int64_t q = tid; q < (F + H) * H; q += nt) {
    s.w1[q] = a.w1[q];
    s.gw1[q] = 0;
  }
  for (int64_t q = tid; q < H * O; q += nt) {
    s.w2[q] = a.w2[q];
    s.gw2[q] = 0;
  }
  for (int64_t q = tid; q < H; q += nt) s.gb1[q] = 0;
  for (int64_t q = tid; q < O; q += nt) s.gb2[q] = 0;
  s.cs[r * H + j] = 0;
}

// Backward, step t, phase 1: row r's h[t], h[t-1] (entry (r, j)), x[t] (f = j, j + H, ...), g_pred[t]
// (k = j, j + H, ...); zeros for a row past the batch, so it adds nothing to the sums.
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_backward_load(const CellBlockArgs<scalar_t>& a, CellBackwardShared<scalar_t> s,
                                                  int64_t blk, int64_t t, int64_t j, int64_t r) {
  const int64_t F = a.F, H = a.H, O = a.O, B = a.B, b = blk * a.R + r;
  const bool live = b < B;
  s.hts[r * H + j] = live ? a.hidden[(t * B + b) * H + j] : scalar_t(0);
  s.hps[r * H + j] = !live ? scalar_t(0) : t > 0 ? a.hidden[((t - 1) * B + b) * H + j] : a.h0[b * H + j];
  for (int64_t f = j; f < F; f += H) s.xs[r * F + f] = live ? a.x[(t * B + b) * F + f] : scalar_t(0);
  for (int64_t k = j; k < O; k += H) s.gps[r * O + k] = live && a.g_pred ? a.g_pred[(t * B + b) * O + k] : scalar_t(0);
}

// Backward, step t, phase 2: dz (r, j) = (g_hidden + carry + w2 g_pred) * (1 - h^2).
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_backward_dz(const CellBlockArgs<scalar_t>& a, CellBackwardShared<scalar_t> s,
                                                int64_t blk, int64_t t, int64_t j, int64_t r) {
  const int64_t H = a.H, O = a.O, b = blk * a.R + r;
  const bool live = b < a.B;
  const scalar_t c = s.cs[r * H + j];
  scalar_t d = a.g_hidden && live ? a.g_hidden[(t * a.B + b) * H + j] + c : c;
  for (int64_t k = 0; k < O; ++k) d = fmadd(s.gps[r * O + k], s.w2[j * O + k], d);
  const scalar_t h = s.hts[r * H + j];
  s.ds[r * H + j] = live ? d * (1 - h * h) : scalar_t(0);
}

// Backward, step t, phase 3: the carry (r, j) = W_h dz, g_x[t] of row r (f = j, j + H, ...), and the
// block's sums this thread owns.
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_backward_sums(const CellBlockArgs<scalar_t>& a, CellBackwardShared<scalar_t> s,
                                                  int64_t blk, int64_t t, int64_t j, int64_t r) {
  const int64_t F = a.F, H = a.H, O = a.O, R = a.R, b = blk * R + r;
  scalar_t c = 0;
  for (int64_t i = 0; i < H; ++i) c = fmadd(s.ds[r * H + i], s.w1[(F + j) * H + i], c);
  s.cs[r * H + j] = c;
  for (int64_t f = j; f < F; f += H) {
    scalar_t gx = 0;
    for (int64_t i = 0; i < H; ++i) gx = fmadd(s.ds[r * H + i], s.w1[f * H + i], gx);
    if (b < a.B) a.g_x[(t * a.B + b) * F + f] = gx;
  }
  for (int64_t i = r; i < F + H; i += R) {
    scalar_t acc = s.gw1[i * H + j];
    for (int64_t q = 0; q < R; ++q) acc = fmadd(i < F ? s.xs[q * F + i] : s.hps[q * H + i - F], s.ds[q * H + j], acc);
    s.gw1[i * H + j] = acc;
  }
  for (int64_t k = r; k < O; k += R) {
    scalar_t acc = s.gw2[j * O + k];
    for (int64_t q = 0; q < R; ++q) acc = fmadd(s.hts[q * H + j], s.gps[q * O + k], acc);
    s.gw2[j * O + k] = acc;
  }
  if (r == 0) {
    scalar_t acc = s.gb1[j];
    for (int64_t q = 0; q < R; ++q) acc += s.ds[q * H + j];
    s.gb1[j] = acc;
    for (int64_t k = j; k < O; k += H) {
      scalar_t acc2 = s.gb2[k];
      for (int64_t q = 0; q < R; ++q) acc2 += s.gps[q * O + k];
      s.gb2[k] = acc2;
    }
  }
}

// Backward, last phase: g_h0 of (r, j), and the block's sums (entries tid, tid + nt, ...).
template <typename scalar_t>
SINERNN_HOST_DEVICE void cell_block_backward_store(const CellBlockArgs<scalar_t>& a, CellBackwardShared<scalar_t> s,
                                                   int64_t blk, int64_t j, int64_t r) {
  const int64_t F = a.F, H = a.H, O = a.O, tid = r * H + j, nt = a.R * H, b = blk * a.R + r;
  if (b < a.B) a.g_h0[b * H + j] = s.cs[r * H + j];
  for (int64_t q = tid; q < (F + H) * H; q += nt) a.part_w1[blk * (F + H) * H + q] = s.gw1[q];
  for (int64_t q = tid; q < H * O; q += nt) a.part_w2[blk * H * O + q] = s.gw2[q];
  for (int64_t q = tid; q < H; q += nt) a.part_b1[blk * H + q] = s.gb1[q];
  for (int64_t q = tid; q < O; q += nt) a.part_b2[blk * O + q] = s.gb2[q];
}

}  // namespace sinernn
