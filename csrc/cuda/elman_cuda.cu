// CUDA kernels for the ops declared in elman_ops.cpp, on the same step math as the CPU
// (elman_math.h and elman_lane.h: __host__ __device__ under nvcc) and the same entry checks
// (elman_checks.h).
//
// train_many: one model per thread, the whole run in one launch, on a copy of the batch stored
// interleaved in groups of 32 models (a warp's 32 models touch 128 consecutive bytes), transposed on
// entry and exit by the launch. Its body is lane_train_model (elman_lane.h), which
// tests/lane_check.cpp runs on the CPU against the single-model op bit for bit. For the tutorial's
// sizes (F = O = 1, H <= 8: compile-time sizes) a thread keeps its working weights, contexts and
// gradient in registers, and the weights at each epoch's start in the interleaved output buffer;
// for other sizes it works in interleaved global buffers. The float32 tanh reads a shared-memory
// copy of its table: a warp's 32 different slots are one access (each coefficient row is 32 floats,
// one per bank), where constant memory serves one address at a time.
//
// The single-model ops are the same code on one thread (train is train_many with N = 1): they exist
// so that CUDA tensors work everywhere, not for speed: one tiny model is a latency-bound chain.
//
// Every launch goes to the current stream under a device guard and is checked.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ge.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/logical_and.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>
#include <utility>
#include <vector>

#include "../elman_checks.h"
#include "../elman_lane.h"
#include "../elman_math.h"
#include "../elman_tensors.h"

namespace sinernn {
namespace {

// Threads per block of the batched kernel: one warp (one group of the interleaved layout), so even
// N = 4096 spreads over 128 SMs, and tens of thousands of models fill every SM of the card.
constexpr int kManyThreads = 32;
// The other kernels' blocks.
constexpr int kThreads = 128;
// Compile-time sizes up to this H (F = O = 1): a thread's (F+H)H + H weights and 4H work values in
// registers. scripts/cuda_compile_check.sh prints each instance's registers, stack and spills, and
// fails when a float32 one has a stack frame or spills. float64 takes twice the registers: from H = 5
// on it would spill, so larger H take the run-time-size code (interleaved global buffers) there.
template <typename scalar_t>
constexpr int64_t kCudaFixedHidden = std::is_same_v<scalar_t, float> ? 8 : 4;
constexpr auto kCUDA = c10::DeviceType::CUDA;

// Blocks of kManyThreads an SM must have room for (__launch_bounds__'s second argument): caps a
// thread's registers at 65536 / (kManyThreads * that): 96 for float32 H <= 6 (20 warps an SM), else
// 128 (16 warps), the most under which each compile-time size still has no spills (ptxas, sm_90: at
// 80 registers H = 6 spills; at 96, H = 7). More warps hide more of each step's dependent chain.
template <typename scalar_t, class S>
constexpr int many_min_blocks() {
  return S::kFixed && std::is_same_v<scalar_t, float> && S::kHidden <= 6 ? 20 : 16;
}

template <typename scalar_t, class S>
__global__ void __launch_bounds__(kManyThreads, (many_min_blocks<scalar_t, S>())) train_many_kernel(LaneBatch<scalar_t> b, S s) {
  __shared__ TanhTable table;
  if constexpr (std::is_same_v<scalar_t, float>) {
    const float* src = reinterpret_cast<const float*>(&kTanhTableDevice);
    float* dst = reinterpret_cast<float*>(&table);
    for (int i = threadIdx.x; i < int(sizeof(TanhTable) / sizeof(float)); i += blockDim.x) dst[i] = src[i];
    __syncthreads();
  }
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n < b.N) lane_train_model<scalar_t>(b, n, table, s);
}

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// (N, rows) -> the interleaved layout of elman_lane.h, (groups, rows, 32), the last group padded
// with zeros (its padding lanes are never run).
at::Tensor to_lanes(const at::Tensor& t, int64_t N, int64_t rows) {
  const int64_t groups = (N + kLaneGroup - 1) / kLaneGroup;
  at::Tensor padded = t.reshape({N, rows});
  if (groups * kLaneGroup != N) {
    padded = at::zeros({groups * kLaneGroup, rows}, t.options());
    padded.narrow(0, 0, N).copy_(t.reshape({N, rows}));
  }
  return padded.reshape({groups, kLaneGroup, rows}).transpose(1, 2).contiguous();
}

// The interleaved layout back to (N, rows) (a view).
at::Tensor from_lanes(const at::Tensor& t, int64_t N, int64_t rows) {
  return t.transpose(1, 2).reshape({-1, rows}).narrow(0, 0, N);
}

// The launch behind train_many and train: x, y contiguous, w1, w2 contiguous and written in place,
// lr_dev (N,) float64 on x's device. -> losses (N, epochs), diverged (N, 2) on the device. The batch
// is moved to the interleaved layout and back by tensor ops on the same stream; nothing here waits
// for the device.
std::tuple<at::Tensor, at::Tensor> launch_train_many(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                     at::Tensor& w2, int64_t epochs, const at::Tensor& lr_dev,
                                                     const ManySizes& m) {
  const ElmanSizes s = m.s;
  const int64_t N = m.N, n1 = (s.F + s.H) * s.H, n2 = s.H * s.O;
  const int64_t groups = (N + kLaneGroup - 1) / kLaneGroup;
  at::Tensor losses = at::full({groups, epochs, kLaneGroup}, std::numeric_limits<double>::quiet_NaN(), x.options());
  at::Tensor diverged = at::full({groups, 2, kLaneGroup}, -1, x.options().dtype(at::kLong));
  at::Tensor w1i = to_lanes(w1, N, n1), w2i = to_lanes(w2, N, n2);
  const at::Tensor xi = m.per_model ? to_lanes(x, N, m.L * s.F) : x;
  const at::Tensor yi = m.per_model ? to_lanes(y, N, m.L * s.O) : y;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = static_cast<int>((N + kManyThreads - 1) / kManyThreads);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_many_cuda", [&] {
    with_sizes<kCudaFixedHidden<scalar_t>>(s.F, s.H, s.O, [&](auto sizes) {
      using S = decltype(sizes);
      at::Tensor scratch;
      if constexpr (!S::kFixed) scratch = at::empty({lane_buffer_size(lane_scratch_rows(s.F, s.H, s.O), N)}, x.options());
      const LaneBatch<scalar_t> batch{xi.const_data_ptr<scalar_t>(), yi.const_data_ptr<scalar_t>(), m.per_model,
                                      w1i.mutable_data_ptr<scalar_t>(), w2i.mutable_data_ptr<scalar_t>(),
                                      lr_dev.const_data_ptr<double>(), losses.mutable_data_ptr<scalar_t>(),
                                      diverged.mutable_data_ptr<int64_t>(),
                                      scratch.defined() ? scratch.mutable_data_ptr<scalar_t>() : nullptr,
                                      N, m.L, epochs};
      train_many_kernel<scalar_t><<<blocks, kManyThreads, 0, stream>>>(batch, sizes);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  w1.copy_(from_lanes(w1i, N, n1).reshape(w1.sizes()));
  w2.copy_(from_lanes(w2i, N, n2).reshape(w2.sizes()));
  return {from_lanes(losses, N, epochs).contiguous(), from_lanes(diverged, N, 2).contiguous()};
}

// The values train_many checks, on the device, with one wait for all of them: the inputs are finite,
// lr_dev (float64, on the device) finite and >= 0. The errors must come before any weight is touched,
// so the launch waits for this one; it is the only wait in the op (lr is not copied to the host and
// back, the checks do not wait one by one).
void check_values_together(const char* op, std::initializer_list<std::pair<const char*, const at::Tensor*>> inputs,
                           const at::Tensor& lr_dev) {
  std::vector<at::Tensor> flags;
  for (const auto& [name, t] : inputs) flags.push_back(at::isfinite(*t).all());
  flags.push_back(at::logical_and(at::isfinite(lr_dev), at::ge(lr_dev, 0)).all());
  const at::Tensor ok = at::stack(flags).cpu();
  const bool* p = ok.const_data_ptr<bool>();
  int i = 0;
  for (const auto& [name, t] : inputs) TORCH_CHECK(p[i++], op, ": ", name, " contains NaN or Inf");
  if (!p[i]) check_lr_values(op, lr_dev.cpu());  // names the first bad lr (an error path: one more wait)
}

std::tuple<at::Tensor, at::Tensor> elman_train_many_cuda(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                         at::Tensor& w2, int64_t epochs, const at::Tensor& lr) {
  const char* op = "sinernn::train_many";
  const ManySizes m = check_train_many_args(op, x, y, w1, w2, epochs, lr, kCUDA, nullptr);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  const at::Tensor xc = contiguous(op, "x", x), yc = contiguous(op, "y", y);
  const at::Tensor lr_dev = lr.to(x.device(), at::kDouble).contiguous();  // nothing to do when it is there already
  ContiguousInOut w1io(op, "w1", w1, false), w2io(op, "w2", w2, false);
  check_values_together(op, {{"x", &xc}, {"y", &yc}, {"w1", &w1io.work}, {"w2", &w2io.work}}, lr_dev);
  auto out = launch_train_many(xc, yc, w1io.work, w2io.work, epochs, lr_dev, m);
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
  const at::Tensor lr_dev = at::full({1}, lr, x.options().dtype(at::kDouble));
  const auto [losses, diverged] = launch_train_many(xc, yc, one1, one2, epochs, lr_dev, ManySizes{s, 1, x.size(0), false});
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
  // the batched cell: elman_cell_cuda.cu
}

}  // namespace sinernn
