// The sinernn operator library: every op's schema, declared once, with its contract. Kernels are
// registered for these schemas per dispatch key in their own files: CPU in cpu/*_cpu.cpp, CUDA in
// cuda/*_cuda.cu (names mirrored), Autograd for cell_forward in aten/cell_autograd.cpp; fake
// kernels and the Python autograd of seq_forward in sinernn/_native/. In-place arguments are
// declared Tensor(a!) and never returned.
#include <torch/library.h>

TORCH_LIBRARY(sinernn, m) {
  // One fused training step: forward, loss, backward, SGD update of w1 and w2 in place.
  // x (F,), y (O,), h (H,) -> new context (H,), prediction (O,), loss ().
  m.def("step(Tensor x, Tensor y, Tensor h, Tensor(a!) w1, Tensor(b!) w2, float lr) "
        "-> (Tensor h_new, Tensor pred, Tensor loss)");
  // The whole training run: `epochs` passes over the series, context reset to zero at each.
  // x (L, F), y (L, O); updates w1, w2 in place; returns per-epoch loss totals (epochs,).
  m.def("train(Tensor x, Tensor y, Tensor(a!) w1, Tensor(b!) w2, int epochs, float lr) -> Tensor");
  // The same run, reporting divergence instead of raising it (what sinernn.train calls): losses
  // (epochs,) NaN from the epoch where the loss or the weights stopped being finite on, w1 and w2
  // then left at the end of the epoch before; diverged (2,) int64: that (epoch, step), or (-1, -1).
  m.def("train_guarded(Tensor x, Tensor y, Tensor(a!) w1, Tensor(b!) w2, int epochs, float lr) "
        "-> (Tensor losses, Tensor diverged)");
  // Teacher-forced prediction from a zero context, no updates.
  // x (L, F) -> predictions (L, O), contexts (L, H).
  m.def("predict(Tensor x, Tensor w1, Tensor w2) -> (Tensor pred, Tensor hidden)");
  // Closed-loop forecast (F == O): teacher-forced warm-up over x from a zero context, then each
  // prediction fed back as the next input. x (L, F) -> forecasts (steps, O); row 0 is the
  // prediction after x's last row.
  m.def("forecast(Tensor x, Tensor w1, Tensor w2, int steps) -> Tensor");
  // The differentiable cell (autograd registered in sinernn/_native/autograd.py): forward over a sequence from
  // a given context h0 (H,): x (L, F) -> predictions (L, O), hidden states (L, H).
  m.def("seq_forward(Tensor x, Tensor h0, Tensor w1, Tensor w2) -> (Tensor pred, Tensor hidden)");
  // Its backward through time: -> gradients for x (L, F), h0 (H,), w1 (F+H, H), w2 (H, O).
  m.def("seq_backward(Tensor grad_pred, Tensor grad_hidden, Tensor x, Tensor h0, Tensor w1, Tensor w2, "
        "Tensor hidden) -> (Tensor grad_x, Tensor grad_h0, Tensor grad_w1, Tensor grad_w2)");
  // The batched differentiable cell (aten/cell.h; autograd kernel: aten/cell_autograd.cpp):
  // a mini-batch of sequences, optional biases. x (L, B, F), h0 (B, H), b1 (H,), b2 (O,) -> predictions (L, B, O),
  // hidden states (L, B, H).
  m.def("cell_forward(Tensor x, Tensor h0, Tensor w1, Tensor w2, Tensor? b1, Tensor? b2) "
        "-> (Tensor pred, Tensor hidden)");
  // Its backward through time: -> gradients for x, h0, w1, w2, b1 (H,), b2 (O,) (a bias's (0,) when
  // bias1 / bias2 is false). A gradient that does not reach pred or hidden may be None (zero).
  m.def("cell_backward(Tensor? grad_pred, Tensor? grad_hidden, Tensor x, Tensor h0, Tensor w1, Tensor w2, "
        "Tensor hidden, bool bias1, bool bias2) -> (Tensor grad_x, Tensor grad_h0, Tensor grad_w1, "
        "Tensor grad_w2, Tensor grad_b1, Tensor grad_b2)");
  // Many independent models in one call, each trained exactly as `train` would train it alone.
  // x (L, F) shared or (N, L, F) one series per model, y likewise (L, O) or (N, L, O); w1 (N, F+H, H),
  // w2 (N, H, O) updated in place; lr (N,) one per model. -> per-model per-epoch loss totals
  // (N, epochs), NaN from the epoch where a model diverged on; diverged (N, 2) int64: (epoch, step)
  // where model n's loss or weights stopped being finite, its weights left at the end of the epoch
  // before, or (-1, -1).
  m.def("train_many(Tensor x, Tensor y, Tensor(a!) w1, Tensor(b!) w2, int epochs, Tensor lr) "
        "-> (Tensor losses, Tensor diverged)");
  // Teacher-forced prediction of many models: x (L, F) or (N, L, F) -> (N, L, O), contexts (N, L, H).
  m.def("predict_many(Tensor x, Tensor w1, Tensor w2) -> (Tensor pred, Tensor hidden)");
}

