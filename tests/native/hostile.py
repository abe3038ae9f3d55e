"""The catalogue of hostile inputs to the native ops, called directly as torch.ops.sinernn.*.

Each case names an op, what is wrong, the arguments, and how the call must end:
  - a string: a RuntimeError whose message holds it (and "sinernn::<op>"), no weight changed;
  - SAME:     accepted, and the result (outputs and updated weights) equals the same call with
              plain contiguous tensors, bit for bit (non-contiguous and read-only overlapping views);
  - META:     all tensors on the meta device: the op's meta kernel gives the output shapes and
              touches nothing, as every PyTorch op does;
  - PROPAGATES: the differentiable ops (cell_forward, cell_backward, seq_backward) take values as
              they come, as torch's own ops and nn.RNN do: NaN in, NaN out, inputs untouched;
  - ACCEPTED: likewise for Inf, which tanh may saturate to a finite output: the call returns
              outputs of the plain call's shapes, inputs untouched. (The training ops refuse both.)
tests/native/test_hostile.py runs them; scripts/hostile_table.py prints the per-op table of docs/correctness.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from cases import problem

OPS = ("step", "train", "predict", "forecast", "seq_forward", "train_many", "predict_many", "train_guarded",
       "seq_backward", "cell_forward", "cell_backward")
SAME = "same as contiguous"
META = "meta kernel: shapes only"
PROPAGATES = "NaN reaches the outputs"
ACCEPTED = "accepted as a value"


@dataclass
class Case:
    op: str
    what: str
    args: Callable[[], tuple]  # fresh arguments for each run
    expect: str
    plain: Callable[[], tuple] | None = None  # for SAME: the call with contiguous tensors


def strided(t: torch.Tensor) -> torch.Tensor:
    """The same values as t, in a non-contiguous view (every other element of a larger buffer)."""
    buf = t.new_zeros(*t.shape[:-1], 2 * t.shape[-1])
    view = buf[..., ::2]
    view.copy_(t)
    assert t.numel() < 2 or not view.is_contiguous()
    return view


def _base(dtype=torch.float64):
    x, y, w1, w2 = problem(2, 3, 1, L=5, dtype=dtype)
    h = torch.tanh(torch.linspace(-1, 1, 3, dtype=dtype))
    return x, y, h, w1, w2


def _with(op: str, **override):
    """A fresh argument tuple for op, with some arguments replaced (values or callables of the base)."""

    def make():
        x, y, h, w1, w2 = _base()
        names = {
            "step": dict(x=x[0], y=y[0], h=h, w1=w1, w2=w2, lr=0.1),
            "train": dict(x=x, y=y, w1=w1, w2=w2, epochs=3, lr=0.1),
            "predict": dict(x=x, w1=w1, w2=w2),
            "forecast": dict(x=x[:, :1], w1=w1[1:], w2=w2, steps=4),  # F = O = 1
            "seq_forward": dict(x=x, h0=h, w1=w1, w2=w2),
        }[op]
        base = dict(names)
        for k, v in override.items():
            names[k] = v(base) if callable(v) else v
        return tuple(names.values())

    return make


def _nan_at(t: torch.Tensor, value=float("nan")) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[t.numel() // 2] = value
    return t


def _pair(make):
    """Two argument getters that share one call of make(base) -> (a, b): views of one buffer."""
    cache: dict = {}

    def get(i):
        def pick(b):
            if cache.get("base") is not b:
                cache.update(base=b, pair=make(b))
            return cache["pair"][i]

        return pick

    return get(0), get(1)


def _in_one_buffer(first: str, second: str, offset: int):
    """first and second (names of base arguments) copied into one buffer, second starting `offset`
    elements after first: overlapping when offset < first's size."""

    def make(b):
        a, c = b[first], b[second]
        buf = torch.zeros(offset + a.numel() + c.numel(), dtype=a.dtype)
        return (buf[: a.numel()].view(a.shape).copy_(a), buf[offset : offset + c.numel()].view(c.shape).copy_(c))

    return _pair(make)


def _many_base(dtype=torch.float64):
    """3 models of F=2, H=3, O=1 on a shared 5-step series, one lr each."""
    x, y, w1, w2 = problem(2, 3, 1, L=5, dtype=dtype)
    return dict(x=x, y=y, w1=torch.stack([w1, w1 * 0.5, -w1]), w2=torch.stack([w2, w2 * 0.5, -w2]),
                lr=torch.tensor([0.1, 0.05, 0.0], dtype=torch.float64))


def _with_many(op: str, **override):
    def make():
        b = _many_base()
        names = dict(x=b["x"], y=b["y"], w1=b["w1"], w2=b["w2"], epochs=3, lr=b["lr"]) if op == "train_many" else \
            dict(x=b["x"], w1=b["w1"], w2=b["w2"])
        base = dict(names)
        for k, v in override.items():
            names[k] = v(base) if callable(v) else v
        return tuple(names.values())

    return make


def many_cases() -> list[Case]:
    """The batched ops: N models, a shared (L, F) or per-model (N, L, F) series."""
    c: list[Case] = []
    for op in ("train_many", "predict_many"):
        train = op == "train_many"
        tensors = ("x", "y", "w1", "w2") if train else ("x", "w1", "w2")
        add = lambda what, expect, plain=None, **o: c.append(Case(op, what, _with_many(op, **o), expect, plain))  # noqa: E731
        per_model = dict(x=lambda b: b["x"].expand(3, -1, -1).clone(), **({"y": lambda b: b["y"].expand(3, -1, -1).clone()} if train else {}))
        # ranks and shapes
        add("x rank 1", "x must have shape (L, F)", x=lambda b: b["x"][0])
        add("x rank 4", "x must have shape (L, F)", x=lambda b: b["x"][None, None])
        add("w1 rank 2", "w1 must have shape (N, F+H, H)", w1=lambda b: b["w1"][0])
        add("w2 rank 2", "w2 must have shape (N, H, O)", w2=lambda b: b["w2"][0])
        add("N = 0", "at least one model", w1=lambda b: b["w1"][:0], w2=lambda b: b["w2"][:0])
        add("w2 holds fewer models", "w2 must have shape (N, H, O) with N=3", w2=lambda b: b["w2"][:2])
        add("w1 rows != F+H", "w1 must have shape (F+H, H)", w1=lambda b: b["w1"][:, :-1])
        add("x per model, wrong N", "must hold N=3", x=lambda b: b["x"].expand(2, -1, -1).clone(),
            **({"y": lambda b: b["y"].expand(2, -1, -1).clone()} if train else {}))
        add("L = 0", "at least one step", x=lambda b: b["x"][:0], **({"y": lambda b: b["y"][:0]} if train else {}))
        if train:
            add("y shared, x per model", "y must have 3 dims like x", x=per_model["x"])
            add("y length != x length", "y must have shape (L, O)", y=lambda b: b["y"][:-1])
            add("lr of 2 models", "lr must have shape (N,) = (3,)", lr=lambda b: b["lr"][:2])
            add("lr int64", "lr must be a floating-point tensor", lr=lambda b: b["lr"].long())
            add("lr negative", "lr[1]=-1", lr=lambda b: torch.tensor([0.1, -1.0, 0.1], dtype=torch.float64))
            add("lr NaN", "lr[2]=nan", lr=lambda b: _nan_at(b["lr"]).roll(1))
            add("epochs = -1", "epochs must be >= 0", epochs=-1)
            add("epochs = 2**62 (epochs * L overflows)", "epochs * L must fit in 64 bits", epochs=2**62)
            add("w1 expanded (stride 0)", "share one memory location", w1=lambda b: b["w1"][:1].expand(3, -1, -1))
            w1_, w2_ = _in_one_buffer("w1", "w2", 10)
            add("w2 overlaps w1", "w1 is written in place but shares memory with w2", w1=w1_, w2=w2_)
            w1_, x_ = _in_one_buffer("w1", "x", 4)
            add("x overlaps w1", "w1 is written in place but shares memory with x", w1=w1_, x=x_)
            add("lr is part of w1", "w1 is written in place but shares memory with lr", lr=lambda b: b["w1"][0, 0])
            add("w1 requires grad (grad mode on)", "w1 requires grad and is written in place", w1=lambda b: b["w1"].requires_grad_())
            w1_, w2_ = _in_one_buffer("w1", "w2", 60)
            add("w1, w2 side by side in one buffer", SAME, plain=_with_many(op), w1=w1_, w2=w2_)
        # dtypes and devices
        for name in tensors[1:]:
            add(f"{name} float32 among float64", f"{name} has dtype Float", **{name: lambda b, n=name: b[n].float()})
            add(f"{name} on meta, rest on CPU", f"{name} is on meta but x is on cpu", **{name: lambda b, n=name: b[n].to("meta")})
        for dt in (torch.int32, torch.int64, torch.bool, torch.float16, torch.bfloat16, torch.complex64):
            add(f"all {str(dt).replace('torch.', '')}", "must be float32 or float64", **{n: lambda b, n=n, dt=dt: b[n].to(dt) for n in tensors})
        add("all on meta", META, **{n: lambda b, n=n: b[n].to("meta") for n in tensors + (("lr",) if train else ())})
        # non-contiguous views and non-finite data
        for name in tensors:
            add(f"{name} non-contiguous", SAME, plain=_with_many(op), **{name: lambda b, n=name: strided(b[n])})
            add(f"NaN in {name}", f"{name} contains NaN or Inf", **{name: lambda b, n=name: _nan_at(b[n])})
            add(f"-Inf in {name}", f"{name} contains NaN or Inf", **{name: lambda b, n=name: _nan_at(b[n], -float("inf"))})
        row = lambda b: b["x"][:1].expand(5, 2)  # noqa: E731  a read-only stride-0 view
        add("x expanded (stride 0)", SAME, plain=_with_many(op, x=lambda b: row(b).clone()), x=row)
        add("x expanded to 2**40 steps", "cannot make a contiguous copy of x", x=lambda b: b["x"][:1].expand(2**40, 2),
            **({"y": lambda b: b["y"][:1].expand(2**40, 1)} if train else {}))
        add("x not a tensor", "Expected a value of type 'Tensor'", x=[0.0, 1.0])
    return c


def _cell_base(dtype=torch.float64):
    """The batched cell's arguments (L=4, B=3, F=2, H=3, O=2, biases) and those of its backward,
    with the cell's own outputs as ``hidden``; and seq_backward's (one sequence of 5 steps)."""
    g = torch.Generator().manual_seed(3)
    r = lambda *s: torch.randn(*s, dtype=dtype, generator=g)  # noqa: E731
    L, B, F, H, O = 4, 3, 2, 3, 2
    x, h0, w1, w2, b1, b2 = r(L, B, F), r(B, H).tanh(), r(F + H, H) * 0.5, r(H, O), r(H), r(O)
    _, hidden = torch.ops.sinernn.cell_forward(x, h0, w1, w2, b1, b2)
    sx, sy, sw1, sw2 = problem(2, 3, 1, L=5, dtype=dtype)
    sh0 = torch.tanh(torch.linspace(-1, 1, 3, dtype=dtype))
    _, s_hidden = torch.ops.sinernn.seq_forward(sx, sh0, sw1, sw2)
    return {
        "cell_forward": dict(x=x, h0=h0, w1=w1, w2=w2, b1=b1, b2=b2),
        "cell_backward": dict(grad_pred=r(L, B, O), grad_hidden=r(L, B, H), x=x, h0=h0, w1=w1, w2=w2, hidden=hidden,
                              bias1=True, bias2=True),
        "seq_backward": dict(grad_pred=r(5, 1), grad_hidden=r(5, 3), x=sx, h0=sh0, w1=sw1, w2=sw2, hidden=s_hidden),
    }


CELL_TENSORS = {"cell_forward": ("x", "h0", "w1", "w2", "b1", "b2"),
                "cell_backward": ("grad_pred", "grad_hidden", "x", "h0", "w1", "w2", "hidden"),
                "seq_backward": ("grad_pred", "grad_hidden", "x", "h0", "w1", "w2", "hidden")}


def _with_cell(op: str, **override):
    def make():
        names = _cell_base()[op]
        base = dict(names)
        for k, v in override.items():
            names[k] = v(base) if callable(v) else v
        return tuple(names.values())

    return make


def cell_cases() -> list[Case]:
    """The differentiable ops: the batched cell's forward and backward, and seq_backward."""
    c: list[Case] = []
    for op in ("cell_forward", "cell_backward", "seq_backward"):
        cell = op != "seq_backward"
        tensors = CELL_TENSORS[op]  # (the values are made when a case runs: the ops load after collection)
        add = lambda what, expect, plain=None, **o: c.append(Case(op, what, _with_cell(op, **o), expect, plain))  # noqa: E731
        # ranks and shapes
        add("x rank 2" if cell else "x rank 3", "x must have shape", x=lambda b: b["x"][0] if cell else b["x"][None])
        add("x rank 4" if cell else "x rank 1", "x must have shape", x=lambda b: b["x"][None] if cell else b["x"][0])
        add("h0 rank 1" if cell else "h0 rank 2", "h0 must have shape", h0=lambda b: b["h0"][0] if cell else b["h0"][None])
        add("h0 with another H", "h0 must have shape", h0=lambda b: b["h0"][..., :2])
        add("w1 rank 3", "must be matrices" if cell else "w1 must have shape", w1=lambda b: b["w1"][None])
        add("w2 rank 1", "must be matrices" if cell else "w2 must have shape", w2=lambda b: b["w2"][:, 0])
        add("w1 rows != F+H", "w1 must have shape (F+H, H)", w1=lambda b: b["w1"][:-1])
        add("w2 rows != H", "w2 must have shape (H, O)", w2=lambda b: b["w2"][:-1])
        if cell:
            add("h0 with another B", "h0 must have shape (B, H)", h0=lambda b: b["h0"][:2])
        if op == "cell_forward":
            add("b1 of H - 1", "b1 must have shape (H,)", b1=lambda b: b["b1"][:-1])
            add("b2 of O + 1", "b2 must have shape (O,)", b2=lambda b: torch.cat([b["b2"], b["b2"][:1]]))
            add("no biases", SAME, plain=_with_cell(op, b1=None, b2=None), b1=None, b2=None)
        else:
            for name in ("grad_pred", "grad_hidden", "hidden"):
                add(f"{name} one step short", f"{name} must have shape", **{name: lambda b, n=name: b[n][:-1]})
            add("grad_pred with O + 1 columns", "grad_pred must have shape",
                grad_pred=lambda b: torch.cat([b["grad_pred"], b["grad_pred"][..., :1]], -1))
        if op == "cell_backward":
            zero = lambda n: (lambda b: torch.zeros_like(b[n]))  # noqa: E731
            add("grad_pred None (zero)", SAME, plain=_with_cell(op, grad_pred=zero("grad_pred")), grad_pred=None)
            add("grad_hidden None (zero)", SAME, plain=_with_cell(op, grad_hidden=zero("grad_hidden")), grad_hidden=None)
            add("bias1 not a bool", "Expected a value of type 'bool'", bias1="yes")
        # zero sizes
        sized = "every size must be >= 1" if cell else "at least one"
        steps = {n: (lambda b, n=n: b[n][:0]) for n in ("x", "grad_pred", "grad_hidden", "hidden") if n in tensors}
        add("L = 0", sized, **steps)
        if cell:
            rows = {n: (lambda b, n=n: b[n][:, :0]) for n in ("x", "grad_pred", "grad_hidden", "hidden") if n in tensors}
            add("B = 0", sized, h0=lambda b: b["h0"][:0], **rows)
        F = lambda b: b["x"].shape[-1]  # noqa: E731
        add("F = 0", sized if cell else "at least one feature", x=lambda b: b["x"][..., :0], w1=lambda b: b["w1"][F(b):])
        add("O = 0", sized if cell else "at least one output", w2=lambda b: b["w2"][:, :0],
            **({"b2": lambda b: b["b2"][:0]} if op == "cell_forward" else {}),
            **({"grad_pred": lambda b: b["grad_pred"][..., :0]} if op != "cell_forward" else {}))
        # dtypes
        for name in tensors:
            if name == "x":
                continue
            add(f"{name} float32 among float64", name, **{name: lambda b, n=name: b[n].float()})
        for dt in (torch.int32, torch.int64, torch.bool, torch.float16, torch.bfloat16, torch.complex64):
            add(f"all {str(dt).replace('torch.', '')}", "must be float32 or float64",
                **{n: lambda b, n=n, dt=dt: b[n].to(dt) for n in tensors})
        # devices
        for name in tensors:
            if name != "x":
                add(f"{name} on meta, rest on CPU", f"{name} is on meta but x is on cpu", **{name: lambda b, n=name: b[n].to("meta")})
        add("all on meta", META, **{n: lambda b, n=n: b[n].to("meta") for n in tensors})
        # layouts
        for name in tensors:
            add(f"{name} non-contiguous", SAME, plain=_with_cell(op), **{name: lambda b, n=name: strided(b[n])})
        add("x expanded (stride 0)", SAME, plain=_with_cell(op, x=lambda b: b["x"][:1].expand_as(b["x"]).clone()),
            x=lambda b: b["x"][:1].expand_as(b["x"]))
        # values: taken as they come
        for name in tensors:
            add(f"NaN in {name}", PROPAGATES, **{name: lambda b, n=name: _nan_at(b[n])})
            add(f"Inf in {name}", ACCEPTED, plain=_with_cell(op), **{name: lambda b, n=name: _nan_at(b[n], float("inf"))})
        # huge sizes: a stride-0 view of 2**40 steps
        huge = {n: (lambda b, n=n: b[n][:1].expand(2**40, *b[n].shape[1:])) for n in steps}
        add("x expanded to 2**40 steps", "cannot make a contiguous copy", **huge)
        add("x not a tensor", "Expected a value of type 'Tensor'", x=[0.0, 1.0])
    return c


def cases() -> list[Case]:
    c: list[Case] = many_cases() + cell_cases()
    huge = 2**40
    for op in OPS[:5]:  # the single-model ops; many_cases() has the batched ones
        seq = op != "step"  # x, y are (L, F), (L, O) for train/predict/forecast; (F,), (O,) for step
        tensors = {"step": ("x", "y", "h", "w1", "w2"), "train": ("x", "y", "w1", "w2"),
                   "seq_forward": ("x", "h0", "w1", "w2")}.get(op, ("x", "w1", "w2"))
        written = ("w1", "w2") if op in ("step", "train") else ()
        add = lambda what, expect, plain=None, **o: c.append(Case(op, what, _with(op, **o), expect, plain))  # noqa: E731

        # ranks and shapes
        for name in tensors:
            rank = 2 if (name in ("w1", "w2") or seq) else 1
            add(f"{name} rank {rank + 1}", f"{name} must have shape", **{name: lambda b, n=name: b[n][None]})
            add(f"{name} rank 0", f"{name} must have shape", **{name: lambda b, n=name: b[n].reshape(-1)[0]})
        add("w1 rows != F+H", "w1 must have shape (F+H, H)", w1=lambda b: b["w1"][:-1])
        add("w2 rows != H", "w2 must have shape (H, O)", w2=lambda b: torch.zeros(2, 1, dtype=torch.float64))
        if op == "step":
            add("h length != H", "h must have shape (H,)", h=lambda b: b["h"][:2])
        if op == "seq_forward":
            add("h0 length != H", "h0 must have shape (H,)", h0=lambda b: b["h0"][:2])
        if op == "train":
            add("y length != x length", "y must have shape (L, O)", y=lambda b: b["y"][:-1])
            add("w2 columns != O", "w2 must have shape (H, O)", w2=lambda b: torch.zeros(3, 2, dtype=torch.float64))
        # zero-size dimensions
        if seq:
            add("L = 0", "at least one step", x=lambda b: b["x"][:0], **({"y": lambda b: b["y"][:0]} if op == "train" else {}))
        F = lambda b: b["x"].shape[-1]  # noqa: E731
        add("F = 0", "at least one feature", x=lambda b: b["x"][..., :0], w1=lambda b: b["w1"][F(b):])
        add("H = 0", "at least one hidden unit", w1=lambda b: b["w1"][: F(b), :0], w2=lambda b: b["w2"][:0],
            **({"h": lambda b: b["h"][:0]} if op == "step" else {"h0": lambda b: b["h0"][:0]} if op == "seq_forward" else {}))
        if op in ("step", "train"):
            add("O = 0", "at least one output", y=lambda b: b["y"][..., :0], w2=lambda b: b["w2"][:, :0])
        else:
            add("O = 0", "at least one output", w2=lambda b: b["w2"][:, :0])
        # dtypes
        for name in tensors:
            message = "but x has dtype Float" if name == "x" else f"{name} has dtype Float"
            add(f"{name} float32 among float64", message, **{name: lambda b, n=name: b[n].float()})
        for dt in (torch.int32, torch.int64, torch.bool, torch.float16, torch.bfloat16, torch.complex64):
            short = str(dt).replace("torch.", "")
            add(f"all {short}", "must be float32 or float64", **{n: lambda b, n=n, dt=dt: b[n].to(dt) for n in tensors})
        # non-contiguous and overlapping views
        for name in tensors:
            add(f"{name} non-contiguous", SAME, plain=_with(op), **{name: lambda b, n=name: strided(b[n])})
        if seq:
            row = lambda b: b["x"][:1].expand(5, F(b))  # noqa: E731  every step the same input: a read-only stride-0 view
            add("x expanded (stride 0)", SAME, plain=_with(op, x=lambda b: row(b).clone()), x=row)
        for name in written:
            add(f"{name} expanded (stride 0)", "share one memory location",
                **{name: lambda b, n=name: b[n][:1].expand_as(b[n])})
        if written:  # rows that overlap their neighbours: no stride is 0, so ATen can't tell; elman_checks.h can
            for strides in ((1, 1), (2, 1)):
                add(f"w1 strides {strides} (rows overlap)", "share one memory location",
                    w1=lambda b, s=strides: torch.zeros(64, dtype=torch.float64).as_strided(b["w1"].shape, s))
        # weights aliasing what the op reads
        if written:
            w1_, w2_ = _in_one_buffer("w1", "w2", 10)
            add("w2 overlaps w1", "w1 is written in place but shares memory with w2", w1=w1_, w2=w2_)
            w1_, x_ = _in_one_buffer("w1", "x", 4)
            add("x overlaps w1", "w1 is written in place but shares memory with x", w1=w1_, x=x_)
            w2_, y_ = _in_one_buffer("w2", "y", 1)
            add("y overlaps w2", "w2 is written in place but shares memory with y", w2=w2_, y=y_)
            if op == "step":
                add("h is a row of w1", "w1 is written in place but shares memory with h", h=lambda b: b["w1"][0])
            w1_, w2_ = _in_one_buffer("w1", "w2", 15)
            add("w1, w2 side by side in one buffer", SAME, plain=_with(op), w1=w1_, w2=w2_)
            add("w1 requires grad (grad mode on)", "w1 requires grad and is written in place",
                w1=lambda b: b["w1"].requires_grad_())
        # devices
        for name in tensors[1:]:
            add(f"{name} on meta, rest on CPU", f"{name} is on meta but x is on cpu", **{name: lambda b, n=name: b[n].to("meta")})
        add("all on meta", META, **{n: lambda b, n=n: b[n].to("meta") for n in tensors})
        # non-finite data
        for name in tensors:
            add(f"NaN in {name}", f"{name} contains NaN or Inf", **{name: lambda b, n=name: _nan_at(b[n])})
            add(f"-Inf in {name}", f"{name} contains NaN or Inf", **{name: lambda b, n=name: _nan_at(b[n], -float("inf"))})
        # scalars
        if op in ("step", "train"):
            for lr in (float("nan"), float("inf"), -float("inf"), -0.5):
                add(f"lr = {lr}", "lr must be a finite number >= 0", lr=lr)
            add("lr not a number", "Expected a value of type 'float'", lr="0.1")
        if op == "train":
            add("epochs = -1", "epochs must be >= 0", epochs=-1)
            add("epochs = 2**62 (epochs * L overflows)", "epochs * L must fit in 64 bits", epochs=2**62)
            add("epochs = 2.5", "Expected a value of type 'int'", epochs=2.5)
        # huge sizes
        if seq:
            add("x expanded to 2**40 steps", "cannot make a contiguous copy of x",
                x=lambda b: b["x"][:1].expand(huge, F(b)), **({"y": lambda b: b["y"][:1].expand(huge, 1)} if op == "train" else {}))
        big_h = 2**31  # w1 (F + 2**31, 2**31): 2**62 elements, as a stride-0 view
        add("H = 2**31 (stride-0 views)", "share one memory location" if written else "cannot make a contiguous copy of w1",
            w1=lambda b: b["w1"][:1, :1].expand(F(b) + big_h, big_h), w2=lambda b: b["w2"][:1, :1].expand(big_h, 1),
            **({"h": lambda b: b["h"][:1].expand(big_h)} if op == "step" else {"h0": lambda b: b["h0"][:1].expand(big_h)} if op == "seq_forward" else {}))
        if op == "forecast":
            add("F = 2, O = 1 (nothing to feed back)", "got F=2 inputs and O=1 outputs", x=lambda b: torch.cat([b["x"], b["x"]], 1),
                w1=lambda b: torch.cat([b["w1"][:1], b["w1"]]))
            add("steps = -1", "steps must be >= 0", steps=-1)
            add("steps = 2**62", "cannot allocate the forecast", steps=2**62)
            add("steps = 0", SAME, plain=_with(op, steps=0), steps=0)
        add("x not a tensor", "Expected a value of type 'Tensor'", x=[0.0, 1.0])
    # train_guarded takes train's arguments and checks them with the same code: every train case again
    c += [Case("train_guarded", t.what, t.args, t.expect, t.plain) for t in c if t.op == "train"]
    return c


def cpu_tensors(args) -> list[torch.Tensor]:
    """The CPU tensors of an argument tuple that are small enough to copy (not the 2**40 views)."""
    return [a for a in args if isinstance(a, torch.Tensor) and a.device.type == "cpu" and a.numel() < 10**6]


def unchanged(after: list[torch.Tensor], before: list[torch.Tensor]) -> bool:
    """Every tensor equal to its copy taken before the call (NaN where NaN was)."""
    return all(
        torch.equal(a.detach().isnan(), b.isnan()) and torch.equal(a.detach().nan_to_num(), b.nan_to_num())
        for a, b in zip(after, before, strict=True)
    )


def run(case: Case):
    """Call the op of case with fresh arguments; return (outcome, args)."""
    args = case.args()
    return getattr(torch.ops.sinernn, case.op)(*args), args
