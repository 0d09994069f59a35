"""Cooperative games (kind = "coalition"): literature cases, LP optimality, brute force for n ≤ 4.

Sources: glove game (Shapley & Shubik 1969); bankruptcy games and the Talmud rule (Aumann &
Maschler 1985, J. Econ. Theory 36: 195-213); convex games have the Shapley value in the core
(Shapley 1971); the three-player majority game has an empty core and least core ε = 1/3
(Maschler, Peleg & Shapley 1979).
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt.coalition import checks as CK
from ital_opt.coalition import closed_form as CF
from ital_opt.coalition import formulations as FM
from ital_opt.coalition import games as G

SETTINGS = settings(max_examples=25, deadline=None)


# -- the package's routines under test, by what they compute ------------------------------------
def prenucleolus(v):
    return FM.lexicographic_centre(FM.dense_pool(v), v[-1])


def nucleolus(v):
    return FM.nucleolus_dense(v)[0]


def least_core(v):
    x, lc, eps, kind = FM.nucleolus_dense(v)
    return eps, lc


def core_nonempty(v):
    return least_core(v)[0] <= 1e-9 * (1 + np.abs(v).max())


def kohlberg(v, x, imputations=False):
    return CK.kohlberg_certificate(v, x, FM.balancing_weights, imputations=imputations)["violation"]


# -- independent helpers (written for the tests; they share no code with the package) ----------
def members(mask, n):
    return [i for i in range(n) if mask >> i & 1]


def indicator(mask, n):
    return np.array([(mask >> i) & 1 for i in range(n)], float)


def brute_shapley(v, n):
    """Average marginal contribution over all n! orderings."""
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        mask = 0
        for i in order:
            phi[i] += v[mask | 1 << i] - v[mask]
            mask |= 1 << i
    return phi / math.factorial(n)


def brute_lexmin(v, n, imputations):
    """(Pre)nucleolus by vertex enumeration: stage by stage, minimise the largest free excess over
    all vertices of the feasible polyhedron in (x, ε); fix the coalitions whose excess equals the
    stage's level at every optimal vertex.  Returns (x, levels)."""
    proper = list(range(1, 2**n - 1))
    eq_rows = [np.append(np.ones(n), 0.0)]
    eq_rhs = [v[-1]]
    free = set(proper)
    levels = []
    for _ in range(2**n):
        ineq = [(np.append(indicator(s, n), 1.0), v[s]) for s in sorted(free)]
        if imputations:
            ineq += [(np.append(np.eye(n)[i], 0.0), v[1 << i]) for i in range(n)]
        A_eq, b_eq = np.array(eq_rows), np.array(eq_rhs)
        need = n + 1 - np.linalg.matrix_rank(A_eq)
        vertices = []
        for combo in itertools.combinations(range(len(ineq)), need):
            A = np.vstack([A_eq] + [ineq[k][0] for k in combo])
            b = np.concatenate([b_eq, [ineq[k][1] for k in combo]])
            if np.linalg.matrix_rank(A) < n + 1:
                continue
            z = np.linalg.lstsq(A, b, rcond=None)[0]
            if np.abs(A @ z - b).max() > 1e-9:
                continue
            if all(row @ z >= rhs - 1e-9 for row, rhs in ineq):
                vertices.append(z)
        vertices = np.array(vertices)
        eps = vertices[:, n].min()
        optimal = vertices[np.abs(vertices[:, n] - eps) < 1e-9]
        levels.append(eps)
        if np.ptp(optimal[:, :n], axis=0).max() < 1e-9:
            return optimal[0, :n], levels
        for s in sorted(free):
            if np.all(np.abs(optimal[:, :n] @ indicator(s, n) + eps - v[s]) < 1e-9):
                eq_rows.append(np.append(indicator(s, n), 0.0))
                eq_rhs.append(v[s] - eps)
                free.discard(s)
    raise AssertionError("no convergence")


def lp_certificate(v, n, eps, x):
    """Optimality of (ε, x) for the least-core LP: primal feasibility, and a dual certificate
    (balanced weights y, scale t) from the dual LP with strong duality and complementary slackness."""
    eps_dual, y = FM.least_core_dual(v)
    proper = np.arange(1, 2**n - 1)
    xs = np.array([x[members(s, n)].sum() for s in proper])
    primal = max(0.0, (v[proper] - xs - eps).max())
    cover = sum(y[k] * indicator(s, n) for k, s in enumerate(proper))
    t = float(cover.mean())
    balanced = np.abs(cover - t).max() + abs(y.sum() - 1) + max(0.0, -y.min())
    gap = abs((y @ v[proper] - t * v[-1]) - eps)
    slackness = float(np.max(y * (xs + eps - v[proper])))
    efficiency = abs(x.sum() - v[-1])
    return max(primal, balanced, gap, slackness, efficiency)


def random_game(draw, n, convex=False):
    if convex:  # non-negative Harsanyi dividends: totally monotone, hence convex
        dividends = draw(st.lists(st.integers(0, 5), min_size=2**n, max_size=2**n))
        v = np.array([sum(dividends[t] for t in range(1, 2**n) if t & s == t) for s in range(2**n)], float)
    else:
        v = np.array([0] + draw(st.lists(st.integers(-4, 10), min_size=2**n - 1, max_size=2**n - 1)), float)
    singles = sum(v[1 << i] for i in range(n))
    v[-1] = max(v[-1], singles)  # a non-empty imputation set
    return v


@st.composite
def games(draw, lo=2, hi=4, convex=False):
    n = draw(st.integers(lo, hi))
    return n, random_game(draw, n, convex)


# -- literature cases ------------------------------------------------------------------------------
def test_glove_game():
    g = G.table_game(["L", "R1", "R2"], {"L": 0, "R1": 0, "R2": 0, "L+R1": 1, "L+R2": 1, "R1+R2": 0, "L+R1+R2": 1})
    v = g.values
    np.testing.assert_allclose(CF.shapley(v), [2 / 3, 1 / 6, 1 / 6])
    np.testing.assert_allclose(nucleolus(v), [1, 0, 0], atol=1e-9)
    eps, x = least_core(v)
    assert abs(eps) < 1e-9 and CK.in_core(v, x)
    assert not CK.in_core(v, CF.shapley(v))  # the core is the single point (1, 0, 0)
    assert CK.in_core(v, [1, 0, 0]) and not CK.in_core(v, [0.9, 0.05, 0.05])


@pytest.mark.parametrize("estate, talmud", [(100, [100 / 3] * 3), (200, [50, 75, 75]), (300, [50, 100, 150])])
def test_talmud_estates_aumann_maschler(estate, talmud):
    v = G.bankruptcy_game("abc", estate, [100, 200, 300]).values
    np.testing.assert_allclose(CF.talmud(estate, [100, 200, 300]), talmud)
    np.testing.assert_allclose(nucleolus(v), talmud, atol=1e-8)
    assert G.is_convex(v) and CK.in_core(v, CF.shapley(v)) and CK.in_core(v, talmud)


@given(n=st.integers(2, 6), data=st.data())
@SETTINGS
def test_bankruptcy_nucleolus_is_talmud(n, data):
    claims = np.array(data.draw(st.lists(st.integers(1, 50), min_size=n, max_size=n)), float)
    estate = data.draw(st.integers(0, int(claims.sum())))
    v = G.bankruptcy_game([f"p{i}" for i in range(n)], estate, claims).values
    np.testing.assert_allclose(nucleolus(v), CF.talmud(estate, claims), atol=1e-7)


@given(games(2, 5, convex=True))
@SETTINGS
def test_convex_game_shapley_in_core(game):
    n, v = game
    assert G.is_convex(v)
    assert CK.in_core(v, CF.shapley(v))
    assert core_nonempty(v)


def test_empty_core_majority_game_and_least_core():
    v = np.array([0, 0, 0, 1, 0, 1, 1, 1], float)
    assert not core_nonempty(v)
    eps, x = least_core(v)
    assert eps == pytest.approx(1 / 3)
    np.testing.assert_allclose(x, [1 / 3] * 3)
    assert lp_certificate(v, 3, eps, x) < 1e-9
    assert FM.least_core_dual(v)[0] == pytest.approx(1 / 3)


# -- values against brute force -----------------------------------------------------------------------
@given(games(1, 5))
@SETTINGS
def test_shapley_and_banzhaf_against_enumeration(game):
    n, v = game
    np.testing.assert_allclose(CF.shapley(v), brute_shapley(v, n), atol=1e-9)
    banzhaf = [np.mean([v[s | 1 << i] - v[s] for s in range(2**n) if not s >> i & 1]) for i in range(n)]
    np.testing.assert_allclose(CF.banzhaf(v), banzhaf, atol=1e-9)


def test_shapley_sample_interval_covers_exact():
    claims = np.arange(1, 11, dtype=float) * 10
    g = G.bankruptcy_game([f"p{i}" for i in range(10)], 300, claims)
    exact = CF.shapley(g.values)
    est = CF.shapley_sample(g.worth, 10, 4000, seed=1)
    assert est.value.sum() == pytest.approx(g.grand)  # every ordering is efficient
    assert np.all(np.abs(est.value - exact) <= 1.5 * est.halfwidth + 1e-9)
    assert np.all(est.halfwidth < 2.0)


# -- nucleolus and least core: LP optimality and brute force ----------------------------------------
@given(games(2, 4))
@settings(max_examples=20, deadline=None)
def test_nucleolus_and_least_core_against_brute_force(game):
    n, v = game
    pre = prenucleolus(v)
    x_pre, levels = brute_lexmin(v, n, imputations=False)
    np.testing.assert_allclose(pre.x, x_pre, atol=1e-7)
    eps, x_lc = least_core(v)
    assert eps == pytest.approx(levels[0], abs=1e-7)
    assert lp_certificate(v, n, eps, x_lc) < 1e-7
    nuc = nucleolus(v)
    x_nuc, _ = brute_lexmin(v, n, imputations=True)
    np.testing.assert_allclose(nuc, x_nuc, atol=1e-7)
    assert kohlberg(v, nuc, imputations=True) == 0
    assert kohlberg(v, pre.x, imputations=False) == 0
    assert core_nonempty(v) == (levels[0] <= 1e-9)
    if core_nonempty(v):
        assert CK.in_core(v, nuc)


@given(games(5, 7))
@settings(max_examples=10, deadline=None)
def test_larger_games_lp_optimality(game):
    n, v = game
    eps, x = least_core(v)
    assert lp_certificate(v, n, eps, x) < 1e-7
    nuc = nucleolus(v)
    assert kohlberg(v, nuc, imputations=True) == 0
    assert abs(nuc.sum() - v[-1]) < 1e-8


def test_kohlberg_rejects_a_wrong_point():
    v = np.array([0, 0, 0, 1, 0, 1, 1, 1], float)
    assert kohlberg(v, [0.5, 0.25, 0.25]) == 1.0
    assert kohlberg(v, [1 / 3] * 3) == 0.0


def test_tightness_formulation_agrees():
    from ital_opt.coalition.formulations import nucleolus_by_tightness

    v = G.bankruptcy_game("abcd", 250, [40, 80, 120, 160]).values
    x, levels, _ = nucleolus_by_tightness(v)
    np.testing.assert_allclose(x, CF.talmud(250, [40, 80, 120, 160]), atol=1e-7)


# -- team-derived games ------------------------------------------------------------------------------
TEAM = dict(kind="team", members=["e", "u", "i"], a=[1.2, 1.0, 0.8], c=1.0, rho=[1.0, 2.0, 2.0], sigma2=0.5)


def test_team_game_matches_sub_team_solves():
    problem = ital_opt.load("formulations/coalition_team_ch4.toml")
    v = problem.values
    names = ["e", "u", "i"]
    for mask in range(1, 8):
        idx = members(mask, 3)
        sub = {**TEAM, "members": [names[k] for k in idx], "a": [TEAM["a"][k] for k in idx],
               "rho": [TEAM["rho"][k] for k in idx]}
        assert v[mask] == pytest.approx(ital_opt.load(sub).solve().objective, abs=1e-7)
    assert v[0b011] == pytest.approx(0.7555, abs=5e-5)  # docs/theory/team.md, example 4-1
    assert v[-1] == pytest.approx(0.7862, abs=5e-5)     # docs/theory/team.md, example 4-2


def test_team_game_general_engine_path(tmp_path):
    # a budget-breaker team is not covered by the closed form: every coalition is solved as a sub-team
    team = tmp_path / "team.toml"
    team.write_text('kind = "team"\na = [1.0, 0.8]\nc = 1.0\nrho = [1.0, 2.0]\nsigma2 = 0.5\nbudget_breaker = true\n')
    problem = ital_opt.load({"kind": "coalition", "players": ["x", "y"], "team": str(team)})
    assert problem.game.data["engine"] == "sub-team solves"
    result = problem.solve()
    assert result.success
    single = ital_opt.load({"kind": "team", "a": [1.0], "c": 1.0, "rho": [1.0], "sigma2": 0.5,
                            "budget_breaker": True}).solve().objective
    assert problem.values[1] == pytest.approx(single, abs=1e-6)


def test_team_game_with_a_production_expression(tmp_path):
    # a coalition's production is the team's with outsiders' inputs at 0 and members renumbered
    team = tmp_path / "team.toml"
    team.write_text('kind = "team"\nrho = [1.0, 2.0, 1.5]\nsigma2 = 0.5\n'
                    'production = "e1 + e2 + e3 + 0.5*sqrt(e1*e3)"\n')
    problem = ital_opt.load({"kind": "coalition", "players": ["x", "y", "z"], "team": str(team)})
    v = problem.values
    pair = ital_opt.load({"kind": "team", "rho": [1.0, 1.5], "sigma2": 0.5,
                          "production": "e1 + e2 + 0.5*sqrt(e1*e2)"}).solve()
    assert v[0b101] == pytest.approx(pair.objective, abs=1e-6)  # x and z keep their complementarity
    for mask, rho in ((0b001, 1.0), (0b010, 2.0), (0b100, 1.5)):  # alone: linear output, share 1
        assert v[mask] == pytest.approx(0.5 - rho * 0.5 / 2, abs=1e-6)  # A/2 − R/2 with a = c = 1
    assert v[0b111] == pytest.approx(ital_opt.load(str(team)).solve().objective, abs=1e-6)
    assert problem.solve().success


def test_team_game_reports_an_unsolvable_sub_team(tmp_path):
    team = tmp_path / "team.toml"
    team.write_text('kind = "team"\nrho = [1.0, 2.0]\nsigma2 = 0.5\nproduction = "e1 + log(1 + e2) + log(e2)"\n')
    spec = tmp_path / "game.toml"
    spec.write_text(f'kind = "coalition"\nplayers = ["x", "y"]\nteam = "{team.name}"\n')
    result = ital_opt.load(str(spec)).solve()
    assert result.status == "not_solved" and "sub-team of members 1" in result.message
    cli = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(spec)], capture_output=True, text=True)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr


# -- the kind ---------------------------------------------------------------------------------------------
BUNDLED = ["coalition_bankruptcy_talmud", "coalition_glove", "coalition_empty_core", "coalition_team_ch4"]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_specs_verify(name):
    report = ital_opt.verify(ital_opt.load(f"formulations/{name}.toml"))
    assert report.ok, report.to_table()


def test_result_json_shape():
    result = ital_opt.load("formulations/coalition_empty_core.toml").solve()
    out = result.to_dict()
    assert out["objective"] == 1.0 and out["core_nonempty"] is False
    assert out["least_core_epsilon"] == pytest.approx(1 / 3)
    assert set(out["rows"][0]) >= {"player", "shapley", "nucleolus", "banzhaf", "least_core"}
    assert out["allocation_in_core"] is False
    assert all(v == 0 or v < 1e-9 for v in out["checks"].values())


def test_python_constructor_and_allocation():
    from ital_opt.coalition.model import Coalition

    p = Coalition(players=["a", "b"], values={"a": 1, "b": 2, "a+b": 5}, allocation=[2, 3])
    r = p.solve()
    np.testing.assert_allclose(r.rows["nucleolus"], [2, 3])
    np.testing.assert_allclose(r.rows["shapley"], [2, 3])
    assert r.extras["allocation_in_core"] is True
    assert p.shapley_sample(200, seed=0).value.sum() == pytest.approx(5)


@given(n=st.integers(3, 6), scale=st.sampled_from([1e-3, 1.0, 1e6]), data=st.data())
@settings(max_examples=20, deadline=None)
def test_real_valued_games_at_any_scale(n, scale, data):
    # regression: rounded copies of implied equalities made later LPs infeasible at large scales
    worths = data.draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=2**n - 1, max_size=2**n - 1))
    v = np.array([0.0, *worths]) * scale
    v[-1] = max(v[-1], v[1 << np.arange(n)].sum())
    pre = prenucleolus(v)
    nuc = nucleolus(v)
    assert kohlberg(v, pre.x) == 0
    assert kohlberg(v, nuc, imputations=True) == 0
    assert abs(FM.least_core_dual(v)[0] - pre.levels[0]) <= 1e-8 * (1 + np.abs(v).max())


@given(n=st.integers(2, 7), data=st.data())
@SETTINGS
def test_bankruptcy_max_excess_formula(n, data):
    claims = np.array(data.draw(st.lists(st.integers(1, 30), min_size=n, max_size=n)), float)
    estate = float(data.draw(st.integers(0, int(claims.sum()))))
    raw = np.array(data.draw(st.lists(st.floats(-5, 30), min_size=n, max_size=n)))
    x = raw - (raw.sum() - estate) / n
    v = G.bankruptcy_game(range(n), estate, claims).values
    got = CF.bankruptcy_max_excess(estate, claims, x)
    assert got == pytest.approx(max(v[s] - x[members(s, n)].sum() for s in range(1, 2**n - 1)), abs=1e-9)


def test_bankruptcy_exact_values_by_counting_agree_with_enumeration():
    # 21 claimants with integer claims: the counting programme is exact; enumeration over 2^21
    # coalitions is the independent computation
    claims = list(np.arange(1, 22) * 10.0)
    problem = ital_opt.load({"kind": "coalition", "players": [f"p{i}" for i in range(21)],
                             "game": "bankruptcy", "estate": 1200, "claims": claims})
    result = problem.solve()
    assert result.success and result.method == "closed-form" and "exact" in result.message
    np.testing.assert_allclose(result.rows["nucleolus"], CF.talmud(1200, claims))
    exact_v = G.Game(problem.game.players, problem.game.worth).values
    np.testing.assert_allclose(result.rows["shapley"], CF.shapley(exact_v), atol=1e-9)
    np.testing.assert_allclose(result.rows["banzhaf"], CF.banzhaf(exact_v), atol=1e-9)
    pre_eps = CF.excesses(exact_v, CF.talmud(1200, claims))[1:-1].max()
    assert result.extras["least_core_epsilon"] == pytest.approx(pre_eps)


def test_bankruptcy_counting_on_decimal_data():
    # claims in tenths are scaled to integers; enumeration again independent
    claims = [12.5, 30.1, 7.3, 40.0, 22.2, 9.9]
    v = G.bankruptcy_game("abcdef", 61.7, claims).values
    shap, banz = CF.bankruptcy_values(617, [125, 301, 73, 400, 222, 99])
    np.testing.assert_allclose([float(q) / 10 for q in shap], brute_shapley(v, 6), atol=1e-9)
    np.testing.assert_allclose([float(q) / 10 for q in banz], CF.banzhaf(v), atol=1e-9)


def test_large_bankruptcy_game_sampled_only_on_request():
    # 30 claimants with irrational-looking claims: no exact method; sampled when asked
    rng = np.random.default_rng(5)
    claims = list(rng.uniform(1, 50, 30) + np.sqrt(2) / 1e7)
    spec = {"kind": "coalition", "players": [f"p{i}" for i in range(30)], "game": "bankruptcy",
            "estate": float(np.sum(claims) / 3), "claims": claims}
    with pytest.raises(ital_opt.errors.SpecError, match="samples") as err:
        ital_opt.load(spec)
    assert err.value.field == "claims"
    result = ital_opt.load({**spec, "samples": 3000, "seed": 3}).solve()
    assert result.success and "estimates from 3000 samples" in result.message
    assert np.all(result.rows["shapley_ci"] > 0)
    np.testing.assert_allclose(result.rows["nucleolus"], CF.talmud(spec["estate"], claims))
    again = ital_opt.load({**spec, "samples": 3000}).solve(seed=3)
    np.testing.assert_array_equal(again.rows["shapley"], result.rows["shapley"])


@given(n=st.integers(2, 5), omega=st.floats(0, 0.95), data=st.data())
@SETTINGS
def test_team_game_properties(n, omega, data):
    # worth is monotone on non-empty coalitions (a member given no share still adds ω-driven effort, never harm), the grand
    # coalition is worth the team's optimal welfare, and a singleton keeps all output: A/2 − R/2
    from ital_opt.team import closed_form as T

    a = np.array(data.draw(st.lists(st.floats(0.3, 2.0), min_size=n, max_size=n)))
    rho = np.array(data.draw(st.lists(st.floats(0.2, 3.0), min_size=n, max_size=n)))
    game = G.team_game([f"m{i}" for i in range(n)], {"a": a, "c": np.ones(n), "rho": rho, "sigma2": 0.5,
                                                     "omega": omega})
    v = game.values
    for i in range(n):
        rest = [s for s in range(1, 2**n) if not s >> i & 1]  # a lone member may be worth < 0
        assert all(v[s | 1 << i] >= v[s] - 1e-12 for s in rest)
        assert v[1 << i] == pytest.approx(a[i] ** 2 / 2 - rho[i] * 0.5 / 2)
    beta, _ = T.welfare_shares(a, 1.0, rho, 0.5, omega)
    assert v[-1] == pytest.approx(T.total_welfare(a, 1.0, rho, 0.5, beta, omega), abs=1e-10)
