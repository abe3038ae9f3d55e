"""Checking the fused native ops against the reference path, from identical weights.

Each case trains with the reference (autograd) and with the fused backends, then predicts
(teacher-forced); the report holds the largest deviation of every quantity: per-epoch losses,
trained weights, predictions, hidden states. Deviations are relative to the largest magnitude of
the float64 reference quantity: ``max|fused - ref| / max|ref64|``.

Tolerances:
* float64: ``1e-9`` over whole training runs. Fused and reference differ only in the order of
  sums and in libm's vs PyTorch's tanh, a few ulps (1e-16) per step.
* float32: derived from the reference's own error at that precision. A float32 run is about
  ``E = dev(ref32, ref64)`` away from the float64 run; an equally accurate float32 run is about
  as far, so two of them differ by up to ~2E (seen: up to 2.0E over the cases below). The
  tolerance is ``4 * E + 4 * eps32``: twice that margin, plus four float32 ulps of the largest
  value for quantities where the reference's own error happens to be near zero.
  Where the problem amplifies small differences (a sensitive output, SGD near its stability limit,
  a recurrence close to chaos), a float32 run's error is set less by its own roundings than by how
  they are amplified, and by chance: the reference's own E may come out small where an equally
  accurate run's does not (seen: predictions of an F=1, H=10, O=16 net, E = 1.3e-6, fused 1.2e-5).
  So E is the largest error of an ensemble of float32 reference runs: the one from the case's
  weights and two from weights moved by one float32 rounding (relative ``eps32``, see
  ``perturbed``), all equally valid float32 runs. The tolerance is ``4 * E + 4 * eps32``; on
  well-conditioned problems (the tutorial) the three agree and nothing changes.
* "cpp" against "cpp-step": 0. Both run the same compiled step, so they agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..data import init_weights, sine_data, smooth_series
from ..engine.single import predict, train

FLOAT64_TOL = 1e-9
FLOAT32_FACTOR = 4.0
FLOAT32_FLOOR = 4 * torch.finfo(torch.float32).eps
QUANTITIES = ("losses", "w1", "w2", "pred", "hidden")


@dataclass(frozen=True)
class Case:
    """One training problem: sizes, series length, epochs, learning rate, seed of weights and data."""

    name: str
    input_size: int
    hidden_size: int
    output_size: int
    seq_length: int
    epochs: int
    lr: float
    seed: int

    def data(self) -> tuple[Tensor, Tensor]:
        """x (L, F), y (L, O) in float64: the tutorial's sine for the tutorial case, else random."""
        if self.name == "tutorial":
            return sine_data(self.seq_length, dtype=torch.float64)
        return smooth_series(self.seq_length, self.input_size, self.output_size, seed=self.seed)


TUTORIAL = Case("tutorial", 1, 6, 1, 20, 300, 0.1, 0)


def random_cases(count: int, seed: int = 0) -> list[Case]:
    """Sizes 1 and odd sizes first (H=1; F=3, O=2; F=2, H=7, O=3), then random draws."""
    fixed = [(1, 1, 1), (3, 1, 2), (2, 7, 3)]
    g = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(count):
        if i < len(fixed):
            F, H, O = fixed[i]
        else:
            F, H, O = (int(v) for v in torch.randint(1, 13, (3,), generator=g))
        L = int(torch.randint(1, 31, (), generator=g))
        cases.append(Case(f"random{i}", F, H, O, L, 40, 0.05, seed * 1000 + i + 1))
    return cases


def perturbed(w: Tensor, seed: int) -> Tensor:
    """w (float64) with each element moved by a relative eps32 (one float32 rounding), up or down."""
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, w.shape, generator=g, dtype=torch.float64) * 2 - 1
    return w * (1 + signs * torch.finfo(torch.float32).eps)


def float32_tolerance(ref32s: list[Tensor], ref64: Tensor) -> float:
    """The float32 tolerance of one quantity, relative to max|ref64|: 4 x the largest error of the
    float32 reference runs in ``ref32s`` (the ensemble of the module docstring) + 4 eps32."""
    return FLOAT32_FACTOR * max(relative_deviation(r, ref64, ref64) for r in ref32s) + FLOAT32_FLOOR


ENSEMBLE_SEEDS = (1, 2)  # the perturbed members of the float32 ensemble


def run_case(case: Case, dtype: torch.dtype, backend: str, perturb: int = 0) -> dict[str, Tensor]:
    """Train and predict one case from its seeded initial weights (``perturb``, when not 0: moved by
    a float32 rounding drawn with that seed, see ``perturbed``); every quantity as float64."""
    x, y = (t.to(dtype) for t in case.data())
    w1, w2 = init_weights(case.input_size, case.hidden_size, case.output_size, case.seed, torch.float64)
    if perturb:
        w1, w2 = perturbed(w1, 2 * perturb), perturbed(w2, 2 * perturb + 1)
    w1, w2 = w1.to(dtype), w2.to(dtype)
    res = train(x, y, w1, w2, epochs=case.epochs, lr=case.lr, backend=backend)
    pred, hidden = predict(x, w1, w2, backend=backend, return_hidden=True)
    out = {"losses": res.losses, "w1": w1, "w2": w2, "pred": pred, "hidden": hidden}
    return {k: v.to(torch.float64) for k, v in out.items()}


def relative_deviation(a: Tensor, b: Tensor, scale: Tensor) -> float:
    """max|a - b| / max|scale| (absolute when scale is all zeros or empty)."""
    if a.numel() == 0:
        return 0.0
    s = scale.abs().max().item()
    return (a - b).abs().max().item() / (s if s > 0 else 1.0)


@dataclass
class Check:
    case: str
    dtype: str
    backend: str  # compared against the reference, or "cpp vs cpp-step"
    quantity: str
    deviation: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.deviation <= self.tolerance


@dataclass
class VerifyReport:
    """All checks of one ``verify`` run; ``ok`` when every deviation is within its tolerance."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def worst(self) -> Check:
        """The check closest to (or furthest past) its tolerance."""
        return max(self.checks, key=lambda c: c.deviation / c.tolerance if c.tolerance else float(c.deviation > 0))

    def summary(self) -> str:
        """One line per case, dtype and comparison: its worst quantity."""
        groups: dict[tuple[str, str, str], list[Check]] = {}
        for c in self.checks:
            groups.setdefault((c.case, c.dtype, c.backend), []).append(c)
        lines = [f"{'case':<10} {'dtype':<8} {'compared':<17} {'worst':<8} {'deviation':>10} {'tolerance':>10}  ok"]
        for (case, dtype, backend), group in groups.items():
            w = VerifyReport(group).worst()
            ok = "yes" if all(c.ok for c in group) else "NO"
            lines.append(f"{case:<10} {dtype:<8} {backend:<17} {w.quantity:<8} {w.deviation:>10.2e} {w.tolerance:>10.2e}  {ok}")
        n_bad = sum(not c.ok for c in self.checks)
        lines.append(f"{len(self.checks) - n_bad} checks within tolerance, {n_bad} exceeded")
        return "\n".join(lines)

    def table(self) -> str:
        lines = [f"{'case':<10} {'dtype':<8} {'compared':<17} {'quantity':<8} {'deviation':>10} {'tolerance':>10}  ok"]
        for c in self.checks:
            lines.append(
                f"{c.case:<10} {c.dtype:<8} {c.backend:<17} {c.quantity:<8} {c.deviation:>10.2e} {c.tolerance:>10.2e}  "
                + ("yes" if c.ok else "NO")
            )
        n_bad = sum(not c.ok for c in self.checks)
        lines.append(f"{len(self.checks) - n_bad} checks within tolerance, {n_bad} exceeded")
        return "\n".join(lines)


def verify(
    n_random: int = 3,
    seed: int = 0,
    dtypes: tuple[torch.dtype, ...] = (torch.float64, torch.float32),
    backends: tuple[str, ...] = ("cpp", "cpp-step"),
    include_tutorial: bool = True,
) -> VerifyReport:
    """Run the fused backends and the reference from identical weights; report the deviations.

    Cases: the tutorial problem (F=1, H=6, O=1, L=20, 300 epochs, lr=0.1) and ``n_random`` other
    sizes (H=1, F=3/O=2 and F=2/H=7/O=3 first). See the module docstring for the tolerances.
    """
    cases = ([TUTORIAL] if include_tutorial else []) + random_cases(n_random, seed)
    report = VerifyReport()
    for case in cases:
        ref64 = run_case(case, torch.float64, "reference")
        for dtype in dtypes:
            dname = str(dtype).replace("torch.", "")
            if dtype == torch.float64:
                ref, tols = ref64, {q: FLOAT64_TOL for q in QUANTITIES}
            else:
                ref = run_case(case, dtype, "reference")
                ensemble = [ref] + [run_case(case, dtype, "reference", perturb=k) for k in ENSEMBLE_SEEDS]
                tols = {q: float32_tolerance([r[q] for r in ensemble], ref64[q]) for q in QUANTITIES}
            runs = {b: run_case(case, dtype, b) for b in backends}
            for b, run in runs.items():
                for q in QUANTITIES:
                    dev = relative_deviation(run[q], ref[q], ref64[q])
                    report.checks.append(Check(case.name, dname, b, q, dev, tols[q]))
            if "cpp" in runs and "cpp-step" in runs:
                for q in QUANTITIES:
                    dev = relative_deviation(runs["cpp"][q], runs["cpp-step"][q], ref64[q])
                    report.checks.append(Check(case.name, dname, "cpp vs cpp-step", q, dev, 0.0))
    return report
