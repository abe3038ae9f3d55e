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

// AVX-512 paths (float32: elman_tanh_n, registers for H <= 16 in elman_forward and
// elman_train_epoch, and the batched op's elman_train_epoch_lanes_avx512 for F = O = 1) in CPU code
// built for a CPU that has AVX-512 F, DQ, VL and FMA (-march=native there); everything else takes
// the general code. Both give the same results bit for bit.
#if !defined(__CUDACC__) && defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__FMA__)
#define SINERNN_AVX512 1
#include <immintrin.h>
#else
#define SINERNN_AVX512 0
#endif

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
// Unroll a short loop of compile-time length completely (the lanes' sweep over the rows of w1, so
// the row sums stay in registers: 14% faster at the tutorial's sizes).
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
// (dev/tanh_accuracy.cpp): at most 0.99 ulp (at 0.031, interval 0); torch's own float tanh is
// within 0.56 ulp on tests/test_tanh.py's floats. Cost: ~36 cycles of latency for a register of 16
// values, 0.36 ns a value in a loop, half of an exp-and-divide formula's (docs/performance.md).
// NaN stays NaN; +-Inf gives +-1; tanh(-0) = -0.
template <typename scalar_t>
SINERNN_HOST_DEVICE scalar_t elman_tanh(scalar_t x) {
  return std::tanh(x);
}

// The float32 tanh's table, one array of 32 slots per coefficient (64-byte aligned: each array is
// two AVX-512 registers). Written by dev/fit_tanh.py.
struct alignas(64) TanhTable {
  float m[32], c0[32], c1[32], c2[32], c3[32], c4[32], c5[32];
};
#define SINERNN_TANH_TABLE \
  { \
    {/* m */ \
     2.24829912f, 2.74561214f, 3.24937725f, 3.74536014f, 4.49812365f, 5.49415159f, \
     6.49243593f, 7.50953579f, 8.73092651f, 0.0f, 0.0508098006f, 0.058648821f, \
     0.0702696741f, 0.0858125836f, 0.101625912f, 0.117159747f, 0.140553325f, 0.172056168f, \
     0.202835843f, 0.234345883f, 0.281358659f, 0.343998641f, 0.406076401f, 0.468478769f, \
     0.562405646f, 0.687190354f, 0.812932193f, 0.938661516f, 1.12540543f, 1.3735379f, \
     1.623734f, 1.87375069f}, \
    {/* c0 */ \
     0.977952063f, 0.991788268f, 0.996993899f, 0.998884141f, 0.999752283f, 0.999966204f, \
     0.99999541f, 0.999999404f, 0.99999994f, 0.0f, 0.0507661216f, 0.0585816689f, \
     0.0701542422f, 0.0856025666f, 0.101277493f, 0.116626613f, 0.139635026f, 0.170378223f, \
     0.200099155f, 0.230148137f, 0.274162084f, 0.331042528f, 0.385136127f, 0.43696937f, \
     0.509760141f, 0.596174002f, 0.671204627f, 0.734606683f, 0.809440911f, 0.879495978f, \
     0.925164044f, 0.953932941f}, \
    {/* c1 */ \
     0.043609757f, 0.0163560268f, 0.00600316655f, 0.00223047147f, 0.000495384447f, 6.75915289e-05f, \
     9.17918987e-06f, 1.20049344e-06f, 1.04345467e-07f, 1.0f, 0.997422814f, 0.996568203f, \
     0.995078385f, 0.992672205f, 0.989742875f, 0.98639822f, 0.980502069f, 0.970971286f, \
     0.959960341f, 0.947031856f, 0.924835145f, 0.890410841f, 0.851670146f, 0.809057772f, \
     0.74014461f, 0.64457655f, 0.549484372f, 0.460353017f, 0.344805419f, 0.226486817f, \
     0.14407149f, 0.0900119469f}, \
    {/* c2 */ \
     -0.0426470451f, -0.0162208024f, -0.0059847096f, -0.00222782139f, -0.000494646258f, -6.75056363e-05f, \
     -9.16782574e-06f, -1.33242384e-06f, 1.73296322e-09f, 0.0f, -0.0506355092f, -0.0583804995f, \
     -0.0698090643f, -0.0849752426f, -0.100238547f, -0.115040369f, -0.136912465f, -0.16543211f, \
     -0.192087159f, -0.217957571f, -0.253554732f, -0.294763803f, -0.328009009f, -0.353533387f, \
     -0.37729612f, -0.384279788f, -0.368816465f, -0.338178456f, -0.279101431f, -0.19919537f, \
     -0.133290187f, -0.0858654007f}, \
    {/* c3 */ \
     0.0271720923f, 0.010636894f, 0.00396585325f, 0.00148204621f, 0.000329636852f, 4.50223197e-05f, \
     6.11576434e-06f, 7.89406442e-07f, 6.23507148e-08f, -0.333333224f, -0.333349645f, -0.33247599f, \
     -0.326959997f, -0.323901951f, -0.320109576f, -0.31453988f, -0.307872176f, -0.295853913f, \
     -0.281769872f, -0.26584217f, -0.238739371f, -0.199208185f, -0.157493949f, -0.115211017f, \
     -0.054393284f, 0.0142473588f, 0.0643676817f, 0.0949802622f, 0.11097984f, 0.0996962041f, \
     0.0752916932f, 0.0519055352f}, \
    {/* c4 */ \
     -0.0124192731f, -0.00518948305f, -0.00198025536f, -0.000746034144f, -0.000172590706f, -2.3588098e-05f, \
     -3.20402705e-06f, 1.14811627e-07f, -2.26836207e-07f, 0.0f, 0.0435488895f, 0.0196955632f, \
     0.0478917211f, 0.0546168759f, 0.0626863614f, 0.0778773502f, 0.0886412784f, 0.103930891f, \
     0.119717099f, 0.133343711f, 0.149934813f, 0.164091468f, 0.170072988f, 0.16804485f, \
     0.153330967f, 0.11956872f, 0.0797465518f, 0.0430296697f, 0.0035958169f, -0.0210466273f, \
     -0.0251377821f, -0.0208806191f}, \
    {/* c5 */ \
     0.00397741748f, 0.00191604695f, 0.000771314139f, 0.000292990997f, 6.85902924e-05f, 9.31896921e-06f, \
     1.26184091e-06f, 2.48841218e-07f, 4.00865048e-08f, 0.133169845f, 176.40361f, 184.60408f, \
     2.22925544f, 3.84696102f, 4.38032532f, -10.7190809f, 0.617793262f, 1.26871252f, \
     0.811173141f, 1.1316793f, 0.0408649333f, 0.0191718955f, -0.047532659f, -0.0105982209f, \
     -0.0420297533f, -0.0631566793f, -0.0584095791f, -0.0535410941f, -0.0320313126f, -0.00958741736f, \
     0.00137364038f, 0.00461797509f}, \
  }
#if defined(__CUDACC__)
static __constant__ TanhTable kTanhTableDevice = SINERNN_TANH_TABLE;
#endif
inline constexpr TanhTable kTanhTable = SINERNN_TANH_TABLE;
#undef SINERNN_TANH_TABLE
constexpr uint32_t kTanhLowBits = 0x3D200000u;  // 0.0390625: the first code's interval starts here

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
// the same order, so bit for bit elman_tanh (dev/tanh_accuracy.cpp checks every float).
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
#endif

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
  elman_tanh_n(h_new, h_new, s.H());
  for (int64_t k = 0; k < s.O(); ++k) pred[k] = elman_output_dot(h_new, w2, k, s);
}

// Forward pass of one step: h_new = tanh(concat(x, h) @ w1), pred = h_new @ w2.
template <typename scalar_t, class S>
SINERNN_HOST_DEVICE void elman_forward(const scalar_t* SINERNN_RESTRICT x, const scalar_t* SINERNN_RESTRICT h,
                                       const scalar_t* SINERNN_RESTRICT w1, const scalar_t* SINERNN_RESTRICT w2,
                                       scalar_t* SINERNN_RESTRICT h_new, scalar_t* SINERNN_RESTRICT pred, S s) {
#if SINERNN_AVX512
  // float32, F = O = 1, a compile-time H <= 16: the same operations in registers (see
  // elman_train_epoch_avx512 for why)
  if constexpr (std::is_same_v<scalar_t, float> && S::kFixed && S::kFeatures == 1 && S::kOutputs == 1 &&
                S::kHidden <= 16) {
    constexpr int64_t kH = S::kHidden;
    const __mmask16 m = __mmask16((1u << kH) - 1);
    const __m512 hv = _mm512_maskz_loadu_ps(m, h);
    __m512 acc = _mm512_fmadd_ps(_mm512_set1_ps(x[0]), _mm512_maskz_loadu_ps(m, w1), _mm512_setzero_ps());
    SINERNN_UNROLL for (int64_t i = 1; i <= kH; ++i)
      acc = _mm512_fmadd_ps(Avx512Lanes::lane(hv, int(i - 1)), _mm512_maskz_loadu_ps(m, w1 + i * kH), acc);
    const __m512 hn = elman_tanh16(acc);
    _mm512_mask_storeu_ps(h_new, m, hn);
    pred[0] = Avx512Lanes::output_dot<kH>(hn, _mm512_maskz_loadu_ps(m, w2));
    return;
  }
#endif
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

#if SINERNN_AVX512
// elman_train_epoch for float32, F = O = 1 and a compile-time H <= 16, in AVX-512 registers: each
// row of w1 (H+1 of them) and w2 one register (lanes >= H zero) for the whole epoch, the contexts
// and dz registers too, the scalars a row needs taken from a context's lane by a permute. The
// same operations on the same values in the same order as the general loop below (each lane is
// one hidden unit), so the same result bit for bit (tests/test_fused.py compares it with the step
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

#if SINERNN_AVX512
// elman_train_epoch_lanes for float32, F = O = 1 and a compile-time H <= 16, written with AVX-512
// intrinsics: kK registers of 16 lanes side by side (V = 16 kK models, the layout above), the same
// operations in the same order as elman_train_epoch_lanes, so the same results bit for bit. What
// differs from the general loops:
//  - every vector operation is one instruction on a register or a memory operand: the contexts and
//    w1, w2 stay in memory (L1) and are read as operands, since loads do not take the vector ALU
//    ports, which are this loop's limit; a compiler barrier after the tanh keeps the compiler from
//    carrying the contexts (and w1 across steps: more than 32 registers) in registers and spilling
//    them, one more store and load per value;
//  - kK = 2 interleaves two independent blocks op by op, so one block's dependency chain (update ->
//    forward -> tanh -> output -> error -> dz, some 90 cycles a step) overlaps the other's;
//  - the series: x[t] broadcast from memory when it is shared (lane stride 0), else one vector load
//    from a lane-major copy (L, V) (kPerLane); both compiled, no branch in the loop.
// kK = 2 is faster than kK = 1 and than the general lane code for H <= 9, in a one-core harness on
// this header (dev/lanes_harness.cpp) and in the op (per-H tables in docs/performance.md, "Many
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

// Call fn(sizes) with compile-time sizes for the common single-series shapes (the tutorial's F=1,
// O=1 with H up to kMaxHidden), run-time sizes otherwise. The arithmetic is the same either way.
// Compile-time sizes matter most for odd H, whose element-wise loops' remainders run as scalars at
// run-time sizes (1.4-2.2x slower for H = 1..16; docs/performance.md, dev/hidden_sizes.py). Each
// size is compiled once per op: 16 sizes about double the build.
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
