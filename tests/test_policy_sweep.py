"""kind = "policy": sweeps over γ, λ, the budget and the follower's fields (lower.NAME), and the
kind's figures through the hooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ital_opt
from ital_opt.policy import closed_form as cf

SPECS = Path(__file__).resolve().parents[1] / "formulations"


def sweep(spec, *vary, tmp_path):
    out = tmp_path / "sweep.csv"
    args = [sys.executable, "-m", "ital_opt", "sweep", str(SPECS / spec), "--out", str(out), "-q", "--workers", "1"]
    for v in vary:
        args += ["--vary", v]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out)


def test_sweep_gamma_matches_the_rate_formula(tmp_path):
    table = sweep("policy_A1_member_rates.toml", "gamma=0:1:3", tmp_path=tmp_path)
    beta = np.array([0.619289340101523, 0.380710659898477])  # example 4-1's welfare shares (ω = 0)
    for gamma, part in table.groupby("gamma"):
        want = cf.member_rates(beta, gamma, 0.3)
        assert part.sort_values("row")["value"].to_numpy() == pytest.approx(want, abs=1e-9)


def test_sweep_follower_field_and_lambda(tmp_path):
    table = sweep("policy_A1_member_rates.toml", "lower.omega=0:0.5:2", "lambda=0:0.3:2", tmp_path=tmp_path)
    assert set(table["status"]) == {"optimal"} and len(table) == 8
    # A-P2: the rates fall as the internal incentive (ω raises m_i) and the cost of funds rise
    first = table[table["row"] == 0].set_index(["lower.omega", "lambda"])["value"]
    assert first[(0.5, 0.0)] < first[(0.0, 0.0)] and first[(0.0, 0.3)] < first[(0.0, 0.0)]


def test_replace_budget_frontier_is_monotone():
    p = ital_opt.load(SPECS / "policy_C_sequential.toml")
    q = ital_opt.load(SPECS / "policy_A1_member_rates.toml")
    values = [q.replace(budget=b).solve().objective for b in (0.2, 0.6, 2.0)]
    assert values[0] < values[1] < values[2]
    assert values[2] == pytest.approx(q.solve().objective, abs=1e-9)  # the budget no longer binds
    assert p.solve().success


def test_figures_hooks(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    p = ital_opt.load(SPECS / "policy_A1_member_rates.toml")
    figs = p.figures(p.solve())
    assert figs and figs[0][0]
    table = pd.DataFrame({"budget": [0.2, 0.2, 0.6, 0.6], "row": [0, 1, 0, 1], "objective": [1.0, 1.0, 1.5, 1.5],
                          "outlay": [0.2, 0.2, 0.6, 0.6], "instrument": ["s"] * 4, "member": ["a", "b", "a", "b"],
                          "value": [0.1, 0.2, 0.3, 0.4]})
    pairs = p.sweep_figures(table, ["budget"])
    assert [c for c, _ in pairs] == ["SW–budget frontier", "optimal instruments against budget"]


# -- the vectorised closed form (Policy.closed_form_batch) against the point-by-point solve --------
BATCH_CASES = [
    ("policy_A1_member_rates.toml", {"gamma": [0.0, 0.7], "lambda": [0.0, 0.3], "lower.omega": [0.0, 0.4]}, 8),
    ("policy_A1_member_rates.toml", {"lower.a[0]": [0.8, 1.5], "lower.c[1]": [0.7, 1.3], "lower.rho[0]": [0.5, 2.0],
                                     "lower.sigma2": [0.2, 0.9]}, 16),
    ("policy_A2_uniform_rate.toml", {"gamma": [0.0, 0.5], "budget": [0.3, 0.5, 5.0]}, 4),  # binds at two points
    ("policy_A5_reward.toml", {"lambda": [0.0, 0.5], "lower.sigma2": [0.3, 1.0], "lower.omega": [0.0, 0.6]}, 8),
]


def _same(a: pd.DataFrame, b: pd.DataFrame, tol: float) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.kind in "fi" and y.dtype.kind in "fi":
            assert np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=tol, atol=tol, equal_nan=True), col
        else:
            same = (x.isna() & y.isna()) | (x.astype(object) == y.astype(object))
            assert same.all(), col


@pytest.mark.parametrize("spec, grid, covered", BATCH_CASES)
def test_closed_form_batch_matches_point_by_point(spec, grid, covered):
    from ital_opt.sweep import make_grid, sweep as run

    p = ital_opt.load(SPECS / spec)
    points = make_grid(grid).points
    records = p.closed_form_batch(points)
    assert records is not None and records["_point"].nunique() == covered
    fast = run(p, grid, workers=1, progress=False)
    slow = run(p, grid, workers=1, progress=False, vectorise=False)
    _same(fast, slow, 1e-12)


def test_closed_form_batch_declines_what_it_does_not_cover():
    a3 = ital_opt.load(SPECS / "policy_A3_uniform_endogenous.toml")  # the sharing rule re-optimised
    c = ital_opt.load(SPECS / "policy_C_sequential.toml")  # formation and diffusion stages
    b1 = ital_opt.load(SPECS / "policy_B1_admission_subsidy.toml")
    points = pd.DataFrame({"gamma": [0.1, 0.2]})
    assert all(q.closed_form_batch(points) is None for q in (a3, c, b1))
    a1 = ital_opt.load(SPECS / "policy_A1_member_rates.toml")
    assert a1.closed_form_batch(pd.DataFrame({"ties": [0.0]})) is None
    assert a1.closed_form_batch(pd.DataFrame({"lower.alpha[0]": [0.1]})) is None
    # invalid numbers are left to the point-by-point solve (which names the field)
    assert len(a1.closed_form_batch(pd.DataFrame({"gamma": [-1.0, 0.5], "lower.omega": [0.2, 1.5]}))) == 0
