"""The "add a kind" recipe of docs/ARCHITECTURE.md, run as written: a third-party kind is one class
in one module and one entry-point line, found by ``load``, ``solve``, ``verify`` and the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ital_opt
from ital_opt.kinds import _CLASSES, refresh

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "docs" / "ARCHITECTURE.md"


def _recipe_blocks() -> dict[str, str]:
    """The fenced blocks of the recipe, by the file name in the comment on their first line."""
    text = RECIPE.read_text(encoding="utf-8")
    blocks = {}
    for body in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        first = body.splitlines()[0]
        named = re.match(r"#\s*(\S+)$", first.strip())
        if named:
            blocks[named.group(1)] = body
    return blocks


@pytest.fixture
def toy_distribution(tmp_path, monkeypatch):
    """toykind.py and a toykind-0.1.dist-info with the entry point, on sys.path (as pip would leave them)."""
    blocks = _recipe_blocks()
    site = tmp_path / "site"
    site.mkdir()
    (site / "toykind.py").write_text(blocks["toykind.py"], encoding="utf-8")
    info = site / "toykind-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toykind\nVersion: 0.1\n", encoding="utf-8")
    entry = re.search(r"\[project\.entry-points\.\"ital_opt\.kinds\"\]\n(.*)\n", blocks["pyproject.toml"]).group(1)
    name, value = (part.strip().strip('"') for part in entry.split("=", 1))
    (info / "entry_points.txt").write_text(f"[ital_opt.kinds]\n{name} = {value}\n", encoding="utf-8")
    spec = tmp_path / "toy.toml"
    spec.write_text(blocks["toy.toml"], encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    refresh()
    yield site, spec
    sys.modules.pop("toykind", None)
    _CLASSES.pop("toy", None)
    refresh()


def test_recipe_kind_is_found_solved_and_verified(toy_distribution):
    site, spec = toy_distribution
    assert "toy" in ital_opt.kinds()
    problem = ital_opt.load(spec)
    assert type(problem).__name__ == "Toy" and problem.a == 3.0 and problem.b == 1.5
    result = problem.solve()
    assert result.status == "optimal" and result.objective == 3.0
    assert result.rows["x"].tolist() == [1.5]
    assert result.checks == {"objective_mismatch": 0.0} and result.success
    report = ital_opt.verify(problem)
    assert report.ok and set(report.results) == {"closed-form", "scipy"}, report.to_table()
    assert report.results["scipy"].rows["x"].iloc[0] == pytest.approx(1.5, abs=1e-6)
    # the class is reachable as ital_opt.Toy, with the declared fields as its signature
    assert "a" in str(__import__("inspect").signature(ital_opt.Toy))
    # the checks do not trust the method: a wrong objective is caught
    wrong = ital_opt.Result(status="optimal", method="closed-form", objective=2.0, rows=[{"x": 1.5}])
    assert problem.check(wrong)["objective_mismatch"] == pytest.approx(1.0)
    # bad input is a SpecError naming the field
    with pytest.raises(ital_opt.SpecError, match="'a'"):
        ital_opt.load({"kind": "toy", "a": "three", "b": 1.0})


@pytest.mark.slow  # three interpreters start: ~10 s on a loaded machine
def test_recipe_kind_on_the_command_line(toy_distribution):
    site, spec = toy_distribution
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    solved = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(spec), "--format", "json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert solved.returncode == 0, solved.stderr
    out = json.loads(solved.stdout)
    assert out["kind"] == "toy" and out["objective"] == 3.0 and out["rows"] == [{"x": 1.5}]
    verified = subprocess.run([sys.executable, "-m", "ital_opt", "verify", str(spec)],
                              capture_output=True, text=True, env=env, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    bad = spec.with_name("bad.toml")
    bad.write_text(textwrap.dedent("""\
        kind = "toy"
        a = 1.0
        c = 2.0
    """), encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(bad)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "bad.toml" in refused.stderr and "Traceback" not in refused.stderr
