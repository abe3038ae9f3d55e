// The batched launches of cuda/many_cuda.cu, shared with the single-model ops of
// cuda/train_cuda.cu (N = 1). Inputs already checked (aten/checks.h) and contiguous; nothing here
// waits for the device.
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

#include "../aten/checks.h"

namespace sinernn {

// train_many's run: x, y contiguous, w1, w2 contiguous and written in place, lr_dev (N,) float64
// on x's device. -> losses (N, epochs), diverged (N, 2) on the device.
std::tuple<at::Tensor, at::Tensor> launch_train_many(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                     at::Tensor& w2, int64_t epochs, const at::Tensor& lr_dev,
                                                     const ManySizes& m);

// Teacher-forced prediction of N models from a zero context, one model per thread: x (L, F) or
// (N, L, F), w1, w2 contiguous and finite. -> pred (N, L, O), hidden (N, L, H).
std::tuple<at::Tensor, at::Tensor> launch_predict(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                                                  const ManySizes& m);

}  // namespace sinernn
