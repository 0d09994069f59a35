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
