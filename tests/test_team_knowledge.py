"""The knowledge-sharing second input of kind = "team" (docs/theory/team.md, the Chapter 4 extension).

Each member also chooses k_i ≥ 0 with marginal output g_i and cost d_i k_i²/2.  In the LEN case
k_i = g_i m_i/d_i and the closed forms hold with A_i = a_i²/c_i replaced by A_i + g_i²/d_i; the
general engine (pyomo KKT, joint best-response certificate) must agree with them.  The worked
values are in formulations/ch4_knowledge_*.toml (verified by test_team.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

import ital_opt
from ital_opt.errors import SpecError
from ital_opt.result import CHECK_TOL
from ital_opt.team import closed_form as cf
from ital_opt.team import checks, equilibrium
from ital_opt.team.model import Team

EXAMPLE = dict(a=[1.2, 1.0], c=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5, g=[0.5, 1.0], d=[1.0, 2.0])
FIELDS = ("share", "effort", "knowledge", "ce")
COMPLEMENTARITY = "1.2*e1 + e2 + sqrt(e1*k2) + 0.5*sqrt(e2*k1)"


def _knowledge_team(n, seed, corner=False, **fields):
    """A random LEN team with knowledge inputs; `corner` makes weak members whose shares are 0."""
    rng = np.random.default_rng(1000 + seed)
    team = Team.random(n, seed, g=rng.uniform(0.0, 1.5, n).tolist(), d=rng.uniform(0.5, 2.0, n).tolist(), **fields)
    if not corner:
        return team
    strong = np.arange(n) < max(2, n // 2)
    scale = np.where(strong, 2.0, 0.1)
    return team.replace(
        a=(team.a * scale).tolist(), g=(team.g * scale).tolist(), rho=np.where(strong, 0.1, 1.0) * team.rho
    )


def _agree(results, atol=1e-6):
    base = next(iter(results.values()))
    for name, res in results.items():
        assert res.success, (name, res.checks)
        for field in FIELDS:
            np.testing.assert_allclose(res.rows[field], base.rows[field], atol=atol, err_msg=f"{name} {field}")
        assert res.objective == pytest.approx(base.objective, abs=atol), name


# -- closed form, cvxpy and pyomo agree ------------------------------------------------------------
@pytest.mark.parametrize(
    "n,seed,omega,corner", [(2, 1, 0.0, False), (3, 2, 0.3, False), (5, 3, 0.0, True), (12, 4, 0.5, True)]
)
def test_methods_agree_on_random_len_teams_with_knowledge(n, seed, omega, corner):
    team = _knowledge_team(n, seed, corner, omega=omega)
    results = {m: team.solve(m) for m in ("closed-form", "cvxpy", "pyomo")}
    if corner:
        assert (results["closed-form"].rows["share"] == 0).any(), "the instance should have a zero-share member"
    _agree(results)
    res = results["closed-form"]
    beta = res.rows["share"].to_numpy()
    np.testing.assert_allclose(res.rows["knowledge"], team.g * (omega + (1 - omega) * beta) / team.d, rtol=1e-14)
    assert res.extras["expected_output"] == pytest.approx(team.a @ res.rows["effort"] + team.g @ res.rows["knowledge"])


@pytest.mark.parametrize("fields", [
    {"shares": "weighted", "lambda": [0.3, 0.7], "omega": 0.4},
    {"shares": "bargaining", "lambda": [0.4, 0.6], "disagreement": [0.05, 0.05]},
    {"shares": [0.7, 0.3], "omega": 0.2},
    {"budget_breaker": True},
], ids=["weighted", "bargaining", "given", "budget_breaker"])
def test_sharing_rules_with_knowledge_agree_across_methods(fields):
    team = Team(**EXAMPLE, **fields)
    methods = [m.name for m, why in team.applicable() if why is None and m.name != "ipopt"]
    assert {"cvxpy", "pyomo"} <= set(methods)
    _agree({m: team.solve(m) for m in methods})


def test_zero_marginal_output_of_knowledge_reproduces_the_one_input_team():
    base = {k: v for k, v in EXAMPLE.items() if k not in ("g", "d")}
    for fields in ({"omega": 0.3}, {"shares": "weighted", "lambda": [0.2, 0.8]}, {"shares": [0.6, 0.4]}):
        plain, zero = Team(**base, **fields), Team(**base, **fields, g=0.0)
        assert zero.knowledge and not plain.knowledge
        for method in ("closed-form", "cvxpy", "pyomo"):
            a, b = plain.solve(method), zero.solve(method)
            atol = 0.0 if method == "closed-form" else 1e-8
            assert "knowledge" not in a.rows
            np.testing.assert_allclose(b.rows["knowledge"], 0.0, atol=atol and 1e-12, rtol=0, err_msg=method)
            for field in ("share", "effort", "ce"):
                np.testing.assert_allclose(b.rows[field], a.rows[field], atol=atol, rtol=0, err_msg=method)
            assert b.objective == pytest.approx(a.objective, abs=atol)
            assert b.extras["first_best_welfare"] == a.extras["first_best_welfare"]


def test_general_forms_with_len_expressions_match_closed_form():
    # knowledge named in the production expression (no g), quadratic costs written out: the KKT
    # formulation over (e, k) must land on the closed form with g = (0.5, 1.0)
    team = Team(rho=[1.0, 2.0], sigma2=0.5, d=[1.0, 2.0], omega=0.3,
                production="1.2*e1 + e2 + 0.5*k1 + k2", knowledge_cost="d*k**2/2")
    assert team.knowledge and not team.is_len
    res, ref = team.solve("pyomo"), Team(**EXAMPLE, omega=0.3).solve("closed-form")
    for field in FIELDS:
        np.testing.assert_allclose(res.rows[field], ref.rows[field], atol=1e-6)
    assert res.extras["first_best_welfare"] == pytest.approx(ref.extras["first_best_welfare"], abs=1e-8)


def test_knowledge_bound_binds_with_a_fixed_cost_of_sharing():
    # K(k) = d k²/2 + 0.2 k: member i shares max(0, (g_i m_i − 0.2)/d_i); the weak one shares nothing
    team = Team(**EXAMPLE, shares=[0.9, 0.1], knowledge_cost="d*k**2/2 + 0.2*k")
    assert "ipopt" not in [m.name for m, why in team.applicable() if why is None]
    res = team.solve()
    assert res.method.startswith("pyomo")
    expected = np.maximum(0.0, (np.array([0.5, 1.0]) * np.array([0.9, 0.1]) - 0.2) / np.array([1.0, 2.0]))
    np.testing.assert_allclose(res.rows["knowledge"], expected, atol=1e-7)
    assert res.rows["knowledge"][1] == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(res.rows["effort"], [1.2 * 0.9, 0.1], atol=1e-7)
    assert res.checks["max_deviation_gain"] <= 1e-9


# -- first best ------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_first_best_welfare_with_knowledge(seed):
    team = _knowledge_team(4, seed)
    A = team.a**2 / team.c + team.g**2 / team.d
    R = team.rho * team.sigma2
    want = A.sum() / 2 - 1 / (2 * np.sum(1 / R))
    assert team.first_best() == pytest.approx(want, abs=1e-12)
    closed = cf.first_best_welfare(team.a, team.c, team.rho, team.sigma2, g=team.g, d=team.d)
    assert closed == pytest.approx(want, abs=1e-12)
    # at ω = 1 the inputs are first best (e = a/c, k = g/d) and TW = TW_FB
    res = team.replace(omega=1.0).solve()
    np.testing.assert_allclose(res.rows["knowledge"], team.g / team.d, atol=1e-12)
    assert res.objective == pytest.approx(want, abs=1e-12)
    # the general paths: separable 1-D searches (cost expressions), the NLP over (e, k)
    separable = team.replace(knowledge_cost="d*k**2/2")
    assert separable.first_best() == pytest.approx(want, abs=1e-9)


def test_first_best_nlp_over_both_inputs():
    team = Team(rho=[1.0, 2.0], sigma2=0.5, d=[1.0, 2.0], production="1.2*e1 + e2 + 0.5*k1 + k2")
    assert team.first_best() == pytest.approx(Team(**EXAMPLE).first_best(), abs=1e-7)


# -- the certificate ---------------------------------------------------------------------------------
def test_certificate_catches_a_wrong_knowledge_input_len():
    team = _knowledge_team(300, 5, omega=0.2)
    res = team.solve("closed-form")
    assert res.checks["max_deviation_gain"] <= 1e-12
    beta, e, k = (res.rows[f].to_numpy() for f in ("share", "effort", "knowledge"))
    delta = np.zeros(team.n)
    delta[7] = 0.01
    # with quadratic cost the loss from sharing k_i + δ instead of k_i is exactly d_i δ²/2
    gains = checks.deviation_gains(team, beta, e, k + delta)
    assert gains[7] == pytest.approx(team.d[7] * 0.01**2 / 2, rel=1e-6)
    assert np.all(np.delete(gains, 7) <= 1e-12)
    # and a result carrying the wrong k fails its checks
    wrong = res.rows.copy()
    wrong["knowledge"] = k + delta
    broken = type(res)(status="optimal", method="test", objective=res.objective, rows=wrong)
    assert team.check(broken)["max_deviation_gain"] > CHECK_TOL


def test_certificate_catches_a_wrong_knowledge_input_with_complementarity():
    team = Team(rho=[1.0, 2.0], sigma2=0.5, d=[1.0, 1.5], production=COMPLEMENTARITY, shares=[0.5, 0.5])
    res = team.solve()
    assert res.success and res.checks["max_deviation_gain"] <= 1e-10
    beta, e, k = (res.rows[f].to_numpy() for f in ("share", "effort", "knowledge"))
    for i in (0, 1):
        wrong = k.copy()
        wrong[i] *= 1.2
        gains = checks.deviation_gains(team, beta, e, wrong)
        # member i's own best response over (e_i, k_i), by an independent 2-D search
        m = beta[i]

        def value(x, i=i, wrong=wrong):
            ee, kk = e.copy(), wrong.copy()
            ee[i], kk[i] = x
            f = 1.2 * ee[0] + ee[1] + np.sqrt(ee[0] * kk[1]) + 0.5 * np.sqrt(ee[1] * kk[0])
            return m * f - ee[i] ** 2 / 2 - team.d[i] * kk[i] ** 2 / 2

        best = -minimize(lambda x: -value(x), [e[i], k[i]], method="Nelder-Mead",
                         options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 5000}).fun
        assert gains[i] > CHECK_TOL
        assert gains[i] == pytest.approx(best - value([e[i], wrong[i]]), rel=1e-5)


def test_certificate_is_vectorised_for_large_len_teams():
    team = _knowledge_team(5000, 6, omega=0.1)
    res = team.solve("closed-form")
    assert res.success and res.solve_time < 2.0


# -- spec errors ------------------------------------------------------------------------------------------
BASE = dict(a=[1.2, 1.0], rho=[1.0, 2.0], sigma2=0.5)


@pytest.mark.parametrize("fields,field", [
    ({"g": [0.5, 1.0], "d": [1.0, -2.0]}, "d"),
    ({"g": [0.5, 1.0], "d": 0.0}, "d"),
    ({"g": [0.5, 1.0, 0.3]}, "g"),
    ({"g": [-0.5, 1.0]}, "g"),
    ({"g": "lots"}, "g"),
    ({"d": [1.0, 2.0]}, "d"),
    ({"knowledge_cost": "d*k**2"}, "knowledge_cost"),
    ({"g": 0.5, "knowledge_cost": "c*k**2/2"}, "knowledge_cost"),
    ({"g": 0.5, "production": "e1 + e2"}, "g"),
    ({"production": "e1 + e2 + k3"}, "production"),
])
def test_bad_knowledge_fields_name_the_field(fields, field):
    base = {k: v for k, v in BASE.items() if not (k == "a" and "production" in fields)}
    with pytest.raises(SpecError) as info:
        Team(**base, **fields)
    assert info.value.field == field, str(info.value)


def test_bad_knowledge_field_exits_2_from_the_command_line(tmp_path, capsys):
    from ital_opt.cli import main

    path, out = tmp_path / "bad.toml", tmp_path / "out.json"
    path.write_text('kind = "team"\na = [1.2, 1.0]\nrho = [1.0, 2.0]\nsigma2 = 0.5\ng = [0.5, 1.0]\nd = [1.0, -2.0]\n')
    assert main(["solve", str(path), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'d'" in err and "bad.toml" in err
    assert not out.exists()


# -- coalitions and sweeps carry the knowledge inputs ----------------------------------------------------
def test_coalition_welfare_with_knowledge_matches_team_solves():
    a, c, rho, sigma2, omega = [1.2, 1.0, 0.8], [1.0, 1.2, 0.9], [1.0, 2.0, 0.5], 0.5, 0.2
    g, d = [0.5, 1.0, 0.3], [1.0, 2.0, 0.7]
    masks = np.array([[(s >> i) & 1 for i in range(3)] for s in range(8)], bool)
    worth = cf.coalition_welfare(a, c, rho, sigma2, omega, masks, g=g, d=d)
    for s in range(1, 8):
        idx = np.flatnonzero(masks[s])
        pick = lambda v: [v[i] for i in idx]  # noqa: E731
        sub = Team(a=pick(a), c=pick(c), rho=pick(rho), g=pick(g), d=pick(d), sigma2=sigma2, omega=omega)
        assert worth[s] == pytest.approx(sub.solve().objective, abs=1e-10)


def test_coalition_kind_carries_knowledge_to_sub_teams(tmp_path):
    team = 'kind = "team"\na = [1.2, 1.0, 0.8]\nrho = [1.0, 2.0, 2.0]\nsigma2 = 0.5\n'
    team += 'g = [0.5, 1.0, 0.3]\nd = [1.0, 2.0, 1.0]\n'
    (tmp_path / "len.toml").write_text(team)
    (tmp_path / "general.toml").write_text(team + 'knowledge_cost = "d*k**2/2"\n')  # forces sub-team solves
    results = {}
    for name in ("len", "general"):
        game = f'kind = "coalition"\nplayers = ["x", "y", "z"]\nteam = "{name}.toml"\n'
        (tmp_path / f"{name}_game.toml").write_text(game)
        results[name] = ital_opt.load(tmp_path / f"{name}_game.toml").solve()
    assert results["len"].extras["team_engine"] == "closed-form"
    assert results["general"].extras["team_engine"] == "sub-team solves"
    np.testing.assert_allclose(results["len"].rows["shapley"], results["general"].rows["shapley"], atol=1e-7)
    plain = Team(a=[1.2, 1.0, 0.8], rho=[1.0, 2.0, 2.0], sigma2=0.5).solve().objective
    assert results["len"].objective > plain  # the grand coalition gains from its knowledge


def test_sweep_of_a_knowledge_team_matches_per_point_solves():
    from ital_opt.sweep import sweep

    problem = ital_opt.load({"kind": "team", **EXAMPLE})
    table = sweep(problem, {"omega": [0.0, 0.5]}, progress=False)
    for w in (0.0, 0.5):
        res = problem.replace(omega=w).solve()
        rows = table[table["omega"] == w]
        np.testing.assert_allclose(rows["knowledge"], res.rows["knowledge"], atol=1e-12)
        np.testing.assert_allclose(rows["objective"].iloc[0], res.objective, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12))
def test_methods_agree_on_many_random_len_teams_with_knowledge(seed):
    rng = np.random.default_rng(200 + seed)
    n, omega = int(rng.integers(2, 41)), float(rng.choice([0.0, rng.uniform(0, 0.95)]))
    team = _knowledge_team(n, seed, corner=bool(seed % 2), omega=omega)
    _agree({m: team.solve(m) for m in ("closed-form", "cvxpy", "pyomo")})
