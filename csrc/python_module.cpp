// The Python extension module sinernn._C. Importing it loads this library, whose static
// initialisers register the op schemas (aten/schema.cpp) and every kernel: the CPU's
// (cpu/train_cpu.cpp, cpu/many_cpu.cpp, cpu/cell_cpu.cpp), the autograd kernel
// (aten/cell_autograd.cpp) and, when built with CUDA, cuda/*.cu.
//
// Besides build facts (cuda_built, cpu_fused_fma) it has private entries, reached only through
// sinernn/_native/ops.py:
// - a direct binding of the fused training step for the "cpp-step" backend's Python loop, where the
//   dispatcher and output allocation would cost more than the step (docs/performance.md). It runs
//   the same elman_train_step as the op, so results are identical;
// - _all_finite, the finiteness check of x and y in sinernn.train;
// - _fma_peak_gflops, one core's measured FP32 FMA throughput, for the benchmarks' peak share.
//
// Plain CPython API (no pybind11, no torch headers): it takes raw data pointers from the Python
// layer, which has checked and made contiguous every tensor and keeps them alive for the session's
// lifetime. Not a public API.
#include <Python.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/epoch.h"
#include "core/step.h"

namespace {

struct StepSessionBase {
  virtual ~StepSessionBase() = default;
  // Runs step t (t == 0 starts an epoch) and returns its loss; NaN when it diverged: the loss is
  // not finite, or after the last step of the epoch the weights are not.
  virtual double step(int64_t t) = 0;
  virtual double total() const = 0;  // the epoch's loss total so far, in the scalar type
  // Mid-epoch only: the weights back to their values at the epoch's start (after a divergence or
  // an interrupt). Between epochs it changes nothing, so a caller never undoes a finished epoch.
  virtual void restore() = 0;
  int64_t epochs_done = 0;  // epochs whose last step ran and stayed finite
  bool mid_epoch = false;
};

// One model's training state for a Python loop over steps: the caller's data and weights, the
// two context buffers, the workspace, and the running loss total in scalar_t.
template <typename scalar_t>
struct StepSession final : StepSessionBase {
  const scalar_t* x;  // (L, F)
  const scalar_t* y;  // (L, O)
  scalar_t* w1;       // (F+H, H), updated in place
  scalar_t* w2;       // (H, O), updated in place
  int64_t F, H, O, L;
  scalar_t lr;
  std::vector<scalar_t> h, h_new, dz, pred, snapshot;
  scalar_t sum = 0;

  StepSession(uintptr_t x_, uintptr_t y_, uintptr_t w1_, uintptr_t w2_, int64_t F_, int64_t H_, int64_t O_,
              int64_t L_, double lr_)
      : x(reinterpret_cast<const scalar_t*>(x_)), y(reinterpret_cast<const scalar_t*>(y_)),
        w1(reinterpret_cast<scalar_t*>(w1_)), w2(reinterpret_cast<scalar_t*>(w2_)), F(F_), H(H_), O(O_), L(L_),
        lr(static_cast<scalar_t>(lr_)), h(H_), h_new(H_), dz(H_), pred(O_), snapshot((F_ + H_) * H_ + H_ * O_) {}

  double step(int64_t t) override {
    const int64_t n1 = (F + H) * H, n2 = H * O;
    if (t == 0) {  // a new epoch: zero context, zero total, remember the weights
      std::fill(h.begin(), h.end(), scalar_t(0));
      sum = 0;
      std::copy(w1, w1 + n1, snapshot.begin());
      std::copy(w2, w2 + n2, snapshot.begin() + n1);
      mid_epoch = true;
    }
    scalar_t loss = 0;
    sinernn::with_sizes(F, H, O, [&](auto sizes) {
      loss = sinernn::elman_train_step<scalar_t>(x + t * F, y + t * O, h.data(), h_new.data(), pred.data(), dz.data(),
                                                 w1, w2, lr, sizes);
    });
    if (!std::isfinite(loss) ||
        (t == L - 1 && !(sinernn::elman_all_finite(w1, n1) && sinernn::elman_all_finite(w2, n2))))
      return NAN;
    sum += loss;  // in scalar_t, in step order: the whole-loop op's sum
    h.swap(h_new);
    if (t == L - 1) {
      mid_epoch = false;
      ++epochs_done;
    }
    return static_cast<double>(loss);
  }
  double total() const override { return static_cast<double>(sum); }
  void restore() override {
    if (!mid_epoch) return;
    mid_epoch = false;
    const int64_t n1 = (F + H) * H;
    std::copy(snapshot.begin(), snapshot.begin() + n1, w1);
    std::copy(snapshot.begin() + n1, snapshot.end(), w2);
  }
};

const char* kCapsule = "sinernn.StepSession";

void destroy_session(PyObject* capsule) {
  delete static_cast<StepSessionBase*>(PyCapsule_GetPointer(capsule, kCapsule));
}

// _step_session(x_ptr, y_ptr, w1_ptr, w2_ptr, F, H, O, L, lr, is_float64) -> capsule
PyObject* step_session(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 10) {
    PyErr_SetString(PyExc_TypeError, "_step_session takes 10 arguments");
    return nullptr;
  }
  uintptr_t ptr[4];
  int64_t size[4];
  for (int i = 0; i < 4; ++i) ptr[i] = static_cast<uintptr_t>(PyLong_AsUnsignedLongLong(args[i]));
  for (int i = 0; i < 4; ++i) size[i] = PyLong_AsLongLong(args[4 + i]);
  const double lr = PyFloat_AsDouble(args[8]);
  const int is_double = PyObject_IsTrue(args[9]);
  if (PyErr_Occurred()) return nullptr;
  if (size[0] < 1 || size[1] < 1 || size[2] < 1 || size[3] < 1) {
    PyErr_SetString(PyExc_ValueError, "_step_session: F, H, O and L must be >= 1");
    return nullptr;
  }
  StepSessionBase* session;
  if (is_double)
    session = new StepSession<double>(ptr[0], ptr[1], ptr[2], ptr[3], size[0], size[1], size[2], size[3], lr);
  else
    session = new StepSession<float>(ptr[0], ptr[1], ptr[2], ptr[3], size[0], size[1], size[2], size[3], lr);
  PyObject* capsule = PyCapsule_New(session, kCapsule, destroy_session);
  if (!capsule) delete session;
  return capsule;
}

// _session_step(session, t) -> loss of step t (as a Python float)
PyObject* session_step(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "_session_step takes 2 arguments");
    return nullptr;
  }
  auto* session = static_cast<StepSessionBase*>(PyCapsule_GetPointer(args[0], kCapsule));
  const int64_t t = PyLong_AsLongLong(args[1]);
  if (!session || PyErr_Occurred()) return nullptr;
  return PyFloat_FromDouble(session->step(t));
}

// _session_total(session) -> the epoch's loss total
PyObject* session_total(PyObject*, PyObject* capsule) {
  auto* session = static_cast<StepSessionBase*>(PyCapsule_GetPointer(capsule, kCapsule));
  if (!session) return nullptr;
  return PyFloat_FromDouble(session->total());
}

// One core's float32 multiply-add throughput for this build's instruction set: twelve
// independent accumulators of 64-byte vectors (zmm with AVX-512, split in halves or quarters
// below that), so the FMA pipes, not the latency, set the pace. Contraction is enabled for this
// function only, so a*b+c compiles to FMA instructions where the CPU has them.
typedef float vfloat16 __attribute__((vector_size(64)));

__attribute__((optimize("fp-contract=fast"), noinline)) double fma_peak_gflops(int64_t iterations) {
  constexpr int kAcc = 12;
  vfloat16 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = vfloat16{} + static_cast<float>(i);
  const vfloat16 b = vfloat16{} + 0.9999999f, c = vfloat16{} + 1e-7f;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < iterations; ++n)
    for (int i = 0; i < kAcc; ++i) acc[i] = acc[i] * b + c;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  float sink = 0;
  for (int i = 0; i < kAcc; ++i) sink += acc[i][0];
  volatile float keep = sink;  // the result is used: the loop is not optimised away
  (void)keep;
  return static_cast<double>(iterations) * kAcc * 16 * 2 / seconds / 1e9;
}

// _fma_peak_gflops(iterations) -> GFLOP/s (a multiply-add counts as 2)
PyObject* fma_peak(PyObject*, PyObject* arg) {
  const int64_t iterations = PyLong_AsLongLong(arg);
  if (PyErr_Occurred()) return nullptr;
  double gflops;
  Py_BEGIN_ALLOW_THREADS gflops = fma_peak_gflops(iterations);
  Py_END_ALLOW_THREADS return PyFloat_FromDouble(gflops);
}

// _session_restore(session): mid-epoch, the weights back to their values at the epoch's start
PyObject* session_restore(PyObject*, PyObject* capsule) {
  auto* session = static_cast<StepSessionBase*>(PyCapsule_GetPointer(capsule, kCapsule));
  if (!session) return nullptr;
  session->restore();
  Py_RETURN_NONE;
}

// _session_epochs(session) -> how many epochs have run to their end
PyObject* session_epochs(PyObject*, PyObject* capsule) {
  auto* session = static_cast<StepSessionBase*>(PyCapsule_GetPointer(capsule, kCapsule));
  if (!session) return nullptr;
  return PyLong_FromLongLong(session->epochs_done);
}

// _all_finite(ptr, n, is_float64) -> whether the n contiguous values at ptr are all finite: the
// Python layer's check of x and y, cheaper than torch.isfinite(t).all() on small tensors
// (docs/performance.md, "Figures behind the code").
PyObject* all_finite(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "_all_finite takes 3 arguments");
    return nullptr;
  }
  const auto ptr = static_cast<uintptr_t>(PyLong_AsUnsignedLongLong(args[0]));
  const int64_t n = PyLong_AsLongLong(args[1]);
  const int is_double = PyObject_IsTrue(args[2]);
  if (PyErr_Occurred()) return nullptr;
  if (n < 0) {
    PyErr_SetString(PyExc_ValueError, "_all_finite: n must be >= 0");
    return nullptr;
  }
  bool ok;
  Py_BEGIN_ALLOW_THREADS ok = is_double ? sinernn::elman_all_finite(reinterpret_cast<const double*>(ptr), n)
                                        : sinernn::elman_all_finite(reinterpret_cast<const float*>(ptr), n);
  Py_END_ALLOW_THREADS return PyBool_FromLong(ok);
}

PyObject* cuda_built(PyObject*, PyObject*) {
#ifdef SINERNN_WITH_CUDA
  Py_RETURN_TRUE;
#else
  Py_RETURN_FALSE;
#endif
}

// Whether the CPU code fuses multiply-adds (fmadd in core/config.h: one rounding, as CUDA always
// does); a portable build without FMA rounds twice, so its float32 results differ from CUDA's.
PyObject* cpu_fused_fma(PyObject*, PyObject*) {
#if defined(__FMA__)
  Py_RETURN_TRUE;
#else
  Py_RETURN_FALSE;
#endif
}

PyMethodDef methods[] = {
    {"cuda_built", cuda_built, METH_NOARGS, "Whether CUDA kernels were compiled in."},
    {"cpu_fused_fma", cpu_fused_fma, METH_NOARGS, "Whether the CPU kernels fuse multiply-adds (as CUDA does)."},
    {"_step_session", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(step_session)), METH_FASTCALL,
     "Private: training state for a Python loop over the fused step."},
    {"_session_step", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(session_step)), METH_FASTCALL,
     "Private: run one fused training step of a session."},
    {"_session_total", session_total, METH_O, "Private: the current epoch's loss total."},
    {"_session_restore", session_restore, METH_O, "Private: mid-epoch, restore the weights of the epoch's start."},
    {"_session_epochs", session_epochs, METH_O, "Private: how many epochs have run to their end."},
    {"_fma_peak_gflops", fma_peak, METH_O, "One core's float32 FMA throughput for this build, GFLOP/s."},
    {"_all_finite", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(all_finite)), METH_FASTCALL,
     "Private: whether n contiguous float32/float64 values at an address are all finite."},
    {nullptr, nullptr, 0, nullptr}};

#define SINERNN_STR_(x) #x
#define SINERNN_STR(x) SINERNN_STR_(x)
#define SINERNN_CAT_(a, b) a##b
#define SINERNN_CAT(a, b) SINERNN_CAT_(a, b)

PyModuleDef module = {PyModuleDef_HEAD_INIT, SINERNN_STR(TORCH_EXTENSION_NAME),
                      "sinernn's native ops (registered under torch.ops.sinernn)", -1, methods};

}  // namespace

// TORCH_EXTENSION_NAME is _C when setup.py builds, sinernn_C when the first-use build does.
PyMODINIT_FUNC SINERNN_CAT(PyInit_, TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&module); }
