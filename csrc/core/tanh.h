// The tanh of the step math, scalar and 16 at a time (AVX-512), host and device.
#pragma once

#include "config.h"
#include "tanh_table.h"

namespace sinernn {

// tanh. float64: the C library's. float32: float arithmetic only, no branch, no division and no
// library call; the same arithmetic serves the scalar loops, CUDA, and the AVX-512 version
// (elman_tanh_n), so all of them agree bit for bit.
//   |x| is clamped at 9.5 (NaN passes; from 9.01 on tanh rounds to 1), and its interval read off
//   its bits: bits >> 21 is the exponent and the two leading mantissa bits, at least the code of
//   0.0390625, so one of 32 codes (a NaN's lands anywhere: its t is NaN); the code's low five bits
//   pick the table slot. So the intervals are quarter binades, [0.047, 0.055), ... [1, 1.25), ...
//   [4, 5), ... [8, 9.5], and interval 0 takes all of [0, 0.047).
//   On each: tanh(|x|) = c0 + t q(t), t = |x| - m (exact: m/2 <= |x| <= 2m), q of degree 4 in
//   Estrin's form, the last step one multiply-add onto c0 = tanh(m), with m chosen so tanh(m) is
//   within 0.0003 ulp of a float (0.13 in the last two intervals). Interval 0 is the odd series
//   t (1 + t^2 (c3 + c5 t^2)) (m = 0). The sign is put back at the end (tanh(-0) = -0).
// Coefficients: dev/fit_tanh.py. Accuracy against tanhl over every float of magnitude 2^-126 .. 10
// (tests/native/tanh_accuracy.cpp): at most 0.99 ulp (at 0.031, interval 0); torch's own float tanh is
// within 0.56 ulp on tests/native/test_tanh.py's floats. It costs about half of an
// exp-and-divide formula's time (docs/performance.md, "The float32 tanh").
// NaN stays NaN; +-Inf gives +-1; tanh(-0) = -0.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_tanh(scalar_t x) {
  return std::tanh(x);
}


// The float32 tanh on a given copy of the table (the batched CUDA kernel passes a shared-memory
// copy: a warp's 32 different slots then cost one access, where constant memory serialises them).
SINERNN_HOST_DEVICE float elman_tanh_table(float x, const TanhTable& T) {
  const float ax = std::fabs(x);
  const float axc = ax > 9.5f ? 9.5f : ax;  // NaN passes (any slot then gives NaN)
  uint32_t b;
  std::memcpy(&b, &axc, sizeof axc);
  b = b < kTanhLowBits ? kTanhLowBits : b;
  const int i = (b >> 21) & 31;
  const float t = axc - T.m[i];
  const float t2 = t * t;
  const float q01 = fmadd(t, T.c2[i], T.c1[i]);
  const float q23 = fmadd(t2, T.c5[i], fmadd(t, T.c4[i], T.c3[i]));
  const float q = fmadd(t2, q23, q01);
  return std::copysign(fmadd(t, q, T.c0[i]), x);
}

// The tanh on a given copy of the table: float32 from the table, float64 libm's (GPU kernels pass
// a shared-memory copy; core/thread_model.h, core/cell_block.h).
SINERNN_HOST_DEVICE float elman_tanh_with(float x, const TanhTable& table) { return elman_tanh_table(x, table); }
SINERNN_HOST_DEVICE double elman_tanh_with(double x, const TanhTable&) { return std::tanh(x); }

template <>
SINERNN_HOST_DEVICE float elman_tanh<float>(float x) {
#if defined(__CUDA_ARCH__)
  return elman_tanh_table(x, kTanhTableDevice);
#else
  return elman_tanh_table(x, kTanhTable);
#endif
}

// out[q] = elman_tanh(in[q]) for q < n (in == out allowed). float32 with AVX-512 and FMA: 16 at a
// time, the tables read with one two-register permute per coefficient, the same operations in
// the same order, so bit for bit elman_tanh (tests/native/tanh_accuracy.cpp checks every float).
template <typename scalar_t>
SINERNN_HOST_DEVICE void elman_tanh_n(const scalar_t* in, scalar_t* out, int64_t n) {
  SINERNN_SIMD for (int64_t q = 0; q < n; ++q) out[q] = elman_tanh(in[q]);
}

#if SINERNN_AVX512
inline __m512 elman_tanh16(__m512 x) {
  const __m512i sign = _mm512_set1_epi32(int32_t(0x80000000u));
  const __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
  const __m512 axc = _mm512_min_ps(_mm512_set1_ps(9.5f), ax);  // min returns its second operand if NaN
  const __m512i b = _mm512_max_epu32(_mm512_castps_si512(axc), _mm512_set1_epi32(int32_t(kTanhLowBits)));
  const __m512i i = _mm512_srli_epi32(b, 21);  // the permute reads its low five bits
  auto slot = [&](const float* column) {
    return _mm512_permutex2var_ps(_mm512_load_ps(column), i, _mm512_load_ps(column + 16));
  };
  const TanhTable& T = kTanhTable;
  const __m512 t = _mm512_sub_ps(axc, slot(T.m));
  const __m512 t2 = _mm512_mul_ps(t, t);
  const __m512 q01 = _mm512_fmadd_ps(t, slot(T.c2), slot(T.c1));
  const __m512 q23 = _mm512_fmadd_ps(t2, slot(T.c5), _mm512_fmadd_ps(t, slot(T.c4), slot(T.c3)));
  const __m512 q = _mm512_fmadd_ps(t2, q23, q01);
  const __m512 p = _mm512_fmadd_ps(t, q, slot(T.c0));
  // copysign: the sign bit from x, the rest from p
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(p), _mm512_castps_si512(x), sign, 0xD8));
}

template <>
inline void elman_tanh_n<float>(const float* in, float* out, int64_t n) {
  int64_t q = 0;
  for (; q + 16 <= n; q += 16) _mm512_storeu_ps(out + q, elman_tanh16(_mm512_loadu_ps(in + q)));
  if (q < n) {
    const __mmask16 rest = __mmask16((1u << (n - q)) - 1);
    _mm512_mask_storeu_ps(out + q, rest, elman_tanh16(_mm512_maskz_loadu_ps(rest, in + q)));
  }
}
#endif

}  // namespace sinernn
