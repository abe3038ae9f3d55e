// A register-blocked matrix product for the batched cell's steps on the CPU:
//   C (M, N) = A (M, K) @ Bm (K, N) (+ bias (N,) broadcast over the rows)   or, with accumulate,
//   C += A @ Bm
// Bm and C row-major with leading dimensions ldb, ldc (in values); A read through strides (ars
// between rows, acs between columns), so a transposed operand (h^T in a weight gradient) is read in
// place. Sizes are a step's: (B, H) x (H, H) and the like, small, called L times in a row. There a
// library product loses much of its time to its call (docs/performance.md, "Figures behind the code"). Each C element is one
// chain of fused multiply-adds over k = 0..K-1 in order, starting from 0, the bias or C's value.
//
// Blocking: see cell_gemm; partial blocks masked (columns) or repeated and not stored (rows). Only
// where AVX-512 is (SINERNN_AVX512); elsewhere cell_gemm_available() is false and the caller takes
// ATen.
#pragma once

#include <cstdint>

#include "../core/config.h"

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

// One block: kR rows of A / C (the rows past `rows` repeat the last real one and are not stored),
// kV column vectors from C's column 0 (the last one masked by `last`), all of K. The loops are
// unrolled completely (#pragma GCC unroll) so the kR x kV accumulators live in registers; without
// it GCC keeps them in memory, storing each back every k (docs/performance.md, "Figures behind the code").
template <typename scalar_t, int kR, int kV>
inline void cell_gemm_block(const scalar_t* SINERNN_RESTRICT A, int64_t ars, int64_t acs, int64_t rows,
                            const scalar_t* SINERNN_RESTRICT Bm, int64_t ldb, scalar_t* SINERNN_RESTRICT C, int64_t ldc,
                            int64_t K, const scalar_t* bias, bool accumulate, typename GemmVec<scalar_t>::Mask last) {
  using G = GemmVec<scalar_t>;
  using V = typename G::V;
  constexpr int64_t W = G::kW;
  const scalar_t* a[kR];
  scalar_t* c[kR];
  typename G::Mask m[kV];
#pragma GCC unroll 32
  for (int r = 0; r < kR; ++r) {
    const int64_t row = r < rows ? r : rows - 1;
    a[r] = A + row * ars;
    c[r] = C + row * ldc;
  }
#pragma GCC unroll 32
  for (int v = 0; v < kV; ++v) m[v] = v == kV - 1 ? last : G::mask(W);
  V acc[kR][kV];
#pragma GCC unroll 32
  for (int r = 0; r < kR; ++r) {
    const scalar_t* from = accumulate ? c[r] : bias;  // C, the bias row, or zero (null)
#pragma GCC unroll 32
    for (int v = 0; v < kV; ++v) acc[r][v] = from ? G::load(from + v * W, m[v]) : G::zero();
  }
  for (int64_t k = 0; k < K; ++k) {
    V b[kV];
#pragma GCC unroll 32
    for (int v = 0; v < kV; ++v) b[v] = G::load(Bm + k * ldb + v * W, m[v]);
#pragma GCC unroll 32
    for (int r = 0; r < kR; ++r) {
      const V x = G::set1(a[r][k * acs]);
#pragma GCC unroll 32
      for (int v = 0; v < kV; ++v) acc[r][v] = G::fma(x, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 32
  for (int r = 0; r < kR; ++r)
    if (r < rows)
#pragma GCC unroll 32
      for (int v = 0; v < kV; ++v) G::store(c[r] + v * W, acc[r][v], m[v]);
}

// All rows of one panel of kV column vectors, in blocks of kR rows.
// Fewer rows than a block (a weight gradient's F or O rows, often 1): one row at a time, not a block
// of kR rows of which most would be repeats.
template <typename scalar_t, int kR, int kV>
inline void cell_gemm_panel(const scalar_t* A, int64_t ars, int64_t acs, const scalar_t* Bm, int64_t ldb, scalar_t* C,
                            int64_t ldc, int64_t M, int64_t K, const scalar_t* bias, bool accumulate,
                            typename GemmVec<scalar_t>::Mask last) {
  if (M < kR) {
    for (int64_t i = 0; i < M; ++i)
      cell_gemm_block<scalar_t, 1, kV>(A + i * ars, ars, acs, 1, Bm, ldb, C + i * ldc, ldc, K, bias, accumulate, last);
    return;
  }
  for (int64_t i = 0; i < M; i += kR)
    cell_gemm_block<scalar_t, kR, kV>(A + i * ars, ars, acs, M - i < kR ? M - i : kR, Bm, ldb, C + i * ldc, ldc, K,
                                      bias, accumulate, last);
}

// bias: null or (N,), used when not accumulating. Panels of 4 vectors of columns in blocks of 6 rows
// (24 accumulators, 29 of the 32 registers with the 4 Bm vectors and the broadcast); a narrower last
// panel (or a narrow C: H = 16 is one vector) takes fewer vectors and more rows (3 x 8, 2 x 12,
// 1 x 12), not a whole 4-vector block mostly masked off.
template <typename scalar_t>
inline void cell_gemm(const scalar_t* A, int64_t ars, int64_t acs, const scalar_t* Bm, int64_t ldb, scalar_t* C,
                      int64_t ldc, int64_t M, int64_t N, int64_t K, const scalar_t* bias, bool accumulate) {
  using G = GemmVec<scalar_t>;
  constexpr int64_t W = G::kW, kPanel = 4 * W;
  for (int64_t j = 0; j < N; j += kPanel) {
    const int64_t n = N - j < kPanel ? N - j : kPanel;
    const int64_t vectors = (n + W - 1) / W;
    const auto last = G::mask(n - (vectors - 1) * W);
    const scalar_t* bj = bias ? bias + j : nullptr;
    switch (vectors) {
      case 4: cell_gemm_panel<scalar_t, 6, 4>(A, ars, acs, Bm + j, ldb, C + j, ldc, M, K, bj, accumulate, last); break;
      case 3: cell_gemm_panel<scalar_t, 8, 3>(A, ars, acs, Bm + j, ldb, C + j, ldc, M, K, bj, accumulate, last); break;
      case 2: cell_gemm_panel<scalar_t, 12, 2>(A, ars, acs, Bm + j, ldb, C + j, ldc, M, K, bj, accumulate, last); break;
      default: cell_gemm_panel<scalar_t, 12, 1>(A, ars, acs, Bm + j, ldb, C + j, ldc, M, K, bj, accumulate, last); break;
    }
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
