// CUDA kernels of the batched cell (ops cell_forward / cell_backward; the math in elman_cell.h).
//
// Up to kCellCudaMaxHidden hidden units: the whole sequence in one launch each way. A block owns R
// rows of the batch (R * H <= kCellCudaThreads threads: thread (j, r) is hidden unit j of row r),
// keeps the weights in shared memory and steps through time with the rows' states in shared memory,
// a few __syncthreads a step. Each value is the CPU loops' chain of multiply-adds in the same order
// (fmadd, elman_math.h) with the same tanh (float32: the table, elman_tanh_table, from a
// shared-memory copy). The weight gradients are summed per block in shared memory, each entry by one
// thread, then over the blocks by a tensor sum: deterministic, no atomics.
//
// Larger H, or weights too large for shared memory: a library product (cuBLAS) a step and ATen's
// element-wise ops (cell_forward_impl / cell_backward_impl in elman_cell.h).
//
// Every launch goes to the current stream under a device guard and is checked.
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../elman_cell.h"
#include "../elman_lane.h"
#include "../elman_math.h"

namespace sinernn {
namespace {

constexpr int64_t kCellCudaMaxHidden = 32;
constexpr int kCellCudaThreads = 256;
constexpr size_t kCellCudaSharedBytes = 48 * 1024;  // the default limit of dynamic shared memory

// Rows a block owns: as many as fit kCellCudaThreads threads, at most 32.
int64_t cell_rows(int64_t H) { return std::min<int64_t>(32, std::max<int64_t>(1, kCellCudaThreads / H)); }

template <typename scalar_t>
__device__ void load_tanh_table(TanhTable& table) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    const float* src = reinterpret_cast<const float*>(&kTanhTableDevice);
    float* dst = reinterpret_cast<float*>(&table);
    const int tid = threadIdx.y * blockDim.x + threadIdx.x, n = blockDim.x * blockDim.y;
    for (int i = tid; i < int(sizeof(TanhTable) / sizeof(float)); i += n) dst[i] = src[i];
  }
}

// Shared values of the forward kernel: w1 (F+H, H), w2 (H, O), two (R, H) hidden buffers.
int64_t forward_shared(int64_t R, int64_t F, int64_t H, int64_t O) { return (F + H) * H + H * O + 2 * R * H; }

template <typename scalar_t>
__global__ void __launch_bounds__(kCellCudaThreads) cell_forward_kernel(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ h0, const scalar_t* __restrict__ w1,
    const scalar_t* __restrict__ w2, const scalar_t* __restrict__ b1, const scalar_t* __restrict__ b2,
    scalar_t* __restrict__ hidden, scalar_t* __restrict__ pred, int64_t L, int64_t B, int64_t F, int64_t H, int64_t O) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  __shared__ TanhTable table;
  scalar_t* w1s = reinterpret_cast<scalar_t*>(shared_raw);
  scalar_t* w2s = w1s + (F + H) * H;
  scalar_t* hs = w2s + H * O;  // [2][R][H]
  const int64_t j = threadIdx.x, r = threadIdx.y, R = blockDim.y, tid = r * H + j, nt = R * H;
  const int64_t b = blockIdx.x * R + r;
  const bool live = b < B;
  for (int64_t q = tid; q < (F + H) * H; q += nt) w1s[q] = w1[q];
  for (int64_t q = tid; q < H * O; q += nt) w2s[q] = w2[q];
  load_tanh_table<scalar_t>(table);
  hs[r * H + j] = live ? h0[b * H + j] : scalar_t(0);
  __syncthreads();
  // One barrier a step: step t reads buffer t & 1 and writes the other; the buffer step t + 1 writes
  // was last read before step t's barrier (z) and step t's outputs after it read only step t's.
  for (int64_t t = 0; t < L; ++t) {
    const scalar_t* hp = hs + (t & 1) * R * H + r * H;
    scalar_t* hc = hs + ((t + 1) & 1) * R * H + r * H;
    if (live) {
      const scalar_t* xt = x + (t * B + b) * F;
      scalar_t z = b1 ? b1[j] : scalar_t(0);
      for (int64_t f = 0; f < F; ++f) z = fmadd(xt[f], w1s[f * H + j], z);
      for (int64_t i = 0; i < H; ++i) z = fmadd(hp[i], w1s[(F + i) * H + j], z);
      const scalar_t h = lane_tanh(z, table);
      hc[j] = h;
      hidden[(t * B + b) * H + j] = h;
    }
    __syncthreads();
    if (live)
      for (int64_t k = j; k < O; k += H) {
        scalar_t p = b2 ? b2[k] : scalar_t(0);
        for (int64_t i = 0; i < H; ++i) p = fmadd(hc[i], w2s[i * O + k], p);
        pred[(t * B + b) * O + k] = p;
      }
  }
}

// Shared values of the backward kernel: w1, w2, the block's gradient sums of w1, w2, b1, b2, and per
// row: h[t], h[t-1], dz, carry (H each), x[t] (F), g_pred[t] (O).
int64_t backward_shared(int64_t R, int64_t F, int64_t H, int64_t O) {
  return 2 * ((F + H) * H + H * O) + H + O + R * (4 * H + F + O);
}

// -> g_x, g_h0 (written); per block: part_w1 (blocks, F+H, H), part_w2 (blocks, H, O), part_b1
// (blocks, H), part_b2 (blocks, O), summed by the caller.
template <typename scalar_t>
__global__ void __launch_bounds__(kCellCudaThreads, 1) cell_backward_kernel(
    const scalar_t* __restrict__ g_pred, const scalar_t* __restrict__ g_hidden, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ h0, const scalar_t* __restrict__ w1, const scalar_t* __restrict__ w2,
    const scalar_t* __restrict__ hidden, scalar_t* __restrict__ g_x, scalar_t* __restrict__ g_h0,
    scalar_t* __restrict__ part_w1, scalar_t* __restrict__ part_w2, scalar_t* __restrict__ part_b1,
    scalar_t* __restrict__ part_b2, int64_t L, int64_t B, int64_t F, int64_t H, int64_t O) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  scalar_t* w1s = reinterpret_cast<scalar_t*>(shared_raw);
  scalar_t* w2s = w1s + (F + H) * H;
  scalar_t* gw1 = w2s + H * O;   // (F+H, H): entry (i, j) belongs to thread (j, i mod R)
  scalar_t* gw2 = gw1 + (F + H) * H;  // (H, O): entry (j, k) to thread (j, k mod R)
  scalar_t* gb1 = gw2 + H * O;   // (H,): thread (j, 0)
  scalar_t* gb2 = gb1 + H;       // (O,): thread (k mod H, 0)
  const int64_t j = threadIdx.x, r = threadIdx.y, R = blockDim.y, tid = r * H + j, nt = R * H;
  scalar_t* hts = gb2 + O;       // (R, H) h[t]
  scalar_t* hps = hts + R * H;   // (R, H) h[t-1]
  scalar_t* ds = hps + R * H;    // (R, H) dz
  scalar_t* cs = ds + R * H;     // (R, H) carry
  scalar_t* xs = cs + R * H;     // (R, F)
  scalar_t* gps = xs + R * F;    // (R, O)
  const int64_t b = blockIdx.x * R + r;
  const bool live = b < B;
  for (int64_t q = tid; q < (F + H) * H; q += nt) {
    w1s[q] = w1[q];
    gw1[q] = 0;
  }
  for (int64_t q = tid; q < H * O; q += nt) {
    w2s[q] = w2[q];
    gw2[q] = 0;
  }
  for (int64_t q = tid; q < H; q += nt) gb1[q] = 0;
  for (int64_t q = tid; q < O; q += nt) gb2[q] = 0;
  cs[r * H + j] = 0;
  for (int64_t t = L - 1; t >= 0; --t) {
    // the step's rows into shared memory (zeros for rows past the batch: they add nothing)
    hts[r * H + j] = live ? hidden[(t * B + b) * H + j] : scalar_t(0);
    hps[r * H + j] = !live ? scalar_t(0) : t > 0 ? hidden[((t - 1) * B + b) * H + j] : h0[b * H + j];
    for (int64_t f = j; f < F; f += H) xs[r * F + f] = live ? x[(t * B + b) * F + f] : scalar_t(0);
    for (int64_t k = j; k < O; k += H) gps[r * O + k] = live && g_pred ? g_pred[(t * B + b) * O + k] : scalar_t(0);
    __syncthreads();
    {  // dz = (g_hidden + carry + w2 g_pred) * (1 - h^2), in the CPU loops' order
      const scalar_t c = cs[r * H + j];
      scalar_t d = g_hidden && live ? g_hidden[(t * B + b) * H + j] + c : c;
      for (int64_t k = 0; k < O; ++k) d = fmadd(gps[r * O + k], w2s[j * O + k], d);
      const scalar_t h = hts[r * H + j];
      ds[r * H + j] = live ? d * (1 - h * h) : scalar_t(0);
    }
    __syncthreads();
    {  // carry = W_h dz, g_x = W_x dz (row r), and the block's weight-gradient sums
      scalar_t c = 0;
      for (int64_t i = 0; i < H; ++i) c = fmadd(ds[r * H + i], w1s[(F + j) * H + i], c);
      cs[r * H + j] = c;
      for (int64_t f = j; f < F; f += H) {
        scalar_t gx = 0;
        for (int64_t i = 0; i < H; ++i) gx = fmadd(ds[r * H + i], w1s[f * H + i], gx);
        if (live) g_x[(t * B + b) * F + f] = gx;
      }
      for (int64_t i = r; i < F + H; i += R) {
        scalar_t acc = gw1[i * H + j];
        for (int64_t q = 0; q < R; ++q) acc = fmadd(i < F ? xs[q * F + i] : hps[q * H + i - F], ds[q * H + j], acc);
        gw1[i * H + j] = acc;
      }
      for (int64_t k = r; k < O; k += R) {
        scalar_t acc = gw2[j * O + k];
        for (int64_t q = 0; q < R; ++q) acc = fmadd(hts[q * H + j], gps[q * O + k], acc);
        gw2[j * O + k] = acc;
      }
      if (r == 0) {
        scalar_t acc = gb1[j];
        for (int64_t q = 0; q < R; ++q) acc += ds[q * H + j];
        gb1[j] = acc;
        for (int64_t k = j; k < O; k += H) {
          scalar_t acc2 = gb2[k];
          for (int64_t q = 0; q < R; ++q) acc2 += gps[q * O + k];
          gb2[k] = acc2;
        }
      }
    }
    __syncthreads();
  }
  if (live) g_h0[b * H + j] = cs[r * H + j];
  const int64_t blk = blockIdx.x;
  for (int64_t q = tid; q < (F + H) * H; q += nt) part_w1[blk * (F + H) * H + q] = gw1[q];
  for (int64_t q = tid; q < H * O; q += nt) part_w2[blk * H * O + q] = gw2[q];
  for (int64_t q = tid; q < H; q += nt) part_b1[blk * H + q] = gb1[q];
  for (int64_t q = tid; q < O; q += nt) part_b2[blk * O + q] = gb2[q];
}

// Whether the one-launch kernels take these sizes (else the library path), and their launch shape.
struct CellLaunch {
  bool ok;
  int64_t R, blocks;
  size_t forward_bytes, backward_bytes;
};

CellLaunch cell_launch(const at::Tensor& x, const CellSizes& s) {
  const int64_t R = cell_rows(s.H);
  const size_t size = x.element_size();
  CellLaunch c{false, R, (s.B + R - 1) / R, forward_shared(R, s.F, s.H, s.O) * size,
               backward_shared(R, s.F, s.H, s.O) * size};
  const size_t table = sizeof(TanhTable);
  c.ok = s.H <= kCellCudaMaxHidden && c.forward_bytes + table <= kCellCudaSharedBytes &&
         c.backward_bytes <= kCellCudaSharedBytes;
  return c;
}

std::tuple<at::Tensor, at::Tensor> cell_forward_cuda(const at::Tensor& x_in, const at::Tensor& h0_in,
                                                     const at::Tensor& w1_in, const at::Tensor& w2_in,
                                                     const c10::optional<at::Tensor>& b1,
                                                     const c10::optional<at::Tensor>& b2) {
  const CellSizes s = check_cell_args("sinernn::cell_forward", x_in, h0_in, w1_in, w2_in, b1, b2);
  const at::Tensor x = x_in.contiguous(), h0 = h0_in.contiguous(), w1 = w1_in.contiguous(), w2 = w2_in.contiguous();
  const CellLaunch c = cell_launch(x, s);
  if (!c.ok) return cell_forward_impl(x, h0, w1, w2, b1, b2, s);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor hidden = at::empty({s.L, s.B, s.H}, x.options()), pred = at::empty({s.L, s.B, s.O}, x.options());
  const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor(), b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_forward_cuda", [&] {
    cell_forward_kernel<scalar_t><<<c.blocks, dim3(s.H, c.R), c.forward_bytes, c10::cuda::getCurrentCUDAStream()>>>(
        x.const_data_ptr<scalar_t>(), h0.const_data_ptr<scalar_t>(), w1.const_data_ptr<scalar_t>(),
        w2.const_data_ptr<scalar_t>(), b1c.defined() ? b1c.const_data_ptr<scalar_t>() : nullptr,
        b2c.defined() ? b2c.const_data_ptr<scalar_t>() : nullptr, hidden.mutable_data_ptr<scalar_t>(),
        pred.mutable_data_ptr<scalar_t>(), s.L, s.B, s.F, s.H, s.O);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {pred, hidden};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_cuda(
    const c10::optional<at::Tensor>& g_pred, const c10::optional<at::Tensor>& g_hidden, const at::Tensor& x_in,
    const at::Tensor& h0_in, const at::Tensor& w1_in, const at::Tensor& w2_in, const at::Tensor& hidden_in, bool bias1,
    bool bias2) {
  const CellSizes s = check_cell_backward_args(g_pred, g_hidden, x_in, h0_in, w1_in, w2_in, hidden_in);
  const at::Tensor x = x_in.contiguous(), h0 = h0_in.contiguous(), w1 = w1_in.contiguous(), w2 = w2_in.contiguous();
  const at::Tensor hidden = hidden_in.contiguous();
  const at::Tensor gp = g_pred.has_value() ? g_pred->contiguous() : at::Tensor();
  const at::Tensor gh = g_hidden.has_value() ? g_hidden->contiguous() : at::Tensor();
  const CellLaunch c = cell_launch(x, s);
  if (!c.ok) return cell_backward_impl(gp, gh, x, h0, w1, w2, hidden, bias1, bias2, s);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t F = s.F, H = s.H, O = s.O;
  at::Tensor g_x = at::empty({s.L, s.B, F}, x.options()), g_h0 = at::empty({s.B, H}, x.options());
  at::Tensor part_w1 = at::empty({c.blocks, F + H, H}, x.options()), part_w2 = at::empty({c.blocks, H, O}, x.options());
  at::Tensor part_b1 = at::empty({c.blocks, H}, x.options()), part_b2 = at::empty({c.blocks, O}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_backward_cuda", [&] {
    auto ptr = [](const at::Tensor& t) { return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr; };
    cell_backward_kernel<scalar_t><<<c.blocks, dim3(H, c.R), c.backward_bytes, c10::cuda::getCurrentCUDAStream()>>>(
        ptr(gp), ptr(gh), x.const_data_ptr<scalar_t>(), h0.const_data_ptr<scalar_t>(), w1.const_data_ptr<scalar_t>(),
        w2.const_data_ptr<scalar_t>(), hidden.const_data_ptr<scalar_t>(), g_x.mutable_data_ptr<scalar_t>(),
        g_h0.mutable_data_ptr<scalar_t>(), part_w1.mutable_data_ptr<scalar_t>(), part_w2.mutable_data_ptr<scalar_t>(),
        part_b1.mutable_data_ptr<scalar_t>(), part_b2.mutable_data_ptr<scalar_t>(), s.L, s.B, F, H, O);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  at::Tensor g_b1 = bias1 ? part_b1.sum(0) : at::empty({0}, x.options());
  at::Tensor g_b2 = bias2 ? part_b2.sum(0) : at::empty({0}, x.options());
  return {g_x, g_h0, part_w1.sum(0), part_w2.sum(0), g_b1, g_b2};
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, CUDA, m) {
  m.impl("cell_forward", &cell_forward_cuda);
  m.impl("cell_backward", &cell_backward_cuda);
}

}  // namespace sinernn
