"""The docs run: every fenced Python block of README.md and docs/*.md is executed (each file's
blocks in order, in one namespace, in an empty temporary folder), so an example that names
something that does not exist, or no longer works, fails the suite. Every shell block says whether
CI runs it ("CI runs" or "not run by CI" in a comment)."""

import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "dev" / "README.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console"}


def blocks(path: Path, languages: set[str]) -> list[tuple[int, str]]:
    """(line number, code) of each fenced block in one of ``languages``."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in FENCE.finditer(text) if m.group(1) in languages]


def test_pages_exist_and_have_examples():
    assert all(p.is_file() for p in PAGES)
    assert sum(len(blocks(p, {"python"})) for p in PAGES) >= 15
    assert (ROOT / "README.md").stat().st_size <= 15_500  # a user's document, not a lab notebook


@pytest.mark.filterwarnings("ignore::sinernn.series.MissingValuesFilled")  # usage.md fills gaps on purpose
@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, {"python"})], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg", force=True)
    namespace = {"__name__": "__docs__"}
    for line, code in blocks(page, {"python"}):
        exec(compile(code, f"{page.name}:{line}", "exec"), namespace)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shell_blocks_say_whether_ci_runs_them(page):
    for line, code in blocks(page, SHELL):
        assert "CI runs" in code or "not run by CI" in code, f"{page.name}:{line}: say whether CI runs this block"


def test_relative_links_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
