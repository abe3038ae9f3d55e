// The sinernn operator library: every op's schema, declared once. Backends register kernels
// for these schemas in their own files (cpu/elman_cpu.cpp; a CUDA file later). In-place
// arguments are declared Tensor(a!) and never returned.
//
// This file is also the Python extension module sinernn._C: importing it runs the static
// registrations below. It defines no Python functions besides build information.
#include <Python.h>
#include <torch/library.h>

TORCH_LIBRARY(sinernn, m) {
  // One fused training step: forward, loss, backward, SGD update of w1 and w2 in place.
  // x (F,), y (O,), h (H,) -> new context (H,), prediction (O,), loss ().
  m.def("step(Tensor x, Tensor y, Tensor h, Tensor(a!) w1, Tensor(b!) w2, float lr) "
        "-> (Tensor h_new, Tensor pred, Tensor loss)");
  // The whole training run: `epochs` passes over the series, context reset to zero at each.
  // x (L, F), y (L, O); updates w1, w2 in place; returns per-epoch loss totals (epochs,).
  m.def("train(Tensor x, Tensor y, Tensor(a!) w1, Tensor(b!) w2, int epochs, float lr) -> Tensor");
  // Teacher-forced prediction from a zero context, no updates.
  // x (L, F) -> predictions (L, O), contexts (L, H).
  m.def("predict(Tensor x, Tensor w1, Tensor w2) -> (Tensor pred, Tensor hidden)");
}

// Build facts, so the Python layer can tell which features this binary has.
static PyObject* sinernn_cuda_built(PyObject*, PyObject*) {
#ifdef SINERNN_WITH_CUDA
  Py_RETURN_TRUE;
#else
  Py_RETURN_FALSE;
#endif
}

static PyMethodDef sinernn_methods[] = {
    {"cuda_built", sinernn_cuda_built, METH_NOARGS, "Whether CUDA kernels were compiled in."},
    {nullptr, nullptr, 0, nullptr}};

static struct PyModuleDef sinernn_module = {PyModuleDef_HEAD_INIT, "_C",
                                            "sinernn's native ops (registered under torch.ops.sinernn)",
                                            -1, sinernn_methods};

PyMODINIT_FUNC PyInit__C(void) { return PyModule_Create(&sinernn_module); }
