"""Binding constraints and their multipliers in screening results (issue 2, item 3).

Names: IR[k], IC[k->l] (type k does not prefer l's contract), MON[k<l], types by 0-based index.
Multipliers: the principal's expected payoff per unit of the agent's utility, ≥ 0.  Expected
values from the Lagrangian of docs/theory/screening.md: in Mussa–Rosen without pooling IR[0] carries the whole
probability 1 and the downward IC[k+1->k] the tail Σ_{j>k} p_j; with countervailing incentives the
high type's IR and the low type's upward IC bind instead (multipliers 1 and p_L).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import ital_opt
from ital_opt.result import Result
from ital_opt.screening.closed_form import virtual_values
from ital_opt.screening.model import Screening

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "formulations").glob("screening_*.toml"))
FORMULATIONS = ("cvxpy-local", "cvxpy", "pyomo")


def mussa_rosen(theta, prob, **kw):
    return Screening(theta=list(map(float, theta)), prob=list(map(float, prob)), agent="theta*q", principal="-q**2/2", **kw)


def slacks(problem, res):
    """Slack of every binding constraint, from the returned menu (q, t) and the spec alone."""
    n = problem.n
    q = np.array(res.rows["q"].tolist(), dtype=float).reshape(n, -1)
    t = res.rows["t"].to_numpy(dtype=float)
    theta = problem.theta.reshape(n, -1)

    def u(k, l):  # type k's utility from item l, before transfers
        return float(np.asarray(problem.agent.numpy(**problem.env(q[[l]], theta[[k]]))).ravel()[0])

    out = {}
    for name in res.binding:
        if m := re.fullmatch(r"IR\[(\d+)\]", name):
            k = int(m[1])
            out[name] = u(k, k) + t[k] - problem.outside[k]
        elif m := re.fullmatch(r"IC\[(\d+)->(\d+)\]", name):
            k, l = int(m[1]), int(m[2])
            out[name] = u(k, k) + t[k] - u(k, l) - t[l]
        elif m := re.fullmatch(r"MON\[(\d+)<(\d+)\]", name):  # v is increasing in the bundled cases
            out[name] = abs(q[int(m[2]), 0] - q[int(m[1]), 0])
        else:
            raise AssertionError(f"unexpected constraint name {name!r}")
    return out


@pytest.mark.parametrize("method", FORMULATIONS)
def test_two_types_binding_is_downward_ic_and_low_ir(method):
    # docs/theory/screening.md two types: IR_L and IC_HL bind; relaxing IC_HL lowers the rent p_H pays, IR_L all rents
    problem = mussa_rosen([1, 2], [0.6, 0.4])
    closed = problem.solve("closed-form")
    res = problem.solve(method)
    assert res.rows["q"].tolist() == pytest.approx(closed.rows["q"].tolist(), abs=1e-7)
    assert sorted(res.binding) == ["IC[1->0]", "IR[0]"]
    assert res.multipliers == pytest.approx({"IC[1->0]": 0.4, "IR[0]": 1.0}, abs=1e-7)
    assert closed.binding == [] and closed.multipliers == {}


def test_mussa_rosen_multipliers_are_tail_probabilities():
    n = 12
    rng = np.random.default_rng(7)
    theta = np.linspace(2.0, 3.0, n)
    prob = rng.dirichlet(np.full(n, 20.0))
    nu = virtual_values(theta, prob)
    assert np.all(np.diff(nu) > 0) and nu[0] > 0  # no pooling, no exclusion: a unique multiplier vector
    tails = prob[::-1].cumsum()[::-1]  # tails[k] = Σ_{j≥k} p_j
    expected = {"IR[0]": 1.0, **{f"IC[{k + 1}->{k}]": tails[k + 1] for k in range(n - 1)}}
    local, pairs = mussa_rosen(theta, prob).solve("cvxpy-local"), mussa_rosen(theta, prob).solve("cvxpy")
    assert local.method.startswith("cvxpy-local/") and pairs.method.startswith("cvxpy/")
    for res in (local, pairs):
        assert set(res.binding) == set(expected)
        assert res.multipliers == pytest.approx(expected, abs=1e-6)


def test_countervailing_binding_matches_the_menu():
    path = ROOT / "formulations" / "screening_countervailing.toml"
    problem = ital_opt.load(path)
    for method in FORMULATIONS:
        res = problem.solve(method)
        assert sorted(res.binding) == ["IC[0->1]", "IR[1]"], method  # the low type is tempted upward
        assert res.multipliers == pytest.approx({"IC[0->1]": 0.2, "IR[1]": 1.0}, abs=1e-6)
        assert max(slacks(problem, res).values()) <= 1e-7


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_binding_constraints_have_no_slack(path):
    problem = ital_opt.load(path)
    for method, reason in problem.applicable():
        if reason is not None or method.closed_form:
            continue
        res = problem.solve(method.name)
        assert res.binding, method.name
        assert set(res.multipliers) == set(res.binding)
        assert min(res.multipliers.values()) > 0
        # stationarity in U: the IR multipliers add up to the principal's cost of a unit of rent, 1 − α
        ir = sum(v for nm, v in res.multipliers.items() if nm.startswith("IR["))
        assert ir == pytest.approx(1.0 - problem.rent_weight, abs=1e-6)
        assert max(slacks(problem, res).values()) <= 1e-7, method.name


def test_json_carries_binding_and_multipliers(tmp_path, capsys):
    from ital_opt.cli import main

    spec = ROOT / "formulations" / "screening_two_types.toml"
    assert main(["solve", str(spec), "--method", "cvxpy", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data["binding"]) == ["IC[1->0]", "IR[0]"]
    assert data["multipliers"] == pytest.approx({"IC[1->0]": 0.4, "IR[0]": 1.0}, abs=1e-7)


def test_table_shortens_a_long_binding_list():
    names = [f"IC[{k + 1}->{k}]" for k in range(25)]
    res = Result(status="optimal", binding=names, multipliers=dict.fromkeys(names, 0.5))
    table = res.to_table()
    assert "IC[9->8]" in table and "IC[11->10]" not in table and "... and 15 more" in table
    assert res.to_dict()["binding"] == names and len(res.to_dict()["multipliers"]) == 25
