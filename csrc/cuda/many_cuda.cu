// CUDA kernels of the batched ops train_many and predict_many, on the same step math as the CPU
// (core/: __host__ __device__ under nvcc) and the same entry checks (aten/checks.h).
//
// train_many: one model per thread, the whole run in one launch, on a copy of the batch stored
// interleaved in groups of 32 models (a warp's 32 models touch 128 consecutive bytes), transposed on
// entry and exit by the launch. Its body is thread_train_model (core/thread_model.h), which
// tests/native/thread_model_check.cpp runs on the CPU against the single-model op bit for bit. For
// the tutorial's sizes (F = O = 1, H <= 8: compile-time sizes) a thread keeps its working weights,
// contexts and gradient in registers, and the weights at each epoch's start in the interleaved
// output buffer; for other sizes it works in interleaved global buffers. The float32 tanh reads a
// shared-memory copy of its table: a warp's 32 different slots are one access (each coefficient
// row is 32 floats, one per bank), where constant memory serves one address at a time.
//
// The launches are also those of the single-model ops (cuda/train_cuda.cu, N = 1): many_cuda.h.
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
#include <ATen/ops/ge.h>
#include <ATen/ops/isfinite.h>
#include <ATen/ops/logical_and.h>
#include <ATen/ops/stack.h>

#include <limits>
#include <utility>
#include <vector>

#include "../aten/checks.h"
#include "../aten/tensors.h"
#include "../core/config.h"
#include "../core/sequence.h"
#include "../core/tanh.h"
#include "../core/thread_model.h"
#include "many_cuda.h"

namespace sinernn {
namespace {

// Threads per block of the batched kernel: one warp (one group of the interleaved layout), so even
// N = 4096 spreads over 128 SMs, and tens of thousands of models fill every SM of the card.
constexpr int kManyThreads = 32;
// Threads per block of predict_kernel.
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
__global__ void __launch_bounds__(kManyThreads, (many_min_blocks<scalar_t, S>())) train_many_kernel(ThreadBatch<scalar_t> b, S s) {
  __shared__ TanhTable table;
  if constexpr (std::is_same_v<scalar_t, float>) {
    const float* src = reinterpret_cast<const float*>(&kTanhTableDevice);
    float* dst = reinterpret_cast<float*>(&table);
    for (int i = threadIdx.x; i < int(sizeof(TanhTable) / sizeof(float)); i += blockDim.x) dst[i] = src[i];
    __syncthreads();
  }
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n < b.N) thread_train_model<scalar_t>(b, n, table, s);
}

int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// (N, rows) -> the interleaved layout of core/thread_model.h, (groups, rows, 32), the last group
// padded with zeros (its padding threads are never run).
at::Tensor to_groups(const at::Tensor& t, int64_t N, int64_t rows) {
  const int64_t groups = (N + kGroup - 1) / kGroup;
  at::Tensor padded = t.reshape({N, rows});
  if (groups * kGroup != N) {
    padded = at::zeros({groups * kGroup, rows}, t.options());
    padded.narrow(0, 0, N).copy_(t.reshape({N, rows}));
  }
  return padded.reshape({groups, kGroup, rows}).transpose(1, 2).contiguous();
}

// The interleaved layout back to (N, rows) (a view).
at::Tensor from_groups(const at::Tensor& t, int64_t N, int64_t rows) {
  return t.transpose(1, 2).reshape({-1, rows}).narrow(0, 0, N);
}

}  // namespace

// The launch behind train_many and train: x, y contiguous, w1, w2 contiguous and written in place,
// lr_dev (N,) float64 on x's device. -> losses (N, epochs), diverged (N, 2) on the device. The batch
// is moved to the interleaved layout and back by tensor ops on the same stream; nothing here waits
// for the device.
std::tuple<at::Tensor, at::Tensor> launch_train_many(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                     at::Tensor& w2, int64_t epochs, const at::Tensor& lr_dev,
                                                     const ManySizes& m) {
  const ElmanSizes s = m.s;
  const int64_t N = m.N, n1 = (s.F + s.H) * s.H, n2 = s.H * s.O;
  const int64_t groups = (N + kGroup - 1) / kGroup;
  at::Tensor losses = at::full({groups, epochs, kGroup}, std::numeric_limits<double>::quiet_NaN(), x.options());
  at::Tensor diverged = at::full({groups, 2, kGroup}, -1, x.options().dtype(at::kLong));
  at::Tensor w1i = to_groups(w1, N, n1), w2i = to_groups(w2, N, n2);
  const at::Tensor xi = m.per_model ? to_groups(x, N, m.L * s.F) : x;
  const at::Tensor yi = m.per_model ? to_groups(y, N, m.L * s.O) : y;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = static_cast<int>((N + kManyThreads - 1) / kManyThreads);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_many_cuda", [&] {
    with_sizes<kCudaFixedHidden<scalar_t>>(s.F, s.H, s.O, [&](auto sizes) {
      using S = decltype(sizes);
      at::Tensor scratch;
      if constexpr (!S::kFixed) scratch = at::empty({group_buffer_size(thread_scratch_rows(s.F, s.H, s.O), N)}, x.options());
      const ThreadBatch<scalar_t> batch{xi.const_data_ptr<scalar_t>(), yi.const_data_ptr<scalar_t>(), m.per_model,
                                      w1i.mutable_data_ptr<scalar_t>(), w2i.mutable_data_ptr<scalar_t>(),
                                      lr_dev.const_data_ptr<double>(), losses.mutable_data_ptr<scalar_t>(),
                                      diverged.mutable_data_ptr<int64_t>(),
                                      scratch.defined() ? scratch.mutable_data_ptr<scalar_t>() : nullptr,
                                      N, m.L, epochs};
      train_many_kernel<scalar_t><<<blocks, kManyThreads, 0, stream>>>(batch, sizes);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  w1.copy_(from_groups(w1i, N, n1).reshape(w1.sizes()));
  w2.copy_(from_groups(w2i, N, n2).reshape(w2.sizes()));
  return {from_groups(losses, N, epochs).contiguous(), from_groups(diverged, N, 2).contiguous()};
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

namespace {

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

std::tuple<at::Tensor, at::Tensor> elman_predict_many_cuda(const at::Tensor& x, const at::Tensor& w1,
                                                           const at::Tensor& w2) {
  const char* op = "sinernn::predict_many";
  const ManySizes m = check_many_args(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, kCUDA);
  const c10::cuda::CUDAGuard guard(x.device());  // after the checks: x is on a CUDA device
  return launch_predict(finite_input(op, "x", x), finite_input(op, "w1", w1), finite_input(op, "w2", w2), m);
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CUDA, m) {
  m.impl("train_many", &elman_train_many_cuda);
  m.impl("predict_many", &elman_predict_many_cuda);
}

}  // namespace sinernn
