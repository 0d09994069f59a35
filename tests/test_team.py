"""kind = "team" (docs/theory/team.md): worked examples, agreement of the methods, textbook cases, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import ital_opt
from ital_opt.errors import MethodNotApplicable, SpecError
from ital_opt.problem import verify
from ital_opt.team import closed_form
from ital_opt.team.model import Team

ROOT = Path(__file__).resolve().parents[1]
FORMULATIONS = sorted((ROOT / "formulations").glob("ch4_*.toml"))
EXAMPLE_4_1 = dict(a=[1.2, 1.0], c=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5)


# -- the book's worked examples (every table is in the specs' [expected] cases) -------------------
@pytest.mark.parametrize("path", FORMULATIONS, ids=lambda p: p.name)
def test_bundled_formulation_verifies(path):
    report = verify(ital_opt.load(path))
    assert report.ok, report.to_table()


def test_example_4_1_preferred_shares_and_first_best():
    # docs/theory/team.md: member 1 prefers β_1 = 0.943396, member 2 prefers β_1 = 0.5; TW_FB = 1.0533
    assert closed_form.preferred_share(**EXAMPLE_4_1, member=0) == pytest.approx(0.943396, abs=5e-7)
    assert 1 - closed_form.preferred_share(**EXAMPLE_4_1, member=1) == pytest.approx(0.5, abs=5e-7)
    res = Team(**EXAMPLE_4_1).solve()
    assert res.extras["first_best_welfare"] == pytest.approx(1.0533, abs=5e-5)
    assert res.extras["free_riding_loss"] == pytest.approx(1.0533 - 0.7555, abs=1e-4)


# -- closed form, cvxpy and pyomo agree on random LEN teams, including zero shares ------------------
def _corner_team(n, seed, omega):
    team = Team.random(n, seed, omega=omega)
    a, rho = np.array(team.spec["a"]), np.array(team.spec["rho"])
    strong = np.arange(n) < max(2, n // 2)
    # productive, nearly risk-neutral members crowd out weak ones: some shares are exactly 0
    a = np.where(strong, 2 * a, 0.1 * a)
    rho = np.where(strong, 0.1 * rho, rho)
    return team.replace(a=a.tolist(), rho=rho.tolist())


@pytest.mark.parametrize("n,seed,omega", [(2, 1, 0.0), (3, 2, 0.3), (4, 7, 0.2), (5, 3, 0.0), (10, 4, 0.5), (25, 5, 0.1), (50, 6, 0.0)])
def test_methods_agree_on_random_len_teams(n, seed, omega):
    team = _corner_team(n, seed, omega)
    results = {m: team.solve(m) for m in ("closed-form", "cvxpy", "pyomo")}
    base = results["closed-form"]
    if n >= 5:
        assert (base.rows["share"] == 0).any(), "the instance should have a zero-share member"
    for name, res in results.items():
        assert res.success, (name, res.checks)
        for field in ("share", "effort", "ce"):
            np.testing.assert_allclose(res.rows[field], base.rows[field], atol=1e-6, err_msg=f"{name} {field}")
        assert res.objective == pytest.approx(base.objective, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_water_filling_matches_cvxpy_qp(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    team = Team.random(n, seed, omega=float(rng.uniform(0, 1)))
    a = np.array(team.spec["a"]) * np.where(rng.uniform(size=n) < 0.4, 0.05, 1.0)
    team = team.replace(a=a.tolist())
    cf, cv = team.solve("closed-form"), team.solve("cvxpy")
    np.testing.assert_allclose(cf.rows["share"], cv.rows["share"], atol=1e-7)


def test_budget_breaker_water_filling_matches_qp():
    # productive members: Σβ ≤ 1 binds and shares are rationed (μ > 0)
    crowded = Team.random(6, 11, budget_breaker=True)
    # risky members: each keeps β_j = A_j/(A_j + R_j) = 1/3 and the breaker keeps the rest
    risky = Team(a=[1.0, 1.0], rho=[2.0, 2.0], sigma2=1.0, budget_breaker=True)
    for team in (crowded, risky):
        cf, cv = team.solve("closed-form"), team.solve("cvxpy")
        np.testing.assert_allclose(cf.rows["share"], cv.rows["share"], atol=1e-7)
    assert crowded.solve().extras["multiplier"] > 0
    res = risky.solve()
    np.testing.assert_allclose(res.rows["share"], [1 / 3, 1 / 3], atol=1e-12)
    assert res.extras["budget_breaker_income"] == pytest.approx(res.extras["expected_output"] / 3)


def test_general_forms_with_len_expressions_match_closed_form():
    # the KKT formulation, fed the LEN forms as expressions, must land on the closed form
    team = Team(**{k: v for k, v in EXAMPLE_4_1.items() if k != "a"}, omega=0.3, production="1.2*e1 + e2", cost="c*e**2/2")
    assert "closed-form" not in [m.name for m, why in team.applicable() if why is None]
    res = team.solve("pyomo")
    ref = Team(**EXAMPLE_4_1, omega=0.3).solve("closed-form")
    np.testing.assert_allclose(res.rows["share"], ref.rows["share"], atol=1e-6)
    np.testing.assert_allclose(res.rows["effort"], ref.rows["effort"], atol=1e-6)


def test_coalition_welfare_matches_team_solves():
    a, c, rho, sigma2, omega = [1.2, 1.0, 0.8, 0.3], [1.0, 1.2, 0.9, 1.0], [1.0, 2.0, 2.0, 0.5], 0.5, 0.2
    n = len(a)
    masks = np.array([[(s >> i) & 1 for i in range(n)] for s in range(2**n)], bool)
    worth = closed_form.coalition_welfare(a, c, rho, sigma2, omega, masks)
    assert worth[0] == 0
    for s in range(1, 2**n):
        idx = np.flatnonzero(masks[s])
        sub = Team(a=[a[i] for i in idx], c=[c[i] for i in idx], rho=[rho[i] for i in idx], sigma2=sigma2, omega=omega)
        assert worth[s] == pytest.approx(sub.solve().objective, abs=1e-10)


# -- textbook cases (docs/theory/team.md) --------------------------------------------------------------------
@pytest.mark.parametrize("rho,c,sigma2", [(2.0, 1.0, 0.5), (0.5, 2.0, 1.0), (4.0, 0.5, 0.25)])
def test_holmstrom_milgrom(rho, c, sigma2):
    # Holmström–Milgrom (1987): output e + ε, a risk-neutral principal: β* = 1/(1 + ρcσ²)
    team = Team(a=1.0, c=c, rho=rho, sigma2=sigma2, budget_breaker=True)
    for method in ("closed-form", "cvxpy", "pyomo"):
        res = team.solve(method)
        assert res.rows["share"][0] == pytest.approx(1 / (1 + rho * c * sigma2), abs=1e-7), method
        assert res.rows["effort"][0] == pytest.approx(res.rows["share"][0] / c, abs=1e-7)


@pytest.mark.parametrize("n,omega", [(2, 0.0), (3, 0.5), (8, 0.9)])
def test_budget_balance_implies_free_riding(n, omega):
    # Holmström (1982): with Σβ = 1, n ≥ 2 and ω < 1 every member works below first best a_i/c_i
    team = Team.random(n, n, omega=omega)
    res = team.solve()
    first_best_effort = team.a / team.c
    assert np.all(res.rows["effort"].to_numpy() < first_best_effort)
    assert res.extras["free_riding_loss"] > 0


def test_budget_breaker_restores_first_best_effort():
    # a risk-neutral member facing a budget breaker keeps the whole margin: β = 1, e = a/c, no loss
    team = Team(a=1.5, c=2.0, rho=0.0, sigma2=1.0, budget_breaker=True)
    # the welfare is flat at β = 1 (its slope A(1 − β) vanishes on the bound), so interior-point
    # solvers (CLARABEL, ripopt) get there only to about √tol; the closed form is exact
    for method, tol in (("closed-form", 1e-12), ("cvxpy", 1e-4), ("pyomo", 1e-4)):
        res = team.solve(method)
        assert res.rows["share"][0] == pytest.approx(1.0, abs=tol)
        assert res.rows["effort"][0] == pytest.approx(1.5 / 2.0, abs=tol)
        assert res.extras["free_riding_loss"] == pytest.approx(0.0, abs=tol)
    # whereas the same two risk-neutral members under budget balance free-ride
    pair = Team(a=1.5, c=2.0, rho=0.0, sigma2=1.0, shares=[0.5, 0.5])
    assert np.all(pair.solve().rows["effort"] < 1.5 / 2.0)


# -- general forms ----------------------------------------------------------------------------------
def _equilibrium_by_best_responses(beta, production, iters=400):
    e = np.ones(2)
    for _ in range(iters):
        for i in range(2):
            f = lambda x: -(beta[i] * production(*(np.r_[x, e[1]] if i == 0 else np.r_[e[0], x])) - x * x / 2)
            e[i] = minimize_scalar(f, bounds=(0, 10), method="bounded", options={"xatol": 1e-12}).x
    return e


def test_cobb_douglas_team_is_solved_and_certified():
    team = ital_opt.load(ROOT / "formulations" / "ch4_cobb_douglas.toml")
    with pytest.raises(MethodNotApplicable, match="LEN"):
        team.solve("closed-form")
    with pytest.raises(MethodNotApplicable):
        team.solve("cvxpy")
    res = team.solve()
    assert res.status == "optimal" and res.method.startswith("pyomo")
    assert res.checks["max_deviation_gain"] <= 1e-6
    assert res.success
    # independent check: the welfare of the equilibrium as a function of β_1, maximised in 1-D
    production = lambda e1, e2: 2 * np.sqrt(max(e1, 0) * max(e2, 0))
    R = np.array([1.0, 2.0]) * 0.5

    def welfare(b1):
        beta = np.array([b1, 1 - b1])
        e = _equilibrium_by_best_responses(beta, production, iters=60)
        return production(*e) - np.sum(e * e) / 2 - np.sum(R * beta**2) / 2

    best = minimize_scalar(lambda b: -welfare(b), bounds=(0.05, 0.95), method="bounded", options={"xatol": 1e-6})
    assert res.rows["share"][0] == pytest.approx(best.x, abs=1e-4)
    assert res.objective == pytest.approx(-best.fun, abs=1e-8)


def test_effort_bound_binds_with_fixed_cost_of_effort():
    # cost c e²/2 + 0.3 e: member i works max(0, (a_i m_i − 0.3)/c_i); the weak member stops
    team = Team(a=[1.2, 1.0], c=1.0, rho=1.0, sigma2=0.5, shares=[0.8, 0.2], cost="c*e**2/2 + 0.3*e")
    res = team.solve("pyomo")
    expected = np.maximum(0.0, (np.array([1.2, 1.0]) * np.array([0.8, 0.2]) - 0.3) / 1.0)
    np.testing.assert_allclose(res.rows["effort"], expected, atol=1e-7)
    assert res.rows["effort"][1] == pytest.approx(0.0, abs=1e-7)
    assert res.checks["max_deviation_gain"] <= 1e-9


# -- sharing rules ------------------------------------------------------------------------------------
def test_weighted_nonconcave_team_reports_local_optima():
    team = Team(a=[2.0, 0.4, 0.4], c=1.0, rho=[0.1, 3.0, 3.0], sigma2=1.0, shares="weighted", **{"lambda": [0.05, 0.9, 0.05]})
    reason = dict((m.name, why) for m, why in team.applicable())["cvxpy"]
    res = team.solve()
    assert res.method.startswith("pyomo")
    if reason is not None:
        assert "not concave" in reason
        assert res.local
    assert res.extras["local_optima"] >= 1 and res.extras["starts"] >= 4
    assert res.success


def test_weighted_concave_cvxpy_matches_pyomo():
    team = Team.random(4, 8, shares="weighted", **{"lambda": [0.4, 0.3, 0.2, 0.1]})
    assert dict((m.name, why) for m, why in team.applicable())["cvxpy"] is None  # this instance is concave
    a, b = team.solve("cvxpy"), team.solve("pyomo")
    np.testing.assert_allclose(a.rows["share"], b.rows["share"], atol=1e-6)


def test_bargaining_two_members_cvxpy_matches_pyomo_and_1d_search():
    team = Team(**EXAMPLE_4_1, shares="bargaining", **{"lambda": [0.3, 0.7]}, disagreement=[0.05, 0.05])
    conic, nlp = team.solve("cvxpy"), team.solve("pyomo")
    lam, d = np.array([0.3, 0.7]), 0.05

    def nash(b1):
        ce = closed_form.certainty_equivalents(**EXAMPLE_4_1, beta=np.array([b1, 1 - b1]))
        return -np.sum(lam * np.log(ce - d))

    best = minimize_scalar(nash, bounds=(0.3, 0.95), method="bounded", options={"xatol": 1e-12}).x
    for res in (conic, nlp):
        assert res.rows["share"][0] == pytest.approx(best, abs=1e-6)


def test_ir_check_reports_violations():
    # at the given shares (0.6, 0.4) of Example 4-1 member 2's CE is 0.3456 (BOOK.md's table), below 0.5
    team = Team(**EXAMPLE_4_1, shares=[0.6, 0.4], outside=[0.0, 0.5])
    for method in ("closed-form", "cvxpy", "pyomo"):
        res = team.solve(method)
        assert res.status == "infeasible" and "member(s) 2 (outside level 0.5, CE 0.3456" in res.message, res.message


def test_vectors_of_members():
    team = Team.random(100, 1, omega=np.float64(0.2))
    res = team.solve()
    v = team.vectors(res)
    assert v["share"].shape == (100,) and v["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(v["effort"], team.a * (0.2 + 0.8 * v["share"]) / team.c)


# -- bad input -----------------------------------------------------------------------------------------
BAD = {
    "shares": 'shares = [0.3, 0.3]\n',
    "sigma2": "sigma2 = -0.5\n",
    "lambda": 'shares = "weighted"\nlambda = [0.2, 0.3, 0.5]\n',
    "production": 'production = "e1*e3"\n',
    "cost": 'cost = "c*e**2/2 + k*e"\n',
}


def _bad_spec(tmp_path, field):
    base = {"a": "a = [1.2, 1.0]\n", "rho": "rho = [1.0, 2.0]\n", "sigma2": "sigma2 = 0.5\n"}
    skip = {field, "a"} if field == "production" else {field}  # a production expression replaces a
    text = 'kind = "team"\n' + "".join(v for k, v in base.items() if k not in skip) + BAD[field]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def test_bad_input_exits_2_from_the_command_line(tmp_path):
    path, out = _bad_spec(tmp_path, "shares"), tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ital_opt", "solve", str(path), "--format", "json", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert "'shares'" in proc.stderr and "bad.toml" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("field", sorted(BAD))
def test_bad_input_exits_2_naming_the_field(tmp_path, capsys, field):
    from ital_opt.cli import main

    path, out = _bad_spec(tmp_path, field), tmp_path / "out.json"
    assert main(["solve", str(path), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"'{field}'" in err and "bad.toml" in err, err
    assert not out.exists()


def test_bad_input_in_python_raises_spec_error():
    with pytest.raises(SpecError, match="alpha"):
        Team(**EXAMPLE_4_1, alpha=[0.1, 0.1])
    with pytest.raises(SpecError, match="lambda"):
        Team(**EXAMPLE_4_1, shares="weighted")


def test_separable_ipopt_matches_pyomo_with_zero_shares():
    # general (quartic) cost, linear output: the sparse cyipopt formulation against pyomo's KKT NLP
    pytest.importorskip("cyipopt")
    team = _corner_team(8, 12, 0.0).replace(cost="c*e**2/2 + c*e**4/4")
    fast, nlp = team.solve("ipopt"), team.solve("pyomo")
    assert (fast.rows["share"] == 0).any()
    for res in (fast, nlp):
        assert res.success, res.checks
    for field in ("share", "effort", "ce"):
        np.testing.assert_allclose(fast.rows[field], nlp.rows[field], atol=1e-6)
    # a binding effort bound is left to pyomo's complementarity formulation
    fixed_cost = team.replace(cost="c*e**2/2 + 0.3*e")
    assert "bound can bind" in dict((m.name, why) for m, why in fixed_cost.applicable())["ipopt"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_methods_agree_on_many_random_len_teams(seed):
    rng = np.random.default_rng(100 + seed)
    n, omega = int(rng.integers(2, 51)), float(rng.choice([0.0, rng.uniform(0, 0.95)]))
    team = _corner_team(n, seed, omega) if seed % 2 else Team.random(n, seed, omega=omega)
    results = [team.solve(m) for m in ("closed-form", "cvxpy", "pyomo")]
    for res in results:
        assert res.success, res.checks
        for field in ("share", "effort", "ce"):
            np.testing.assert_allclose(res.rows[field], results[0].rows[field], atol=1e-6)


# -- the equilibrium certificate cannot step over a narrow profitable deviation ---------------------------
# A cost with a narrow dip: C(e) = e²/2 − 6·exp(−((e − 3.08)/0.005)²).  With shares (1/2, 1/2) and
# a = 1, member i's payoff 0.5·e − C(e) has a local maximum at e = 0.5 (value 0.125) and its global
# maximum inside the dip: at e = 3.08, 0.5·3.08 − 3.08²/2 + 6 = 2.7968 (by hand), a gain of about
# 2.672.  The former certificate (24 grid cells on [0, 4], then a local search around the best
# grid point) never evaluated the dip (its grid points 3.0 and 3.1667 lie ≥ 16 widths away) and
# reported a gain of 0.
DIP = "c*e**2/2 - 6*exp(-square((e - 3.08)/0.005))"


def _dip_gain():
    e = np.linspace(3.0, 3.2, 2_000_001)  # a brute-force grid 100 times finer than the dip's width
    return float(np.max(0.5 * e - e**2 / 2 + 6 * np.exp(-(((e - 3.08) / 0.005) ** 2)))) - 0.125


def test_certificate_finds_a_deviation_between_grid_points():
    from ital_opt.team import checks

    team = Team(a=[1.0, 1.0], rho=[1.0, 1.0], sigma2=0.5, shares=[0.5, 0.5], cost=DIP)
    local = np.array([0.5, 0.5])  # the local best responses m_i a_i / c_i
    gains = checks.deviation_gains(team, team.beta, local)
    assert _dip_gain() == pytest.approx(2.6718, abs=1e-3)
    np.testing.assert_allclose(gains, _dip_gain(), rtol=1e-6)
    # the same deviation through a production expression (the member-by-member search)
    team = Team(rho=[1.0, 1.0], sigma2=0.5, shares=[0.5, 0.5], production="e1 + e2", cost=DIP)
    np.testing.assert_allclose(checks.deviation_gains(team, team.beta, local), _dip_gain(), rtol=1e-6)


def test_certificate_is_tight_at_a_true_equilibrium():
    from ital_opt.team import checks

    team = Team(a=[1.0, 1.0], rho=[1.0, 1.0], sigma2=0.5, shares=[0.5, 0.5], cost=DIP)
    e = np.full(2, 3.08)
    here = 0.5 * e - e**2 / 2 + 6.0
    exact = _dip_gain() + 0.125 - here  # ≈ 0: the dip's top is the best response
    assert np.all(checks.deviation_gains(team, team.beta, e) <= exact + 1e-6)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.2, 3.0), st.floats(0.3, 3.0), st.floats(0.0, 1.0))
def test_certified_best_response_of_a_quartic_cost(a, c, m):
    # best response to m·a·x − (c x²/2 + x⁴/4): the root of m a = c x + x³ (numpy.roots, exact)
    from ital_opt.team import checks

    team = Team(a=[a, a], c=[c, c], rho=[1.0, 1.0], sigma2=0.5, shares=[m, 1 - m], cost="c*e**2/2 + e**4/4")
    roots = np.roots([1.0, 0.0, c, -m * a])
    x = float(max(r.real for r in roots if abs(r.imag) < 1e-9))
    lower, upper = checks.separable_response(team, m, np.ones(2))
    want = m * a * x - c * x * x / 2 - x**4 / 4
    assert lower[0] == pytest.approx(want, abs=1e-9) and upper[0] == pytest.approx(want, abs=1e-9)
    assert upper[0] >= want - 1e-12


# -- production replaces a; hostile sizes; pickling ------------------------------------------------------
def test_production_does_not_take_a():
    with pytest.raises(SpecError) as info:
        Team(a=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5, production="2*e1**0.5*e2**0.5")
    assert info.value.field == "a" and "ignored" in str(info.value)
    team = Team(rho=1.0, sigma2=0.5, production="e1 + e2 + e3")  # size from the production's names
    assert team.n == 3 and team.a is None


@pytest.mark.parametrize("fields,field,words", [
    ({"a": [], "rho": 1.0}, "a", "at least one member"),
    ({"a": [1.0, 1.0], "rho": 1.0, "effort_grid": 1e8}, "effort_grid", "unknown"),
    ({"a": [1.0, 1.0], "rho": 1.0, "shares": "bargaining", "starts": 10**8}, "starts", "at most 1000"),
])
def test_hostile_sizes_are_refused_quickly(tmp_path, fields, field, words):
    import time

    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        Team(sigma2=0.5, **fields)
    assert info.value.field == field and words in str(info.value)
    path = tmp_path / "big.toml"
    path.write_text('kind = "team"\nsigma2 = 0.5\n' + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in fields.items()))
    proc = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and field in proc.stderr and "Traceback" not in proc.stderr
    assert time.perf_counter() - start < 30


def test_starts_option_is_bounded():
    from ital_opt.errors import OptionError

    team = Team(**EXAMPLE_4_1, shares="bargaining")
    with pytest.raises(OptionError):
        team.solve("pyomo", starts=10**8)


def test_solved_problems_and_results_pickle():
    import pickle

    for team in (Team(**EXAMPLE_4_1), Team(rho=[1.0, 2.0], sigma2=0.5, production="2*e1**0.5*e2**0.5")):
        result = team.solve()
        again = pickle.loads(pickle.dumps(result))
        assert again.objective == result.objective
        clone = pickle.loads(pickle.dumps(team))
        assert clone.solve().objective == pytest.approx(result.objective, abs=1e-9)


# -- figures (docs/theory/team.md) through the hooks ----------------------------------------------------------------
def test_book_figures_of_the_worked_examples(tmp_path):
    base = ital_opt.load("formulations/ch4_example_4_1.toml")
    pairs = base.figures(base.solve())
    assert [c.split(" ")[0] for c, _ in pairs] == ["effort,", "total"]
    ratio = pairs[0][1]
    welfare = ratio.axes[2].lines[0].get_ydata()
    best = ratio.axes[2].lines[0].get_xdata()[int(np.argmax(welfare))]
    assert best == pytest.approx(0.62, abs=0.01)  # β_1* = 0.619289 (docs/theory/team.md, example 4-1)
    weighted = ital_opt.load("formulations/ch4_example_4_1_weights.toml")
    assert [c.split(" ")[0] for c, _ in weighted.figures()] == ["total"]
    for i, (_, fig) in enumerate(pairs):
        fig.savefig(tmp_path / f"f{i}.png")
        assert (tmp_path / f"f{i}.png").stat().st_size > 1000
    assert Team(rho=[1.0, 2.0], sigma2=0.5, production="2*e1**0.5*e2**0.5").figures() == []


def test_team_sweep_figure_shows_the_free_riding_gap():
    from ital_opt.sweep import sweep

    team = Team(**EXAMPLE_4_1)
    table = sweep(team, {"omega": np.linspace(0.0, 1.0, 6)}, progress=False)
    pairs = team.sweep_figures(table, ["omega"])
    assert len(pairs) == 1
    line = pairs[0][1].axes[0].lines[0]
    assert line.get_ydata()[-1] == pytest.approx(team.first_best(), abs=1e-9)  # ω = 1: first best


# -- the formulations as objects ---------------------------------------------------------------------------
def test_formulations_build_the_models_the_methods_solve():
    import cvxpy as cp
    import pyomo.environ as pyo

    from ital_opt import backends
    from ital_opt.errors import OptionError

    team = ital_opt.load("formulations/ch4_example_4_1.toml")
    model = team.formulation("cvxpy").build()
    assert isinstance(model, cp.Problem)
    model.solve(solver="CLARABEL")
    # TW* = 0.7555 of example 4-1 (docs/theory/team.md), recovered from the user's own solve
    assert team.formulation("cvxpy").recover(model).objective == pytest.approx(0.7555, abs=5e-5)
    nlp = team.formulation("pyomo").build()
    assert isinstance(nlp, pyo.ConcreteModel) and len(nlp.stationarity) == 2
    backends.solve_pyomo(nlp)
    assert team.formulation("pyomo").recover(nlp).objective == pytest.approx(0.7555, abs=5e-5)
    with pytest.raises(OptionError):
        team.solve("cvxpy", solver="IPOPT")
    with pytest.raises(OptionError):
        team.solve("closed-form", starts=3)
    assert team.solve("cvxpy", solver="scs").method == "cvxpy/SCS"


def test_too_many_members_are_refused_naming_the_field():
    import time

    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        Team(a=[1.0] * 100_001, rho=1.0, sigma2=0.5)
    assert info.value.field == "a" and "100,000" in str(info.value)
    assert time.perf_counter() - start < 5


def test_a_solver_that_fails_to_run_gives_not_solved_not_a_traceback(monkeypatch):
    # the NLP solver's process dying (a crash, out of memory) is a failed method: auto moves on
    from pyomo.common.errors import ApplicationError

    from ital_opt import backends

    class Dying:
        options: dict = {}

        def solve(self, *args, **kwargs):
            raise ApplicationError("Solver (ripopt) did not exit normally")

    monkeypatch.setattr(backends, "nlp_solver", lambda: ("ripopt", Dying()))
    result = Team(a=[1.0, 2.0], rho=0.5, sigma2=0.2, shares="weighted", **{"lambda": [0.3, 0.7]}).solve("pyomo")
    assert result.status == "not_solved" and not result.success
    assert "did not exit normally" in result.message
