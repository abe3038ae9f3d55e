"""Command line: ``sinernn train`` (the tutorial's run), ``verify``, ``bench``, ``info``."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from . import _extension
from .data import init_weights, load_series, series_pairs, sine_data, sine_time
from .trainer import BACKENDS, DivergenceError, TrainingInterrupted, predict, train
from .verification import verify

DTYPES = {"float32": torch.float32, "float64": torch.float64}

TRAIN_EXAMPLES = """examples:
  sinernn train                              the tutorial: 300 epochs, lr 0.1, 6 hidden units, plot to sine_wave.png
  sinernn train --backend reference          the same run through PyTorch autograd (about a second)
  sinernn train --data series.csv --hidden 12 --epochs 500 --plot fit.png
"""

VERIFY_EXAMPLES = """examples:
  sinernn verify                 tutorial problem + 3 other sizes, float64 and float32
  sinernn verify --random 8 --full
exit status: 0 when every deviation is within its tolerance, 1 otherwise.
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def cmd_train(args: argparse.Namespace) -> int:
    dtype = DTYPES[args.dtype]
    if args.data is not None:
        if args.seq_length is not None:
            raise SystemExit("sinernn train: give --data or --seq-length, not both (--data sets the length)")
        series = load_series(args.data)
        x, y = series_pairs(series, dtype=dtype)
        time = np.arange(len(series), dtype=np.float64)
        source = str(args.data)
    else:
        seq_length = 20 if args.seq_length is None else args.seq_length
        x, y = sine_data(seq_length, dtype=dtype)
        time = sine_time(seq_length)
        source = f"sine wave, {seq_length} steps"
    w1, w2 = init_weights(1, args.hidden, 1, seed=args.seed, dtype=dtype)
    try:
        res = train(x, y, w1, w2, epochs=args.epochs, lr=args.lr, backend=args.backend)
    except TrainingInterrupted as stop:  # Ctrl-C: w1, w2 hold the end of the last complete epoch
        print(f"interrupted: {stop}", file=sys.stderr)
        if args.save:
            _save(args, w1, w2, stop.result, source, interrupted=True)
        return 130  # as a shell reports a program stopped by SIGINT
    if args.save:
        _save(args, w1, w2, res, source, interrupted=False)

    if args.log_every > 0:
        for i in range(0, res.epochs, args.log_every):
            print(f"Epoch: {i} loss {float(res.losses[i])}")  # the tutorial's log line
    print(f"final loss {res.final_loss} (epoch {res.epochs - 1})" if res.epochs else "final loss: no epochs run")
    how = f", native ops {_extension.load()}" if res.backend != "reference" else ""
    print(f"backend {res.backend}{how}; {args.dtype}; F=1 H={args.hidden} O=1; {source}; {res.epochs} epochs, lr {res.lr}")
    per_step = f", {res.seconds / res.steps * 1e9:.0f} ns per step" if res.steps else ""
    print(f"wall time {_format_seconds(res.seconds)}, {res.steps_per_second:,.0f} steps per second{per_step}")

    if args.plot:
        from .plots import plot_predictions

        preds = predict(x, w1, w2, backend=res.backend)
        title = f"sinernn: {res.epochs} epochs, backend {res.backend}, final loss {res.final_loss:.4g}"
        path = plot_predictions(time, x[:, 0].numpy(), preds[:, 0].numpy(), args.plot, title=title)
        print(f"plot written to {path}")
    return 0


def _save(args: argparse.Namespace, w1, w2, res, source: str, interrupted: bool) -> None:
    from .checkpoint import save_checkpoint

    path = save_checkpoint(
        args.save, w1, w2, epochs_completed=res.epochs, lr=res.lr, backend=res.backend, source=source,
        seed=args.seed, interrupted=interrupted, losses=[float(v) for v in res.losses],
    )
    print(f"checkpoint written to {path} ({res.epochs} epochs)", file=sys.stderr if interrupted else sys.stdout)


def cmd_verify(args: argparse.Namespace) -> int:
    report = verify(n_random=args.random, seed=args.seed)
    print(report.table() if args.full else report.summary())
    if not report.ok:
        worst = report.worst()
        print(
            f"FAILED: {worst.case} {worst.dtype} {worst.backend} {worst.quantity}: "
            f"deviation {worst.deviation:.2e} > tolerance {worst.tolerance:.2e}",
            file=sys.stderr,
        )
        return 1
    print("OK: the fused ops match the reference path")
    return 0


BENCH_EXAMPLES = """examples:
  sinernn bench                                   every path on the tutorial problem, then the H and L sweep
  sinernn bench --json bench.json --scaling-plot scaling.png
  sinernn bench --quick --no-scaling              a fast look (fewer rounds, no sweep)
"""


def cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarking as bm

    peak = bm.fma_peak_gflops()
    slow = 1 if args.quick else 3
    rounds = {"reference": slow, "nn.RNNCell+SGD": slow, "numpy": slow, "torchscript": slow, "cpp-step-op": slow,
              "cpp-step": 5 if args.quick else 20, "cpp": 20 if args.quick else 100}
    print(f"torch {torch.__version__}, one thread; one core's FP32 FMA peak, measured: {peak:.1f} GFLOP/s")
    print("tutorial problem (F=1, H=6, O=1, 20 steps x 300 epochs, float32), medians; each path checked against the reference first")
    tutorial = bm.tutorial_rows(list(bm.PATHS), rounds, peak)
    print(bm.format_table(tutorial))
    scaling = []
    if not args.no_scaling:
        print("\nwhole-loop op (cpp) as H grows (L = 1000) and as L grows (H = 6, 64)")
        scaling = bm.scaling_rows([1, 2, 4, 6, 8, 16, 32, 64, 128, 256], [10, 100, 1000, 10000], peak, rounds=2 if args.quick else 5)
        print(bm.format_table(scaling))
    if args.json:
        print(f"JSON written to {bm.write_json(args.json, fma_peak_gflops=peak, torch=torch.__version__, tutorial=tutorial, scaling=scaling)}")
    if args.scaling_plot and scaling:
        print(f"scaling plot written to {bm.plot_scaling(scaling, args.scaling_plot)}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    try:
        how = _extension.load()
        print(f"native ops: loaded ({'ahead-of-time sinernn._C' if how == 'aot' else 'compiled on first use'})")
        print(f"CUDA kernels built: {_extension.cuda_built()}")
    except RuntimeError as exc:
        print(f"native ops: unavailable: {exc}")
        return 1
    return 0


def _command(sub, name: str, func, help: str, description: str, examples: str | None = None) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=description, epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sinernn",
        description="Train the sine-wave Elman RNN tutorial with fused native ops, and check them against autograd.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(
        sub, "train", cmd_train,
        "train the tutorial's network, print its log, write its plot",
        "Train the tutorial's Elman network (1 input + H context -> H tanh -> 1 output) one point at a time "
        "with SGD after every step, print the tutorial's log, and write its figure.",
        TRAIN_EXAMPLES,
    )
    p.add_argument("--epochs", type=_non_negative_int, default=300, help="passes over the series (default: 300)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default: 0.1)")
    p.add_argument("--hidden", type=_positive_int, default=6, help="hidden (context) units H (default: 6)")
    p.add_argument("--seq-length", type=_positive_int, default=None, help="points of the sine wave to train on (default: 20)")
    p.add_argument("--data", default=None, metavar="FILE", help="train on a one-column series from a .csv/.txt or .npy file instead of the sine")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default: 0)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="training path (default: auto = cpp when the native ops load)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="precision (default: float32, like the tutorial)")
    p.add_argument("--plot", default="sine_wave.png", metavar="PNG", help="where to write the figure (default: sine_wave.png)")
    p.add_argument("--no-plot", dest="plot", action="store_const", const=None, help="write no figure")
    p.add_argument("--save", default=None, metavar="FILE", help="write the trained weights to a checkpoint (also on Ctrl-C: those of the last complete epoch)")
    p.add_argument("--log-every", type=_non_negative_int, default=10, help="print the loss every N epochs, 0 for never (default: 10)")

    p = _command(
        sub, "verify", cmd_verify,
        "check the fused ops against the autograd reference",
        "Train with the reference path and the fused backends from identical weights and report the largest "
        "deviation of losses, weights, predictions and hidden states, against stated tolerances.",
        VERIFY_EXAMPLES,
    )
    p.add_argument("--random", type=_non_negative_int, default=3, help="problems of other sizes besides the tutorial's (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random problems (default: 0)")
    p.add_argument("--full", action="store_true", help="one line per quantity instead of one per comparison")

    p = _command(
        sub, "bench", cmd_bench,
        "time every training path side by side",
        "Time the reference, what a user would write instead (nn.RNNCell + SGD, NumPy, TorchScript) and sinernn's "
        "backends on the tutorial problem in this process, one thread; then the whole-loop op as H and L grow, "
        "against one core's measured FP32 FMA peak.",
        BENCH_EXAMPLES,
    )
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--scaling-plot", metavar="PNG", help="draw time per step against H and L")
    p.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    p.add_argument("--no-scaling", action="store_true", help="only the tutorial problem")

    _command(sub, "info", cmd_info, "how the native ops were loaded", "Show torch's version and how sinernn's native ops were loaded.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"sinernn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DivergenceError as exc:
        print(f"sinernn {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
