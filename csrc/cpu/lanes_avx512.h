// train_many's lanes for float32, F = O = 1 and a compile-time H <= 16 in AVX-512 intrinsics
// (cpu/many_cpu.cpp takes it for H <= 9): bit for bit cpu/lanes.h's elman_train_epoch_lanes.
#pragma once

#include "../core/avx512.h"
#include "../core/config.h"
#include "../core/tanh.h"

namespace sinernn {

#if SINERNN_AVX512
// elman_train_epoch_lanes for float32, F = O = 1 and a compile-time H <= 16, written with AVX-512
// intrinsics: kK registers of 16 lanes side by side (V = 16 kK models, cpu/lanes.h's layout), the same
// operations in the same order as elman_train_epoch_lanes, so the same results bit for bit. What
// differs from the general loops:
//  - every vector operation is one instruction on a register or a memory operand: the contexts and
//    w1, w2 stay in memory (L1) and are read as operands, since loads do not take the vector ALU
//    ports, which are this loop's limit; a compiler barrier after the tanh keeps the compiler from
//    carrying the contexts (and w1 across steps: more than 32 registers) in registers and spilling
//    them, one more store and load per value;
//  - kK = 2 interleaves two independent blocks op by op, so one block's dependency chain (update ->
//    forward -> tanh -> output -> error -> dz) overlaps the other's;
//  - the series: x[t] broadcast from memory when it is shared (lane stride 0), else one vector load
//    from a lane-major copy (L, V) (kPerLane); both compiled, no branch in the loop.
// kK = 2 is faster than kK = 1 and than the general lane code for H <= 9, in a one-core harness on
// these headers (dev/lanes_harness.cpp) and in the op (per-H tables in docs/performance.md, "Many
// models"); train_many takes it there. From H = 10 on the pre-activation sums and dz of two blocks do
// not fit the registers beside the tanh's.
// x, y: (L,) when !kPerLane, else (L, V), lane l's x[t] at x[t * V + l]. L >= 1. The epoch starts
// from the weights in w1_in, w2_in and leaves its weights in w1, w2 (the same buffers, or others: the
// caller keeps the epoch's start without copying it).
template <int kH, int kK, bool kPerLane>
inline void elman_train_epoch_lanes_avx512(const float* x, const float* y, const float* w1_in, const float* w2_in,
                                           float* w1, float* w2, const float* neg_lr, int64_t L, float* total) {
  static_assert(kH >= 1 && kH <= 16 && kK >= 1, "F = O = 1, H <= 16");
  constexpr int V = 16 * kK;
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
  alignas(64) float hbuf[2][kH * V];  // the contexts h_prev, h_cur (kH, V)
  float* hp = hbuf[0];
  float* hc = hbuf[1];
  auto at = [](const float* p, int r, int k) { return _mm512_load_ps(p + r * V + 16 * k); };
  auto series = [](const float* v, int64_t t, int k) {
    if constexpr (kPerLane) return _mm512_loadu_ps(v + t * V + 16 * k);
    return _mm512_set1_ps(v[t]);
  };
  __m512 nlr[kK], tot[kK], pred[kK], dz[kH][kK], acc[kH][kK];
  SINERNN_UNROLL for (int k = 0; k < kK; ++k) {
    nlr[k] = _mm512_loadu_ps(neg_lr + 16 * k);
    tot[k] = zero;
  }
  SINERNN_UNROLL for (int r = 0; r < kH * kK; ++r) _mm512_store_ps(hp + 16 * r, zero);
  const float* r1 = w1_in;  // where the weights are read: the start, then (after step 0's update) w1, w2
  const float* r2 = w2_in;
  // h_cur = tanh(acc), then pred = elman_output_dot per lane (parts >= H are +0, as there)
  auto activate_and_output = [&] {
    SINERNN_UNROLL for (int j = 0; j < kH; ++j)
      SINERNN_UNROLL for (int k = 0; k < kK; ++k) _mm512_store_ps(hc + j * V + 16 * k, elman_tanh16(acc[j][k]));
    asm volatile("" : : "r"(hc) : "memory");  // h_cur is read back as memory operands (see above)
    SINERNN_UNROLL for (int k = 0; k < kK; ++k) {
      __m512 p[8];
      SINERNN_UNROLL for (int m = 0; m < 8; ++m) {
        p[m] = zero;
        if (m < kH) p[m] = _mm512_fmadd_ps(at(hc, m, k), _mm512_loadu_ps(r2 + m * V + 16 * k), zero);
        if (m + 8 < kH) p[m] = _mm512_fmadd_ps(at(hc, m + 8, k), _mm512_loadu_ps(r2 + (m + 8) * V + 16 * k), p[m]);
      }
      pred[k] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p[0], p[1]), _mm512_add_ps(p[2], p[3])),
                              _mm512_add_ps(_mm512_add_ps(p[4], p[5]), _mm512_add_ps(p[6], p[7])));
    }
  };
  // step t's error, loss (elman_loss: total += fmadd(e, e, 0) / 2; / 2 and * 0.5 are the same
  // operation in binary floating point), dz from the old w2, then w2's update
  auto backward = [&](int64_t t) {
    SINERNN_UNROLL for (int k = 0; k < kK; ++k) {
      const __m512 e = _mm512_sub_ps(pred[k], series(y, t, k));
      tot[k] = _mm512_add_ps(tot[k], _mm512_mul_ps(_mm512_fmadd_ps(e, e, zero), half));
      SINERNN_UNROLL for (int j = 0; j < kH; ++j) {
        const __m512 h = at(hc, j, k), w = _mm512_loadu_ps(r2 + j * V + 16 * k);
        dz[j][k] = _mm512_fmadd_ps(e, w, zero);
        _mm512_storeu_ps(w2 + j * V + 16 * k, _mm512_fmadd_ps(nlr[k], _mm512_mul_ps(h, e), w));
        dz[j][k] = _mm512_mul_ps(dz[j][k], _mm512_sub_ps(one, _mm512_mul_ps(h, h)));
      }
    }
  };
  // step t's w1 update (row factor -lr * xh_t[i]), fused with step t+1's forward when kForward
  auto update = [&](int64_t t, auto forward) {
    constexpr bool kForward = decltype(forward)::value;
    SINERNN_UNROLL for (int i = 0; i <= kH; ++i)
      SINERNN_UNROLL for (int k = 0; k < kK; ++k) {
        const __m512 c = _mm512_mul_ps(nlr[k], i == 0 ? series(x, t, k) : at(hp, i - 1, k));
        __m512 in = zero;
        if constexpr (kForward) in = i == 0 ? series(x, t + 1, k) : at(hc, i - 1, k);
        SINERNN_UNROLL for (int j = 0; j < kH; ++j) {
          float* wp = w1 + (i * kH + j) * V + 16 * k;
          const __m512 w = _mm512_fmadd_ps(c, dz[j][k], _mm512_loadu_ps(r1 + (wp - w1)));
          _mm512_storeu_ps(wp, w);
          if constexpr (kForward) acc[j][k] = _mm512_fmadd_ps(in, w, i == 0 ? zero : acc[j][k]);
        }
      }
  };
  // step 0's forward from a zero context
  SINERNN_UNROLL for (int i = 0; i <= kH; ++i)
    SINERNN_UNROLL for (int j = 0; j < kH; ++j)
      SINERNN_UNROLL for (int k = 0; k < kK; ++k) {
        const __m512 in = i == 0 ? series(x, 0, k) : at(hp, i - 1, k);
        acc[j][k] = _mm512_fmadd_ps(in, _mm512_loadu_ps(r1 + (i * kH + j) * V + 16 * k), i == 0 ? zero : acc[j][k]);
      }
  activate_and_output();
  for (int64_t t = 0; t + 1 < L; ++t) {
    backward(t);
    r2 = w2;
    update(t, std::true_type{});
    r1 = w1;
    float* spare = hp;
    hp = hc;
    hc = spare;
    activate_and_output();
  }
  backward(L - 1);
  update(L - 1, std::false_type{});
  SINERNN_UNROLL for (int k = 0; k < kK; ++k) _mm512_storeu_ps(total + 16 * k, tot[k]);
}
#endif

}  // namespace sinernn
