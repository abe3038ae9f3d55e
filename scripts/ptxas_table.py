"""Each CUDA kernel's registers, stack frame and spills, from a build log made with
NVCC_APPEND_FLAGS="-Xptxas -v" (no GPU needed), as a table; exit status 1 when a compile-time-size
float32 train_many kernel (its working set is meant to live in registers: csrc/core/thread_model.h) or a
batched cell kernel (csrc/core/cell_block.h: a few scalars a thread, the rest in shared memory) has
a stack frame or spills.

    python scripts/ptxas_table.py build.log
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

ENTRY = re.compile(r"Compiling entry function '(\S+)' for '(sm_\d+a?)'")
PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")


def demangle(names: list[str]) -> list[str]:
    tool = shutil.which("c++filt")
    if not tool or not names:
        return names
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return out if len(out) == len(names) else names


def short(name: str) -> str:
    """sinernn::(anonymous namespace)::train_many_kernel<float, sinernn::Sizes<1, 6, 1> >(...) ->
    train_many_kernel<float, Sizes<1, 6, 1>>"""
    name = name.replace("(anonymous namespace)::", "").replace("sinernn::", "")
    name = name.split("(")[0].removeprefix("void ").replace(" >", ">")
    return name


def parse(text: str) -> list[dict]:
    rows, current = [], None
    for line in text.splitlines():
        if m := ENTRY.search(line):
            current = {"kernel": m.group(1), "arch": m.group(2), "registers": None, "stack": None, "spill_stores": None,
                       "spill_loads": None}
            rows.append(current)
        elif current is not None and (m := PROPS.search(line)) and current["stack"] is None:
            current["stack"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
        elif current is not None and (m := USED.search(line)):
            current["registers"] = int(m.group(1))
    for row, name in zip(rows, demangle([r["kernel"] for r in rows])):
        row["kernel"] = short(name)
    return rows


def must_live_in_registers(row: dict) -> bool:
    return bool(re.match(r"train_many_kernel<float, Sizes<1, \d+, 1>>|cell_(forward|backward)_kernel<", row["kernel"]))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    rows = parse(open(argv[0]).read())
    if not rows:
        print("no ptxas resource lines in the log (built without -Xptxas -v?)", file=sys.stderr)
        return 1
    width = max(len(r["kernel"]) for r in rows)
    print(f"{'kernel':<{width}}  arch    regs  stack  spill st  spill ld")
    bad = []
    for r in sorted(rows, key=lambda r: (r["kernel"], r["arch"])):
        print(f"{r['kernel']:<{width}}  {r['arch']:<6} {r['registers'] or 0:>5} {r['stack'] or 0:>6} "
              f"{r['spill_stores'] or 0:>9} {r['spill_loads'] or 0:>9}")
        if must_live_in_registers(r) and (r["stack"] or r["spill_stores"] or r["spill_loads"]):
            bad.append(r)
    for r in bad:
        print(f"FAILED: {r['kernel']} ({r['arch']}) has a {r['stack']}-byte stack frame, "
              f"{r['spill_stores']} bytes of spill stores, {r['spill_loads']} of spill loads", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
