// CPU kernels of the batched differentiable cell (csrc/elman_cell.h): library products for
// everything outside the recurrence, loops for the recurrence at small H.
#include <torch/library.h>

#include "../elman_cell.h"

TORCH_LIBRARY_IMPL(sinernn, CPU, m) {
  m.impl("cell_forward", &sinernn::cell_forward_op);
  m.impl("cell_backward", &sinernn::cell_backward_op);
}
