// One model on AVX-512 registers, for float32, F = O = 1 and a compile-time H <= 16: a step's
// forward pass (elman_forward, core/step.h) and a whole epoch (elman_train_epoch, core/epoch.h).
// The same operations on the same values in the same order as the general code, so the same
// results bit for bit; host only (SINERNN_AVX512 is 0 under nvcc).
#pragma once

#include "config.h"
#include "tanh.h"

namespace sinernn {

#if SINERNN_AVX512
// Helpers of the AVX-512 paths for a compile-time H <= 16 (one register holds a model's hidden
// units; lanes >= H zero), used by elman_forward and elman_train_epoch_avx512.
struct Avx512Lanes {
  // lane k of v in every lane
  static __m512 lane(__m512 v, int k) { return _mm512_permutexvar_ps(_mm512_set1_epi32(k), v); }

  // elman_output_dot for O = 1: part l (l < 8) sums h[l] w2[l], then h[l + 8] w2[l + 8] where
  // l + 8 < H; then ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)). Parts l >= H stay +0, and
  // a sum with +0 is the other term except that -0 becomes +0, so for H <= 4 the tree is its
  // nonzero part plus +0 once (H = 1: p0 + 0; H = 2: (p0 + p1) + 0; H <= 4: the left half + 0).
  template <int64_t kH>
  static float output_dot(__m512 h, __m512 w2) {
    const __m512 lo = _mm512_fmadd_ps(h, w2, _mm512_setzero_ps());  // lanes >= H: 0 * 0 + 0
    __m256 part = _mm512_castps512_ps256(lo);
    if constexpr (kH > 8)
      part = _mm256_mask3_fmadd_ps(_mm512_extractf32x8_ps(h, 1), _mm512_extractf32x8_ps(w2, 1), part,
                                   __mmask8((1u << (kH - 8)) - 1));
    if constexpr (kH == 1) return _mm256_cvtss_f32(part) + 0.0f;
    const __m256 pairs = _mm256_add_ps(part, _mm256_permute_ps(part, 0xB1));  // lane 2m: p(2m) + p(2m+1)
    if constexpr (kH == 2) return _mm256_cvtss_f32(pairs) + 0.0f;
    const __m256 quads = _mm256_add_ps(pairs, _mm256_permute_ps(pairs, 0x4E));  // lane 4m: the pairs' sums
    if constexpr (kH <= 4) return _mm256_cvtss_f32(quads) + 0.0f;
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1)));
  }
};

// elman_forward in registers (see elman_train_epoch_avx512 for why).
template <int64_t kH>
inline void elman_forward_avx512(const float* SINERNN_RESTRICT x, const float* SINERNN_RESTRICT h,
                                 const float* SINERNN_RESTRICT w1, const float* SINERNN_RESTRICT w2,
                                 float* SINERNN_RESTRICT h_new, float* SINERNN_RESTRICT pred) {
  const __mmask16 m = __mmask16((1u << kH) - 1);
  const __m512 hv = _mm512_maskz_loadu_ps(m, h);
  __m512 acc = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), _mm512_maskz_loadu_ps(m, w1), _mm512_setzero_ps());
  SINERNN_UNROLL for (int64_t i = 1; i <= kH; ++i)
    acc = _mm512_fmadd_ps(Avx512Lanes::lane(hv, int(i - 1)), _mm512_maskz_loadu_ps(m, w1 + i * kH), acc);
  const __m512 hn = elman_tanh16(acc);
  _mm512_mask_storeu_ps(h_new, m, hn);
  pred[0] = Avx512Lanes::output_dot<kH>(hn, _mm512_maskz_loadu_ps(m, w2));
}

// elman_train_epoch for float32, F = O = 1 and a compile-time H <= 16, in AVX-512 registers: each
// row of w1 (H+1 of them) and w2 one register (lanes >= H zero) for the whole epoch, the contexts
// and dz registers too, the scalars a row needs taken from a context's lane by a permute. The
// same operations on the same values in the same order as elman_train_epoch's general loop
// (core/epoch.h; each lane is one hidden unit), so the same result bit for bit (tests/native/test_fused.py compares it with the step
// op, whose backward pass and update take the general path, at every such H, and with the
// run-time-size path, the general code throughout, at H = 1, 6, 7, 16). Why: written as arrays, the
// hidden units go through memory between the loops, and a 16-wide tanh reading 6 values just stored
// one or two at a time waits for those stores (about twice this kernel's time a tutorial step).
template <int64_t kH>
inline float elman_train_epoch_avx512(const float* x, const float* y, float* w1, float* w2, float lr, int64_t L,
                                      int64_t* diverged) {
  static_assert(kH >= 1 && kH <= 16, "one register a row");
  constexpr int64_t kRows = kH + 1;
  const __mmask16 m = __mmask16((1u << kH) - 1);
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), neg_lr = _mm512_set1_ps(-lr);
  __m512 row[kRows];
  SINERNN_UNROLL for (int64_t i = 0; i < kRows; ++i) row[i] = _mm512_maskz_loadu_ps(m, w1 + i * kH);
  __m512 v2 = _mm512_maskz_loadu_ps(m, w2);
  // step 0's forward (elman_forward from a zero context)
  __m512 acc = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), row[0], zero);
  SINERNN_UNROLL for (int64_t i = 1; i < kRows; ++i) acc = _mm512_fmadd_ps(zero, row[i], acc);
  __m512 h_prev = zero, h_cur = elman_tanh16(acc);
  float pred = Avx512Lanes::output_dot<kH>(h_cur, v2);
  float total = 0;
  *diverged = -1;
  for (int64_t t = 0; t < L; ++t) {
    const float e = pred - y[t];
    const float loss = fmadd(e, e, 0.0f) / 2;  // elman_loss
    if (!std::isfinite(loss)) {
      *diverged = t;
      break;
    }
    total += loss;
    // elman_backward_output
    const __m512 ev = _mm512_set1_ps(e);
    __m512 dz = _mm512_fmadd_ps(ev, v2, zero);
    v2 = _mm512_fmadd_ps(neg_lr, _mm512_mul_ps(h_cur, ev), v2);
    dz = _mm512_mul_ps(dz, _mm512_sub_ps(one, _mm512_mul_ps(h_cur, h_cur)));
    // the w1 update (row factors -lr * xh_t[i]), fused with step t+1's forward unless t is the last
    const __m512 c = _mm512_mul_ps(neg_lr, h_prev);
    row[0] = _mm512_fmadd_ps(_mm512_set1_ps(-lr * x[t]), dz, row[0]);
    if (t + 1 < L) {
      acc = _mm512_fmadd_ps(_mm512_set1_ps(x[t + 1]), row[0], zero);
      SINERNN_UNROLL for (int64_t i = 1; i < kRows; ++i) {
        row[i] = _mm512_fmadd_ps(Avx512Lanes::lane(c, int(i - 1)), dz, row[i]);
        acc = _mm512_fmadd_ps(Avx512Lanes::lane(h_cur, int(i - 1)), row[i], acc);
      }
      h_prev = h_cur;
      h_cur = elman_tanh16(acc);
      pred = Avx512Lanes::output_dot<kH>(h_cur, v2);
    } else {
      SINERNN_UNROLL for (int64_t i = 1; i < kRows; ++i)
        row[i] = _mm512_fmadd_ps(Avx512Lanes::lane(c, int(i - 1)), dz, row[i]);
    }
  }
  SINERNN_UNROLL for (int64_t i = 0; i < kRows; ++i) _mm512_mask_storeu_ps(w1 + i * kH, m, row[i]);
  _mm512_mask_storeu_ps(w2, m, v2);
  return total;
}
#endif

}  // namespace sinernn
