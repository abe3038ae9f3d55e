// CPU kernels of the batched differentiable cell (ops cell_forward / cell_backward; checks and
// the library path: aten/cell.h). Small H: the batch-last loops (core/cell_loops.h); larger H with
// AVX-512: the blocked steps (cpu/cell_blocked.h); both over fixed chunks of rows spread over
// torch's threads. Otherwise the library path, with this file's element-wise loops.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>

#include "../aten/cell.h"
#include "../core/cell_loops.h"
#include "../core/tanh.h"
#include "cell_blocked.h"
#include "gemm.h"

namespace sinernn {
namespace {

// The batch-last loops up to this H; above, the blocked steps (AVX-512) or the library path.
constexpr int64_t kCellLoopMaxHidden = 12;

// Which code runs: the batch-last loops (small H), the blocked steps (larger H, AVX-512), else the
// library path.
bool cell_small(int64_t H) { return H <= kCellLoopMaxHidden; }
bool cell_blocked(int64_t H) { return H > kCellLoopMaxHidden && cell_gemm_available(); }

// The batch runs in chunks of this many rows (sequences are independent until the weight
// gradients, which each chunk sums on its own), spread over torch's threads. A fixed size, not one
// per thread: the results do not depend on the number of threads.
constexpr int64_t kCellChunkRows = 64;
int64_t cell_chunks(int64_t B) { return (B + kCellChunkRows - 1) / kCellChunkRows; }

// The library path's element-wise parts on the CPU: the project's tanh over the step's B*H values,
// and the slope in one pass, after the library's product.
CellElementwise cpu_elementwise() {
  return {[](at::Tensor& z) {
            AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "sinernn_cell_tanh", [&] {
              scalar_t* p = z.mutable_data_ptr<scalar_t>();
              elman_tanh_n(p, p, z.numel());
            });
          },
          [](at::Tensor& d, const at::Tensor& carry, const at::Tensor& h) {
            AT_DISPATCH_FLOATING_TYPES(d.scalar_type(), "sinernn_cell_slope", [&] {
              scalar_t* dp = d.mutable_data_ptr<scalar_t>();
              const scalar_t* cp = carry.const_data_ptr<scalar_t>();
              const scalar_t* hp = h.const_data_ptr<scalar_t>();
              const int64_t n = d.numel();
              SINERNN_SIMD for (int64_t q = 0; q < n; ++q) dp[q] = (dp[q] + cp[q]) * (1 - hp[q] * hp[q]);
            });
          }};
}

std::tuple<at::Tensor, at::Tensor> cell_forward_cpu(const at::Tensor& x_in, const at::Tensor& h0_in,
                                                    const at::Tensor& w1_in, const at::Tensor& w2_in,
                                                    const c10::optional<at::Tensor>& b1,
                                                    const c10::optional<at::Tensor>& b2) {
  const char* op = "sinernn::cell_forward";
  const CellSizes s = check_cell_args(op, x_in, h0_in, w1_in, w2_in, b1, b2);
  const at::Tensor x = contiguous(op, "x", x_in), h0 = contiguous(op, "h0", h0_in), w1 = contiguous(op, "w1", w1_in),
                   w2 = contiguous(op, "w2", w2_in);
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  if (!cell_small(H) && !cell_blocked(H)) return cell_forward_library(x, h0, w1, w2, b1, b2, s, cpu_elementwise());
  const bool small = cell_small(H);
  at::Tensor hidden = at::empty({L, B, H}, x.options()), pred = at::empty({L, B, O}, x.options());
  const at::Tensor w2T = small ? at::Tensor() : w2.t().contiguous();
  const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor(), b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_forward_cpu", [&] {
    auto ptr = [](const at::Tensor& t) { return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr; };
    const scalar_t *xp = ptr(x), *h0p = ptr(h0), *w1p = ptr(w1), *w2p = ptr(w2), *w2Tp = ptr(w2T), *b1p = ptr(b1c),
                   *b2p = ptr(b2c);
    scalar_t *hp = hidden.mutable_data_ptr<scalar_t>(), *pp = pred.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, cell_chunks(B), 1, [&](int64_t c0, int64_t c1) {
      // scratch from torch's allocator: 64-byte aligned, as the vector loops want (a std::vector's
      // 16-byte alignment slows them: docs/performance.md, "Figures behind the code")
      at::Tensor work = at::empty({small ? cell_forward_small_work(std::min(kCellChunkRows, B), F, H, O) : 0}, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = c * kCellChunkRows, rows = std::min(kCellChunkRows, B - r0);
        if (small)
          cell_forward_small<scalar_t>(xp + r0 * F, h0p + r0 * H, w1p, w2p, b1p, b2p, hp + r0 * H, pp + r0 * O,
                                       work.mutable_data_ptr<scalar_t>(), L, rows, B, F, H, O);
        else
          cell_forward_blocked<scalar_t>(xp + r0 * F, h0p + r0 * H, w1p, w2Tp, b1p, b2p, hp + r0 * H, pp + r0 * O,
                                         L, rows, B, F, H, O);
      }
    });
  });
  return {pred, hidden};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_cpu(
    const c10::optional<at::Tensor>& g_pred_in, const c10::optional<at::Tensor>& g_hidden_in, const at::Tensor& x_in,
    const at::Tensor& h0_in, const at::Tensor& w1_in, const at::Tensor& w2_in, const at::Tensor& hidden_in, bool bias1,
    bool bias2) {
  const char* op = "sinernn::cell_backward";
  const CellSizes s = check_cell_backward_args(g_pred_in, g_hidden_in, x_in, h0_in, w1_in, w2_in, hidden_in);
  const at::Tensor g_pred = g_pred_in.has_value() ? contiguous(op, "grad_pred", *g_pred_in) : at::Tensor();
  const at::Tensor g_hidden = g_hidden_in.has_value() ? contiguous(op, "grad_hidden", *g_hidden_in) : at::Tensor();
  const at::Tensor x = contiguous(op, "x", x_in), h0 = contiguous(op, "h0", h0_in), w1 = contiguous(op, "w1", w1_in),
                   w2 = contiguous(op, "w2", w2_in);
  const at::Tensor hidden = contiguous(op, "hidden", hidden_in);
  const int64_t L = s.L, B = s.B, F = s.F, H = s.H, O = s.O;
  if (!cell_small(H) && !cell_blocked(H))
    return cell_backward_library(g_pred, g_hidden, x, h0, w1, w2, hidden, bias1, bias2, s, cpu_elementwise());
  // Each chunk of rows sums its own weight gradients (g_w1, g_w2 (blocked: transposed), g_b1,
  // g_b2): into the outputs when there is one chunk, else into a row of `parts` each, then summed
  // over the chunks in order.
  const bool small = cell_small(H);
  const int64_t chunks = cell_chunks(B), n1 = (F + H) * H, n2 = H * O, n = n1 + n2 + H + O;
  at::Tensor g_x = at::empty({L, B, F}, x.options()), g_h0 = at::empty({B, H}, x.options());
  at::Tensor g_w1 = at::zeros({F + H, H}, x.options());
  at::Tensor g_w2 = small ? at::zeros({H, O}, x.options()) : at::zeros({O, H}, x.options());
  at::Tensor g_b1 = at::zeros({bias1 ? H : 0}, x.options()), g_b2 = at::zeros({bias2 ? O : 0}, x.options());
  at::Tensor parts = chunks > 1 ? at::zeros({chunks, n}, x.options()) : at::Tensor();
  const at::Tensor w2T = small ? at::Tensor() : w2.t().contiguous();
  const at::Tensor whT = small ? at::Tensor() : w1.narrow(0, F, H).t().contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_backward_cpu", [&] {
    auto ptr = [](const at::Tensor& t) { return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr; };
    const scalar_t *gpp = ptr(g_pred), *ghp = ptr(g_hidden), *xp = ptr(x), *h0p = ptr(h0), *w1p = ptr(w1),
                   *w2p = ptr(w2), *w2Tp = ptr(w2T), *whTp = ptr(whT), *hp = ptr(hidden);
    scalar_t *gxp = g_x.mutable_data_ptr<scalar_t>(), *gh0p = g_h0.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      const int64_t most = std::min(kCellChunkRows, B);
      at::Tensor work = at::empty({small ? cell_backward_small_work(most, F, H, O) : most * H}, x.options());
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t r0 = c * kCellChunkRows, rows = std::min(kCellChunkRows, B - r0);
        scalar_t* part = chunks > 1 ? parts.mutable_data_ptr<scalar_t>() + c * n : nullptr;
        scalar_t* gw1 = part ? part : g_w1.mutable_data_ptr<scalar_t>();
        scalar_t* gw2 = part ? part + n1 : g_w2.mutable_data_ptr<scalar_t>();
        scalar_t* gb1 = !bias1 ? nullptr : part ? part + n1 + n2 : g_b1.mutable_data_ptr<scalar_t>();
        scalar_t* gb2 = !bias2 ? nullptr : part ? part + n1 + n2 + H : g_b2.mutable_data_ptr<scalar_t>();
        const scalar_t* gp = gpp ? gpp + r0 * O : nullptr;
        const scalar_t* gh = ghp ? ghp + r0 * H : nullptr;
        if (small)
          cell_backward_small<scalar_t>(gp, gh, xp + r0 * F, h0p + r0 * H, w1p, w2p, hp + r0 * H, gxp + r0 * F,
                                        gh0p + r0 * H, gw1, gw2, gb1, gb2, work.mutable_data_ptr<scalar_t>(), L,
                                        rows, B, F, H, O);
        else
          cell_backward_blocked<scalar_t>(gp, gh, xp + r0 * F, h0p + r0 * H, w1p, w2Tp, whTp, hp + r0 * H,
                                          gxp + r0 * F, gh0p + r0 * H, gw1, gw2, gb1, gb2,
                                          work.mutable_data_ptr<scalar_t>(), L, rows, B, F, H, O);
      }
    });
  });
  if (chunks > 1) {
    const at::Tensor total = parts.sum(0);
    g_w1.copy_(total.narrow(0, 0, n1).view({F + H, H}));
    g_w2.copy_(total.narrow(0, n1, n2).view(g_w2.sizes()));
    if (bias1) g_b1.copy_(total.narrow(0, n1 + n2, H));
    if (bias2) g_b2.copy_(total.narrow(0, n1 + n2 + H, O));
  }
  return {g_x, g_h0, g_w1, small ? g_w2 : g_w2.t().contiguous(), g_b1, g_b2};
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CPU, m) {
  m.impl("cell_forward", &cell_forward_cpu);
  m.impl("cell_backward", &cell_backward_cpu);
}

}  // namespace sinernn
