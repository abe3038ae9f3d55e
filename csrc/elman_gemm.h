// A register-blocked matrix product for the batched cell's recurrence on the CPU:
//   C (M, N) = A (M, K) @ Bm (K, N) (+ bias (N,) broadcast over the rows)   or, with accumulate,
//   C += A @ Bm
// Bm and C row-major with leading dimensions ldb, ldc (in values); A read through strides (ars
// between rows, acs between columns), so a transposed operand (h^T in a weight gradient) is read in
// place. Sizes are the recurrence's
// (B, H) x (H, H) step: small, and called L times in a row on the same Bm. There the library product
// loses most of its time to its call and to packing for large matrices (measured: MKL's (64, 64) x
// (64, 64) takes 7 us, 77 GFLOP/s, and twice that inside the op's step loop; this kernel,
// docs/performance.md, "The fused cell"). Each C element is one chain of fused multiply-adds over
// k = 0..K-1 in order, starting from 0 or from C's value (accumulate).
//
// Blocking: 6 rows x 4 vectors of columns in 24 accumulators (29 of the 32 vector registers with
// the 4 Bm vectors and the broadcast A value); partial blocks masked (columns) or repeated and not
// stored (rows). Only where
// AVX-512 is (SINERNN_AVX512); elsewhere cell_gemm_available() is false and the caller takes ATen.
#pragma once

#include <cstdint>

#include "elman_math.h"

namespace sinernn {

#if SINERNN_AVX512

template <typename scalar_t>
struct GemmVec;

template <>
struct GemmVec<float> {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int64_t kW = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static Mask mask(int64_t n) { return n >= kW ? Mask(0xFFFF) : Mask((1u << n) - 1); }
};

template <>
struct GemmVec<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static constexpr int64_t kW = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double v) { return _mm512_set1_pd(v); }
  static V load(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, V v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static Mask mask(int64_t n) { return n >= kW ? Mask(0xFF) : Mask((1u << n) - 1); }
};

// One block: 6 rows of A / C from `rows` (the rows past `rows` repeat the last real one and are
// not stored), 4 column vectors from C's column 0 (masks m0..m3; a zero mask loads zeros, stores
// nothing), all of K. Written out in 24 named accumulators: GCC keeps an array of them in memory,
// storing each back every k (measured: 41 GFLOP/s instead of the ~90 here).
template <typename scalar_t>
inline void cell_gemm_block(const scalar_t* SINERNN_RESTRICT A, int64_t ars, int64_t acs, int64_t rows,
                            const scalar_t* SINERNN_RESTRICT Bm, int64_t ldb, scalar_t* SINERNN_RESTRICT C, int64_t ldc,
                            int64_t K, const scalar_t* bias, bool accumulate,
                            const typename GemmVec<scalar_t>::Mask (&m)[4]) {
  using G = GemmVec<scalar_t>;
  using V = typename G::V;
  constexpr int64_t W = G::kW;
  const scalar_t* a[6];
  scalar_t* c[6];
  for (int r = 0; r < 6; ++r) {
    const int64_t row = r < rows ? r : rows - 1;
    a[r] = A + row * ars;
    c[r] = C + row * ldc;
  }
  const scalar_t* from[6];  // where the accumulators start: C, the bias row, or zero (null)
  for (int r = 0; r < 6; ++r) from[r] = accumulate ? c[r] : bias;
#define SINERNN_GEMM_INIT(r)                                              \
  V c##r##0 = from[r] ? G::load(from[r], m[0]) : G::zero();               \
  V c##r##1 = from[r] ? G::load(from[r] + W, m[1]) : G::zero();           \
  V c##r##2 = from[r] ? G::load(from[r] + 2 * W, m[2]) : G::zero();       \
  V c##r##3 = from[r] ? G::load(from[r] + 3 * W, m[3]) : G::zero();
  SINERNN_GEMM_INIT(0) SINERNN_GEMM_INIT(1) SINERNN_GEMM_INIT(2) SINERNN_GEMM_INIT(3) SINERNN_GEMM_INIT(4)
  SINERNN_GEMM_INIT(5)
#undef SINERNN_GEMM_INIT
  const scalar_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  for (int64_t k = 0; k < K; ++k) {
    const scalar_t* bk = Bm + k * ldb;
    const V b0 = G::load(bk, m[0]), b1 = G::load(bk + W, m[1]), b2 = G::load(bk + 2 * W, m[2]),
            b3 = G::load(bk + 3 * W, m[3]);
#define SINERNN_GEMM_ROW(r)                \
  {                                        \
    const V x = G::set1(a##r[k * acs]);    \
    c##r##0 = G::fma(x, b0, c##r##0);      \
    c##r##1 = G::fma(x, b1, c##r##1);      \
    c##r##2 = G::fma(x, b2, c##r##2);      \
    c##r##3 = G::fma(x, b3, c##r##3);      \
  }
    SINERNN_GEMM_ROW(0) SINERNN_GEMM_ROW(1) SINERNN_GEMM_ROW(2) SINERNN_GEMM_ROW(3) SINERNN_GEMM_ROW(4)
    SINERNN_GEMM_ROW(5)
#undef SINERNN_GEMM_ROW
  }
#define SINERNN_GEMM_STORE(r)                 \
  if (r < rows) {                             \
    G::store(c[r], c##r##0, m[0]);            \
    G::store(c[r] + W, c##r##1, m[1]);        \
    G::store(c[r] + 2 * W, c##r##2, m[2]);    \
    G::store(c[r] + 3 * W, c##r##3, m[3]);    \
  }
  SINERNN_GEMM_STORE(0) SINERNN_GEMM_STORE(1) SINERNN_GEMM_STORE(2) SINERNN_GEMM_STORE(3) SINERNN_GEMM_STORE(4)
  SINERNN_GEMM_STORE(5)
#undef SINERNN_GEMM_STORE
}

// bias: null or (N,), used when not accumulating.
template <typename scalar_t>
inline void cell_gemm(const scalar_t* A, int64_t ars, int64_t acs, const scalar_t* Bm, int64_t ldb, scalar_t* C,
                      int64_t ldc, int64_t M, int64_t N, int64_t K, const scalar_t* bias, bool accumulate) {
  using G = GemmVec<scalar_t>;
  constexpr int64_t W = G::kW, kPanel = 4 * W;
  for (int64_t j = 0; j < N; j += kPanel) {
    typename G::Mask m[4];
    for (int v = 0; v < 4; ++v) {
      const int64_t left = N - j - v * W;
      m[v] = left <= 0 ? typename G::Mask(0) : G::mask(left);
    }
    for (int64_t i = 0; i < M; i += 6)
      cell_gemm_block(A + i * ars, ars, acs, M - i < 6 ? M - i : 6, Bm + j, ldb, C + i * ldc + j, ldc, K,
                      bias ? bias + j : nullptr, accumulate, m);
  }
}

constexpr bool cell_gemm_available() { return true; }

#else

template <typename scalar_t>
inline void cell_gemm(const scalar_t*, int64_t, int64_t, const scalar_t*, int64_t, scalar_t*, int64_t, int64_t,
                      int64_t, int64_t, const scalar_t*, bool) {}

constexpr bool cell_gemm_available() { return false; }

#endif

}  // namespace sinernn
