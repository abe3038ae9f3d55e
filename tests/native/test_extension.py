"""Building and loading the native ops: ahead of time, or compiled on first use."""

import json
from pathlib import Path
import os
import re
import subprocess
import sys

import pytest
import torch

import sinernn
from sinernn._native import build as native
from sinernn._native import loader


def test_aot_module_is_used_when_built_for_this_torch_and_these_sources():
    info = native.read_build_info(loader._PACKAGE_DIR)
    if info is None:
        pytest.skip("no ahead-of-time build here (not installed with pip install -e .)")
    fresh = info["torch"] == torch.__version__ and info["sources_sha256"] == native.sources_digest()
    assert (loader._aot_problem() is None) == fresh
    assert sinernn.load_native() == ("aot" if fresh else "jit")
    assert sinernn.cuda_built() is False or torch.version.cuda is not None


@pytest.mark.parametrize(
    "info,words",
    [
        (None, "has no _C.build.json"),
        ({"torch": "1.0.0", "sources_sha256": "x"}, "built for torch 1.0.0"),
        ({"torch": torch.__version__, "sources_sha256": "stale"}, "older than the sources"),
    ],
)
def test_a_stale_or_foreign_build_is_refused(monkeypatch, info, words):
    monkeypatch.setattr(native, "read_build_info", lambda directory: info)
    monkeypatch.setattr(loader.importlib.util, "find_spec", lambda name: object())
    assert words in loader._aot_problem()


def test_cuda_switch(capsys):
    with pytest.raises(ValueError, match="SINERNN_CUDA must be auto, 0 or 1"):
        native.want_cuda("yes")
    assert native.want_cuda("0") is False
    if torch.version.cuda is None:
        native._cuda_reason_told.clear()
        assert native.want_cuda("auto") is False and native.want_cuda("auto") is False
        err = capsys.readouterr().err.splitlines()
        assert err == [f"sinernn: building the CPU ops only (SINERNN_CUDA=auto): torch {torch.__version__} is not a CUDA build"]
        assert native.want_cuda("auto", announce=False) is False and capsys.readouterr().err == ""
        with pytest.raises(RuntimeError, match="SINERNN_CUDA=1 but CUDA cannot be built here: torch .* is not a CUDA build"):
            native.want_cuda("1")


def test_cuda_probe_names_the_toolkit_that_cannot_link(monkeypatch, tmp_path):
    """auto builds CUDA only when the toolkit compiles *and links* a probe kernel: a toolkit whose
    nvcc works but whose folder has no cudart (torch's CUDA_HOME guessed from a wrapper nvcc) is
    refused with the linker's words. Here nvcc is a stand-in script that compiles nothing."""
    from torch.utils import cpp_extension

    home = tmp_path / "toolkit"
    (home / "bin").mkdir(parents=True)
    nvcc = home / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\n# stands in for nvcc: compiles the probe's host code as C\n"
                    "while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift;; esac; shift; done\n"
                    "printf 'int main(void){return 0;}' | cc -x c -c - -o \"$out\"\n")
    nvcc.chmod(0o755)
    monkeypatch.setattr(cpp_extension, "library_paths", lambda *a, **k: [str(home / "lib64")])
    problem = native._probe_toolkit(str(home))
    assert problem is not None and f"CUDA_HOME={home} can't link a probe kernel" in problem and "cudart" in problem
    nvcc.write_text("#!/bin/sh\necho 'probe.cu(2): error: no such toolkit' >&2; exit 1\n")
    assert "can't compile a probe kernel: probe.cu(2): error: no such toolkit" in native._probe_toolkit(str(home))


def _backend():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "build_backend" / "sinernn_build.py"
    spec = importlib.util.spec_from_file_location("sinernn_build_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_backend_finds_the_target_environments_torch(tmp_path):
    """pip's isolation hides the target's site-packages (PYTHONPATH to an overlay, no user site):
    the backend asks sys.executable without those variables, and so finds this torch."""
    import setuptools

    backend_dir = os.path.dirname(_backend().__file__)
    overlay = tmp_path / "overlay"  # what pip's build environment holds: setuptools, not torch
    overlay.mkdir()
    site = Path(setuptools.__file__).parent.parent
    for name in ("setuptools", "_distutils_hack", "pkg_resources"):
        if (site / name).exists():
            (overlay / name).symlink_to(site / name)
    # -S: no site-packages, as in pip's isolated build; the backend's probe runs without it
    code = ("import importlib.util, json, sys; assert importlib.util.find_spec('torch') is None\n"
            "import sinernn_build as b; print(json.dumps(b._target_torch()))")
    env = dict(os.environ, PYTHONPATH=f"{overlay}:{backend_dir}", PYTHONNOUSERSITE="1")
    out = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["version"] == torch.__version__
    assert os.path.dirname(os.path.dirname(torch.__file__)) in info["path"]


def test_build_backend_requires_torch_only_where_the_target_has_none(monkeypatch):
    backend = _backend()
    monkeypatch.setattr(backend, "_torch_here", lambda: False)
    monkeypatch.setattr(backend, "_target_torch", lambda: None)
    assert backend.get_requires_for_build_wheel() == backend.get_requires_for_build_editable() == ["torch>=2.4"]
    assert backend.get_requires_for_build_sdist() == []
    monkeypatch.setattr(backend, "_target_torch", lambda: {"version": "2.13.0", "path": ["/nowhere/site-packages"]})
    assert backend.get_requires_for_build_wheel() == backend.get_requires_for_build_editable() == []
    saved = list(sys.path)
    try:
        backend._use_target_torch()
        assert sys.path[: len(saved)] == saved and sys.path[-1] == "/nowhere/site-packages"  # after the isolated env's
    finally:
        sys.path[:] = saved


@pytest.mark.parametrize("portable", [False, True], ids=["native", "portable"])
def test_first_use_build_when_no_aot_module(tmp_path, portable):
    """No usable sinernn._C: the same sources are compiled with cpp_extension.load, saying so once.
    With the same flags the results are the ahead-of-time module's bit for bit; the portable
    build (SINERNN_PORTABLE=1: no -march=native, so no FMA) rounds differently, within float32
    noise."""
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=1)
    expected = sinernn.train(x, y, w1, w2, epochs=50, backend="cpp").losses
    code = (
        "import sinernn._native.build as n; n.read_build_info = lambda d: None\n"
        "import json, sinernn\n"
        "how = sinernn.load_native()\n"
        "x, y = sinernn.sine_data(); w1, w2 = sinernn.init_weights(seed=1)\n"
        "print(json.dumps([how, sinernn.train(x, y, w1, w2, epochs=50, backend='cpp').losses.tolist()]))\n"
        + CELL_RUN + "print(json.dumps(cell_run()))\n"
    )
    env = dict(os.environ, SINERNN_BUILD_DIR=str(tmp_path), SINERNN_PORTABLE="1" if portable else "0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    how, losses = json.loads(out.stdout.strip().splitlines()[-2])
    cell = torch.tensor(json.loads(out.stdout.strip().splitlines()[-1]), dtype=torch.float64)
    assert how == "jit"
    notes = [line for line in out.stderr.splitlines() if line.startswith("sinernn:")]
    assert len(notes) == 1 and "compiling the native ops" in notes[0], out.stderr
    assert any(p.name.endswith("-portable") == portable for p in tmp_path.iterdir())
    scope = {}
    exec(CELL_RUN, scope)
    cell_expected = torch.tensor(scope["cell_run"](), dtype=torch.float64)
    if portable:
        torch.testing.assert_close(torch.tensor(losses), expected, rtol=1e-5, atol=0)
        # no AVX-512 in this build: the batched cell's library path (ATen products) at H = 20
        torch.testing.assert_close(cell, cell_expected, rtol=1e-10, atol=1e-12)
    else:
        assert losses == expected.tolist()
        assert torch.equal(cell, cell_expected)


# The batched cell at H = 20, float64, biases on: outputs and every gradient, flattened. A native
# build runs it in sinernn's blocked product; a portable one in library products.
CELL_RUN = """
def cell_run():
    import torch
    from sinernn.nn import ElmanRNN
    model = ElmanRNN(2, 20, 3, bias=True, dtype=torch.float64, seed=2)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 70, 2, generator=g, dtype=torch.float64, requires_grad=True)
    pred, hidden = model(x)
    ((pred ** 2).sum() + hidden.sum()).backward()
    return torch.cat([t.reshape(-1) for t in (pred, hidden, x.grad, *(p.grad for p in model.parameters()))]).tolist()
"""


def test_gcc_builds_without_half_filled_vectors(monkeypatch):
    """With GCC, --param vect-epilogues-nomask=0 is set: without it the tutorial's last 2 hidden
    units ran as a half vector holding stack garbage, and the step's speed depended on the stack
    (docs/performance.md; dev/stack_position_check.py). Other compilers don't get it."""
    monkeypatch.setattr(native, "compiler_is_gcc", lambda: True)
    flags = native.build_settings().cflags
    assert flags[flags.index("--param") + 1] == "vect-epilogues-nomask=0"
    monkeypatch.setattr(native, "compiler_is_gcc", lambda: False)
    assert "--param" not in native.build_settings().cflags


def test_stack_position_check_runs(capsys):
    script = _load_script("stack_position_check")
    threads = torch.get_num_threads()
    assert script.main(["--depths", "3", "--calls", "2"]) == 0
    assert torch.get_num_threads() == threads  # it times one thread, then puts the setting back
    out = capsys.readouterr().out
    assert "by C-stack depth" in out and "max/min" in out
    assert len(out.splitlines()[1].split()) == 3  # one figure per depth


def _load_script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "dev" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_call_costs_script_runs(capsys):
    """dev/call_costs.py times the Python layer's call-cost pairs (docs/performance.md, "Figures
    behind the code") on one thread, then puts the thread setting back."""
    script = _load_script("call_costs")
    threads = torch.get_num_threads()
    assert script.main(["--calls", "3", "--repeats", "2"]) == 0
    assert torch.get_num_threads() == threads
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("host:") and len(lines) == 2 + 7
    figure = re.compile(r"\d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\)")  # median (min-max)
    assert all(len(figure.findall(ln)) == 2 for ln in lines[2:])
    with pytest.raises(SystemExit):
        script.main(["--calls", "0"])


def test_hidden_sizes_script_runs(capsys):
    """dev/hidden_sizes.py times the train op per H (compile-time sizes up to 16, run-time above),
    on this checkout's build or on a given shared library (here the same one, already loaded)."""
    script = _load_script("hidden_sizes")
    threads = torch.get_num_threads()
    assert script.main(["--hidden", "1,17", "--steps", "20", "--calls", "2"]) == 0
    assert torch.get_num_threads() == threads
    lines = capsys.readouterr().out.splitlines()
    assert "this checkout" in lines[0]
    assert [ln.split(":")[0] for ln in lines[1:]] == ["H =   1", "H =  17"]
    library = loader.loaded_module().__file__
    assert script.main(["--hidden", "3", "--steps", "5", "--calls", "1", "--library", library]) == 0
    assert library in capsys.readouterr().out
    for bad in (["--hidden", "1,x"], ["--hidden", "0"], ["--calls", "0"]):
        with pytest.raises(SystemExit) as err:
            script.main(bad)
        assert err.value.code == 2
