"""Packaging: one version, the bundled specs found and copied, lazy imports, extras named when missing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import ital_opt
from ital_opt._optional import MissingExtra, require
from ital_opt.cli import main
from ital_opt.spec import bundled_specs

ROOT = Path(__file__).resolve().parent.parent


def test_one_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ital-opt {ital_opt.__version__}"
    assert version("ital_opt") == ital_opt.__version__  # the installed metadata reads the same attribute


def test_examples_lists_and_copies_every_bundled_spec(tmp_path, capsys):
    shipped = sorted(p.name for p in (ROOT / "formulations").glob("*.toml"))
    assert [p.name for p in bundled_specs()] == shipped
    assert main(["examples"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == len(shipped) and all("formulations" in line for line in listing)
    assert main(["examples", "--copy", str(tmp_path / "specs")]) == 0
    copies = sorted(p.name for p in (tmp_path / "specs").glob("*.toml"))
    assert copies == shipped
    assert (tmp_path / "specs" / "ch3_example_3_1.toml").read_bytes() == (ROOT / "formulations" / "ch3_example_3_1.toml").read_bytes()
    assert main(["solve", str(tmp_path / "specs" / "ch3_example_3_1.toml"), "--format", "json"]) == 0


def test_import_is_lazy():
    """`import ital_opt` loads no solver, no plotting and no pandas (start-up time)."""
    heavy = ["pandas", "cvxpy", "pyomo", "matplotlib", "sympy", "scipy", "dask", "pyarrow", "clarabel", "highspy"]
    code = "import sys, ital_opt; print(' '.join(m for m in %r if m in sys.modules))" % heavy
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"imported by `import ital_opt`: {out}"


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # also when an earlier test imported it
    with pytest.raises(MissingExtra, match=r"pip install 'ital_opt\[plot\]'"):
        require("matplotlib.pyplot", extra="plot")
    monkeypatch.setitem(sys.modules, "pyomo_ripopt", None)
    with pytest.raises(ImportError, match=r"ital_opt\[nlp\]"):  # still an ImportError for old fallbacks
        require("pyomo_ripopt")
    assert require("math").pi > 3


@pytest.mark.parametrize("spec", ["ch3_example_3_1", "ch4_example_4_1", "mh_2x2_limited_liability", "coalition_glove"])
def test_figures_without_matplotlib_name_the_extra(spec, monkeypatch, capsys, tmp_path):
    problem = ital_opt.load(ROOT / "formulations" / f"{spec}.toml")
    result = problem.solve()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"ital_opt\[plot\]"):
        problem.figures(result)
    assert main(["plot", str(ROOT / "formulations" / f"{spec}.toml"), "-o", str(tmp_path / "figures")]) == 1
    assert "pip install 'ital_opt[plot]'" in capsys.readouterr().err
