// CUDA kernels of the batched cell (ops cell_forward / cell_backward; the math, the checks and the
// library path in aten/cell.h).
//
// Up to kCellCudaMaxHidden hidden units: the whole sequence in one launch each way. A block owns R
// rows of the batch (R * H <= kCellBlockThreads threads: thread (j, r) is hidden unit j of row r),
// keeps the weights in shared memory and steps through time with the rows' states in shared memory,
// a few __syncthreads a step. The kernels' body is core/cell_block.h (host and device), which
// tests/native/cell_block_check.cpp runs on the CPU against the CPU loops. Each value is the CPU
// loops' chain of multiply-adds in the same order (fmadd, core/config.h) with the same tanh (float32: the table, elman_tanh_table, from a
// shared-memory copy). The weight gradients are summed per block in shared memory, each entry by one
// thread, then over the blocks by a tensor sum: deterministic, no atomics.
//
// Larger H, or weights too large for shared memory: a library product (cuBLAS) a step and ATen's
// element-wise ops (cell_forward_library / cell_backward_library in aten/cell.h).
//
// Every launch goes to the current stream under a device guard and is checked.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sum.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../aten/cell.h"
#include "../core/cell_block.h"
#include "../core/tanh.h"

namespace sinernn {
namespace {

constexpr int64_t kCellCudaMaxHidden = 32;
constexpr size_t kCellCudaSharedBytes = 48 * 1024;  // the default limit of dynamic shared memory


template <typename scalar_t>
__device__ void load_tanh_table(TanhTable& table) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    const float* src = reinterpret_cast<const float*>(&kTanhTableDevice);
    float* dst = reinterpret_cast<float*>(&table);
    const int tid = threadIdx.y * blockDim.x + threadIdx.x, n = blockDim.x * blockDim.y;
    for (int i = tid; i < int(sizeof(TanhTable) / sizeof(float)); i += n) dst[i] = src[i];
  }
}

template <typename scalar_t>
__global__ void __launch_bounds__(kCellBlockThreads, 1) cell_forward_kernel(CellBlockArgs<scalar_t> a) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  __shared__ TanhTable table;
  const CellForwardShared<scalar_t> s(reinterpret_cast<scalar_t*>(shared_raw), a);
  const int64_t j = threadIdx.x, r = threadIdx.y, blk = blockIdx.x;
  cell_block_forward_load(a, s, blk, j, r);
  load_tanh_table<scalar_t>(table);
  __syncthreads();
  for (int64_t t = 0; t < a.L; ++t) {
    cell_block_forward_hidden(a, s, table, blk, t, j, r);
    __syncthreads();
    cell_block_forward_output(a, s, blk, t, j, r);  // no barrier after: see core/cell_block.h
  }
}

template <typename scalar_t>
__global__ void __launch_bounds__(kCellBlockThreads, 1) cell_backward_kernel(CellBlockArgs<scalar_t> a) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  const CellBackwardShared<scalar_t> s(reinterpret_cast<scalar_t*>(shared_raw), a);
  const int64_t j = threadIdx.x, r = threadIdx.y, blk = blockIdx.x;
  cell_block_backward_init(a, s, j, r);
  for (int64_t t = a.L - 1; t >= 0; --t) {
    cell_block_backward_load(a, s, blk, t, j, r);
    __syncthreads();
    cell_block_backward_dz(a, s, blk, t, j, r);
    __syncthreads();
    cell_block_backward_sums(a, s, blk, t, j, r);
    __syncthreads();
  }
  cell_block_backward_store(a, s, blk, j, r);
}

// Whether the one-launch kernels take these sizes (else the library path), and their launch shape.
struct CellLaunch {
  bool ok;
  int64_t R, blocks;
  size_t forward_bytes, backward_bytes;
};

CellLaunch cell_launch(const at::Tensor& x, const CellSizes& s) {
  const int64_t R = cell_block_rows(s.H);
  const size_t size = x.element_size();
  CellLaunch c{false, R, (s.B + R - 1) / R, cell_block_forward_shared(R, s.F, s.H, s.O) * size,
               cell_block_backward_shared(R, s.F, s.H, s.O) * size};
  const size_t table = sizeof(TanhTable);
  c.ok = s.H <= kCellCudaMaxHidden && c.forward_bytes + table <= kCellCudaSharedBytes &&
         c.backward_bytes <= kCellCudaSharedBytes;
  return c;
}

std::tuple<at::Tensor, at::Tensor> cell_forward_cuda(const at::Tensor& x_in, const at::Tensor& h0_in,
                                                     const at::Tensor& w1_in, const at::Tensor& w2_in,
                                                     const c10::optional<at::Tensor>& b1,
                                                     const c10::optional<at::Tensor>& b2) {
  const char* op = "sinernn::cell_forward";
  const CellSizes s = check_cell_args(op, x_in, h0_in, w1_in, w2_in, b1, b2);
  const at::Tensor x = contiguous(op, "x", x_in), h0 = contiguous(op, "h0", h0_in), w1 = contiguous(op, "w1", w1_in),
                   w2 = contiguous(op, "w2", w2_in);
  const CellLaunch c = cell_launch(x, s);
  if (!c.ok) return cell_forward_library(x, h0, w1, w2, b1, b2, s, aten_elementwise());
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor hidden = at::empty({s.L, s.B, s.H}, x.options()), pred = at::empty({s.L, s.B, s.O}, x.options());
  const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor(), b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_forward_cuda", [&] {
    CellBlockArgs<scalar_t> a{};
    a.x = x.const_data_ptr<scalar_t>();
    a.h0 = h0.const_data_ptr<scalar_t>();
    a.w1 = w1.const_data_ptr<scalar_t>();
    a.w2 = w2.const_data_ptr<scalar_t>();
    a.b1 = b1c.defined() ? b1c.const_data_ptr<scalar_t>() : nullptr;
    a.b2 = b2c.defined() ? b2c.const_data_ptr<scalar_t>() : nullptr;
    a.hidden_out = hidden.mutable_data_ptr<scalar_t>();
    a.pred = pred.mutable_data_ptr<scalar_t>();
    a.L = s.L, a.B = s.B, a.F = s.F, a.H = s.H, a.O = s.O, a.R = c.R;
    cell_forward_kernel<scalar_t><<<c.blocks, dim3(s.H, c.R), c.forward_bytes, c10::cuda::getCurrentCUDAStream()>>>(a);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {pred, hidden};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> cell_backward_cuda(
    const c10::optional<at::Tensor>& g_pred, const c10::optional<at::Tensor>& g_hidden, const at::Tensor& x_in,
    const at::Tensor& h0_in, const at::Tensor& w1_in, const at::Tensor& w2_in, const at::Tensor& hidden_in, bool bias1,
    bool bias2) {
  const char* op = "sinernn::cell_backward";
  const CellSizes s = check_cell_backward_args(g_pred, g_hidden, x_in, h0_in, w1_in, w2_in, hidden_in);
  const at::Tensor x = contiguous(op, "x", x_in), h0 = contiguous(op, "h0", h0_in), w1 = contiguous(op, "w1", w1_in),
                   w2 = contiguous(op, "w2", w2_in);
  const at::Tensor hidden = contiguous(op, "hidden", hidden_in);
  const at::Tensor gp = g_pred.has_value() ? contiguous(op, "grad_pred", *g_pred) : at::Tensor();
  const at::Tensor gh = g_hidden.has_value() ? contiguous(op, "grad_hidden", *g_hidden) : at::Tensor();
  const CellLaunch c = cell_launch(x, s);
  if (!c.ok) return cell_backward_library(gp, gh, x, h0, w1, w2, hidden, bias1, bias2, s, aten_elementwise());
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t F = s.F, H = s.H, O = s.O;
  at::Tensor g_x = at::empty({s.L, s.B, F}, x.options()), g_h0 = at::empty({s.B, H}, x.options());
  at::Tensor part_w1 = at::empty({c.blocks, F + H, H}, x.options()), part_w2 = at::empty({c.blocks, H, O}, x.options());
  at::Tensor part_b1 = at::empty({c.blocks, H}, x.options()), part_b2 = at::empty({c.blocks, O}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "sinernn_cell_backward_cuda", [&] {
    CellBlockArgs<scalar_t> a{};
    a.x = x.const_data_ptr<scalar_t>();
    a.h0 = h0.const_data_ptr<scalar_t>();
    a.w1 = w1.const_data_ptr<scalar_t>();
    a.w2 = w2.const_data_ptr<scalar_t>();
    a.hidden = hidden.const_data_ptr<scalar_t>();
    a.g_pred = gp.defined() ? gp.const_data_ptr<scalar_t>() : nullptr;
    a.g_hidden = gh.defined() ? gh.const_data_ptr<scalar_t>() : nullptr;
    a.g_x = g_x.mutable_data_ptr<scalar_t>();
    a.g_h0 = g_h0.mutable_data_ptr<scalar_t>();
    a.part_w1 = part_w1.mutable_data_ptr<scalar_t>();
    a.part_w2 = part_w2.mutable_data_ptr<scalar_t>();
    a.part_b1 = part_b1.mutable_data_ptr<scalar_t>();
    a.part_b2 = part_b2.mutable_data_ptr<scalar_t>();
    a.L = s.L, a.B = s.B, a.F = F, a.H = H, a.O = O, a.R = c.R;
    cell_backward_kernel<scalar_t><<<c.blocks, dim3(H, c.R), c.backward_bytes, c10::cuda::getCurrentCUDAStream()>>>(a);
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
