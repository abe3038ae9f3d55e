// CUDA kernels of the single-model ops (step, train, train_guarded, predict, forecast), on the same
// step math as the CPU (core/: __host__ __device__ under nvcc) and the same entry checks
// (aten/checks.h). They are the batched code on one thread (train is train_many with N = 1,
// predict is predict_many with N = 1: cuda/many_cuda.h), and step and forecast one thread each:
// they exist so that CUDA tensors work everywhere, not for speed: one tiny model is a
// latency-bound chain (docs/many-models.md). The batched cell: cuda/cell_cuda.cu.
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

#include "../aten/checks.h"
#include "../aten/tensors.h"
#include "../core/config.h"
#include "../core/epoch.h"
#include "../core/step.h"
#include "many_cuda.h"

namespace sinernn {
namespace {

constexpr auto kCUDA = c10::DeviceType::CUDA;

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
}

}  // namespace sinernn
