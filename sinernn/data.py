"""The tutorial's data and initial weights, and random smooth series for tests and checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .engine.checks import check_int
from .series import series_pairs


def sine_time(seq_length: int = 20, start: float = 2.0, stop: float = 10.0) -> np.ndarray:
    """The tutorial's time points: ``np.linspace(start, stop, seq_length + 1)``, float64 (L+1,)."""
    seq_length = check_int("seq_length", seq_length)
    return np.linspace(start, stop, seq_length + 1)


def sine_data(seq_length: int = 20, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """The tutorial's series: ``d = sin(linspace(2, 10, L+1))``, ``x = d[:-1]``, ``y = d[1:]``.

    Returns x (L, 1) and y (L, 1) of ``dtype`` (float32 like the tutorial, or float64):
    predict the next point from the current one. The sine is taken in float64, then cast.
    """
    return series_pairs(np.sin(sine_time(seq_length)), dtype=dtype)


def init_weights(
    input_size: int = 1,
    hidden_size: int = 6,
    output_size: int = 1,
    seed: int | Sequence[int] | None = 0,
    dtype: torch.dtype = torch.float32,
    models: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """The tutorial's initial weights: w1 (F+H, H) ~ N(0, 0.4) drawn first, then w2 (H, O) ~ N(0, 0.3),
    with F = input_size, H = hidden_size, O = output_size (torch.nn's names).

    The draws are those of ``torch.manual_seed(seed)`` followed by ``normal_`` on tensors of these
    shapes and ``dtype``, in the tutorial's order; they use a private generator, so the global
    random state is left alone. ``seed=None`` draws from the global generator, like the tutorial.

    ``models=N`` draws N models for ``train_many``: w1 (N, F+H, H), w2 (N, H, O). Model i is
    ``init_weights(seed=seed + i)`` (an int seed), ``init_weights(seed=seed[i])`` (a sequence of N
    seeds), or, with ``generator``, the models drawn one after another from that generator.
    """
    input_size, hidden_size, output_size = (check_int(name, value) for name, value in
                                            (("input_size", input_size), ("hidden_size", hidden_size), ("output_size", output_size)))
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if models is not None:
        return _init_many(input_size, hidden_size, output_size, seed, dtype, models, generator)
    if generator is None and seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        generator = torch.Generator().manual_seed(seed)
    w1 = torch.empty(input_size + hidden_size, hidden_size, dtype=dtype).normal_(0.0, 0.4, generator=generator)
    w2 = torch.empty(hidden_size, output_size, dtype=dtype).normal_(0.0, 0.3, generator=generator)
    return w1, w2


def _init_many(F, H, O, seed, dtype, models, generator) -> tuple[Tensor, Tensor]:
    models = check_int("models", models)
    if generator is not None:
        seeds = [None] * models
    elif isinstance(seed, int) and not isinstance(seed, bool):
        seeds = [seed + i for i in range(models)]
    elif isinstance(seed, Sequence) and not isinstance(seed, str):
        seeds = list(seed)
        if len(seeds) != models or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ValueError(f"seed must be an int or a sequence of models={models} ints, got {seed!r}")
    else:
        raise TypeError(f"with models=N, seed must be an int or a sequence of N ints (or pass generator), got {seed!r}")
    pairs = [init_weights(F, H, O, seed=s, dtype=dtype, generator=generator) for s in seeds]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def smooth_series(
    seq_length: int, input_size: int, output_size: int, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor]:
    """A random smooth multi-channel series for tests and checks: sines of random frequency and phase.

    Channel c is ``sin(f_c * t + phase_c)`` on t = linspace(0, 6, L+1); x (L, F) holds the first
    F = input_size channels at t_0..t_{L-1}, y (L, O) the first O = output_size channels one step later.
    """
    g = torch.Generator().manual_seed(seed)
    n = max(input_size, output_size)
    t = torch.linspace(0, 6, seq_length + 1, dtype=torch.float64)[:, None]
    freq = 0.5 + 2 * torch.rand(n, generator=g, dtype=torch.float64)
    phase = 6 * torch.rand(n, generator=g, dtype=torch.float64)
    s = torch.sin(t * freq + phase).to(dtype)
    return s[:-1, :input_size].contiguous(), s[1:, :output_size].contiguous()


def __getattr__(name: str):  # old spellings (docs/changes.md)
    from . import _compat

    return _compat.module_attribute(__name__, name)
