"""Threads: several Python threads training different models at once give exactly the results of
training them one after another, on every backend; the whole-loop op releases the GIL while it runs."""

import threading

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
    """The main thread keeps running Python while another thread is inside the op. The worker
    reads the main thread's counter just before the op and just after it: with the GIL held for the
    op's run (~100 ms alone), the counter could not move in between; released, it moves hundreds
    of thousands of times. Counted between events, no clock."""
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    counting, returned = threading.Event(), threading.Event()
    count, seen = [0], []

    def work():
        counting.wait()  # the main thread is in its loop
        before = count[0]
        sinernn.ops.train(x, y, w1, w2, 50_000, 0.1)  # 1,000,000 steps
        seen.append(count[0] - before)
        returned.set()

    thread = threading.Thread(target=work)
    thread.start()
    while not returned.is_set():
        count[0] += 1
        if count[0] == 1:
            counting.set()
    thread.join()
    assert seen[0] > 1000, f"the main thread ran {seen[0]} iterations while the op ran"
