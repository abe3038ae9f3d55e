// CPU kernels of the batched ops train_many and predict_many (schemas in aten/schema.cpp): N
// independent models, V of them in the SIMD lanes of one block (cpu/lanes.h, cpu/lanes_avx512.h),
// blocks spread over the intra-op threads with at::parallel_for (OpenMP; honours
// torch.set_num_threads). Each block keeps its weights interleaved in a buffer of its own for the
// whole run and writes them back once. Model i's weights and losses equal those of the single-model
// train op on model i, bit for bit.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "../aten/checks.h"
#include "../aten/tensors.h"
#include "../core/config.h"
#include "../core/epoch.h"
#include "../core/sequence.h"
#include "lanes.h"
#include "lanes_avx512.h"

namespace sinernn {
namespace {

// Models per block of the general lane code: one AVX-512 register of lanes (16 floats are faster than 8).
template <typename scalar_t>
constexpr int kLanes = 64 / sizeof(scalar_t);

// The AVX-512 kernel elman_train_epoch_lanes_avx512 serves float32, F = O = 1, H <= 9, where it is
// faster than the general lane code; its blocks are two registers of 16 lanes (kK = 2), whose two
// interleaved blocks hide the step's latency. From H = 10 on (one block only) it is slower than the
// general code except at H = 16, which alone is not worth a special case. Evidence, per H, in this op
// and in a one-core harness: docs/performance.md, "Many models".
constexpr int64_t kAvx512LanesMaxHidden = 9;
constexpr int kAvx512Registers = 2;
template <typename scalar_t, class S>
constexpr bool kAvx512Kernel = SINERNN_AVX512 && std::is_same_v<scalar_t, float> && S::kFixed &&
                               S::kFeatures == 1 && S::kOutputs == 1 && S::kHidden <= kAvx512LanesMaxHidden;
template <typename scalar_t, class S>
constexpr int block_lanes() {
  if constexpr (kAvx512Kernel<scalar_t, S>) return 16 * kAvx512Registers;
  return kLanes<scalar_t>;
}

// A block's buffers start on a cache line (64 bytes), so that no register of lanes straddles two
// lines (std::vector's default allocator aligns to 16 bytes). This matters to the general lane code
// (H >= 10), whose workspace goes through memory every step (docs/performance.md, "Figures behind the code");
// the AVX-512 kernel is indifferent to it.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlign); }
  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};
template <typename T>
using LaneBuffer = std::vector<T, CacheLineAllocator<T>>;

// total + the sum of w * 0 over the rows of a lane's weights (stride V): finite exactly when total
// and every weight are. Four interleaved sums, so that no chain of n1 + n2 dependent adds holds up
// the next epoch (it shows where series are short: docs/performance.md).
template <int V, typename scalar_t>
inline scalar_t lane_probe(scalar_t total, const scalar_t* w1, int64_t n1, const scalar_t* w2, int64_t n2) {
  scalar_t a[4] = {total, 0, 0, 0};
  auto add = [&a](const scalar_t* w, int64_t n) {
    int64_t q = 0;
    for (; q + 4 <= n; q += 4)
      for (int c = 0; c < 4; ++c) a[c] += w[(q + c) * V] * scalar_t(0);
    for (; q < n; ++q) a[0] += w[q * V] * scalar_t(0);
  };
  add(w1, n1);
  add(w2, n2);
  return (a[0] + a[1]) + (a[2] + a[3]);
}

// One block of V lanes: models n0 .. n0+count-1 (count <= V; the rest of the lanes are padding with
// zero weights and lr 0, which stay zero and finite).
template <typename scalar_t, int V, class S>
void train_block(const scalar_t* x, const scalar_t* y, bool per_model, int64_t L, scalar_t* w1, scalar_t* w2,
                 const double* lr, int64_t epochs, int64_t n0, int64_t count, S s, scalar_t* losses,
                 int64_t* diverged) {
  const int64_t F = s.F(), H = s.H(), O = s.O();
  const int64_t n1 = (F + H) * H, n2 = H * O;  // weights per model
  LaneBuffer<scalar_t> wb1(n1 * V, 0), wb2(n2 * V, 0), snap1(n1 * V), snap2(n2 * V);
  LaneBuffer<scalar_t> neg_lr(V, 0), total(V), workspace(elman_lanes_workspace(F, H, O, V));
  LaneBuffer<scalar_t> padded_x, padded_y;  // per-model series of a partial block, padded with model n0's
  for (int64_t l = 0; l < count; ++l) {
    for (int64_t q = 0; q < n1; ++q) wb1[q * V + l] = w1[(n0 + l) * n1 + q];
    for (int64_t q = 0; q < n2; ++q) wb2[q * V + l] = w2[(n0 + l) * n2 + q];
    neg_lr[l] = -static_cast<scalar_t>(lr[n0 + l]);  // as the single op: lr cast to scalar_t, negated
  }
  LaneSeries<scalar_t> ser{x, y, 0, 0};
  LaneBuffer<scalar_t> lane_x, lane_y;  // the AVX-512 kernel's per-model series: lane-major (L, V) copies
  if (per_model) {
    ser = {x + n0 * L * F, y + n0 * L * O, L * F, L * O};
    if (count < V) {
      padded_x.resize(V * L * F);
      padded_y.resize(V * L * O);
      for (int64_t l = 0; l < V; ++l) {
        const int64_t src = n0 + std::min(l, count - 1);
        std::copy(x + src * L * F, x + (src + 1) * L * F, padded_x.begin() + l * L * F);
        std::copy(y + src * L * O, y + (src + 1) * L * O, padded_y.begin() + l * L * O);
      }
      ser = {padded_x.data(), padded_y.data(), L * F, L * O};
    }
    if constexpr (kAvx512Kernel<scalar_t, S>) {  // F = O = 1
      lane_x.resize(L * V);
      lane_y.resize(L * V);
      for (int64_t l = 0; l < V; ++l)
        for (int64_t t = 0; t < L; ++t) {
          lane_x[t * V + l] = ser.x[l * ser.x_lane_stride + t];
          lane_y[t * V + l] = ser.y[l * ser.y_lane_stride + t];
        }
    }
  }
  // One epoch of the block from the weights in snap1, snap2 to wb1, wb2, each lane's loss sum in total.
  auto epoch = [&] {
#if SINERNN_AVX512
    if constexpr (kAvx512Kernel<scalar_t, S>) {  // reads snap, writes wb: no copy
      constexpr int kH = int(S::kHidden), kK = kAvx512Registers;
      if (per_model)
        elman_train_epoch_lanes_avx512<kH, kK, true>(lane_x.data(), lane_y.data(), snap1.data(), snap2.data(),
                                                      wb1.data(), wb2.data(), neg_lr.data(), L, total.data());
      else
        elman_train_epoch_lanes_avx512<kH, kK, false>(x, y, snap1.data(), snap2.data(), wb1.data(), wb2.data(),
                                                       neg_lr.data(), L, total.data());
      return;
    }
#endif
    wb1 = snap1;
    wb2 = snap2;
    elman_train_epoch_lanes<scalar_t, V>(ser, wb1.data(), wb2.data(), neg_lr.data(), workspace.data(), L, s,
                                         total.data());
  };
  std::vector<char> stopped(V, 0);  // the lane diverged: its weights stay at the end of its last finite epoch
  int64_t running = count;
  std::vector<scalar_t> one1(n1), one2(n2), one_snap(n1 + n2), one_ws(elman_epoch_workspace(H, O));
  for (int64_t e = 0; e < epochs && running > 0; ++e) {
    std::swap(snap1, wb1);  // the last epoch's weights are this one's start
    std::swap(snap2, wb2);
    epoch();
    // One vector pass for every lane: probe[l] = total + sum of w * 0 stays finite exactly when the
    // lane's total and all its weights are (0 * inf and 0 * NaN are NaN).
    scalar_t probe[V];
    SINERNN_SIMD for (int l = 0; l < V; ++l) probe[l] = lane_probe<V>(total[l], wb1.data() + l, n1, wb2.data() + l, n2);
    for (int64_t l = 0; l < count; ++l) {
      const int64_t n = n0 + l;
      if (!stopped[l]) {
        const bool finite = std::isfinite(probe[l]);
        losses[n * epochs + e] = total[l];
        if (finite) continue;
        // Replay this lane's epoch with the single-model code (same arithmetic) to decide as the
        // train op does: where the loss first stopped being finite, or whether only the total overflowed.
        for (int64_t q = 0; q < n1; ++q) one1[q] = snap1[q * V + l];
        for (int64_t q = 0; q < n2; ++q) one2[q] = snap2[q * V + l];
        scalar_t loss;
        int64_t epoch = -1, step = -1;
        elman_train_epochs<scalar_t>(ser.x + l * ser.x_lane_stride, ser.y + l * ser.y_lane_stride, one1.data(),
                                     one2.data(), -neg_lr[l], 1, L, one_snap.data(), one_ws.data(), &loss, &epoch,
                                     &step, s);
        if (epoch < 0) continue;  // finite losses and weights: only the epoch's total overflowed
        diverged[n * 2] = e;
        diverged[n * 2 + 1] = step;
        stopped[l] = 1;
        --running;
      }
      // a stopped lane: back to the weights it stopped with; its loss stays NaN from here on
      for (int64_t q = 0; q < n1; ++q) wb1[q * V + l] = snap1[q * V + l];
      for (int64_t q = 0; q < n2; ++q) wb2[q * V + l] = snap2[q * V + l];
      losses[n * epochs + e] = std::numeric_limits<scalar_t>::quiet_NaN();
    }
  }
  for (int64_t l = 0; l < count; ++l) {
    for (int64_t q = 0; q < n1; ++q) w1[(n0 + l) * n1 + q] = wb1[q * V + l];
    for (int64_t q = 0; q < n2; ++q) w2[(n0 + l) * n2 + q] = wb2[q * V + l];
  }
}

std::tuple<at::Tensor, at::Tensor> elman_train_many_cpu(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                        at::Tensor& w2, int64_t epochs, const at::Tensor& lr) {
  const char* op = "sinernn::train_many";
  at::Tensor lr64;
  const ManySizes m = check_train_many_args(op, x, y, w1, w2, epochs, lr, c10::DeviceType::CPU, &lr64);
  const ElmanSizes s = m.s;
  const int64_t N = m.N, L = m.L;
  const bool per_model = m.per_model;
  const double* lrp = lr64.const_data_ptr<double>();
  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y);
  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  // NaN where a model has stopped (diverged) and for the epochs after
  at::Tensor losses = at::full({N, epochs}, std::numeric_limits<double>::quiet_NaN(), x.options());
  at::Tensor diverged = at::full({N, 2}, -1, x.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_many_cpu", [&] {
    const scalar_t* xp = xc.const_data_ptr<scalar_t>();
    const scalar_t* yp = yc.const_data_ptr<scalar_t>();
    scalar_t* w1p = w1io.work.mutable_data_ptr<scalar_t>();
    scalar_t* w2p = w2io.work.mutable_data_ptr<scalar_t>();
    scalar_t* lossp = losses.mutable_data_ptr<scalar_t>();
    int64_t* divp = diverged.mutable_data_ptr<int64_t>();
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      constexpr int V = block_lanes<scalar_t, decltype(sizes)>();
      const int64_t blocks = (N + V - 1) / V;
      // Each thread takes the next block as it finishes one (not a fixed half each): cores may be
      // shared, and one that runs slower for a while then does less of the work.
      std::atomic<int64_t> next{0};
      const int64_t workers = std::min<int64_t>(blocks, at::get_num_threads());
      at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
        for (int64_t b; (b = next.fetch_add(1, std::memory_order_relaxed)) < blocks;) {
          const int64_t n0 = b * V;
          train_block<scalar_t, V>(xp, yp, per_model, L, w1p, w2p, lrp, epochs, n0, std::min<int64_t>(V, N - n0),
                                   sizes, lossp, divp);
        }
      });
    });
  });
  w1io.write_back();
  w2io.write_back();
  return {losses, diverged};
}

std::tuple<at::Tensor, at::Tensor> elman_predict_many_cpu(const at::Tensor& x, const at::Tensor& w1,
                                                          const at::Tensor& w2) {
  const char* op = "sinernn::predict_many";
  const ManySizes m = check_many_args(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, c10::DeviceType::CPU);
  const ElmanSizes s = m.s;
  const int64_t N = m.N, L = m.L;
  const bool per_model = m.per_model;
  const at::Tensor xc = finite_input(op, "x", x), w1c = finite_input(op, "w1", w1), w2c = finite_input(op, "w2", w2);
  at::Tensor pred = at::empty({N, L, s.O}, x.options()), hidden = at::empty({N, L, s.H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_predict_many_cpu", [&] {
    const scalar_t* xp = xc.const_data_ptr<scalar_t>();
    const scalar_t* w1p = w1c.const_data_ptr<scalar_t>();
    const scalar_t* w2p = w2c.const_data_ptr<scalar_t>();
    scalar_t* pp = pred.mutable_data_ptr<scalar_t>();
    scalar_t* hp = hidden.mutable_data_ptr<scalar_t>();
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      at::parallel_for(0, N, 1, [&](int64_t m0, int64_t m1) {
        const std::vector<scalar_t> h0(s.H, scalar_t(0));  // teacher-forced from a zero context, as predict
        for (int64_t n = m0; n < m1; ++n)
          elman_seq_forward<scalar_t>(xp + (per_model ? n * L * s.F : 0), h0.data(), w1p + n * (s.F + s.H) * s.H,
                                      w2p + n * s.H * s.O, pp + n * L * s.O, hp + n * L * s.H, L, sizes);
      });
    });
  });
  return {pred, hidden};
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CPU, m) {
  m.impl("train_many", &elman_train_many_cpu);
  m.impl("predict_many", &elman_predict_many_cpu);
}

}  // namespace sinernn
