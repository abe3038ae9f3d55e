"""Ctrl-C (SIGINT) during long training runs, in the API and the CLI, tested by signalling a
subprocess: training stops with TrainingInterrupted, and the weights are exactly those after the
epochs it reports complete (never a half-done epoch); a checkpoint asked for is written and loads."""

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import sinernn
from sinernn import Forecaster

from cases import ALL_BACKENDS

# Prints "ready" once a training run has its Ctrl-C handler installed and has finished its first
# epoch (chunk of epochs for "cpp"): the loops read `requested` before each, so the second read
# of a run whose handler is in place. The parent signals on that line: an event, not a clock.
# The child first puts Python's own SIGINT handler in place: a shell without job control starts
# background commands with SIGINT ignored, and a child inheriting that would never see the signal.
READY_HOOK = textwrap.dedent(
    """
    import signal
    signal.signal(signal.SIGINT, signal.default_int_handler)

    from sinernn.engine import interrupts, single

    class ReadyInterrupts(interrupts.Interrupts):
        reads = 0

        @property
        def requested(self):
            self.reads += 1
            if self.reads == 2 and getattr(self, "_mine", False):
                print("ready", flush=True)
            return self._requested

        @requested.setter
        def requested(self, value):
            self._requested = value

    single.Interrupts = ReadyInterrupts
    """
)

CHILD = READY_HOOK + textwrap.dedent(
    """
    import json, sys, torch, sinernn
    backend, dtype = sys.argv[1], getattr(torch, sys.argv[2])
    x, y = sinernn.sine_data(dtype=dtype)
    w1, w2 = sinernn.init_weights(seed=0, dtype=dtype)
    try:
        sinernn.train(x, y, w1, w2, epochs=10**9, backend=backend)
        print(json.dumps({"interrupted": False}))
    except sinernn.TrainingInterrupted as stop:
        torch.save({"w1": w1, "w2": w2, "losses": stop.result.losses}, sys.argv[3])
        print(json.dumps({"interrupted": True, "epochs": stop.epochs_completed}))
    """
)


def _start(args, **kw):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    return proc


def _interrupt(proc, signals: int):
    """Once the child said "ready": ``signals`` SIGINTs, then its output. A child that never gets
    there (120 s: a bound for a broken run, not a wait the test relies on) is killed."""
    if not select.select([proc.stdout], [], [], 120)[0]:
        proc.kill()
        pytest.fail(f"the child never said ready: {proc.communicate()[1][-2000:]}")
    line = proc.stdout.readline()
    assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
    for _ in range(signals):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.002)
    out, err = proc.communicate(timeout=120)
    return out, err


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_sigint_leaves_the_weights_of_the_last_complete_epoch(backend, tmp_path):
    dtype = torch.float64
    out_file = tmp_path / "state.pt"
    proc = _start([sys.executable, "-c", CHILD, backend, "float64", str(out_file)])
    out, err = _interrupt(proc, 1)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupted"] and report["epochs"] > 0
    state = torch.load(out_file, weights_only=True)
    # the same number of epochs, uninterrupted, from the same start: identical weights and losses
    x, y = sinernn.sine_data(dtype=dtype)
    w1, w2 = sinernn.init_weights(seed=0, dtype=dtype)
    res = sinernn.train(x, y, w1, w2, epochs=report["epochs"], backend=backend)
    assert torch.equal(state["w1"], w1) and torch.equal(state["w2"], w2)
    assert torch.equal(state["losses"], res.losses)


def test_cli_sigint_writes_the_checkpoint_and_exits_130(tmp_path):
    ckpt = tmp_path / "model.pt"
    cli = READY_HOOK + "import sys\nfrom sinernn.tools import cli\nsys.exit(cli.main(sys.argv[1:]))\n"
    cmd = [sys.executable, "-c", cli, "train", "--epochs", str(10**9), "--no-plot", "--log-every", "0",
           "--dtype", "float64", "--save", str(ckpt)]
    proc = _start(cmd, cwd=tmp_path)
    out, err = _interrupt(proc, 1)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "checkpoint written" in err
    model = Forecaster.load(ckpt)
    n = model.epochs_trained
    assert n > 0 and len(model.history.train) == n
    x, y = sinernn.sine_data(dtype=torch.float64)
    e1, e2 = sinernn.init_weights(seed=0, dtype=torch.float64)
    res = sinernn.train(x, y, e1, e2, epochs=n, backend="cpp")
    assert torch.equal(model.w1, e1) and torch.equal(model.w2, e2) and model.history.train_total == res.losses.tolist()


def test_interrupt_handler_is_only_installed_in_the_main_thread_and_restored():
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the launcher left
    try:
        x, y = sinernn.sine_data()
        w1, w2 = sinernn.init_weights(seed=0)
        sinernn.train(x, y, w1, w2, epochs=2)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


# A second Ctrl-C raises KeyboardInterrupt inside the loop at once (two real signals in a row
# coalesce or land after training stopped, so it is injected here where the handler would raise).
def _tutorial():
    x, y = sinernn.sine_data(dtype=torch.float64)
    return (x, y, *sinernn.init_weights(seed=0, dtype=torch.float64))


@pytest.mark.parametrize("at_call", [1, 57, 60])
def test_keyboard_interrupt_mid_epoch_restores_the_epoch_start(at_call):
    from sinernn.engine import interrupts, reference, single

    calls = 0

    def step(*args):
        nonlocal calls
        calls += 1
        if calls == at_call:
            raise KeyboardInterrupt
        return reference.step(*args)

    x, y, w1, w2 = _tutorial()
    with pytest.raises(interrupts.Stop) as info:
        single._step_loop(lambda: step)(x, y, w1, w2, 10, 0.1, interrupts.Interrupts())
    done = (at_call - 1) // 20
    assert info.value.done == done
    e1, e2 = _tutorial()[2:]
    sinernn.train(x, y, e1, e2, epochs=done, backend="reference")
    assert torch.equal(w1, e1) and torch.equal(w2, e2)


def test_keyboard_interrupt_after_a_chunk_of_the_whole_loop_op_undoes_the_chunk(monkeypatch):
    from sinernn._native import ops
    from sinernn.engine import single as trainer

    real, calls = ops.train_guarded, []

    def train_then_interrupt(*args):
        calls.append(real(*args))
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if Ctrl-C landed as the op returned
        return calls[-1]

    monkeypatch.setattr(ops, "train_guarded", train_then_interrupt)  # what the cpp backend calls
    monkeypatch.setattr(trainer, "CHUNK_STEPS", 100)  # 5 epochs of 20 steps a chunk
    x, y, w1, w2 = _tutorial()
    # A KeyboardInterrupt reaches this loop only from a caller's own SIGINT handler (sinernn's
    # raises nothing for "cpp"): with one installed, sinernn keeps a snapshot of each chunk.
    callers = signal.signal(signal.SIGINT, lambda *a: None)
    try:
        with pytest.raises(sinernn.TrainingInterrupted) as info:
            sinernn.train(x, y, w1, w2, epochs=100, backend="cpp")
    finally:
        signal.signal(signal.SIGINT, callers)
    assert info.value.epochs_completed == 10 and info.value.result.losses.shape == (10,)
    monkeypatch.undo()
    e1, e2 = _tutorial()[2:]
    res = sinernn.train(x, y, e1, e2, epochs=10, backend="cpp")
    assert torch.equal(w1, e1) and torch.equal(w2, e2) and torch.equal(info.value.result.losses, res.losses)
