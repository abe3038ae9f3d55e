"""The layout shows the design (docs/architecture.md): each folder one layer, imports only downward,
no import cycle, one way into the native code, small native sources."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sinernn"

# Layer of each part of the package; a module imports only modules of its own layer or below.
# The package's face (__init__, __main__) may import everything; _compat, the old spellings, is
# reached lazily from the modules whose old names it serves and is left out of the graph.
LAYERS = {"_native": 0, "engine": 1, "": 2, "tools": 3}
FACE = {"sinernn", "sinernn.__main__"}
SHIM = "sinernn._compat"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Package modules that ``name`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for n in ast.walk(block)}  # annotations only: not imported when the code runs
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def _layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS[parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""]


def _graph():
    modules = _modules()
    return {n: _imports(n, p, modules) - {SHIM} for n, p in modules.items() if n != SHIM}


def test_imports_go_only_downward():
    bad = [f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
           for a, deps in _graph().items() if a not in FACE for b in deps if b not in FACE and _layer(b) > _layer(a)]
    assert not bad, "\n".join(bad)


def test_native_binding_imports_nothing_else_of_the_package():
    graph = _graph()
    bad = [f"{a} imports {b}" for a, deps in graph.items() if a.startswith("sinernn._native") for b in deps
           if not b.startswith("sinernn._native")]
    assert not bad


def test_no_import_cycle():
    graph = {a: {b for b in deps if b not in FACE} for a, deps in _graph().items() if a not in FACE}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_one_way_into_the_native_code():
    """torch.ops.sinernn and the extension module's entries are used in sinernn/_native/ops.py only."""
    private = {"_step_session", "_session_step", "_session_total", "_session_restore", "_session_epochs", "_all_finite",
               "_fma_peak_gflops", "cpu_fused_fma"}
    bad = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "_native" / "ops.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and node.attr == "sinernn" and ast.unparse(node.value) == "torch.ops":
                bad.append(f"{where}: torch.ops.sinernn")
            elif isinstance(node, ast.Attribute) and node.attr in private:
                bad.append(f"{where}: .{node.attr}")
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("loaded_module") and path.name != "loader.py":
                bad.append(f"{where}: loaded_module()")
    assert not bad, bad


def test_at_most_twelve_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_no_native_source_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "csrc").rglob("*") if p.is_file()
            if (n := p.read_text().count("\n")) > 400}
    assert not long, long


def test_core_has_no_aten():
    """csrc/core/ is framework-free (the C++ harnesses compile it without torch)."""
    bad = [str(p.relative_to(ROOT)) for p in (ROOT / "csrc" / "core").iterdir()
           for line in p.read_text().splitlines() if line.startswith("#include")
           if any(w in line for w in ("<ATen/", "<torch/", "<c10/", "aten/", "cpu/", "cuda/"))]
    assert not bad, bad
