"""Sweeps: grids, the vectorised closed forms against per-point solves, files, resume, executors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ital_opt
from ital_opt.errors import SpecError
from ital_opt.sweep import make_grid, parse_derive, parse_vary, sweep
from ital_opt.sweep.executors import solve_chunk
from ital_opt.sweep.tidy import POINT

ROOT = Path(__file__).resolve().parent.parent
EX31 = {"kind": "admission", "theta": [1.0, 1.5], "prob": [0.6, 0.4], "c": 1.0, "rho": 2.0, "sigma2": 0.4,
        "outside": [0.0, 0.0]}
EX32 = {"kind": "admission", "theta": [1.0, 1.25, 1.5], "prob": [0.3, 0.4, 0.3], "c": 1.0, "rho": 2.0,
        "sigma2": 0.4, "outside": 0.0}
EX41 = {"kind": "team", "a": [1.2, 1.0], "c": [1.0, 1.0], "rho": [1.0, 2.0], "sigma2": 0.5, "omega": 0.0}


def per_point(problem, grid, method="auto"):
    """The same table, every point solved one by one by the kind's own methods."""
    payload = {"key": json.dumps(problem.spec, sort_keys=True), "kind": problem.kind, "spec": problem.spec, "source": problem.source,
               "base_dir": str(problem.base_dir), "method": method, "options": {}, "names": grid.names}
    df = solve_chunk(payload, [(i, grid.changes(i)) for i in range(len(grid))])
    return df.drop(columns=[POINT]).reset_index(drop=True)


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical text columns (vectorised closed forms) as plain text, for frame comparisons."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).astype("str")
    return out


def assert_same(a: pd.DataFrame, b: pd.DataFrame, cols, atol=1e-9):
    assert len(a) == len(b)
    for col in cols:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind in "fi" or y.dtype.kind in "fi":
            np.testing.assert_allclose(x.astype(float), y.astype(float), atol=atol, rtol=1e-9, err_msg=col)
        else:
            assert list(x) == list(y), col


# -- grids ----------------------------------------------------------------------------------------------
def test_parse_vary_linspace_and_list():
    name, values = parse_vary("outside[1]=0:0.8:5")
    assert name == "outside[1]"
    np.testing.assert_allclose(values, [0, 0.2, 0.4, 0.6, 0.8])
    assert parse_vary("params.k=1,2,3")[0] == "params.k"
    np.testing.assert_allclose(parse_vary("c=1, 2.5")[1], [1, 2.5])


@pytest.mark.parametrize("bad", ["c", "c=1:2", "c=1:2:x", "c=1:2:0", "1c=1:2:3", "c=", "c=nan,1"])
def test_parse_vary_rejects(bad):
    with pytest.raises(SpecError):
        parse_vary(bad)


def test_grid_product_order_and_derive():
    grid = make_grid({"a": [1, 2], "b": [10, 20, 30]}, {"c": "a + b"})
    assert grid.names == ["a", "b", "c"] and len(grid) == 6
    assert grid.points["a"].tolist() == [1, 1, 1, 2, 2, 2]
    assert grid.points["c"].tolist() == [11, 21, 31, 12, 22, 32]
    assert parse_derive("prob[0] = 1 - prob_1") == ("prob[0]", "1 - prob_1")
    with pytest.raises(SpecError):
        make_grid({"a": [1]}, {"b": "__import__('os')"})


# -- the vectorised closed forms agree with the kinds' own methods ---------------------------------------------
def test_admission_two_types_regimes_match_per_point():
    problem = ital_opt.load(EX31)
    grid = make_grid({"outside[1]": np.linspace(0, 0.9, 19), "rho": [0.5, 2.0]})
    fast = sweep(problem, grid)
    assert set(fast["method"]) == {"closed-form"}
    slow = per_point(problem, grid)
    assert list(fast.columns) == list(slow.columns)
    assert_same(fast, slow, ["objective", "share", "transfer", "agent_utility", "rent", "effort", "regime"])
    # worked example 3-1 by g (docs/theory/admission.md)
    g = fast[(fast["rho"] == 2.0) & (fast["row"] == 0)].set_index("outside[1]")
    assert g.loc[0.0, "regime"] == "I" and g.loc[0.1, "regime"] == "II" and g.loc[0.2, "regime"] == "III"
    np.testing.assert_allclose(g.loc[[0.0, 0.1, 0.2, 0.4, 0.8], "objective"],
                               [0.445891, 0.445567, 0.418634, 0.336267, 0.031667], atol=1e-6)


def test_admission_prior_sweep_with_derived_field():
    problem = ital_opt.load(EX31)
    table = sweep(problem, {"prob[1]": [0.1, 0.2, 0.4, 0.6, 0.8]}, derive={"prob[0]": "1 - prob_1"})
    assert list(table.columns[:3]) == ["prob[1]", "prob[0]", "status"]
    low = table[table["row"] == 0]["share"].to_numpy()
    np.testing.assert_allclose(low, [0.51576, 0.47337, 0.37975, 0.27211, 0.14706], atol=1e-5)


def test_admission_k_types_match_per_point_including_ironing():
    problem = ital_opt.load(EX32)
    # prob[1] small makes the raw shares non-monotone: those points are ironed by the kind itself
    grid = make_grid({"prob[1]": np.linspace(0.02, 0.9, 12)}, {"prob[0]": "(1 - prob_1)/2", "prob[2]": "(1 - prob_1)/2"})
    fast = sweep(problem, grid, workers=1)
    slow = per_point(problem, grid)
    assert_same(fast, slow, ["objective", "share", "transfer", "agent_utility"])
    base = fast[np.isclose(fast["prob[1]"], 0.02 + 0.08 * 4.75)]  # any point: three rows each
    assert len(fast) == 3 * 12 and len(base) in (0, 3)


def test_team_closed_form_matches_per_point():
    problem = ital_opt.load({**EX41, "shares": "welfare"})
    grid = make_grid({"omega": np.linspace(0, 1, 6), "rho[1]": [0.5, 2.0, 8.0]})
    fast = sweep(problem, grid)
    slow = per_point(problem, grid)
    assert list(fast.columns) == list(slow.columns)
    assert_same(fast, slow, ["objective", "share", "effort", "ce", "expected_output", "first_best_welfare"])
    w = fast[(fast["rho[1]"] == 2.0) & (fast["row"] == 0)]
    np.testing.assert_allclose(w["objective"], [0.7555, 0.8622, 0.9455, 1.0052, 1.0413, 1.0533], atol=1e-4)


def test_knowledge_team_closed_form_matches_per_point():
    # the knowledge-sharing input (g, d) enters the vectorised closed form through A_i + g_i²/d_i
    problem = ital_opt.load({**EX41, "g": [0.5, 1.0], "d": [1.0, 2.0]})
    grid = make_grid({"omega": np.linspace(0, 1, 4), "g[0]": [0.0, 0.5, 1.5], "d[1]": [0.5, 2.0]})
    fast = sweep(problem, grid)
    assert set(fast["method"]) == {"closed-form"}
    slow = per_point(problem, grid)
    assert list(fast.columns) == list(slow.columns)
    assert_same(fast, slow, ["objective", "share", "effort", "knowledge", "ce", "expected_output", "first_best_welfare"])


def test_team_explicit_shares_sweep():
    problem = ital_opt.load({**EX41, "shares": [0.5, 0.5]})
    table = sweep(problem, {"shares[0]": [0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]}, derive={"shares[1]": "1 - shares_0"})
    pts = table[table["row"] == 0]
    np.testing.assert_allclose(pts["objective"], [0, 0.4092, 0.6608, 0.7275, 0.7548, 0.6912, 0.47], atol=1e-4)
    np.testing.assert_allclose(pts["ce"], [0, 0.1788, 0.3152, 0.3675, 0.4092, 0.4608, 0.47], atol=1e-4)


def test_numerical_sweep_in_process_pool_matches_closed_form():
    problem = ital_opt.load(EX31)
    grid = make_grid({"outside[1]": np.linspace(0, 0.8, 8)})
    fast = sweep(problem, grid)
    numeric = sweep(problem, grid, method="cvxpy", workers=2, chunk_size=2)
    assert set(numeric["method"]) == {"cvxpy/CLARABEL"}
    assert_same(fast, numeric, ["objective", "share"], atol=1e-6)


# -- input errors --------------------------------------------------------------------------------------
def test_bad_field_fails_before_solving(tmp_path):
    problem = ital_opt.load(EX31)
    out = tmp_path / "s.csv"
    with pytest.raises(SpecError):
        sweep(problem, {"nosuch": [1, 2]}, out=out)
    with pytest.raises(SpecError):
        sweep(problem, {"prob[1]": [0.3, 0.5]}, out=out)  # prior no longer sums to one
    assert not out.exists()


def test_cli_sweep_exit_codes(tmp_path, capsys):
    from ital_opt.cli import main

    spec = ROOT / "formulations" / "ch3_example_3_1.toml"
    out = tmp_path / "s.csv"
    assert main(["sweep", str(spec), "--vary", "outside[1]=0:0.8:5", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:4]) == ["outside[1]", "status", "objective", "row"]
    assert len(table) == 10
    assert main(["sweep", str(spec), "--vary", "outside[1]=0:0.8", "--out", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()
    assert main(["sweep", str(spec), "--vary", "c=1,2", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("c,status,objective,row,")


# -- files and resume ---------------------------------------------------------------------------------------
def test_csv_and_parquet_hold_the_same_table(tmp_path):
    problem = ital_opt.load(EX31)
    grid = {"outside[1]": np.linspace(0, 0.8, 5), "c": [1.0, 2.0]}
    mem = sweep(problem, grid)
    csv = sweep(problem, grid, out=tmp_path / "s.csv")
    pq = sweep(problem, grid, out=tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "s.csv"),
                                  plain(pd.read_parquet(tmp_path / "s.parquet")), check_dtype=False)
    for other in (csv, pq):
        pd.testing.assert_frame_equal(plain(mem), plain(other), check_dtype=False)
    assert not (tmp_path / "s.csv.journal").exists() and not (tmp_path / "s.parquet.parts").exists()


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resume_after_interruption_in_process(tmp_path, monkeypatch, suffix):
    """Interrupt after some chunks (and leave a half-written chunk behind): resume completes exactly."""
    import ital_opt.sweep.executors as ex

    problem = ital_opt.load(EX31)
    grid = {"outside[1]": np.linspace(0, 0.8, 12)}
    out = tmp_path / f"s{suffix}"
    real = ex.run
    calls = []

    def flaky(executor, payload, chunks, workers, scheduler=None):
        for i, df in enumerate(real(executor, payload, chunks, 1)):
            if i == 3:
                if suffix == ".csv":
                    with open(out, "ab") as h:  # a chunk cut short by the interruption
                        h.write(b"0.5,optimal,0.3,0,1.0,0.6,0.5")
                raise Interrupt
            calls.append(sorted(set(df[POINT])))
            yield df

    monkeypatch.setattr(ex, "run", flaky)
    with pytest.raises(Interrupt):
        sweep(problem, grid, method="cvxpy", out=out, chunk_size=2)
    monkeypatch.setattr(ex, "run", real)
    solved_first = {p for c in calls for p in c}
    assert solved_first == set(range(6))

    seen = []

    def counting(executor, payload, chunks, workers, scheduler=None):
        seen.extend(p for c in chunks for p, _ in c)
        yield from real(executor, payload, chunks, 1)

    monkeypatch.setattr(ex, "run", counting)
    table = sweep(problem, grid, method="cvxpy", out=out, chunk_size=2, resume=True)
    assert sorted(seen) == list(range(6, 12))  # finished points are not solved again
    assert len(table) == 24
    assert table.groupby("outside[1]").size().eq(2).all()
    fresh = sweep(problem, grid)
    assert_same(fresh, table, ["outside[1]", "row", "objective", "share"], atol=1e-6)
    # a finished sweep resumed again: nothing to do
    again = sweep(problem, grid, method="cvxpy", out=out, chunk_size=2, resume=True)
    pd.testing.assert_frame_equal(plain(again), plain(table), check_dtype=False)
    with pytest.raises(SpecError, match="another grid"):
        sweep(problem, {"outside[1]": np.linspace(0, 0.9, 12)}, out=out, resume=True)


def test_resume_refuses_a_different_sweep(tmp_path, monkeypatch):
    import ital_opt.sweep.executors as ex

    problem = ital_opt.load(EX31)
    out = tmp_path / "s.csv"

    def dying(executor, payload, chunks, workers, scheduler=None):
        raise Interrupt
        yield  # pragma: no cover

    monkeypatch.setattr(ex, "run", dying)
    with pytest.raises(Interrupt):
        sweep(problem, {"outside[1]": [0.0, 0.1]}, method="cvxpy", out=out)
    with pytest.raises(SpecError, match="different sweep"):
        sweep(problem, {"outside[1]": [0.0, 0.2]}, method="cvxpy", out=out, resume=True)



def test_resume_refuses_when_a_referenced_spec_changed(tmp_path):
    """A spec that refers to another file (a policy's follower) is fingerprinted with that file's bytes."""
    root = Path(__file__).resolve().parents[1] / "formulations"
    (tmp_path / "team.toml").write_text((root / "ch4_example_4_1.toml").read_text())
    spec = tmp_path / "policy.toml"
    spec.write_text((root / "policy_A1_member_rates.toml").read_text().replace("ch4_example_4_1.toml", "team.toml"))
    out = tmp_path / "s.csv"
    problem = ital_opt.load(spec)
    assert list(problem.input_files) == [str((tmp_path / "team.toml").resolve())]
    first = sweep(problem, {"gamma": [0.4, 0.5]}, out=out)
    again = sweep(ital_opt.load(spec), {"gamma": [0.4, 0.5]}, out=out, resume=True)
    pd.testing.assert_frame_equal(again, first, check_dtype=False)
    team = tmp_path / "team.toml"
    team.write_text(team.read_text().replace("sigma2 = 0.5", "sigma2 = 0.6"))
    with pytest.raises(SpecError, match="referenced spec file"):
        sweep(ital_opt.load(spec), {"gamma": [0.4, 0.5]}, out=out, resume=True)

# -- formulations built once (parametric) agree with the kind's own solve ------------------------------------------
SCREEN10 = {"kind": "screening", "theta": np.linspace(1, 2, 10).tolist(), "prob": [0.1] * 10,
            "agent": "theta*q", "principal": "-q**2/2", "outside": [0.0] * 10}


@pytest.mark.parametrize("spec, grid, derive", [
    (SCREEN10, {"prob[9]": [0.02, 0.18], "outside[0]": [0.0, 0.3]}, {"prob[0]": "0.2 - prob_9"}),
    ({**SCREEN10, "principal": "theta*q - q**2", "q_bounds": [0.0, 0.8]}, {"theta[3]": [1.3, 1.35]}, None),
    ({**SCREEN10, "principal": "2*sqrt(q) - 3*q"}, {"outside[0]": [0.0, 0.1]}, None),  # not a QP: cvxpy DPP
])
def test_parametric_screening_matches_the_kind(spec, grid, derive):
    problem = ital_opt.load(spec)
    g = make_grid(grid, derive)
    fast = sweep(problem, g, method="cvxpy", workers=1)
    assert fast["method"].iloc[0] == "cvxpy/CLARABEL"
    assert (fast["status"] == "optimal").all()
    # each point by the closed form where it applies, else by the kind's pyomo program (another
    # formulation); the programs reused by the sweep are refined to rounding
    for i in range(len(g)):
        point = problem.replace(**g.changes(i))
        applies = {m.name for m, reason in point.applicable() if reason is None}
        exact = point.solve("closed-form" if "closed-form" in applies else "pyomo")
        at = fast[np.all([np.isclose(fast[k], v) for k, v in g.changes(i).items()], axis=0)]
        assert exact.status == "optimal" and len(at) == problem.n
        assert np.isclose(at["objective"].iloc[0], exact.objective, rtol=1e-9, atol=1e-12)
        for col in ("q", "t", "agent_utility", "rent"):
            assert np.allclose(at[col].to_numpy(float), exact.rows[col].to_numpy(float), rtol=1e-9, atol=1e-10), col


def test_parametric_path_reports_bad_points():
    problem = ital_opt.load(SCREEN10)
    from ital_opt.sweep import SweepWarning

    with pytest.warns(SweepWarning, match="1 point"):
        table = sweep(problem, {"prob[9]": [0.1, 0.3]}, method="cvxpy", workers=1, validate=False)
    by_point = table.drop_duplicates("prob[9]").set_index("prob[9]")["status"]
    assert by_point[0.1] == "optimal" and by_point[0.3] == "not_solved"
