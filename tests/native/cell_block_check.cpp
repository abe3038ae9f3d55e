// The batched cell's one-launch CUDA kernels' body (csrc/core/cell_block.h) run on the CPU, block
// by block, each phase on every thread of the block before the next phase (what the kernels'
// barriers guarantee), against the CPU loops (cell_forward_small / cell_backward_small,
// csrc/core/cell_loops.h): hidden states, predictions, the gradients of x and h0 bit for bit; the
// weight and bias gradients (summed per block, then over the blocks) within their summation-order
// rounding. float32 and float64; batches of 1, a partial block and several blocks; biases and
// either gradient on or off. Exit status 0 when all agree. Built and run by tests/native/test_cell_block.py
// (needs FMA, as the GPU has: -march=native, -ffp-contract=off).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cell_block.h"
#include "core/cell_loops.h"

using namespace sinernn;

static int failures = 0, compared = 0;

template <typename T>
static void bitwise(const char* what, const char* name, const std::vector<T>& got, const std::vector<T>& want) {
  ++compared;
  for (size_t q = 0; q < want.size(); ++q)
    if (std::memcmp(&got[q], &want[q], sizeof(T)) != 0) {
      std::printf("FAIL %s: %s[%zu] = %.17g, the CPU loops %.17g\n", what, name, q, double(got[q]), double(want[q]));
      ++failures;
      return;
    }
}

// Within terms * u * (1 + max |want|) * 4: a sum of `terms` products in another order.
template <typename T>
static void close(const char* what, const char* name, const std::vector<T>& got, const std::vector<T>& want,
                  double terms) {
  ++compared;
  double scale = 1;
  for (T v : want) scale = std::fmax(scale, std::fabs(double(v)));
  const double tol = 4 * terms * double(std::numeric_limits<T>::epsilon()) * scale;
  for (size_t q = 0; q < want.size(); ++q)
    if (!(std::fabs(double(got[q]) - double(want[q])) <= tol)) {
      std::printf("FAIL %s: %s[%zu] = %.17g, the CPU loops %.17g (tolerance %.3g)\n", what, name, q, double(got[q]),
                  double(want[q]), tol);
      ++failures;
      return;
    }
}

template <typename T>
static void check(int64_t L, int64_t B, int64_t F, int64_t H, int64_t O, bool bias, bool with_gp, bool with_gh,
                  uint32_t seed) {
  char what[160];
  std::snprintf(what, sizeof what, "%s L=%lld B=%lld F=%lld H=%lld O=%lld bias=%d g_pred=%d g_hidden=%d",
                sizeof(T) == 4 ? "float32" : "float64", (long long)L, (long long)B, (long long)F, (long long)H,
                (long long)O, int(bias), int(with_gp), int(with_gh));
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto fill = [&](std::vector<T>& v, double scale) {
    for (auto& e : v) e = T(scale * normal(gen));
  };
  std::vector<T> x(L * B * F), h0(B * H), w1((F + H) * H), w2(H * O), b1(H), b2(O), gp(L * B * O), gh(L * B * H);
  fill(x, 1.0), fill(h0, 0.5), fill(w1, 0.8 / std::sqrt(double(H))), fill(w2, 0.5), fill(b1, 0.3), fill(b2, 0.3);
  fill(gp, 1.0), fill(gh, 1.0);

  // the CPU loops: one call over the whole batch
  std::vector<T> hidden(L * B * H), pred(L * B * O), work(cell_forward_small_work(B, F, H, O));
  cell_forward_small<T>(x.data(), h0.data(), w1.data(), w2.data(), bias ? b1.data() : nullptr,
                        bias ? b2.data() : nullptr, hidden.data(), pred.data(), work.data(), L, B, B, F, H, O);
  std::vector<T> g_x(L * B * F), g_h0(B * H), g_w1((F + H) * H), g_w2(H * O), g_b1(H), g_b2(O);
  std::vector<T> bwork(cell_backward_small_work(B, F, H, O));
  cell_backward_small<T>(with_gp ? gp.data() : nullptr, with_gh ? gh.data() : nullptr, x.data(), h0.data(), w1.data(),
                         w2.data(), hidden.data(), g_x.data(), g_h0.data(), g_w1.data(), g_w2.data(),
                         bias ? g_b1.data() : nullptr, bias ? g_b2.data() : nullptr, bwork.data(), L, B, B, F, H, O);

  // the kernels' body, block by block
  const int64_t R = cell_block_rows(H), blocks = (B + R - 1) / R;
  std::vector<T> k_hidden(L * B * H), k_pred(L * B * O);
  CellBlockArgs<T> a{};
  a.x = x.data(), a.h0 = h0.data(), a.w1 = w1.data(), a.w2 = w2.data();
  a.b1 = bias ? b1.data() : nullptr, a.b2 = bias ? b2.data() : nullptr;
  a.hidden_out = k_hidden.data(), a.pred = k_pred.data();
  a.L = L, a.B = B, a.F = F, a.H = H, a.O = O, a.R = R;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    std::vector<T> shared(cell_block_forward_shared(R, F, H, O), T(std::nan("")));  // NaN: a read before a write shows
    const CellForwardShared<T> s(shared.data(), a);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < H; ++j) cell_block_forward_load(a, s, blk, j, r);
    for (int64_t t = 0; t < L; ++t) {
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < H; ++j) cell_block_forward_hidden(a, s, kTanhTable, blk, t, j, r);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < H; ++j) cell_block_forward_output(a, s, blk, t, j, r);
    }
  }
  bitwise(what, "hidden", k_hidden, hidden);
  bitwise(what, "pred", k_pred, pred);

  std::vector<T> k_gx(L * B * F), k_gh0(B * H), part_w1(blocks * (F + H) * H), part_w2(blocks * H * O),
      part_b1(blocks * H), part_b2(blocks * O);
  a.hidden = hidden.data();
  a.g_pred = with_gp ? gp.data() : nullptr, a.g_hidden = with_gh ? gh.data() : nullptr;
  a.g_x = k_gx.data(), a.g_h0 = k_gh0.data();
  a.part_w1 = part_w1.data(), a.part_w2 = part_w2.data(), a.part_b1 = part_b1.data(), a.part_b2 = part_b2.data();
  for (int64_t blk = 0; blk < blocks; ++blk) {
    std::vector<T> shared(cell_block_backward_shared(R, F, H, O), T(std::nan("")));
    const CellBackwardShared<T> s(shared.data(), a);
    auto all = [&](auto phase) {
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < H; ++j) phase(j, r);
    };
    all([&](int64_t j, int64_t r) { cell_block_backward_init(a, s, j, r); });
    for (int64_t t = L - 1; t >= 0; --t) {
      all([&](int64_t j, int64_t r) { cell_block_backward_load(a, s, blk, t, j, r); });
      all([&](int64_t j, int64_t r) { cell_block_backward_dz(a, s, blk, t, j, r); });
      all([&](int64_t j, int64_t r) { cell_block_backward_sums(a, s, blk, t, j, r); });
    }
    all([&](int64_t j, int64_t r) { cell_block_backward_store(a, s, blk, j, r); });
  }
  bitwise(what, "g_x", k_gx, g_x);
  bitwise(what, "g_h0", k_gh0, g_h0);
  auto over_blocks = [&](const std::vector<T>& parts, int64_t n) {  // the caller's sum over the blocks
    std::vector<T> total(n, T(0));
    for (int64_t blk = 0; blk < blocks; ++blk)
      for (int64_t q = 0; q < n; ++q) total[q] += parts[blk * n + q];
    return total;
  };
  const double terms = double(L * B + blocks);
  close(what, "g_w1", over_blocks(part_w1, (F + H) * H), g_w1, terms);
  close(what, "g_w2", over_blocks(part_w2, H * O), g_w2, terms);
  if (bias) {
    close(what, "g_b1", over_blocks(part_b1, H), g_b1, terms);
    close(what, "g_b2", over_blocks(part_b2, O), g_b2, terms);
  }
}

int main() {
  const int64_t shapes[][3] = {{1, 6, 1}, {2, 13, 3}, {1, 32, 1}, {3, 5, 2}, {1, 1, 1}, {40, 7, 20}};
  uint32_t seed = 1;
  for (const auto& shape : shapes)
    for (int64_t B : {1, 33, 70})
      for (int v = 0; v < 4; ++v) {  // (bias, g_pred, g_hidden): the four variants below
        const bool bias = v & 1, with_gp = v != 2, with_gh = v >= 2;
        check<float>(9, B, shape[0], shape[1], shape[2], bias, with_gp, with_gh, seed++);
        check<double>(9, B, shape[0], shape[1], shape[2], bias, with_gp, with_gh, seed++);
      }
  std::printf("%s: %d of %d comparisons differ\n", failures ? "FAIL" : "OK", failures, compared);
  return failures ? 1 : 0;
}
