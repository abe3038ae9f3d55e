// CUDA kernels for the ops declared in elman_ops.cpp, on the same step math as the CPU
// (elman_math.h: __host__ __device__ under nvcc) and the same entry checks (elman_checks.h).
//
// train_many: one model per thread, the whole run in one launch. For the tutorial's sizes (F = O = 1,
// H <= 8: compile-time Sizes) a thread keeps its model's weights, epoch snapshot and workspace in
// local arrays the compiler can hold in registers; for other sizes it trains the weights in place
// in global memory with its snapshot and workspace in a scratch tensor. The single-model ops are the
// same code on one thread (train is train_many with N = 1): they exist so that CUDA tensors work
// everywhere, not for speed: one tiny model is a latency-bound chain.
//
// Every launch goes to the current stream under a device guard and is checked.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>

#include "../elman_checks.h"
#include "../elman_math.h"
#include "../elman_tensors.h"

namespace sinernn {
namespace {

constexpr int kThreads = 128;
// Compile-time sizes up to this H (F = O = 1): a thread holds (F+H)*H weights twice (and the rest) in
// local arrays, which the registers hold at the tutorial's sizes; larger H would spill to local memory.
constexpr int64_t kCudaFixedHidden = 8;
constexpr auto kCUDA = c10::DeviceType::CUDA;

struct ManyArgs {
  int64_t N, L, epochs;
  int64_t x_model_stride, y_model_stride;  // 0: one series shared by all models
};

template <typename scalar_t, class S>
__global__ void train_many_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ y, scalar_t* w1,
                                  scalar_t* w2, const double* __restrict__ lr, ManyArgs a, S s, scalar_t* losses,
                                  int64_t* diverged, scalar_t* scratch) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n >= a.N) return;
  const int64_t n1 = (s.F() + s.H()) * s.H(), n2 = s.H() * s.O(), nw = elman_epoch_workspace(s.H(), s.O());
  scalar_t* my_w1 = w1 + n * n1;
  scalar_t* my_w2 = w2 + n * n2;
  const scalar_t* my_x = x + n * a.x_model_stride;
  const scalar_t* my_y = y + n * a.y_model_stride;
  const scalar_t lr_n = static_cast<scalar_t>(lr[n]);  // as the CPU op: lr cast to scalar_t
  if constexpr (S::kFixed) {
    constexpr int64_t k1 = (S::kFeatures + S::kHidden) * S::kHidden, k2 = S::kHidden * S::kOutputs;
    scalar_t lw1[k1], lw2[k2], snapshot[k1 + k2], workspace[elman_epoch_workspace(S::kHidden, S::kOutputs)];
    for (int64_t q = 0; q < k1; ++q) lw1[q] = my_w1[q];
    for (int64_t q = 0; q < k2; ++q) lw2[q] = my_w2[q];
    elman_train_epochs<scalar_t>(my_x, my_y, lw1, lw2, lr_n, a.epochs, a.L, snapshot, workspace,
                                 losses + n * a.epochs, diverged + 2 * n, diverged + 2 * n + 1, s);
    for (int64_t q = 0; q < k1; ++q) my_w1[q] = lw1[q];
    for (int64_t q = 0; q < k2; ++q) my_w2[q] = lw2[q];
  } else {
    scalar_t* snapshot = scratch + n * (n1 + n2 + nw);
    elman_train_epochs<scalar_t>(my_x, my_y, my_w1, my_w2, lr_n, a.epochs, a.L, snapshot, snapshot + n1 + n2,
                                 losses + n * a.epochs, diverged + 2 * n, diverged + 2 * n + 1, s);
  }
  const int64_t e = diverged[2 * n];
  if (e >= 0)  // the diverged epoch's total and the epochs after it: NaN, as on the CPU
    for (int64_t q = e; q < a.epochs; ++q) losses[n * a.epochs + q] = scalar_t(NAN);
}

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// The launch behind train_many and train: x, y contiguous, w1, w2 contiguous and written in place,
// lr64 (N,) float64 on the CPU. -> losses (N, epochs), diverged (N, 2) on the device.
std::tuple<at::Tensor, at::Tensor> launch_train_many(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                     at::Tensor& w2, int64_t epochs, const at::Tensor& lr64,
                                                     const ManySizes& m) {
  const ElmanSizes s = m.s;
  at::Tensor losses = at::full({m.N, epochs}, std::numeric_limits<double>::quiet_NaN(), x.options());
  at::Tensor diverged = at::full({m.N, 2}, -1, x.options().dtype(at::kLong));
  const at::Tensor lr_dev = lr64.to(x.device());
  const ManyArgs a{m.N, m.L, epochs, m.per_model ? m.L * s.F : 0, m.per_model ? m.L * s.O : 0};
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_many_cuda", [&] {
    with_sizes<kCudaFixedHidden>(s.F, s.H, s.O, [&](auto sizes) {
      using S = decltype(sizes);
      at::Tensor scratch;
      if constexpr (!S::kFixed)
        scratch = at::empty({m.N * ((s.F + s.H) * s.H + s.H * s.O + elman_epoch_workspace(s.H, s.O))}, x.options());
      train_many_kernel<scalar_t><<<blocks_for(m.N), kThreads, 0, stream>>>(
          x.const_data_ptr<scalar_t>(), y.const_data_ptr<scalar_t>(), w1.mutable_data_ptr<scalar_t>(),
          w2.mutable_data_ptr<scalar_t>(), lr_dev.const_data_ptr<double>(), a, sizes,
          losses.mutable_data_ptr<scalar_t>(), diverged.mutable_data_ptr<int64_t>(),
          scratch.defined() ? scratch.mutable_data_ptr<scalar_t>() : nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return {losses, diverged};
}

std::tuple<at::Tensor, at::Tensor> elman_train_many_cuda(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                         at::Tensor& w2, int64_t epochs, const at::Tensor& lr) {
  const char* op = "sinernn::train_many";
  at::Tensor lr64;
  const ManySizes m = check_train_many_args(op, x, y, w1, w2, epochs, lr, kCUDA, &lr64);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y);
  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  auto out = launch_train_many(xc, yc, w1io.work, w2io.work, epochs, lr64, m);
  w1io.write_back();
  w2io.write_back();
  return out;
}

// The whole run of train and train_guarded (train_many with N = 1): -> losses (epochs,), NaN from a
// diverged epoch on, and diverged (2,) on the device, without waiting for the kernel.
std::tuple<at::Tensor, at::Tensor> train_cuda(const char* op, const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                              at::Tensor& w2, int64_t epochs, double lr) {
  const ElmanSizes s = check_train_args(op, x, y, w1, w2, epochs, lr, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y);
  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  at::Tensor one1 = w1io.work.unsqueeze(0), one2 = w2io.work.unsqueeze(0);  // views: N = 1
  const auto [losses, diverged] = launch_train_many(xc, yc, one1, one2, epochs, at::full({1}, lr, at::kDouble),
                                                    ManySizes{s, 1, x.size(0), false});
  w1io.write_back();
  w2io.write_back();
  return {losses[0], diverged[0]};
}

at::Tensor elman_train_cuda(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1, at::Tensor& w2, int64_t epochs,
                            double lr) {
  const char* op = "sinernn::train";
  const auto [losses, diverged] = train_cuda(op, x, y, w1, w2, epochs, lr);
  const at::Tensor where = diverged.cpu();  // waits for the kernel
  check_not_diverged(op, where[0].item<int64_t>(), where[1].item<int64_t>(), lr);
  return losses;
}

std::tuple<at::Tensor, at::Tensor> elman_train_guarded_cuda(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                            at::Tensor& w2, int64_t epochs, double lr) {
  return train_cuda("sinernn::train_guarded", x, y, w1, w2, epochs, lr);
}

template <typename scalar_t, class S>
__global__ void step_kernel(const scalar_t* x, const scalar_t* y, const scalar_t* h, scalar_t* h_new, scalar_t* pred,
                            scalar_t* dz, scalar_t* w1, scalar_t* w2, scalar_t* loss, scalar_t lr, S s) {
  *loss = elman_train_step<scalar_t>(x, y, h, h_new, pred, dz, w1, w2, lr, s);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> elman_step_cuda(const at::Tensor& x, const at::Tensor& y,
                                                               const at::Tensor& h, at::Tensor& w1, at::Tensor& w2,
                                                               double lr) {
  const char* op = "sinernn::step";
  const ElmanSizes s = check_step_args(op, x, y, h, w1, w2, lr, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y), hc = finite_input(op, "h", h);
  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  at::Tensor h_new = at::empty({s.H}, x.options()), pred = at::empty({s.O}, x.options());
  at::Tensor loss = at::empty({}, x.options()), dz = at::empty({s.H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_step_cuda", [&] {
    step_kernel<scalar_t><<<1, 1, 0, c10::cuda::getCurrentCUDAStream()>>>(
        xc.const_data_ptr<scalar_t>(), yc.const_data_ptr<scalar_t>(), hc.const_data_ptr<scalar_t>(),
        h_new.mutable_data_ptr<scalar_t>(), pred.mutable_data_ptr<scalar_t>(), dz.mutable_data_ptr<scalar_t>(),
        w1io.work.mutable_data_ptr<scalar_t>(), w2io.work.mutable_data_ptr<scalar_t>(),
        loss.mutable_data_ptr<scalar_t>(), static_cast<scalar_t>(lr), DynamicSizes{s.F, s.H, s.O});
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  w1io.write_back();
  w2io.write_back();
  return {h_new, pred, loss};
}

// Teacher-forced prediction of N models from a zero context h0 (H,): one model per thread.
template <typename scalar_t, class S>
__global__ void predict_kernel(const scalar_t* x, int64_t x_model_stride, const scalar_t* h0, const scalar_t* w1,
                               const scalar_t* w2, scalar_t* pred, scalar_t* hidden, int64_t N, int64_t L, S s) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n >= N) return;
  const int64_t F = s.F(), H = s.H(), O = s.O();
  elman_seq_forward<scalar_t>(x + n * x_model_stride, h0, w1 + n * (F + H) * H, w2 + n * H * O, pred + n * L * O,
                              hidden + n * L * H, L, s);
}

std::tuple<at::Tensor, at::Tensor> launch_predict(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                                                  const ManySizes& m) {
  const ElmanSizes s = m.s;
  at::Tensor pred = at::empty({m.N, m.L, s.O}, x.options()), hidden = at::empty({m.N, m.L, s.H}, x.options());
  const at::Tensor h0 = at::zeros({s.H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_predict_cuda", [&] {
    predict_kernel<scalar_t><<<blocks_for(m.N), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        x.const_data_ptr<scalar_t>(), m.per_model ? m.L * s.F : 0, h0.const_data_ptr<scalar_t>(),
        w1.const_data_ptr<scalar_t>(), w2.const_data_ptr<scalar_t>(), pred.mutable_data_ptr<scalar_t>(),
        hidden.mutable_data_ptr<scalar_t>(), m.N, m.L, DynamicSizes{s.F, s.H, s.O});
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {pred, hidden};
}

std::tuple<at::Tensor, at::Tensor> elman_predict_many_cuda(const at::Tensor& x, const at::Tensor& w1,
                                                           const at::Tensor& w2) {
  const char* op = "sinernn::predict_many";
  const ManySizes m = check_many_args(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  return launch_predict(finite_input(op, "x", x), finite_input(op, "w1", w1), finite_input(op, "w2", w2), m);
}

std::tuple<at::Tensor, at::Tensor> elman_predict_cuda(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2) {
  const char* op = "sinernn::predict";
  const ElmanSizes s = check_series_and_model(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const auto [pred, hidden] = launch_predict(finite_input(op, "x", x), finite_input(op, "w1", w1),
                                             finite_input(op, "w2", w2), ManySizes{s, 1, x.size(0), false});
  return {pred[0], hidden[0]};
}

template <typename scalar_t, class S>
__global__ void forecast_kernel(const scalar_t* x, const scalar_t* w1, const scalar_t* w2, scalar_t* out, int64_t L,
                                int64_t steps, scalar_t* work, S s) {
  elman_forecast<scalar_t>(x, w1, w2, out, L, steps, work, s);
}

at::Tensor elman_forecast_cuda(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2, int64_t steps) {
  const char* op = "sinernn::forecast";
  const ElmanSizes s = check_forecast_args(op, x, w1, w2, steps, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const at::Tensor xc = finite_input(op, "x", x), w1c = finite_input(op, "w1", w1), w2c = finite_input(op, "w2", w2);
  at::Tensor out = at::empty({steps, s.O}, x.options()), work = at::empty({2 * s.H + s.O}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_forecast_cuda", [&] {
    forecast_kernel<scalar_t><<<1, 1, 0, c10::cuda::getCurrentCUDAStream()>>>(
        xc.const_data_ptr<scalar_t>(), w1c.const_data_ptr<scalar_t>(), w2c.const_data_ptr<scalar_t>(),
        out.mutable_data_ptr<scalar_t>(), x.size(0), steps, work.mutable_data_ptr<scalar_t>(),
        DynamicSizes{s.F, s.H, s.O});
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CUDA, m) {
  m.impl("step", &elman_step_cuda);
  m.impl("train", &elman_train_cuda);
  m.impl("train_guarded", &elman_train_guarded_cuda);
  m.impl("predict", &elman_predict_cuda);
  m.impl("forecast", &elman_forecast_cuda);
  m.impl("train_many", &elman_train_many_cuda);
  m.impl("predict_many", &elman_predict_many_cuda);
}

}  // namespace sinernn
