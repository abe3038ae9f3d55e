"""torch.library.opcheck on every sinernn op, float32 and float64: schema, fake kernel, autograd
registration and dispatcher behaviour as PyTorch checks them. A new op without a case here fails
test_every_op_is_checked."""

import pytest
import torch

import sinernn
from sinernn import ops

from cases import DTYPES, problem


def _cell_args(dtype, H, bias):
    g = torch.Generator().manual_seed(2)
    L, B, F, O = 4, 3, 2, 2
    x = torch.randn(L, B, F, generator=g, dtype=dtype)
    h0 = torch.randn(B, H, generator=g, dtype=dtype).tanh()
    w1 = torch.randn(F + H, H, generator=g, dtype=dtype) / H ** 0.5
    w2 = torch.randn(H, O, generator=g, dtype=dtype)
    b1 = torch.randn(H, generator=g, dtype=dtype) if bias else None
    b2 = torch.randn(O, generator=g, dtype=dtype) if bias else None
    return x, h0, w1, w2, b1, b2


def _many(dtype, per_model):
    N, F, H, O, L = 5, 2, 3, 2, 6
    w1, w2 = sinernn.init_weights(F, H, O, seed=1, dtype=dtype, models=N)
    x, y = sinernn.smooth_series(L, F, O, seed=3, dtype=dtype)
    if per_model:
        x, y = x.expand(N, L, F).contiguous() * torch.linspace(0.5, 1, N, dtype=dtype)[:, None, None], y.expand(N, L, O).contiguous()
    return x, y, w1, w2


def op_cases(dtype):
    """(case id, op name, args): every op, with the shapes that take each of its code paths."""
    F, H, O, L = 2, 3, 2, 5
    x, y, w1, w2 = problem(F, H, O, L=L, dtype=dtype)
    h = torch.tanh(torch.linspace(-1, 1, H, dtype=dtype))
    out = [
        ("step", "step", (x[0], y[0], h, w1.clone(), w2.clone(), 0.1)),
        ("train", "train", (x, y, w1.clone(), w2.clone(), 4, 0.1)),
        ("train_guarded", "train_guarded", (x, y, w1.clone(), w2.clone(), 4, 0.1)),
        ("predict", "predict", (x, w1, w2)),
        ("forecast", "forecast", (x[:, :2], *sinernn.init_weights(2, H, 2, seed=1, dtype=dtype), 4)),
        ("seq_forward", "seq_forward", (x, h, w1, w2)),
    ]
    pred, hidden = ops.cell(x, h, w1, w2)
    out.append(("seq_backward", "seq_backward", (torch.randn_like(pred), torch.randn_like(hidden), x, h, w1, w2, hidden)))
    for per_model in (False, True):
        mx, my, m1, m2 = _many(dtype, per_model)
        tag = "per-model" if per_model else "shared"
        out.append((f"train_many-{tag}", "train_many", (mx, my, m1, m2, 2, torch.full((5,), 0.1, dtype=torch.float64))))
        out.append((f"predict_many-{tag}", "predict_many", (mx, m1, m2)))
    for H_cell in (3, 70):  # the batch-last loops, and the blocked steps / library path
        for bias in (False, True):
            args = _cell_args(dtype, H_cell, bias)
            tag = f"H{H_cell}-{'bias' if bias else 'nobias'}"
            out.append((f"cell_forward-{tag}", "cell_forward", args))
            cp, ch = ops.cell_batch(*args)
            out.append((f"cell_backward-{tag}", "cell_backward",
                        (torch.randn_like(cp), torch.randn_like(ch), *args[:4], ch, bias, bias)))
    return out


CASE_IDS = [case_id for case_id, _, _ in op_cases(torch.float64)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_opcheck(case_id, dtype):
    (_, name, args), = [c for c in op_cases(dtype) if c[0] == case_id]
    torch.library.opcheck(ops.op(name), args)


def test_every_op_is_checked():
    registered = {n.split("::")[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith("sinernn::")}
    assert registered == set(ops.OP_NAMES)
    assert {name for _, name, _ in op_cases(torch.float64)} == registered
