"""The tutorial's figure, drawn headless (matplotlib's Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_predictions(
    time: np.ndarray, actual: np.ndarray, predicted: np.ndarray, path: str | Path, title: str | None = None
) -> Path:
    """The tutorial's scatter plot: actual points at time[:-1], predicted next points at time[1:].

    time (L+1,), actual (L,) the inputs x, predicted (L,) the teacher-forced predictions.
    Writes a PNG to ``path`` and returns it.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
