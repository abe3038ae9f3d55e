// The batched CUDA kernel's body (thread_train_model, csrc/core/thread_model.h) run on the CPU, one thread
// after another over interleaved storage, against the single-model op's run (elman_train_epochs,
// csrc/core/epoch.h) model by model: weights, per-epoch losses and where each model diverged must
// be equal bit for bit. Compile-time sizes (registers on the GPU) for F = O = 1, H = 1..8, run-time
// sizes for the same and for other shapes; float32 and float64; a shared series and one per model;
// learning rates from tiny to diverging. Exit status 0 when all are equal. Built and run by
// tests/native/test_thread_model.py (needs FMA, as the GPU has: -march=native, -ffp-contract=off).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <array>
#include <random>
#include <vector>

#include "core/epoch.h"
#include "core/thread_model.h"

using namespace sinernn;

static int failures = 0, checked = 0;

template <typename T>
static bool same(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0 || (std::isnan(a) && std::isnan(b));
}

template <typename scalar_t, class S>
static void check(S s, int64_t N, int64_t L, int64_t epochs, bool per_model, uint32_t seed, const char* what) {
  const int64_t F = s.F(), H = s.H(), O = s.O(), n1 = (F + H) * H, n2 = H * O;
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int64_t series = per_model ? N : 1;
  std::vector<scalar_t> x(series * L * F), y(series * L * O), w1(N * n1), w2(N * n2);
  for (auto& v : x) v = scalar_t(std::sin(normal(gen)));
  for (auto& v : y) v = scalar_t(std::sin(normal(gen)));
  for (auto& v : w1) v = scalar_t(0.4 * normal(gen));
  for (auto& v : w2) v = scalar_t(0.3 * normal(gen));
  std::vector<double> lr(N);
  for (int64_t n = 0; n < N; ++n) lr[n] = std::pow(10.0, -3.0 + 4.5 * double(n) / double(N > 1 ? N - 1 : 1));  // to ~30

  // the interleaved batch, trained model by model
  ThreadBatch<scalar_t> b{};
  auto at = [](auto& buf, int64_t rows, int64_t n, int64_t q) -> auto& { return group_base(buf.data(), rows, n)[q * kGroup]; };
  std::vector<scalar_t> xi(per_model ? group_buffer_size(L * F, N) : L * F), yi(per_model ? group_buffer_size(L * O, N) : L * O);
  std::vector<scalar_t> w1i(group_buffer_size(n1, N)), w2i(group_buffer_size(n2, N));
  std::vector<scalar_t> losses(group_buffer_size(epochs, N), scalar_t(NAN));
  std::vector<scalar_t> scratch(group_buffer_size(thread_scratch_rows(F, H, O), N));
  std::vector<int64_t> diverged(group_buffer_size(2, N), -1);
  for (int64_t n = 0; n < series; ++n) {
    for (int64_t q = 0; q < L * F; ++q) (per_model ? at(xi, L * F, n, q) : xi[q]) = x[n * L * F + q];
    for (int64_t q = 0; q < L * O; ++q) (per_model ? at(yi, L * O, n, q) : yi[q]) = y[n * L * O + q];
  }
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t q = 0; q < n1; ++q) at(w1i, n1, n, q) = w1[n * n1 + q];
    for (int64_t q = 0; q < n2; ++q) at(w2i, n2, n, q) = w2[n * n2 + q];
  }
  b.x = xi.data(); b.y = yi.data(); b.per_model = per_model; b.w1 = w1i.data(); b.w2 = w2i.data();
  b.lr = lr.data(); b.losses = losses.data(); b.diverged = diverged.data(); b.scratch = scratch.data();
  b.N = N; b.L = L; b.epochs = epochs;
  for (int64_t n = 0; n < N; ++n) thread_train_model<scalar_t>(b, n, kTanhTable, s);

  // each model alone, as the single-model op trains it
  std::vector<scalar_t> snapshot(n1 + n2), workspace(elman_epoch_workspace(H, O)), ref_losses(epochs);
  int n_div = 0;
  for (int64_t n = 0; n < N; ++n) {
    const scalar_t* xn = x.data() + (per_model ? n * L * F : 0);
    const scalar_t* yn = y.data() + (per_model ? n * L * O : 0);
    int64_t de, ds;
    std::fill(ref_losses.begin(), ref_losses.end(), scalar_t(NAN));
    elman_train_epochs<scalar_t>(xn, yn, w1.data() + n * n1, w2.data() + n * n2, static_cast<scalar_t>(lr[n]), epochs,
                                 L, snapshot.data(), workspace.data(), ref_losses.data(), &de, &ds, DynamicSizes{F, H, O});
    if (de >= 0)
      for (int64_t e = de; e < epochs; ++e) ref_losses[e] = scalar_t(NAN);  // the batched op's convention
    n_div += de >= 0;
    bool ok = at(diverged, 2, n, 0) == de && at(diverged, 2, n, 1) == ds;
    for (int64_t q = 0; q < n1; ++q) ok &= same(at(w1i, n1, n, q), w1[n * n1 + q]);
    for (int64_t q = 0; q < n2; ++q) ok &= same(at(w2i, n2, n, q), w2[n * n2 + q]);
    for (int64_t e = 0; e < epochs; ++e) ok &= same(at(losses, epochs, n, e), ref_losses[e]);
    ++checked;
    if (!ok && failures++ < 10)
      std::printf("MISMATCH %s %s F=%lld H=%lld O=%lld model %lld (lr %g): diverged (%lld, %lld) vs (%lld, %lld)\n", what,
                  sizeof(scalar_t) == 4 ? "float32" : "float64", (long long)F, (long long)H, (long long)O, (long long)n,
                  lr[n], (long long)at(diverged, 2, n, 0), (long long)at(diverged, 2, n, 1), (long long)de, (long long)ds);
  }
  std::printf("%s %s F=%lld H=%lld O=%lld N=%lld L=%lld %s: %d of %lld diverged\n", what,
              sizeof(scalar_t) == 4 ? "float32" : "float64", (long long)F, (long long)H, (long long)O, (long long)N,
              (long long)L, per_model ? "per-model series" : "shared series", n_div, (long long)N);
}

template <typename scalar_t, int64_t kH>
static void fixed_sizes(bool per_model) {
  check<scalar_t>(Sizes<1, kH, 1>{}, 40, 13, 30, per_model, 100 + kH, "compile-time");
  check<scalar_t>(DynamicSizes{1, kH, 1}, 40, 13, 30, per_model, 100 + kH, "run-time");
  if constexpr (kH < 8) fixed_sizes<scalar_t, kH + 1>(per_model);
}

int main() {
  for (bool per_model : {false, true}) {
    fixed_sizes<float, 1>(per_model);
    fixed_sizes<double, 1>(per_model);
    for (auto [F, H, O] : {std::array<int64_t, 3>{2, 7, 3}, {3, 1, 2}, {1, 13, 2}, {5, 16, 1}, {1, 32, 1}}) {
      check<float>(DynamicSizes{F, H, O}, 33, 9, 12, per_model, 7 + uint32_t(H), "run-time");
      check<double>(DynamicSizes{F, H, O}, 33, 9, 12, per_model, 7 + uint32_t(H), "run-time");
    }
    check<float>(Sizes<1, 6, 1>{}, 5, 1, 4, per_model, 3, "compile-time L=1");
    check<float>(DynamicSizes{2, 3, 2}, 5, 1, 4, per_model, 3, "run-time L=1");
  }
  std::printf("%s: %d of %d models differ\n", failures ? "FAILED" : "OK", failures, checked);
  return failures ? 1 : 0;
}
