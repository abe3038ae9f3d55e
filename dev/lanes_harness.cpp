// One-core timing harness for train_many's lane kernels, on csrc/cpu/lanes.h and csrc/cpu/lanes_avx512.h alone (no torch):
// the method behind the cycle table in elman_train_epoch_lanes_avx512's comment (there for more H).
//
//   g++ -O3 -march=native -ffp-contract=off -fno-trapping-math -fopenmp -std=c++17 -Icsrc
//       dev/lanes_harness.cpp -o /tmp/lanes_harness && /tmp/lanes_harness [rounds] [offset]
//
// (the flags of sinernn/_native/build.py; needs AVX-512). For H = 1, 3, 6 (F = O = 1, float32,
// one sine series shared by all lanes, 1024 models, L = 20, 50 epochs a block) it first
// checks each kernel against the general lane code, memcmp of weights and losses over 200 epochs
// with some lanes diverging, then times
//   gen16, gen32   elman_train_epoch_lanes, 16 or 32 lanes a block
//   avx1, avx2     elman_train_epoch_lanes_avx512 with kK = 1 or 2 (16 or 32 lanes)
// and prints the median over `rounds` (default 5) in cycles per 16 model-steps, counted at the
// 512-bit FMA rate measured in the same process (two a cycle on this machine's cores: FMA latency
// 4 cycles = 1.53 ns, throughput 0.194 ns). The block's buffers start `offset` bytes (default 0)
// past a cache line; 16, 32 or 48 make loads and stores of a register line splits. Measured at H = 6
// with offset 0 and 16 in turn, twice: the general lane code 199-233 -> 217-293 cycles, the kernel
// 193-198 -> 178-216 (why train_many's block buffers are cache-line aligned).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/lanes.h"
#include "cpu/lanes_avx512.h"
#include "core/epoch.h"

#if !SINERNN_AVX512
#error "lanes_harness needs AVX-512 and FMA (-march=native on such a CPU)"
#endif

namespace {
using namespace sinernn;
constexpr int L = 20, kEpochs = 50, kModels = 1024;
float x[L], y[L];
int g_offset = 0;

double fma_ns() {  // seconds per 512-bit FMA, 12 independent chains
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + i * 1e-7f);
  const __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-8f);
  const long n = 5000000;
  const auto s = std::chrono::steady_clock::now();
  for (long k = 0; k < n; ++k) {
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - s).count();
  alignas(64) float out[16];
  __m512 sum = a[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, a[i]);
  _mm512_store_ps(out, sum);
  if (out[0] == 1) std::printf(" ");  // keeps the loop
  return ns / (n * 12);
}

// kind 0: the general lane code, else the AVX-512 kernel; V = 16 kK lanes a block
template <int kH, int kK, int kind>
void epoch(float* w1, float* w2, const float* neg_lr, float* ws, float* total) {
  constexpr int V = 16 * kK;
  if constexpr (kind == 0)
    elman_train_epoch_lanes<float, V>(LaneSeries<float>{x, y, 0, 0}, w1, w2, neg_lr, ws, L, Sizes<1, kH, 1>{}, total);
  else
    elman_train_epoch_lanes_avx512<kH, kK, false>(x, y, w1, w2, w1, w2, neg_lr, L, total);
}

struct Block {  // one block's buffers, `g_offset` bytes past a cache line
  std::vector<float> mem;
  float *w1, *w2, *neg_lr, *ws, *total;
  Block(int n1, int n2, int V, int64_t nws) : mem(n1 * V + n2 * V + 2 * V + nws + 64 * 5) {
    float* p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t(63));
    auto take = [&](int64_t n) {
      float* q = p + g_offset / 4;
      p += (n + g_offset / 4 + 15) / 16 * 16;
      return q;
    };
    w1 = take(n1 * V);
    w2 = take(n2 * V);
    neg_lr = take(V);
    total = take(V);
    ws = take(nws);
  }
};

template <int kH, int kK, int kind>
double cycles() {
  constexpr int V = 16 * kK, n1 = (kH + 1) * kH, n2 = kH;
  Block b(n1, n2, V, elman_lanes_workspace(1, kH, 1, V));
  if constexpr (kind != 0) {  // same weights and losses as the general lane code, bit for bit
    Block g(n1, n2, V, elman_lanes_workspace(1, kH, 1, V));
    for (int i = 0; i < n1 * V; ++i) b.w1[i] = g.w1[i] = 0.4f * std::sin(i * 1.3f);
    for (int i = 0; i < n2 * V; ++i) b.w2[i] = g.w2[i] = 0.4f * std::cos(i * 0.9f);
    for (int l = 0; l < V; ++l) b.neg_lr[l] = g.neg_lr[l] = -(0.01f + 1.5f * l / V);  // the large ones diverge
    for (int e = 0; e < 200; ++e) {
      epoch<kH, kK, kind>(b.w1, b.w2, b.neg_lr, b.ws, b.total);
      epoch<kH, kK, 0>(g.w1, g.w2, g.neg_lr, g.ws, g.total);
      if (std::memcmp(b.w1, g.w1, 4 * n1 * V) || std::memcmp(b.w2, g.w2, 4 * n2 * V) ||
          std::memcmp(b.total, g.total, 4 * V)) {
        std::printf("H=%d kK=%d: the AVX-512 kernel differs from the general lane code at epoch %d\n", kH, kK, e);
        std::exit(1);
      }
    }
  }
  for (int l = 0; l < V; ++l) b.neg_lr[l] = -(0.01f + 0.29f * l / V);
  float sink = 0;
  const double f = fma_ns();
  const auto s = std::chrono::steady_clock::now();
  for (int blk = 0; blk < kModels / V; ++blk) {
    for (int i = 0; i < n1 * V; ++i) b.w1[i] = 0.4f * std::sin(i * 1.7f + blk);
    for (int i = 0; i < n2 * V; ++i) b.w2[i] = 0.4f * std::cos(i * 0.7f + blk);
    for (int e = 0; e < kEpochs; ++e) {
      epoch<kH, kK, kind>(b.w1, b.w2, b.neg_lr, b.ws, b.total);
      sink += b.total[0];
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - s).count() /
                    (double(kModels) * kEpochs * L);
  if (sink == 12345) std::printf(" ");
  return ns * 16 / (2 * f);  // cycles per 16 model-steps at two FMAs a cycle
}

template <int kH>
void suite(int rounds) {
  using Fn = double (*)();
  const char* names[] = {"gen16", "gen32", "avx1", "avx2"};
  const Fn fns[] = {cycles<kH, 1, 0>, cycles<kH, 2, 0>, cycles<kH, 1, 1>, cycles<kH, 2, 1>};
  std::vector<double> t[4];
  for (int r = 0; r < rounds; ++r)  // the kinds alternate: the machine's load drifts
    for (int k = 0; k < 4; ++k) t[k].push_back(fns[k]());
  std::printf("H=%2d  cycles per 16 model-steps (median of %d):", kH, rounds);
  for (int k = 0; k < 4; ++k) {
    std::sort(t[k].begin(), t[k].end());
    std::printf("  %s %.0f", names[k], t[k][t[k].size() / 2]);
  }
  std::printf("\n");
}
}  // namespace

int main(int argc, char** argv) {
  for (int t = 0; t < L; ++t) {  // a sine series, the next value as the target
    x[t] = std::sin(2 + 8.0 * t / L);
    y[t] = std::sin(2 + 8.0 * (t + 1) / L);
  }
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  g_offset = argc > 2 ? std::atoi(argv[2]) : 0;
  if (g_offset < 0 || g_offset > 60 || g_offset % 4) {
    std::fprintf(stderr, "offset must be a multiple of 4 bytes in 0..60, got %d\n", g_offset);
    return 2;
  }
  suite<1>(rounds);
  suite<3>(rounds);
  suite<6>(rounds);
}
