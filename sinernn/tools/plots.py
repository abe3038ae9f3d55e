"""The tutorial's figure, drawn headless (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._atomic import write_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path) -> Path:
    """The figure to ``path`` (its format from the suffix, PNG without one), whole or not at all;
    missing folders are made."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    try:
        write_atomic(path, lambda f: fig.savefig(f, dpi=100, format=path.suffix[1:].lower() or "png"))
    finally:
        _pyplot().close(fig)
    return path


def _column_panels(k: int):
    """One panel a column, stacked, sharing the x axis: (fig, list of axes)."""
    fig, axes = _pyplot().subplots(k, 1, figsize=(8, 2.2 + 1.8 * k), sharex=True, squeeze=False)
    return fig, list(axes[:, 0])


def _finish_panels(axes, names: list[str], xlabel: str, legend_loc: str, title: str | None) -> None:
    for ax, name in zip(axes, names):
        ax.set_ylabel(name)
    axes[0].legend(loc=legend_loc)
    axes[-1].set_xlabel(xlabel)
    if title:
        axes[0].set_title(title)


def _time_axis(time: np.ndarray) -> tuple[np.ndarray, list | None]:
    """x positions for time labels: numbers and datetime64 as they are (matplotlib draws dates);
    text labels as 0..T-1, with up to 8 of them as tick labels."""
    time = np.asarray(time)
    if time.dtype.kind in "iufM":
        return time, None
    ticks = np.unique(np.linspace(0, len(time) - 1, min(8, len(time))).round().astype(int))
    return np.arange(len(time), dtype=np.float64), [(int(i), str(time[i])) for i in ticks]


def plot_fit(time: np.ndarray, actual: np.ndarray, predicted: np.ndarray, names: list[str], path: str | Path,
             title: str | None = None, val_start: int | None = None, time_name: str | None = None) -> Path:
    """One panel per target column: the series (line) and the one-step-ahead predictions (dots).

    time (T,) numbers, datetime64 or text labels; actual (T, k) the observed targets; predicted
    (T-1, k) the predictions for time[1:]. val_start: index of the first held-out point, marked by a
    line and a shaded span. time_name: the time axis' label (default "t")."""
    actual, predicted = np.atleast_2d(np.asarray(actual).T).T, np.atleast_2d(np.asarray(predicted).T).T
    x, ticks = _time_axis(time)
    fig, axes = _column_panels(actual.shape[1])
    for j, ax in enumerate(axes):
        ax.plot(x, actual[:, j], color="tab:blue", lw=1.2, label="actual")
        ax.scatter(x[1:], predicted[:, j], s=8, color="tab:orange", label="predicted (one step ahead)", zorder=3)
        if val_start is not None:
            ax.axvspan(x[val_start], x[-1], color="0.85", zorder=0, label="held out (validation)")
            ax.axvline(x[val_start], color="black", lw=0.8, ls="--")
    if ticks is not None:
        axes[-1].set_xticks([x[i] for i, _ in ticks], [label for _, label in ticks], rotation=30, ha="right")
    _finish_panels(axes, names, time_name or "t", "upper right", title)
    return save_figure(fig, path)


def plot_losses(train: list[float], val: list[float], path: str | Path, title: str | None = None) -> Path:
    """The loss per step against the epoch: training (mean step loss while training) and, when
    given, validation (mean step loss over the held-out part, teacher-forced). One scale for both."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(len(train)), train, label="training (while training)")
    if val:
        ax.plot(np.arange(len(val)), val, label="validation (teacher-forced, no updates)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per step (normalised units)")
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_forecast(history: np.ndarray, forecast: np.ndarray, names: list[str], path: str | Path,
                  truth: np.ndarray | None = None, title: str | None = None) -> Path:
    """One panel per column: the observed history (T, k), then the closed-loop forecast (N, k) past
    its end, and the true continuation (N, k) when known."""
    history, forecast = np.atleast_2d(np.asarray(history).T).T, np.atleast_2d(np.asarray(forecast).T).T
    n_hist, n_fc = history.shape[0], forecast.shape[0]
    fig, axes = _column_panels(history.shape[1])
    t_hist, t_fc = np.arange(n_hist), np.arange(n_hist, n_hist + n_fc)
    for j, ax in enumerate(axes):
        ax.plot(t_hist, history[:, j], color="tab:blue", lw=1.2, label="observed")
        ax.plot(t_fc, forecast[:, j], color="tab:red", lw=2, label="forecast (closed loop)")
        if truth is not None:  # drawn on top, dashed: visible even where the forecast is exact
            ax.plot(t_fc, np.asarray(truth)[:, j], color="black", lw=1, ls="--", label="true continuation")
        ax.axvline(n_hist - 0.5, color="black", lw=0.6, ls=":")
    _finish_panels(axes, names, "step", "upper left", title)
    return save_figure(fig, path)


def plot_predictions(
    time: np.ndarray, actual: np.ndarray, predicted: np.ndarray, path: str | Path, title: str | None = None
) -> Path:
    """The tutorial's scatter plot: actual points at time[:-1], predicted next points at time[1:].

    time (L+1,), actual (L,) the inputs x, predicted (L,) the teacher-forced predictions.
    Writes a PNG to ``path`` and returns it.
    """
    plt = _pyplot()
    time, actual, predicted = (np.asarray(a, dtype=np.float64).ravel() for a in (time, actual, predicted))
    if not (len(time) == len(actual) + 1 == len(predicted) + 1):
        raise ValueError(
            f"time must have one point more than actual and predicted, got {len(time)}, {len(actual)}, {len(predicted)}"
        )
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(time[:-1], actual, s=90, label="Actual")
    ax.scatter(time[1:], predicted, label="Predicted")
    ax.set_xlabel("t")
    ax.set_ylabel("value")
    if title:
        ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)


def plot_sweep(sweep, path: str | Path) -> Path:
    """Final loss against learning rate (log-log): every seed as a dot, the median over the seeds
    as a line, diverged runs as crosses along the top."""
    plt = _pyplot()
    lrs = sweep.spec.lrs().numpy()
    losses, diverged = sweep.final_losses, sweep.diverged
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i in range(losses.shape[1]):
        ok = ~diverged[:, i]
        ax.scatter(lrs[ok], losses[ok, i], s=6, color="tab:blue", alpha=0.35, label="one seed" if i == 0 else None)
    median = np.array([np.median(row[~d]) if (~d).any() else np.nan for row, d in zip(losses, diverged)])
    ax.plot(lrs, median, color="tab:red", lw=2, label=f"median over {losses.shape[1]} seeds")
    n_div = diverged.sum(axis=1)
    if n_div.any():
        top = np.nanmax(losses[~diverged]) if (~diverged).any() else 1.0
        ax.scatter(lrs[n_div > 0], np.full((n_div > 0).sum(), top * 2), marker="x", color="black",
                   label="diverged (some seeds)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"loss of the last epoch (epoch {sweep.spec.epochs - 1})")
    ax.set_title(f"sinernn sweep: {sweep.spec.n_lrs} learning rates x {sweep.spec.n_seeds} seeds, H={sweep.spec.hidden_size}, "
                 f"{sweep.result.models} models in one call")
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)
