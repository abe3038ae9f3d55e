"""docs/figures/forecast.png, the forecasting figure: train on ten periods of a sine (40 points a period), forecast
two periods closed-loop, print the error per period, draw history + forecast + truth.

    .venv/bin/python scripts/forecast_sine.py [docs/figures/forecast.png]
"""

import sys

import numpy as np
import torch

from sinernn import Forecaster
from sinernn.tools.plots import plot_forecast

PERIOD, TRAIN, AHEAD = 40, 400, 80


def main(path: str = "docs/figures/forecast.png") -> None:
    s = np.sin(np.arange(TRAIN + AHEAD) * 2 * np.pi / PERIOD)
    model = Forecaster(12, lr=0.01, dtype=torch.float64, normalize=False).fit(s[:TRAIN], 5000)
    fc = model.forecast(AHEAD)[:, 0]
    err = np.abs(fc - s[TRAIN:])
    print(f"{model}; final training loss {model.history.train[-1]:.4g}")
    for k in range(AHEAD // PERIOD):
        print(f"period {k + 1} ahead: max |error| {err[k * PERIOD:(k + 1) * PERIOD].max():.4f}")
    title = f"sine, {PERIOD} points a period: {AHEAD} steps forecast closed-loop after {TRAIN} observed"
    print(f"plot written to {plot_forecast(s[TRAIN - 3 * PERIOD:TRAIN, None], fc[:, None], ['sin'], path, truth=s[TRAIN:, None], title=title)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
