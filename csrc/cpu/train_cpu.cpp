// CPU kernels of the single-model ops (step, train, train_guarded, predict, forecast, seq_forward,
// seq_backward; schemas in aten/schema.cpp). Each entry point checks its arguments (aten/checks.h:
// shapes, dtypes, devices, lr; weights written in place must not overlap themselves or the inputs;
// every tensor must be finite), makes contiguous copies where needed, then hands raw pointers to the
// step math in core/. In-place weights that are not contiguous are trained as contiguous copies and
// copied back once at the end.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "../aten/checks.h"
#include "../aten/tensors.h"
#include "../core/config.h"
#include "../core/epoch.h"
#include "../core/sequence.h"
#include "../core/step.h"

namespace sinernn {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> elman_step_cpu(const at::Tensor& x, const at::Tensor& y,
                                                              const at::Tensor& h, at::Tensor& w1,
                                                              at::Tensor& w2, double lr) {
  const char* op = "sinernn::step";
  const ElmanSizes s = check_step_args(op, x, y, h, w1, w2, lr, c10::DeviceType::CPU);

  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y), hc = finite_input(op, "h", h);
  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  at::Tensor h_new = at::empty({s.H}, x.options());
  at::Tensor pred = at::empty({s.O}, x.options());
  at::Tensor loss = at::empty({}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_step_cpu", [&] {
    std::vector<scalar_t> dz(s.H);
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      *loss.mutable_data_ptr<scalar_t>() = elman_train_step<scalar_t>(
          xc.const_data_ptr<scalar_t>(), yc.const_data_ptr<scalar_t>(), hc.const_data_ptr<scalar_t>(),
          h_new.mutable_data_ptr<scalar_t>(), pred.mutable_data_ptr<scalar_t>(), dz.data(),
          w1io.work.mutable_data_ptr<scalar_t>(), w2io.work.mutable_data_ptr<scalar_t>(), static_cast<scalar_t>(lr),
          sizes);
    });
  });
  w1io.write_back();
  w2io.write_back();
  return {h_new, pred, loss};
}

// The whole run of train and train_guarded: -> losses (epochs,) and where it diverged (-1, -1: it didn't).
// After a divergence at epoch e, losses[e] holds what the epoch summed and the later entries are unset.
std::tuple<at::Tensor, int64_t, int64_t> train_cpu(const char* op, const at::Tensor& x, const at::Tensor& y,
                                                   at::Tensor& w1, at::Tensor& w2, int64_t epochs, double lr) {
  const ElmanSizes s = check_train_args(op, x, y, w1, w2, epochs, lr, c10::DeviceType::CPU);
  const int64_t L = x.size(0);
  const at::Tensor xc = finite_input(op, "x", x), yc = finite_input(op, "y", y);

  ContiguousInOut w1io(op, "w1", w1), w2io(op, "w2", w2);
  at::Tensor losses;
  try {
    losses = at::empty({epochs}, x.options());
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, op, ": cannot allocate the per-epoch losses for epochs=", epochs, ": ",
                e.what_without_backtrace());
  }
  int64_t diverged_epoch = -1, diverged_step = -1;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_cpu", [&] {
    std::vector<scalar_t> workspace(elman_epoch_workspace(s.H, s.O));
    scalar_t* out = losses.mutable_data_ptr<scalar_t>();
    const scalar_t* xp = xc.const_data_ptr<scalar_t>();
    const scalar_t* yp = yc.const_data_ptr<scalar_t>();
    scalar_t* w1p = w1io.work.mutable_data_ptr<scalar_t>();
    scalar_t* w2p = w2io.work.mutable_data_ptr<scalar_t>();
    std::vector<scalar_t> snapshot(w1io.work.numel() + w2io.work.numel());
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      elman_train_epochs<scalar_t>(xp, yp, w1p, w2p, static_cast<scalar_t>(lr), epochs, L, snapshot.data(),
                                   workspace.data(), out, &diverged_epoch, &diverged_step, sizes);
    });
  });
  w1io.write_back();
  w2io.write_back();
  return {losses, diverged_epoch, diverged_step};
}

at::Tensor elman_train_cpu(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1, at::Tensor& w2,
                           int64_t epochs, double lr) {
  const char* op = "sinernn::train";
  auto [losses, epoch, step] = train_cpu(op, x, y, w1, w2, epochs, lr);
  check_not_diverged(op, epoch, step, lr);
  return losses;
}

std::tuple<at::Tensor, at::Tensor> elman_train_guarded_cpu(const at::Tensor& x, const at::Tensor& y, at::Tensor& w1,
                                                           at::Tensor& w2, int64_t epochs, double lr) {
  auto [losses, epoch, step] = train_cpu("sinernn::train_guarded", x, y, w1, w2, epochs, lr);
  at::Tensor diverged = at::empty({2}, x.options().dtype(at::kLong));
  diverged.mutable_data_ptr<int64_t>()[0] = epoch;
  diverged.mutable_data_ptr<int64_t>()[1] = step;
  if (epoch >= 0)  // NaN from the diverged epoch on, as train_many's
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_train_guarded_cpu", [&] {
      std::fill(losses.mutable_data_ptr<scalar_t>() + epoch, losses.mutable_data_ptr<scalar_t>() + epochs,
                std::numeric_limits<scalar_t>::quiet_NaN());
    });
  return {losses, diverged};
}

std::tuple<at::Tensor, at::Tensor> elman_predict_cpu(const at::Tensor& x, const at::Tensor& w1,
                                                     const at::Tensor& w2) {
  const char* op = "sinernn::predict";
  const ElmanSizes s = check_series_and_model(op, x, w1, w2, {{"x", &x}, {"w1", &w1}, {"w2", &w2}}, c10::DeviceType::CPU);
  const int64_t L = x.size(0);
  const at::Tensor xc = finite_input(op, "x", x), w1c = finite_input(op, "w1", w1),
                   w2c = finite_input(op, "w2", w2);

  at::Tensor pred = at::empty({L, s.O}, x.options());
  at::Tensor hidden = at::empty({L, s.H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_predict_cpu", [&] {
    const std::vector<scalar_t> h0(s.H, scalar_t(0));  // teacher forcing from a zero context
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      elman_seq_forward<scalar_t>(xc.const_data_ptr<scalar_t>(), h0.data(), w1c.const_data_ptr<scalar_t>(),
                                  w2c.const_data_ptr<scalar_t>(), pred.mutable_data_ptr<scalar_t>(),
                                  hidden.mutable_data_ptr<scalar_t>(), L, sizes);
    });
  });
  return {pred, hidden};
}

at::Tensor elman_forecast_cpu(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2, int64_t steps) {
  const char* op = "sinernn::forecast";
  const ElmanSizes s = check_forecast_args(op, x, w1, w2, steps, c10::DeviceType::CPU);
  const int64_t L = x.size(0);
  const at::Tensor xc = finite_input(op, "x", x), w1c = finite_input(op, "w1", w1),
                   w2c = finite_input(op, "w2", w2);
  at::Tensor out;
  try {
    out = at::empty({steps, s.O}, x.options());
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, op, ": cannot allocate the forecast for steps=", steps, ": ", e.what_without_backtrace());
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_forecast_cpu", [&] {
    std::vector<scalar_t> work(2 * s.H + s.O);
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      elman_forecast<scalar_t>(xc.const_data_ptr<scalar_t>(), w1c.const_data_ptr<scalar_t>(),
                               w2c.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), L, steps, work.data(),
                               sizes);
    });
  });
  return out;
}

// Shapes of the differentiable cell: x (L, F), h0 (H,), w1 (F+H, H), w2 (H, O), L >= 1.
ElmanSizes check_cell(const char* op, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w1,
                      const at::Tensor& w2) {
  check_dim(op, "h0", h0, 1, "(H,)");
  const ElmanSizes s = check_series_and_model(op, x, w1, w2, {{"x", &x}, {"h0", &h0}, {"w1", &w1}, {"w2", &w2}}, c10::DeviceType::CPU);
  TORCH_CHECK(h0.size(0) == s.H, op, ": h0 must have shape (H,) = (", s.H, ",) to match w1, got ", h0.sizes());
  return s;
}

std::tuple<at::Tensor, at::Tensor> elman_seq_forward_cpu(const at::Tensor& x, const at::Tensor& h0,
                                                         const at::Tensor& w1, const at::Tensor& w2) {
  const char* op = "sinernn::seq_forward";
  const ElmanSizes s = check_cell(op, x, h0, w1, w2);
  const int64_t L = x.size(0);
  // w1 first: the largest, so an impossible size fails before the smaller copies are made
  const at::Tensor w1c = finite_input(op, "w1", w1), w2c = finite_input(op, "w2", w2),
                   xc = finite_input(op, "x", x), hc = finite_input(op, "h0", h0);
  at::Tensor pred = at::empty({L, s.O}, x.options()), hidden = at::empty({L, s.H}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_seq_forward_cpu", [&] {
    with_sizes(s.F, s.H, s.O, [&](auto sizes) {
      elman_seq_forward<scalar_t>(xc.const_data_ptr<scalar_t>(), hc.const_data_ptr<scalar_t>(),
                                  w1c.const_data_ptr<scalar_t>(), w2c.const_data_ptr<scalar_t>(),
                                  pred.mutable_data_ptr<scalar_t>(), hidden.mutable_data_ptr<scalar_t>(), L, sizes);
    });
  });
  return {pred, hidden};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> elman_seq_backward_cpu(
    const at::Tensor& grad_pred, const at::Tensor& grad_hidden, const at::Tensor& x, const at::Tensor& h0,
    const at::Tensor& w1, const at::Tensor& w2, const at::Tensor& hidden) {
  const char* op = "sinernn::seq_backward";
  const ElmanSizes s = check_cell(op, x, h0, w1, w2);
  const int64_t L = x.size(0);
  check_same_dtype_device(op, {{"x", &x}, {"grad_pred", &grad_pred}, {"grad_hidden", &grad_hidden}, {"hidden", &hidden}});
  TORCH_CHECK(grad_pred.dim() == 2 && grad_pred.size(0) == L && grad_pred.size(1) == s.O, op,
              ": grad_pred must have shape (L, O) = (", L, ", ", s.O, "), got ", grad_pred.sizes());
  TORCH_CHECK(grad_hidden.dim() == 2 && grad_hidden.size(0) == L && grad_hidden.size(1) == s.H, op,
              ": grad_hidden must have shape (L, H) = (", L, ", ", s.H, "), got ", grad_hidden.sizes());
  TORCH_CHECK(hidden.dim() == 2 && hidden.size(0) == L && hidden.size(1) == s.H, op,
              ": hidden must have shape (L, H) = (", L, ", ", s.H, "), got ", hidden.sizes());
  const at::Tensor gp = contiguous(op, "grad_pred", grad_pred), gh = contiguous(op, "grad_hidden", grad_hidden),
                   xc = contiguous(op, "x", x), hc = contiguous(op, "h0", h0), w1c = contiguous(op, "w1", w1),
                   w2c = contiguous(op, "w2", w2), hid = contiguous(op, "hidden", hidden);
  at::Tensor g_x = at::empty({L, s.F}, x.options()), g_h0 = at::empty({s.H}, x.options());
  at::Tensor g_w1 = at::zeros({s.F + s.H, s.H}, x.options()), g_w2 = at::zeros({s.H, s.O}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_seq_backward_cpu", [&] {
    std::vector<scalar_t> work(3 * s.H + s.F);
    elman_seq_backward<scalar_t>(xc.const_data_ptr<scalar_t>(), hc.const_data_ptr<scalar_t>(),
                                 w1c.const_data_ptr<scalar_t>(), w2c.const_data_ptr<scalar_t>(),
                                 hid.const_data_ptr<scalar_t>(), gp.const_data_ptr<scalar_t>(),
                                 gh.const_data_ptr<scalar_t>(), g_x.mutable_data_ptr<scalar_t>(),
                                 g_h0.mutable_data_ptr<scalar_t>(), g_w1.mutable_data_ptr<scalar_t>(),
                                 g_w2.mutable_data_ptr<scalar_t>(), work.data(), L, DynamicSizes{s.F, s.H, s.O});
  });
  return {g_x, g_h0, g_w1, g_w2};
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CPU, m) {
  m.impl("step", &elman_step_cpu);
  m.impl("train", &elman_train_cpu);
  m.impl("train_guarded", &elman_train_guarded_cpu);
  m.impl("predict", &elman_predict_cpu);
  m.impl("forecast", &elman_forecast_cpu);
  m.impl("seq_forward", &elman_seq_forward_cpu);
  m.impl("seq_backward", &elman_seq_backward_cpu);
}

}  // namespace sinernn
