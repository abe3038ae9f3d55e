"""Hostile input to every native op, called directly (torch.ops.sinernn.*): the catalogue of
tests/native/hostile.py. Each call ends as the catalogue says, never in a crash, a hang or garbage, and a
call that raises changes no weight."""

import pytest
import torch

from hostile import ACCEPTED, META, OPS, PROPAGATES, SAME, cases, cpu_tensors, run, unchanged

CASES = cases()


def _equal(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return all(_equal(p, q) for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.op}-{c.what}" for c in CASES])
def test_hostile_input(case):
    if case.expect == SAME:
        got, args = run(case)
        plain_args = case.plain()
        want = getattr(torch.ops.sinernn, case.op)(*plain_args)
        assert _equal(got, want)
        for a, p in zip(args, plain_args):  # the in-place weights too
            if isinstance(a, torch.Tensor):
                assert torch.equal(a, p)
        return
    if case.expect in (PROPAGATES, ACCEPTED):
        args = case.args()
        before = [a.detach().clone() for a in cpu_tensors(args)]
        got = getattr(torch.ops.sinernn, case.op)(*args)
        assert unchanged(cpu_tensors(args), before)  # the inputs are read, never written
        if case.expect == PROPAGATES:
            assert any(bool(t.isnan().any()) for t in got), "no NaN reached the outputs"
        else:
            assert [t.shape for t in got] == [t.shape for t in getattr(torch.ops.sinernn, case.op)(*case.plain())]
        return
    if case.expect == META:
        got, _ = run(case)
        outs = got if isinstance(got, tuple) else (got,)
        assert all(o.device.type == "meta" for o in outs)
        return
    args = case.args()
    before = [w.detach().clone() for w in cpu_tensors(args)]
    with pytest.raises(RuntimeError) as info:
        getattr(torch.ops.sinernn, case.op)(*args)
    message = str(info.value)
    assert case.expect in message, message
    assert f"sinernn::{case.op}" in message, message
    assert unchanged(cpu_tensors(args), before)


def test_catalogue_covers_every_op():
    per_op = {op: sum(c.op == op for c in CASES) for op in OPS}
    assert min(per_op.values()) >= 30, per_op
