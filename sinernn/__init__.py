"""sinernn: the sine-wave Elman RNN tutorial, trained by fused native ops proven equal to autograd.

    x, y = sinernn.sine_data(seq_length=20)
    w1, w2 = sinernn.init_weights(input_size=1, hidden_size=6, output_size=1, seed=0)
    res = sinernn.train(x, y, w1, w2, epochs=300, lr=0.1, backend="cpp")
    preds = sinernn.predict(x, w1, w2)
    report = sinernn.verify()
    w1s, w2s = sinernn.init_weights(models=1024, seed=0)          # many models in one call
    res = sinernn.train_many(x, y, w1s, w2s, epochs=300, lr=torch.logspace(-3, 0, 1024))
    model = sinernn.Forecaster(hidden_size=12).fit("series.csv", epochs=300)   # your own series
    layer = sinernn.nn.ElmanRNN(input_size=1, hidden_size=6, output_size=1)  # the fused cell, nn.Module

The package by layer (docs/architecture.md): ``sinernn._native`` (the binding), ``sinernn.engine``
(training), the user-facing modules here (data, series, nn, forecaster, checkpoint, ops), and
``sinernn.tools`` (CLI, verify, benchmarks, sweeps, plots).
"""

from . import _compat

_compat.install()  # old module paths (sinernn.trainer, ...) keep working, with a DeprecationWarning

from ._native.ops import available as native_available  # noqa: E402
from ._native.ops import cuda_built  # noqa: E402
from ._native.ops import load as load_native  # noqa: E402
from .data import init_weights, sine_data, sine_time, smooth_series  # noqa: E402
from .engine.backends import BACKENDS  # noqa: E402
from .engine.errors import DivergenceError, OneModelOnGpuWarning, TrainingInterrupted  # noqa: E402
from .engine.many import ManyResult, predict_many, train_many  # noqa: E402
from .engine.single import TrainResult, forecast, predict, train  # noqa: E402
from .forecaster import Forecaster  # noqa: E402
from .series import series_pairs  # noqa: E402
from .tools.verification import VerifyReport, verify  # noqa: E402
from . import checkpoint, nn, ops, series  # noqa: E402  public modules: sinernn.nn.ElmanRNN, sinernn.ops.train, ...

__version__ = "0.2.0"

__all__ = [
    "BACKENDS",
    "DivergenceError",
    "Forecaster",
    "ManyResult",
    "OneModelOnGpuWarning",
    "TrainResult",
    "TrainingInterrupted",
    "VerifyReport",
    "cuda_built",
    "forecast",
    "init_weights",
    "load_native",
    "native_available",
    "predict",
    "predict_many",
    "series_pairs",
    "sine_data",
    "sine_time",
    "smooth_series",
    "train",
    "train_many",
    "verify",
]


def __getattr__(name: str):  # old spellings: sinernn.load_series, sinernn.trainer, ... (docs/changes.md)
    return _compat.module_attribute(__name__, name)
