"""Threads: several Python threads training different models at once give exactly the results of
training them one after another, on every backend; the whole-loop op releases the GIL while it runs."""

import threading
import time

import pytest
import torch

import sinernn

from cases import ALL_BACKENDS


def _model(seed):
    x, y = sinernn.smooth_series(15, 2, 2, seed=seed)
    w1, w2 = sinernn.init_weights(2, 5, 2, seed=seed, dtype=torch.float64)
    return x, y, w1, w2


@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_threads_train_like_one_after_another(backend):
    seeds = range(4)
    epochs = 40 if backend == "reference" else 400
    alone = {}
    for s in seeds:
        x, y, w1, w2 = _model(s)
        alone[s] = (sinernn.train(x, y, w1, w2, epochs=epochs, lr=0.05, backend=backend).losses, w1, w2)
    together, errors = {}, []

    def run(s):
        try:
            x, y, w1, w2 = _model(s)
            together[s] = (sinernn.train(x, y, w1, w2, epochs=epochs, lr=0.05, backend=backend).losses, w1, w2)
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for s in seeds:
        for a, b in zip(together[s], alone[s]):
            assert torch.equal(a, b)


def test_the_train_op_releases_the_gil():
    """A Python loop in the main thread keeps running while another thread is inside the op. Were the
    GIL held, it would stall for the op's whole run (it gets the GIL back only when the op returns)."""
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    start = time.perf_counter()
    n, deadline = 0, start + 0.2
    while time.perf_counter() < deadline:
        n += 1
    rate = n / (time.perf_counter() - start)  # iterations per second with nothing else running

    done = threading.Event()
    seconds = []

    def work():
        t0 = time.perf_counter()
        sinernn.ops.train(x, y, w1, w2, 25_000, 0.1)  # 500,000 steps, ~50 ms alone
        seconds.append(time.perf_counter() - t0)
        done.set()

    thread = threading.Thread(target=work)
    n = 0
    thread.start()
    while not done.is_set():
        n += 1
    thread.join()
    assert n > 0.25 * rate * seconds[0], f"{n} iterations in {seconds[0]:.3f} s, {rate:.0f}/s alone"
