"""The README's and the documentation's examples run as written.

Python blocks of the README run in order in one namespace; every ``ital-opt`` command of the
README and of docs/ (fenced ``bash``/``console`` blocks and indented command lines) runs in a
scratch directory holding the bundled specs as ``formulations/`` and must exit 0.  Lines with
placeholders (SPEC, HOST, ...) and installation or test commands are not run.  The tutorials and
how-to notebooks are executed by the documentation build itself.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ARCHITECTURE.md's toy kind is installed and run by tests/test_architecture.py
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md")
                                    if "_build" not in p.parts and p.name != "ARCHITECTURE.md")]
PLACEHOLDERS = re.compile(r"\bSPEC\b|\bHOST\b|\.\.\.|\[--|<|\bNAME\b|\bFILE\b")


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def _commands(text: str) -> list[str]:
    lines = []
    for block in re.findall(r"^```(?:bash|console|sh|shell)\n(.*?)^```", text, flags=re.M | re.S):
        lines += block.splitlines()
    lines += re.findall(r"^    ((?:ital-opt|python -m ital_opt)\b.*)$", text, flags=re.M)
    out = []
    for line in lines:
        line = line.strip().removeprefix("$ ").strip()
        line = re.sub(r"\s+#.*$", "", line)
        if not re.match(r"(ital-opt|python -m ital_opt)\b", line) or PLACEHOLDERS.search(line):
            continue
        out.append(line)
    return out


def _argv(line: str) -> list[str]:
    words = shlex.split(line)
    if words[0] == "ital-opt":
        return [sys.executable, "-m", "ital_opt", *words[1:]]
    return [sys.executable, *words[1:]]


CASES = [(page, line) for page in PAGES for line in _commands(page.read_text(encoding="utf-8"))]


def test_examples_are_found():
    pages = {page.name for page, _ in CASES}
    assert {"README.md", "install.md"} <= pages and len(CASES) >= 10


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    where = tmp_path_factory.mktemp("examples")
    (where / "formulations").symlink_to(ROOT / "formulations", target_is_directory=True)
    return where


@pytest.mark.slow
@pytest.mark.parametrize("page, line", CASES, ids=[f"{p.name}: {line[:60]}" for p, line in CASES])
def test_command(page, line, scratch):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(_argv(line), cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page.name}: {line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.slow
def test_readme_python(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in _python_blocks((ROOT / "README.md").read_text(encoding="utf-8")):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own examples
