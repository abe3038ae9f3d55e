"""Print docs/correctness.md's hostile-input table: every case of tests/native/hostile.py run against the native
ops, counted per op by how it ended.   .venv/bin/python scripts/hostile_table.py"""

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "native"))

import torch  # noqa: E402

import sinernn  # noqa: E402
from hostile import ACCEPTED, META, OPS, PROPAGATES, SAME, cases, cpu_tensors, unchanged  # noqa: E402


def outcome(case) -> str:
    args = case.args()
    before = [a.detach().clone() for a in cpu_tensors(args)]
    try:
        got = getattr(torch.ops.sinernn, case.op)(*args)
    except RuntimeError as exc:
        ok = case.expect in str(exc) and f"sinernn::{case.op}" in str(exc) and unchanged(cpu_tensors(args), before)
        return "error naming the argument, weights unchanged" if ok else f"UNEXPECTED error: {exc}"
    if case.expect == SAME:
        return "accepted, equal to the contiguous call"
    if case.expect == META:
        return "meta kernel: output shapes only"
    if case.expect == PROPAGATES:
        return "accepted, NaN reaches the outputs" if any(bool(t.isnan().any()) for t in got) else "UNEXPECTED: no NaN out"
    if case.expect == ACCEPTED:
        return "accepted (Inf as a value)"
    return f"UNEXPECTED success: {type(got)}"


def main() -> None:
    sinernn.load_native()
    table = collections.defaultdict(collections.Counter)
    for case in cases():
        table[case.op][outcome(case)] += 1
    kinds = sorted({k for c in table.values() for k in c})
    print("| op | hostile calls | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for op in OPS:
        c = table[op]
        print(f"| `{op}` | {sum(c.values())} | " + " | ".join(str(c[k]) for k in kinds) + " |")


if __name__ == "__main__":
    main()
