"""kind = "evolution": docs/theory/evolution.md cases, the two methods against each other, and propositions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt import SpecError, verify
from ital_opt.evolution import symbolic

ROOT = Path(__file__).resolve().parents[1] / "formulations"
SPECS = sorted(ROOT.glob("evo_*.toml"))

# E1 of docs/theory/evolution.md: enterprise (x) and research side (y); π_F, π_U cancel in the differences
E1_PAYOFF = {
    "enterprise": [["piF + alpha*dR - CF + S", "piF - CF + S + P"], ["piF + TF - P - M", "piF"]],
    "research": [["piU + (1 - alpha)*dR - CU + S", "piU - CU + S + P"], ["piU + TU - P - M", "piU"]],
}
FORMATION = dict(alpha=0.6, dR=6, CF=4, CU=3, TF=2, TU=2, P=0.5, S=1, M=2, piF=10, piU=8)


def e1(**params):
    return ital_opt.Evolution(populations=["enterprise", "research"], payoff=E1_PAYOFF,
                              params={**FORMATION, **params})


def game(tables, names=("a", "b"), **fields):
    return ital_opt.Evolution(populations=list(names), payoff=dict(zip(names, tables)), **fields)


def same_rest_points(r1, r2, tol=1e-7):
    assert len(r1.rows) == len(r2.rows), (r1.rows, r2.rows)
    for p, q in zip(r1.rows["point"], r2.rows["point"]):
        assert np.allclose(p, q, atol=tol)
    for e, f in zip(r1.rows["eigenvalues"], r2.rows["eigenvalues"]):
        assert np.allclose(e, f, atol=1e-6)
    assert r1.rows["stability"].tolist() == r2.rows["stability"].tolist()


# -- bundled specs: hand-derived [expected] values, both methods agree -----------------------------
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_bundled_spec_verifies(path):
    report = verify(ital_opt.load(path))
    assert report.ok, report.to_table()
    assert set(report.results) == {"symbolic", "numeric"}


def test_e2_static_is_a_centre_with_the_book_numbers():
    # docs/theory/evolution.md E2: rest point (0.5, 0.4), eigenvalues ±1.3416i, a centre (endless cycles)
    problem = ital_opt.load(ROOT / "evo_e2_static.toml")
    for method in ("symbolic", "numeric"):
        res = problem.solve(method)
        row = res.rows[res.rows["position"] == "interior"].iloc[0]
        assert row["point"] == pytest.approx([0.5, 0.4], abs=1e-12)
        assert np.allclose(row["eigenvalues"], [[0, -math.sqrt(1.8)], [0, math.sqrt(1.8)]], atol=1e-9)
        assert row["stability"] == "centre"
        assert res.objective == 0


def test_e2_static_orbits_keep_the_first_integral():
    # ẋ = x(1−x)(a + bz), ż = z(1−z)(c + dx) conserves H = c ln x − (c+d) ln(1−x) − a ln z + (a+b) ln(1−z)
    # (separation of variables); a = D0 = −2, b = S + M = 5, c = M + θ − C_g = 3, d = −(S + M + θ) = −6
    problem = ital_opt.load(ROOT / "evo_e2_static.toml")
    _, path = problem.trajectory(start=[0.3, 0.3], horizon=20)
    x, z = path[:, 0], path[:, 1]
    H = 3 * np.log(x) + 3 * np.log(1 - x) + 2 * np.log(z) + 3 * np.log(1 - z)
    assert np.ptp(H) < 1e-6
    assert np.ptp(x) > 0.2  # it cycles, it does not settle


def test_e2_dynamic_is_a_stable_focus():
    problem = ital_opt.load(ROOT / "evo_e2_dynamic.toml")
    for method in ("symbolic", "numeric"):
        res = problem.solve(method)
        row = res.rows[res.rows["position"] == "interior"].iloc[0]
        assert row["stability"] == "stable focus"
        assert np.allclose(row["eigenvalues"], [[-0.3, -math.sqrt(2.61)], [-0.3, math.sqrt(2.61)]], atol=1e-9)
        assert res.extras["asymptotically_stable"] == 1
    _, path = problem.trajectory(start=[0.3, 0.3], horizon=60)
    assert path[-1] == pytest.approx([0.5, 0.4], abs=1e-4)  # the cycles die out


def test_weak_focus_and_reversible_centre_are_told_apart():
    # trace 0 at (0.5, 0.4) in both; a cubic term makes a weak (unstable) focus, a quadratic one
    # keeps the system reversible under x -> 1 - x, t -> -t (c + d/2 = 0): a centre with l1 = 0
    gov = [["-Cg - S", "-Cg + M + theta"], [0, 0]]
    params = dict(D0=-2, S=2, M=3, Cg=1, theta=1)
    labels = {}
    for extra, want in (("3*(members - 0.5)**3", "unstable focus"), ("4*(members - 0.5)**2", "centre")):
        members = [[f"D0 + S + M + {extra}", f"D0 + {extra}"], [0, 0]]
        problem = ital_opt.Evolution(populations=["members", "government"], params=params,
                                     payoff={"members": members, "government": gov})
        for method in ("symbolic", "numeric"):
            res = problem.solve(method)
            assert res.success
            row = res.rows[res.rows["position"] == "interior"].iloc[0]
            labels[extra, method] = row["stability"]
            assert row["stability"] == want, row["note"]
    assert "Lyapunov" in problem.solve("symbolic").rows["note"].iloc[2]


def test_formation_stage_bistable_with_basins_and_trajectory():
    problem = ital_opt.load(ROOT / "evo_e1_formation.toml")
    res = problem.solve()
    assert res.success and res.objective == 2
    basin = res.rows.set_index(res.rows["point"].map(tuple))["basin"]
    assert basin[(0.0, 0.0)] + basin[(1.0, 1.0)] == pytest.approx(1.0)
    assert res.extras["basin_unassigned"] == 0
    assert np.isnan(basin[(0.0, 1.0)])
    # start (0.5, 0.5): ΔF = −2.5 + 1.8 < 0 and ΔU = −1.5 + 1.2 < 0 there, and the orbit goes to (0, 0)
    assert res.extras["trajectory"]["limit"] == [0.0, 0.0]


@pytest.mark.slow
def test_basins_on_the_sweep_executors_label_every_start_alike():
    """Fine grids are split over a process pool or a Dask cluster; no start changes its label."""
    from ital_opt.evolution.flows import CHUNK, basins

    problem = ital_opt.load(ROOT / "evo_e1_formation.toml")
    attractors = problem.attractors()
    k = int(np.ceil(np.sqrt(2.5 * CHUNK)))  # three chunks
    alone = basins(problem.payoffs, k, attractors, problem.horizon)
    pooled = basins(problem.payoffs, k, attractors, problem.horizon, workers=2)
    np.testing.assert_array_equal(pooled[0], alone[0])
    assert pooled[1].tolist() == alone[1].tolist() and 0 < alone[1][0] < 1
    if pytest.importorskip("distributed"):
        on_dask = basins(problem.payoffs, k, attractors, problem.horizon, executor="dask", workers=2)
        np.testing.assert_array_equal(on_dask[0], alone[0])
    # through solve, as options (also ital-opt solve --option workers=2)
    res = problem.solve("numeric", workers=2)
    assert res.rows["basin"].dropna().tolist() == problem.solve("numeric").rows["basin"].dropna().tolist()


@pytest.mark.parametrize("options, field", [({"workers": 0}, "workers"), ({"executor": "ray"}, "executor"),
                                            ({"workers": "2"}, "workers")])
def test_bad_basin_options_are_refused(options, field):
    from ital_opt import OptionError

    for method in ("symbolic", "numeric"):
        with pytest.raises(OptionError, match=field):
            e1().solve(method, **options)

def test_operation_stage_cooperation_basin_is_everything():
    # ΔF = 0.5 + 4.2y > 0 and ΔU = 1 + 2.8x > 0: every interior orbit goes to (1, 1)
    problem = ital_opt.load(ROOT / "evo_e1_operation.toml").replace(basin_grid=12)
    res = problem.solve("numeric")
    assert res.rows["basin"].iloc[-1] == 1.0
    assert problem.basin_share() == 1.0


def test_basin_share_of_cooperation_grows_with_the_subsidy():
    # the policy helper's follower: more subsidy, a larger basin of (1, 1)
    shares = [e1(S=s).basin_share(k=30) for s in (0.5, 1.0, 1.5, 2.0)]
    assert all(a < b for a, b in zip(shares, shares[1:])), shares
    problem = e1()
    assert problem.replace(**{"params.S": 2.0}).basin_share(k=30) == shares[-1]


# -- the ESS conditions of docs/theory/evolution.md ----------------------------------------------------------------
def book_11(p):
    return p["S"] + p["M"] > max(p["CF"] - p["P"] - p["alpha"] * p["dR"] + p["TF"],
                                 p["CU"] - p["P"] - (1 - p["alpha"]) * p["dR"] + p["TU"])


def book_00(p):
    return p["S"] + p["P"] < min(p["CF"], p["CU"])


@pytest.fixture(scope="module")
def conditions():
    return e1().ess_conditions()


def test_ess_condition_texts_are_reported():
    res = e1().solve("symbolic")
    texts = res.extras["ess_conditions"]
    assert set(texts) == {"(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"}
    # (0, 0): S + P − C_F < 0 and S + P − C_U < 0
    names = {k: sp.Symbol(k) for k in FORMATION}
    read = [sp.parse_expr(t.replace(" < 0", ""), local_dict=names) for t in texts["(0, 0)"]]
    assert [sp.expand(r - w) for r, w in zip(read, sp.parse_expr("[S + P - CF, S + P - CU]", local_dict=names))] == [0, 0]
    # (1, 1): written as "... > 0", S + M + P − C_F + αΔR − T_F > 0
    first = texts["(1, 1)"][0]
    assert first.endswith(" > 0")
    assert sp.expand(sp.parse_expr(first[:-4], local_dict=names) - sp.parse_expr("S + M + P - CF + alpha*dR - TF",
                                                                                 local_dict=names)) == 0


params_strategy = st.fixed_dictionaries({
    "alpha": st.floats(0.05, 0.95), "dR": st.floats(0, 15), "CF": st.floats(0, 6), "CU": st.floats(0, 6),
    "TF": st.floats(0, 6), "TU": st.floats(0, 6), "P": st.floats(0, 3), "S": st.floats(0, 6), "M": st.floats(0, 6),
})


@settings(max_examples=150, deadline=None)
@given(params_strategy)
def test_ess_conditions_are_the_book_formulas(conditions, p):
    values = {sp.Symbol(k, real=True): v for k, v in p.items()}
    values.update({sp.Symbol("piF", real=True): 10, sp.Symbol("piU", real=True): 8})
    margin = [float(e.subs(values)) for e in conditions[(1, 1)] + conditions[(0, 0)]]
    assume(min(abs(m) for m in margin) > 1e-9)
    holds = {c: all(float(e.subs(values)) < 0 for e in conditions[c]) for c in ((0, 0), (1, 1))}
    assert holds[(1, 1)] == book_11(p)
    assert holds[(0, 0)] == book_00(p)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_strategy)
def test_numeric_classification_follows_the_book_formulas(p):
    problem = e1(**p)
    corners = problem.payoffs.corner_eigenvalues()[1]
    assume(np.min(np.abs(corners)) > 1e-3)
    res = problem.solve("numeric")
    assert res.success
    label = dict(zip(res.rows["point"].map(tuple), res.rows["stability"]))
    assert (label[(1.0, 1.0)] == "ess") == book_11(p)
    assert (label[(0.0, 0.0)] == "ess") == book_00(p)


# -- random payoff tables: corners by sign, and the two methods agree ----------------------------------
entry = st.integers(-40, 40).map(lambda v: v / 8)
table = st.lists(entry, min_size=4, max_size=4).map(lambda v: [[v[0], v[1]], [v[2], v[3]]])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table, table)
def test_random_tables_corners_and_methods(t1, t2):
    problem = game([t1, t2])
    corners, eig = problem.payoffs.corner_eigenvalues()
    assume(np.min(np.abs(eig)) > 1e-9)  # generic: no zero eigenvalue at a corner
    exact = symbolic.analyse(problem)
    assume(not exact.continua)
    interior = [r for r in exact.points if r.point.min() > 0 and r.point.max() < 1]
    assume(all(min(r.point.min(), 1 - r.point.max()) > 1e-3 for r in interior))
    sym, num = problem.solve("symbolic"), problem.solve("numeric")
    assert sym.success and num.success, (sym.checks, num.checks)
    same_rest_points(sym, num)
    label = dict(zip(sym.rows["point"].map(tuple), sym.rows["stability"]))
    for c, e in zip(corners, eig):
        want = "ess" if np.all(e < 0) else "source" if np.all(e > 0) else "saddle"
        assert label[tuple(c)] == want
    assert sym.objective == sum(np.all(e < 0) for e in eig)


def test_three_populations_methods_agree():
    tables = [
        [[[3, 1], [-1, -2]], [[2, 0.5], [0, 0]]],
        [[[2.5, 1], [-1.5, -1]], [[1.5, 0], [0, 0.5]]],
        [[[-1, 2], [0.5, 1]], [[0, 0.5], [1, 0]]],
    ]
    problem = game(tables, names=("firm", "univ", "gov"))
    sym, num = problem.solve("symbolic"), problem.solve("numeric")
    assert sym.success and num.success
    same_rest_points(sym, num)
    assert len(sym.rows) == 11 and (sym.rows["position"] == "interior").sum() == 1
    assert sym.objective == 2


def test_state_dependent_payoffs_not_rational_use_numeric():
    problem = game([[["1 + sqrt(b)", 0], [0.5, 0]], [[1, 0], [0, "0.5 + a"]]])
    assert problem.symbolic_reason is not None
    res = problem.solve()
    assert res.method == "numeric" and res.success


def test_continuum_of_rest_points_is_reported():
    # a is indifferent (ΔF_a ≡ 0), ΔF_b = 2a − 1: the edges b ∈ {0, 1} and the line a = 1/2 are
    # filled with rest points; both methods name the same faces
    problem = game([[[1, 1], [1, 1]], [[1, 0], [0, 1]]])
    found = {}
    for method in ("symbolic", "numeric"):
        res = problem.solve(method)
        found[method] = res.extras["continua"]
        assert "continua" in res.message
        assert res.rows["stability"].tolist() == ["degenerate"] * 4
    assert found["symbolic"] == found["numeric"] == ["a free, b = 0", "a free, b = 1", "a free, b free"]


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields, where, words",
    [
        (dict(populations=["a"], payoff={"a": [1, 2]}), "populations", "two or more"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2], [3, 4]]}), "payoff", "'b' is missing"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4]], "c": 1}), "payoff.c",
         "not a population"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2, 3], [3, 4]], "b": [[1, 2], [3, 4]]}), "payoff.a[0]",
         "2 entries"),
        (dict(populations=["a", "b"], payoff={"a": [[1, "q"], [3, 4]], "b": [[1, 2], [3, 4]]}), "payoff.a[0][1]",
         "unknown name 'q'"),
        (dict(populations=["a", "b"], payoff={"a": [[1, True], [3, 4]], "b": [[1, 2], [3, 4]]}), "payoff.a[0][1]",
         "number or an expression"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4]]}, start=[0.5, 2]),
         "start", "at most 1"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4]]}, basin_grid=5000),
         "basin_grid", "exceed"),
        (dict(populations=["a", "sqrt"], payoff={"a": [[1, 2], [3, 4]], "sqrt": [[1, 2], [3, 4]]}), "populations",
         "identifier"),
        (dict(populations=["a", "b"], payoff={"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4]]}, strategies=["C"]),
         "strategies", "expected 2"),
    ],
)
def test_bad_input_names_the_field(fields, where, words):
    with pytest.raises(SpecError) as info:
        ital_opt.load({"kind": "evolution", **fields})
    assert info.value.field == where and words in str(info.value)


def test_cli_bad_spec_exit_2_and_good_spec_json(tmp_path, capfd):
    import json

    from ital_opt.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "evolution"\npopulations = ["a", "b"]\n[payoff]\na = [[1, 2], [3, 4]]\nb = [[1, 2], [3]]\n')
    assert main(["solve", str(bad)]) == 2
    assert "payoff.b[1]" in capfd.readouterr().err
    assert main(["solve", str(ROOT / "evo_e1_operation.toml"), "--format", "json"]) == 0
    data = json.loads(capfd.readouterr().out)
    assert data["objective"] == 1 and data["rows"][-1]["stability"] == "ess"
    assert main(["solve", str(ROOT / "evo_e1_operation.toml"), "--format", "csv", "--method", "numeric"]) == 0
    assert capfd.readouterr().out.startswith("point,eigenvalues,stability")


def test_unknown_option_refused():
    from ital_opt import OptionError

    with pytest.raises(OptionError):
        e1().solve("symbolic", starts=3)
    assert e1().solve("numeric", starts=4, seed=1).success


def test_figures_hook():
    import matplotlib

    matplotlib.use("Agg")
    problem = ital_opt.load(ROOT / "evo_e1_formation.toml").replace(basin_grid=10)
    figs = problem.figures(problem.solve("numeric"))
    assert [c.split(":")[0] for c, _ in figs] == ["phase portrait", "time paths from the start [0.5, 0.5]"]
    assert all(isinstance(f, matplotlib.figure.Figure) for _, f in figs)
    three = game([[[[1, 0], [0, 1]], [[0, 1], [1, 0]]]] * 3, names=("a", "b", "c"), start=[0.2, 0.5, 0.7])
    assert [c for c, _ in three.figures()] == ["time paths from the start [0.2, 0.5, 0.7]"]


def _generic(problem):
    """Exact analysis when the game is generic: no zero corner eigenvalue, no continuum, no rest
    point within 1e-3 of a face it does not lie on (else None)."""
    if np.min(np.abs(problem.payoffs.corner_eigenvalues()[1])) <= 1e-9:
        return None
    exact = symbolic.analyse(problem)
    if exact.continua:
        return None
    for r in exact.points:
        inside = r.point[(r.point > 0) & (r.point < 1)]
        if inside.size and min(inside.min(), 1 - inside.max()) <= 1e-3:
            return None
    return exact


linear = st.tuples(entry, entry, st.sampled_from(["a", "b"])).map(lambda t: f"{t[0]} + {t[1]}*{t[2]}")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(entry, linear), min_size=8, max_size=8))
def test_random_state_dependent_tables_methods_agree(values):
    # payoffs linear in the shares: ΔF_i is then quadratic and may depend on x_i itself
    t1 = [[values[0], values[1]], [values[2], values[3]]]
    t2 = [[values[4], values[5]], [values[6], values[7]]]
    problem = game([t1, t2])
    assume(_generic(problem) is not None)
    sym, num = problem.solve("symbolic"), problem.solve("numeric")
    assert sym.success and num.success, (sym.checks, num.checks)
    same_rest_points(sym, num)


cube = st.lists(entry, min_size=8, max_size=8).map(lambda v: [[[v[0], v[1]], [v[2], v[3]]], [[v[4], v[5]], [v[6], v[7]]]])


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cube, cube, cube)
def test_random_three_population_tables_methods_agree(t1, t2, t3):
    problem = game([t1, t2, t3], names=("a", "b", "c"))
    assume(_generic(problem) is not None)
    sym, num = problem.solve("symbolic"), problem.solve("numeric")
    assert sym.success and num.success, (sym.checks, num.checks)
    same_rest_points(sym, num)
    corners, eig = problem.payoffs.corner_eigenvalues()
    assert sym.objective == sum(np.all(e < 0) for e in eig)


def test_state_dependent_edge_rest_points_by_hand():
    # ΔF_a = 2 − 4a whatever b does (a's payoff falls with its own share), ΔF_b = a − 2(1 − a) = 3a − 2.
    # On the edges b ∈ {0, 1}: a = 0.5; Jacobian diag(a(1−a)(−4), (1 − 2b)ΔF_b(0.5)) = diag(−1, ∓0.5):
    # (0.5, 0) is a stable node on the edge ("ess"), (0.5, 1) a saddle.  Corners: (0, 0) (2, −2)
    # saddle, (0, 1) (2, 2) source, (1, 0) (2, 1) source, (1, 1) (2, −1) saddle; no interior point
    # (a = 0.5 and a = 2/3 at once).
    problem = game([[["2 - 4*a", "2 - 4*a"], [0, 0]], [[1, 0], [0, 2]]])
    for method in ("symbolic", "numeric"):
        res = problem.solve(method)
        assert res.success
        assert np.allclose(res.rows["point"].tolist(), [[0, 0], [0, 1], [0.5, 0], [0.5, 1], [1, 0], [1, 1]])
        assert res.rows["stability"].tolist() == ["saddle", "source", "ess", "saddle", "source", "saddle"]
        assert np.allclose(res.rows["eigenvalues"].iloc[2], [[-1, 0], [-0.5, 0]], atol=1e-9)
        assert res.rows["position"].iloc[2] == "edge" and res.objective == 1


def test_sweep_and_its_basin_figure():
    import matplotlib

    matplotlib.use("Agg")
    from ital_opt.sweep import sweep

    problem = e1().replace(basin_grid=12)
    table = sweep(problem, {"params.S": np.array([0.5, 1.5, 2.5])}, progress=False)
    coop = table[table["point"].map(lambda p: list(p) == [1.0, 1.0])]
    assert coop["basin"].is_monotonic_increasing and coop["basin"].iloc[-1] > 0.9
    (caption, fig), = problem.sweep_figures(table, ["params.S"])
    assert caption == "basins of attraction against params.S"
    assert isinstance(fig, matplotlib.figure.Figure)
