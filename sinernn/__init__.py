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
"""

from ._extension import available as native_available
from ._extension import cuda_built
from ._extension import load as load_native
from .data import init_weights, load_series, series_pairs, sine_data, sine_time, smooth_series
from .forecaster import Forecaster
from .many import ManyResult, predict_many, train_many
from .trainer import BACKENDS, DivergenceError, TrainingInterrupted, TrainResult, predict, train
from .verification import VerifyReport, verify
from . import nn  # noqa: E402  sinernn.nn.ElmanRNN, the differentiable cell as a module

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "DivergenceError",
    "Forecaster",
    "ManyResult",
    "TrainResult",
    "TrainingInterrupted",
    "VerifyReport",
    "cuda_built",
    "init_weights",
    "load_native",
    "load_series",
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
