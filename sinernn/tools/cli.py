"""Command line: ``sinernn train`` (the tutorial's run), ``forecast``, ``predict``, ``verify``, ``bench``,
``sweep`` (many models in one call), ``info``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import series
from .._atomic import write_text_atomic
from .._native import ops
from ..data import sine_time
from ..engine.backends import BACKENDS, MANY_BACKENDS
from ..engine.errors import DivergenceError, TrainingInterrupted
from ..engine.single import predict, train
from .verification import verify

DTYPES = {"float32": torch.float32, "float64": torch.float64}

TRAIN_EXAMPLES = """examples:
  sinernn train                              the tutorial: 300 epochs, lr 0.1, 6 hidden units, plot to sine_wave.png
  sinernn train --backend reference          the same run through PyTorch autograd (about a second)
  sinernn train --data sensors.csv --columns a b c --val-frac 0.2 --hidden-size 12 --lr 0.02 --epochs 500 \\
                --save sensors.pt --plot fit.png --loss-plot loss.png
                                             columns a, b, c at t -> the same at t+1, z-scored, last 20% held out
  sinernn train --data co2.csv --time-column date --columns co2 --missing interpolate
                                             a pandas/Excel CSV: dates label the plot, gaps filled (and counted)
  sinernn train --data prices.npy --columns 0 --targets 1 --save m.pt
  sinernn train --epochs 1000000 --save model.pt     Ctrl-C stops at an epoch boundary and still saves
"""

FORECAST_EXAMPLES = """examples:
  sinernn forecast sensors.pt --steps 50                     CSV of 50 steps past the training data, on stdout
  sinernn forecast sensors.pt --steps 50 --out fc.csv --plot fc.png
  sinernn forecast sensors.pt --steps 50 --data recent.csv   warm up on other data, forecast past its end
"""

PREDICT_EXAMPLES = """examples:
  sinernn predict sensors.pt --data sensors.csv              one-step-ahead predictions as CSV on stdout
  sinernn predict sensors.pt --data new.csv --out pred.csv
"""

SWEEP_EXAMPLES = """examples:
  sinernn sweep                                  64 learning rates x 16 seeds: 1024 tutorial networks in one call
  sinernn sweep --lrs 128 --seeds 32 --lr-max 5 --table s.csv --plot s.png
  sinernn sweep --device cuda                    the same on the GPU (sinernn built with CUDA kernels)
  sinernn sweep --threads 1                      one CPU thread (default: torch's intra-op threads)
  torchrun --nproc-per-node 2 -m sinernn sweep --out-dir shards      sharded over 2 processes (gloo), rank 0 writes
  torchrun --nproc-per-node 2 -m sinernn sweep --out-dir shards --resume   after a failure: train only the missing shards
the table has one row a learning rate: median, best and worst final loss over the seeds, and how many diverged.
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


def check_outputs(**paths: str | None) -> None:
    """Before any work: each output path (flag name -> path; None: not asked for) can be written.
    A missing folder is fine (it is made when the file is written) when the nearest folder that
    exists takes a new file; the path itself must not be a folder. Raises ValueError naming the flag,
    so a run is never lost to a typo in an output path at its end."""
    for flag, path in paths.items():
        if path is None or path == "-":
            continue
        option = "--" + flag.rstrip("_").replace("_", "-")
        p = Path(path)
        if p.is_dir():
            raise ValueError(f"{option} {path}: is a folder, not a file")
        folder = p.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise ValueError(f"{option} {path}: {folder} is not a folder")
        try:  # as the write will: a new file in that folder (os.access would answer yes to root)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise ValueError(f"{option} {path}: can't write in {folder} ({exc.strerror or exc})") from None


def check_output_folder(flag: str, path: str | None) -> None:
    """As check_outputs, for a folder to be made or written into."""
    if path is None:
        return
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"--{flag} {path}: is a file, not a folder")
    check_outputs(**{flag.replace("-", "_"): str(p / "index.json")})


def _read_table(data: str, columns, time_column, missing: str, command: str) -> series.Table:
    """The series file, its filled-value warning (if any) printed as one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", series.MissingValuesFilled)
        table = series.as_table(data, columns, time_column=time_column, missing=missing)
    for w in caught:
        print(f"sinernn {command}: {w.message}", file=sys.stderr)
    return table


def cmd_train(args: argparse.Namespace) -> int:
    from ..forecaster import Forecaster

    dtype = DTYPES[args.dtype]
    check_outputs(save=args.save, plot=args.plot, loss_plot=args.loss_plot)
    time_name = None
    if args.data is not None:
        if args.seq_length is not None:
            raise SystemExit("sinernn train: give --data or --seq-length, not both (--data sets the length)")
        table = _read_table(args.data, series.wanted_columns(args.columns, args.targets), args.time_column, args.missing,
                            "train")
        time = table.time if table.time is not None else np.arange(table.values.shape[0], dtype=np.float64)
        time_name = table.time_name
        normalize = not args.no_normalize
    else:
        if args.columns or args.targets or args.val_frac or args.time_column:
            raise SystemExit("sinernn train: --columns, --targets, --time-column and --val-frac need --data")
        seq_length = 20 if args.seq_length is None else args.seq_length
        time = sine_time(seq_length)
        table = series.Table(np.sin(time)[:, None], ["sin"], f"sine wave, {seq_length} steps")
        normalize = False  # the tutorial trains on the raw sine
    model = Forecaster(args.hidden_size, lr=args.lr, seed=args.seed, dtype=dtype, backend=args.backend, normalize=normalize)
    try:
        model.fit(table, args.epochs, columns=args.columns, targets=args.targets, val_frac=args.val_frac,
                  progress=False if args.quiet else None)
    except TrainingInterrupted as stop:  # Ctrl-C: the model holds the end of the last complete epoch
        print(f"interrupted: {stop}", file=sys.stderr)
        if args.save and model.epochs_trained:
            _save(model, args.save)
            print(f"checkpoint written to {args.save} ({model.epochs_trained} epochs)", file=sys.stderr)
        return 130  # as a shell reports a program stopped by SIGINT
    run, losses = model.last_run, model.history.train_total

    if args.log_every > 0 and not args.quiet:
        for i in range(0, len(losses), args.log_every):
            # the tutorial's log line (the epoch's summed loss), then both losses per step, on one scale
            val = (f"  (per step: training {model.history.train[i]:.6g}, validation {model.history.val[i]:.6g})"
                   if model.history.val else "")
            print(f"Epoch: {i} loss {losses[i]}{val}")
    print(f"final loss {losses[-1]} (epoch {len(losses) - 1})" if losses else "final loss: no epochs run")
    if model.history.val:
        print(f"final loss per step: training {model.history.train[-1]:.6g}, validation {model.history.val[-1]:.6g} "
              f"(teacher-forced on the last {args.val_frac:g} of the series)")
    how = f", native ops {ops.load()}" if run["backend"] != "reference" else ""
    names = lambda idx: ",".join(model.columns[i] for i in idx)  # noqa: E731
    print(f"backend {run['backend']}{how}; {args.dtype}; F={model.input_size} H={model.hidden_size} O={model.output_size}; "
          f"{table.source}; {names(model.inputs)} -> {names(model.targets)}; {run['epochs']} epochs, lr {model.lr}")
    per_step = f", {run['seconds'] / run['steps'] * 1e9:.0f} ns per step" if run["steps"] else ""
    rate = run["steps"] / run["seconds"] if run["seconds"] > 0 else float("inf")
    print(f"wall time {_format_seconds(run['seconds'])}, {rate:,.0f} steps per second{per_step}")

    if args.save:
        _save(model, args.save)
        print(f"model written to {args.save}")
    if args.plot and losses:
        from . import plots

        preds = model.predict(table)[:-1]  # row t predicts t + 1; the last row predicts past the data
        title = f"sinernn: {len(losses)} epochs, backend {run['backend']}, final loss {losses[-1]:.4g}"
        if args.data is None:  # the tutorial's figure
            path = plots.plot_predictions(time, table.values[:-1, 0], preds[:, 0], args.plot, title=title)
        else:
            n_train = series.split_point(table.values.shape[0], args.val_frac)
            path = plots.plot_fit(time, table.values[:, model.targets], preds, [model.columns[i] for i in model.targets], args.plot,
                                  title=title, val_start=n_train if n_train < len(time) else None, time_name=time_name)
        print(f"plot written to {path}")
    if args.loss_plot and losses:
        from .plots import plot_losses

        print(f"loss plot written to {plot_losses(model.history.train, model.history.val, args.loss_plot)}")
    return 0


def _save(model, path: str) -> None:
    """The model's checkpoint; missing folders are made (check_outputs said they can be)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    model.save(path)


def _write_csv(values: np.ndarray, names: list[str], out: str | None) -> None:
    """Rows of numbers with a header line, to ``out`` (whole or not at all) or standard output."""
    text = ",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in values)
    if out is None or out == "-":
        sys.stdout.write(text)
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, text)
        print(f"written to {out} ({len(values)} rows)", file=sys.stderr)


def cmd_forecast(args: argparse.Namespace) -> int:
    from ..forecaster import Forecaster

    check_outputs(out=args.out, plot=args.plot)
    model = Forecaster.load(args.model)
    table = None if args.data is None else _read_table(args.data, model.columns, None, args.missing, "forecast")
    history = model.tail if table is None else table.values
    fc = model.forecast(args.steps, table)
    names = [model.columns[i] for i in model.targets]
    _write_csv(fc, names, args.out)
    if args.plot:
        from .plots import plot_forecast

        shown = history[-max(4 * args.steps, 50):, model.targets]
        title = f"{args.model}: {args.steps} steps past the end of the {'training ' if args.data is None else ''}data"
        print(f"plot written to {plot_forecast(shown, fc, names, args.plot, title=title)}", file=sys.stderr)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..forecaster import Forecaster

    check_outputs(out=args.out)
    model = Forecaster.load(args.model)
    preds = model.predict(_read_table(args.data, model.columns, None, args.missing, "predict"))
    _write_csv(preds, [f"next_{model.columns[i]}" for i in model.targets], args.out)
    return 0


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

    check_outputs(json=args.json, scaling_plot=args.scaling_plot)
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
    threads = os.cpu_count() or 1
    print(f"\nmany models in one call (train_many, N=4096 tutorial networks, {threads} threads; "
          "speed-up over the single-model op, peak share of the cores used)")
    many = bm.many_rows(4096, threads, peak, rounds=3 if args.quick else 7)
    print(bm.format_table(many))
    if args.json:
        print(f"JSON written to {bm.write_json(args.json, fma_peak_gflops=peak, torch=torch.__version__, tutorial=tutorial, scaling=scaling, many=many)}")
    if args.scaling_plot and scaling:
        print(f"scaling plot written to {bm.plot_scaling(scaling, args.scaling_plot)}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from . import distributed, plots
    from .sweep import SweepSpec, run

    spec = SweepSpec(n_lrs=args.lrs, n_seeds=args.seeds, lr_min=args.lr_min, lr_max=args.lr_max, epochs=args.epochs,
                     seq_length=args.seq_length or 20, hidden_size=args.hidden_size, seed=args.seed, dtype=args.dtype)
    if args.resume and not args.out_dir:
        raise ValueError("--resume needs --out-dir (the shard files to resume from)")
    check_outputs(table=args.table, plot=args.plot)
    check_output_folder("out-dir", args.out_dir)
    if args.device is not None:
        try:
            device = torch.device(args.device)
        except RuntimeError as exc:
            raise ValueError(f"--device {args.device!r}: {exc}") from None
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"--device must be cpu or cuda[:k], got {args.device!r}")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: no GPU is visible here (torch.cuda.is_available() is False)")
    if distributed.launched() or args.out_dir is not None:  # torchrun's ranks, or one process keeping shard files
        sweep, where = distributed.sweep_sharded(spec, device=args.device, out_dir=args.out_dir, resume=args.resume,
                                                 dist_backend=args.dist_backend, timeout_s=args.timeout,
                                                 threads=args.threads)
        if sweep is None:  # a rank other than 0: its shard went to rank 0
            return 0
    else:
        where = args.device or "cpu"
        if args.threads:
            torch.set_num_threads(args.threads)
        sweep = run(spec, device=where, backend=args.backend)
    res = sweep.result
    print(f"{res.models} models ({spec.n_lrs} learning rates {spec.lr_min:g}..{spec.lr_max:g} x {spec.n_seeds} seeds), "
          f"H={spec.hidden_size}, {spec.seq_length} steps x {spec.epochs} epochs, {spec.dtype}, backend {res.backend} on "
          f"{where}" + (f" ({torch.get_num_threads()} threads)" if where == "cpu" else ""))
    print(f"wall time {_format_seconds(res.seconds)}, {res.model_steps_per_second:,.0f} model-steps per second")
    rows = sweep.rows()
    best = min((r for r in rows if r["diverged"] < r["seeds"]), key=lambda r: r["median_final_loss"], default=None)
    if best is not None:
        print(f"best median final loss {best['median_final_loss']:.4g} at lr {best['lr']:.4g}")
    print(f"diverged: {sum(r['diverged'] for r in rows)} of {res.models} models")
    if args.table:
        print(f"table written to {sweep.write_table(args.table)}")
    if args.plot:
        print(f"plot written to {plots.plot_sweep(sweep, args.plot)}")
    if args.out_dir:
        print(f"shards and index.json in {args.out_dir}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    try:
        how = ops.load()
        print(f"native ops: loaded ({'ahead-of-time sinernn._C' if how == 'aot' else 'compiled on first use'})")
        print(f"CUDA kernels built: {ops.cuda_built()}")
    except RuntimeError as exc:
        print(f"native ops: unavailable: {exc}")
        return 1
    return 0


def _command(sub, name: str, func, help: str, description: str, examples: str | None = None,
             parents: tuple[argparse.ArgumentParser, ...] = ()) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=description, epilog=examples, parents=list(parents),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def _shared_parsers() -> dict[str, argparse.ArgumentParser]:
    """The arguments several subcommands take, declared once (argparse parents)."""
    run = argparse.ArgumentParser(add_help=False)  # train, sweep: the network and its training run
    g = run.add_argument_group("the network and its run")
    g.add_argument("--epochs", type=_non_negative_int, default=300, help="passes over the series (default: 300)")
    g.add_argument("--hidden-size", "--hidden", type=_positive_int, default=6, help="hidden (context) units H (default: 6)")
    g.add_argument("--seq-length", type=_positive_int, default=None, help="points of the sine wave to train on (default: 20)")
    g.add_argument("--seed", type=int, default=0, help="seed of the initial weights; sweep: the first of its seeds (default: 0)")
    g.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="precision (default: float32, like the tutorial)")
    missing = argparse.ArgumentParser(add_help=False)  # train, forecast, predict: reading a series
    missing.add_argument("--missing", choices=series.MISSING, default="error",
                         help="missing values (empty fields, NaN, blank lines): error names where (default), interpolate "
                              "fills them linearly")
    model = argparse.ArgumentParser(add_help=False)  # forecast, predict: a saved model, CSV out
    model.add_argument("model", help="a model written by sinernn train --save")
    model.add_argument("--out", default=None, metavar="CSV", help="write the CSV here instead of standard output")
    return {"run": run, "missing": missing, "model": model}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sinernn",
        description="Train the sine-wave Elman RNN tutorial with fused native ops, and check them against autograd.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = _shared_parsers()

    p = _command(
        sub, "train", cmd_train,
        "train the tutorial's network, print its log, write its plot",
        "Train the tutorial's Elman network (1 input + H context -> H tanh -> 1 output) one point at a time "
        "with SGD after every step, print the tutorial's log, and write its figure.",
        TRAIN_EXAMPLES, parents=(shared["run"], shared["missing"]),
    )
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default: 0.1)")
    p.add_argument("--data", default=None, metavar="FILE", help="train on a series from a CSV (header optional) or .npy file instead of the sine")
    p.add_argument("--columns", nargs="+", default=None, metavar="COL", help="input columns, by name or 0-based index (default: all but --time-column)")
    p.add_argument("--targets", nargs="+", default=None, metavar="COL", help="columns to predict at t+1 (default: the input columns)")
    p.add_argument("--time-column", default=None, metavar="COL", help="a column of time labels (dates or numbers): not a value, labels the plot's time axis")
    p.add_argument("--val-frac", type=float, default=0.0, help="hold out this last fraction of the series for validation (default: 0)")
    p.add_argument("--no-normalize", action="store_true", help="train on raw values (default with --data: z-score each column on the training part)")
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="training path (default: auto = cpp when the native ops load)")
    p.add_argument("--plot", default="sine_wave.png", metavar="PNG", help="where to write the figure (default: sine_wave.png)")
    p.add_argument("--no-plot", dest="plot", action="store_const", const=None, help="write no figure")
    p.add_argument("--loss-plot", default=None, metavar="PNG", help="also draw the loss per step against the epoch (training and validation)")
    p.add_argument("--save", default=None, metavar="FILE", help="write the model to a checkpoint (also on Ctrl-C: the last complete epoch)")
    p.add_argument("--log-every", type=_non_negative_int, default=10, help="print the loss every N epochs, 0 for never (default: 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch log lines")

    p = _command(
        sub, "forecast", cmd_forecast,
        "forecast past the end of the data with a saved model",
        "Warm a saved model up on the data (default: the end of its training data), then feed each prediction back "
        "as the next input. Prints the forecast as CSV (a header of the column names, a row per step).",
        FORECAST_EXAMPLES, parents=(shared["model"], shared["missing"]),
    )
    p.add_argument("--steps", type=_non_negative_int, required=True, help="how many steps to forecast")
    p.add_argument("--data", default=None, metavar="FILE", help="warm up on this series (read by the training data's column names)")
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the history and the forecast")

    p = _command(
        sub, "predict", cmd_predict,
        "one-step-ahead predictions of a saved model over a series",
        "Teacher-forced predictions of a saved model over a series, from a zero context: row t predicts the target "
        "columns at t+1. Prints CSV.",
        PREDICT_EXAMPLES, parents=(shared["model"], shared["missing"]),
    )
    p.add_argument("--data", required=True, metavar="FILE", help="the series (read by the training data's column names)")

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

    p = _command(
        sub, "sweep", cmd_sweep,
        "train many tutorial networks (learning rates x seeds) in one call",
        "Train the tutorial's network for n learning rates (log-spaced) x m seeds of the initial weights, all "
        "models in one train_many call, and write a table and a plot of final loss against learning rate.",
        SWEEP_EXAMPLES, parents=(shared["run"],),
    )
    p.add_argument("--lrs", type=_positive_int, default=64, help="learning rates (default: 64)")
    p.add_argument("--seeds", type=_positive_int, default=16, help="initial weights per learning rate, seeds s, s+1, ... (default: 16)")
    p.add_argument("--lr-min", type=float, default=1e-3, help="smallest learning rate (default: 0.001)")
    p.add_argument("--lr-max", type=float, default=2.0, help="largest learning rate (default: 2)")
    p.add_argument("--device", default=None, help="cpu or cuda[:k] (default: cpu; under torchrun with nccl, each rank's GPU)")
    p.add_argument("--backend", choices=MANY_BACKENDS, default="auto",
                   help="auto/cpp: the batched op; cpp-loop: the single-model op per model; reference: autograd per model")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads (default: torch's setting)")
    p.add_argument("--table", default="sweep.csv", metavar="CSV", help="where to write the table (default: sweep.csv)")
    p.add_argument("--plot", default="sweep.png", metavar="PNG", help="where to write the plot (default: sweep.png)")
    d = p.add_argument_group("sharding (torchrun --nproc-per-node K -m sinernn sweep ...: each rank trains a contiguous shard)")
    d.add_argument("--out-dir", default=None, metavar="DIR", help="write each rank's shard to DIR/shard-START-STOP.pt and DIR/index.json")
    d.add_argument("--resume", action="store_true", help="load the shards already in --out-dir (same problem) instead of training them")
    d.add_argument("--dist-backend", choices=("auto", "gloo", "nccl"), default="auto", help="auto: nccl when the ranks have GPUs and sinernn's CUDA kernels, else gloo")
    d.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="seconds a rank waits for the others before it names the missing ranks (default: 1800)")

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
    except OSError as exc:  # writing an output failed after all (a full disk, permissions changed)
        print(f"sinernn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        from .distributed import ShardFailed

        if not isinstance(exc, ShardFailed):
            raise
        print(f"sinernn {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
