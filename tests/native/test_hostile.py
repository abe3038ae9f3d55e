"""Hostile input to every native op, called directly (torch.ops.sinernn.*): the catalogue of
tests/hostile.py. Each call ends as the catalogue says, never in a crash, a hang or garbage, and a
call that raises changes no weight."""

import pytest
import torch

from hostile import META, OPS, SAME, cases, cpu_tensors, run, unchanged

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
