"""Ctrl-C during training: the handler the training loops run under, the exception that stops a
loop at an epoch boundary, and the weights' restore. The contract (every backend): the first
Ctrl-C stops at the end of the current epoch, a second one at once, the weights always at the end
of the last complete epoch (tests/api/test_interrupts.py)."""

from __future__ import annotations

import _signal  # signal's functions without its enum wrappers: cheaper per train call (docs/performance.md)
import signal
import threading

import torch
from torch import Tensor


class Interrupts:
    """While training runs in the main thread under Python's default SIGINT handler: the first
    Ctrl-C asks the loops to stop at the end of the current epoch (chunk of epochs for "cpp"); a
    second one raises KeyboardInterrupt at once, and the loop puts the weights back to the end of
    the last complete epoch. Elsewhere (other threads, a handler of the caller's) nothing is
    installed and a KeyboardInterrupt is handled the second way."""

    def __init__(self, raise_on_second: bool = True):
        self.requested = False
        self.raise_on_second = raise_on_second
        # Whether a KeyboardInterrupt can land inside the loop: not when this handler is installed
        # and told not to raise (the whole-loop op can't be stopped mid-call anyway).
        self.may_raise = True

    def _handler(self, signum, frame):
        if self.requested and self.raise_on_second:
            raise KeyboardInterrupt
        self.requested = True

    # "with Interrupts(...) as stop:" installs the handler where it may (a class, not a
    # contextlib generator: cheaper per train call; docs/performance.md, "Figures behind the code")
    def __enter__(self):
        self._mine = threading.current_thread() is threading.main_thread() and _signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if self._mine:
            _signal.signal(signal.SIGINT, self._handler)
            self.may_raise = self.raise_on_second
        return self

    def __exit__(self, *exc_info):
        if self._mine:
            _signal.signal(signal.SIGINT, signal.default_int_handler)
        return False


class Stop(Exception):
    """Raised inside a training loop to stop it: ``done`` complete epochs; ``losses`` (>= done,)
    holds theirs first."""

    def __init__(self, done: int, losses: Tensor):
        self.done, self.losses = done, losses


def restore(w1: Tensor, w2: Tensor, start: tuple[Tensor, Tensor]) -> None:
    """w1, w2 back to the values kept in ``start`` (the epoch's or chunk's start), in place."""
    with torch.no_grad():
        w1.copy_(start[0])
        w2.copy_(start[1])
