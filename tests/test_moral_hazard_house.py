"""Moral hazard in the kind protocol: declared fields, formulations, solving options, figures, CLI.

The cheapest-contract program (Grossman and Hart, 1983) built by each formulation is solved here
by the user and compared with the kind's own answer; the 2x2 cases are compared with the closed
form of Laffont and Martimort (2002, §4.3–4.4) to about 1e-9 after polishing.
"""

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ital_opt
from ital_opt.errors import MethodNotApplicable, OptionError
from ital_opt.moral_hazard import closed_form, first_order
from ital_opt.moral_hazard.model import MoralHazard

ROOT = Path(__file__).resolve().parents[1]
FORMULATIONS = ROOT / "formulations"


def test_signature_is_the_declared_schema():
    params = inspect.signature(MoralHazard).parameters
    for name in ("actions", "cost", "outcomes", "prob", "utility", "reservation", "min_pay", "effort", "implement"):
        assert name in params
    assert params["utility"].default == "linear" and params["reservation"].default == 0.0


def test_every_method_declares_solvers_and_options():
    discrete = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml")
    continuous = ital_opt.load(FORMULATIONS / "mh_foa_valid.toml")
    names = [m.name for m in discrete.methods()]
    assert names == ["closed-form", "cvxpy", "scipy", "pyomo"]
    assert [m.name for m in continuous.methods()] == ["first-order", "grid"]
    for m in discrete.methods() + continuous.methods():
        assert isinstance(m.solvers, tuple)
    with pytest.raises(OptionError):
        discrete.solve("scipy", starts=3)  # scipy takes no options
    with pytest.raises(OptionError):
        discrete.solve("cvxpy", solver="GUROBI")


def test_cvxpy_build_gives_one_program_per_action():
    import cvxpy as cp

    mh = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml")
    programs = mh.formulation("cvxpy").build()
    assert set(programs) == {"low", "mid", "high"}
    assert all(isinstance(p, cp.Problem) for p in programs.values())
    gross = dict(zip(mh.actions, mh.prob @ mh.outcomes))
    net = {}
    for action, program in programs.items():
        program.solve(solver="CLARABEL")
        net[action] = gross[action] - program.value
    # the user's own solve of the built programs gives the kind's answer (docs/theory/moral_hazard.md: 6.92 for "high")
    r = mh.solve("cvxpy")
    assert max(net, key=net.get) == r.extras["action"] == "high"
    assert net["high"] == pytest.approx(r.objective, abs=1e-6) == pytest.approx(6.92, abs=1e-6)


def test_pyomo_build_gives_models_and_the_lp_goes_to_highs():
    import pyomo.environ as pyo

    mh = ital_opt.load(FORMULATIONS / "mh_2x2_limited_liability.toml")
    models = mh.formulation("pyomo").build()
    assert set(models) == {"shirk", "work"} and all(isinstance(m, pyo.ConcreteModel) for m in models.values())
    r = mh.solve("pyomo")
    assert r.method == "pyomo/highs" and not r.local and r.success
    assert r.objective == pytest.approx(4.5, abs=1e-12)


def test_grid_build_gives_the_program_of_one_target():
    import cvxpy as cp

    mh = ital_opt.load(FORMULATIONS / "mh_foa_fails.toml").replace(effort_grid=101)
    program = mh.formulation("grid").build(target=1.0)
    assert isinstance(program, cp.Problem)
    program.solve(solver="CLARABEL")
    # expected pay 2.28515625 at e = 1 (the spec's hand derivation)
    assert program.value == pytest.approx(2.28515625, abs=1e-7)
    with pytest.raises(MethodNotApplicable):
        ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml").formulation("grid").build()


@pytest.mark.parametrize("name", ["mh_2x2_risk_averse", "mh_2x2_limited_liability"])
def test_two_by_two_numeric_answers_are_polished_to_the_closed_form(name):
    mh = ital_opt.load(FORMULATIONS / f"{name}.toml")
    exact = mh.solve("closed-form")
    for method in ("cvxpy", "scipy", "pyomo"):
        r = mh.solve(method)
        assert r.success
        assert abs(r.objective - exact.objective) <= 1e-9, method
        assert np.max(np.abs(np.array(r.rows["pay"].tolist()) - exact.rows["pay"].tolist())) <= 1e-9, method
        for k, v in exact.multipliers.items():
            assert r.multipliers[k] == pytest.approx(v, abs=1e-9), (method, k)


def test_figures_through_the_hook():
    mh = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml")
    figs = mh.figures(mh.solve())
    assert [c for c, _ in figs] == ["pay per outcome", "net value of each action"]
    cont = ital_opt.load(FORMULATIONS / "mh_foa_valid.toml").replace(targets=5, effort_grid=101)
    assert [c for c, _ in cont.figures(cont.solve())] == ["pay per outcome", "agent's payoff against effort"]
    assert mh.figures(None) == []


def _imports(module) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add(("." * node.level) + (node.module or ""))
            out |= {a.name for a in node.names}
    return out


def test_algorithm_closed_form_and_checks_modules_import_no_framework_or_solver():
    from ital_opt.moral_hazard import checks, utility

    for module in (first_order, closed_form, checks, utility):
        names = _imports(module)
        for banned in ("Method", "Result", "SpecReader", "..problem", "..result", "..spec", "cvxpy", "pyomo",
                       "..backends"):
            assert banned not in names, (module.__name__, banned)
    for module in (closed_form, checks, utility):
        assert not any("scipy" in n for n in _imports(module)), module.__name__


def test_verify_on_an_lp_with_stdout_redirected_to_a_file(tmp_path):
    # the CLI with standard output on a file (pyomo's HiGHS path captures file descriptors)
    out = tmp_path / "verify.txt"
    with out.open("w") as fh:
        proc = subprocess.run([sys.executable, "-m", "ital_opt", "verify", str(FORMULATIONS / "mh_2x2_limited_liability.toml")],
                              stdout=fh, stderr=subprocess.PIPE, timeout=120, text=True)
    text = out.read_text()
    assert proc.returncode == 0, (text, proc.stderr)
    assert "pyomo/highs" in text and "verify: OK" in text
    assert "Running HiGHS" not in text  # solver banners belong on standard error
    piped = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(FORMULATIONS / "mh_2x2_limited_liability.toml"),
                            "--method", "pyomo", "--format", "json"], capture_output=True, timeout=120, text=True)
    assert piped.returncode == 0
    assert json.loads(piped.stdout)["method"] == "pyomo/highs"


def test_textbook_two_efforts_case():
    # the spec's hand derivation: high effort costs 125 in expected pay (IR and IC bind with
    # multipliers 20 and 50/3); the firm prefers low effort for a flat 49 (objective 39)
    mh = ital_opt.load(FORMULATIONS / "mh_textbook_two_efforts.toml")
    report = ital_opt.verify(mh)
    assert report.ok, report.to_table()
    high = mh.replace(implement="high")
    for method in ("closed-form", "cvxpy", "scipy", "pyomo"):
        r = high.solve(method)
        assert r.success and r.objective == pytest.approx(35.0, abs=1e-9)
        assert r.multipliers["IR"] == pytest.approx(20.0, abs=1e-8)
        assert r.multipliers["IC[low]"] == pytest.approx(50 / 3, abs=1e-8)
        assert set(r.binding) == {"IR", "IC[low]"}
