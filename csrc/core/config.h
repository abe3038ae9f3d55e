// Portability and size dispatch of the step math: the macros every core header uses (host or
// device, AVX-512 or not, restrict, vectorise, unroll), the Sizes a kernel is compiled for, the
// fused multiply-add every sum is written with, and with_sizes, which picks compile-time sizes for
// the tutorial's shapes. No ATen, no torch: the C++ test harnesses compile this core as it is.
//
// Every sum in the core runs in a fixed order (index order, or a fixed tree for the output dot),
// with fmadd below, so every path that calls into the core (the per-step op, the whole-loop op, the
// SIMD lanes of train_many, the CUDA kernels) rounds identically and they agree bit for bit.
#pragma once

#include <cmath>
#include <cstring>
#include <cstdint>
#include <type_traits>

// AVX-512 paths (float32: elman_tanh_n, registers for H <= 16 in elman_forward and
// elman_train_epoch (core/avx512.h), and the batched op's lanes for F = O = 1 (cpu/lanes_avx512.h))
// in CPU code built for a CPU that has AVX-512 F, DQ, VL and FMA (-march=native there); everything
// else takes the general code. Both give the same results bit for bit.
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
// the row sums stay in registers; docs/performance.md, "Figures behind the code").
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

// Call fn(sizes) with compile-time sizes for the common single-series shapes (the tutorial's F=1,
// O=1 with H up to kMaxHidden), run-time sizes otherwise. The arithmetic is the same either way.
// Compile-time sizes matter most for odd H, whose element-wise loops' remainders run as scalars at
// run-time sizes (docs/performance.md, "Figures behind the code"; dev/hidden_sizes.py). Each
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
