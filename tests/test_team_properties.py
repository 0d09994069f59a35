"""The trends of docs/theory/team.md (4.4.1–4.4.3) as properties over random LEN teams (hypothesis),
including the knowledge-sharing input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ital_opt.team import closed_form as cf
from ital_opt.team.model import Team

positive = st.floats(0.3, 3.0)
share = st.floats(0.05, 0.95)
omega = st.floats(0.0, 0.9)
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def pairs(draw):
    """A two-member team: (a, c, rho, sigma2)."""
    a = np.array([draw(positive), draw(positive)])
    c = np.array([draw(positive), draw(positive)])
    rho = np.array([draw(positive), draw(positive)])
    return a, c, rho, draw(st.floats(0.1, 2.0))


# -- 4.4.1 effort ------------------------------------------------------------------------------------
@SETTINGS
@given(pairs(), share, share, omega)
def test_effort_rises_with_own_share_and_omega(team, b1, b2, w):
    a, c, rho, s2 = team
    lo, hi = sorted((b1, b2))
    e_lo = cf.efforts(a, c, [lo, 1 - lo], w)
    e_hi = cf.efforts(a, c, [hi, 1 - hi], w)
    assert e_hi[0] >= e_lo[0] - 1e-15  # own share up, own effort up
    assert e_hi[1] <= e_lo[1] + 1e-15  # partner's share down, partner's effort down
    beta = [b1, 1 - b1]
    assert np.all(cf.efforts(a, c, beta, min(w + 0.1, 1.0)) >= cf.efforts(a, c, beta, w) - 1e-15)


@SETTINGS
@given(pairs(), share, omega, st.floats(1.01, 3.0))
def test_effort_rises_with_productivity_falls_with_cost_ignores_risk(team, b1, w, factor):
    a, c, rho, s2 = team
    beta = [b1, 1 - b1]
    base = cf.efforts(a, c, beta, w)
    assert cf.efforts(a * [factor, 1], c, beta, w)[0] > base[0]
    assert cf.efforts(a, c * [factor, 1], beta, w)[0] < base[0]
    # the full model, not just the formula: effort does not depend on ρ or σ²
    one = Team(a=a.tolist(), c=c.tolist(), rho=rho.tolist(), sigma2=s2, omega=w, shares=beta).solve()
    two = Team(a=a.tolist(), c=c.tolist(), rho=(factor * rho).tolist(), sigma2=factor * s2, omega=w, shares=beta).solve()
    np.testing.assert_allclose(one.rows["effort"], two.rows["effort"], rtol=0, atol=1e-14)


# -- 4.4.2 member utility ---------------------------------------------------------------------------------
@SETTINGS
@given(pairs())
def test_each_member_prefers_an_interior_share(team):
    # a member does not want all the output, since the partner would stop working — exactly when
    # CE_i'(1) = A_i − A_j − R_i < 0 (ω = 0): its own productivity does not outweigh the partner's
    # plus its own risk cost; otherwise it wants everything
    a, c, rho, s2 = team
    A, R = cf.shorthands(a, c, rho, s2)
    for member in (0, 1):
        own = cf.preferred_share(a, c, rho, s2, member=member)  # the member's own share
        slope_at_one = A[member] - A[1 - member] - R[member]
        if slope_at_one < -1e-9:
            assert 0 < own < 1
        elif slope_at_one > 1e-9:
            assert own == 1.0
        grid = np.linspace(0, 1, 201)
        betas = np.stack([grid, 1 - grid], -1) if member == 0 else np.stack([1 - grid, grid], -1)
        ce = cf.certainty_equivalents(a, c, rho, s2, betas)[:, member]
        assert ce.max() <= cf.certainty_equivalents(a, c, rho, s2, _pair(own, member))[member] + 1e-12


def _pair(own, member):
    return np.array([own, 1 - own]) if member == 0 else np.array([1 - own, own])


# -- 4.4.3 total welfare ---------------------------------------------------------------------------------
@SETTINGS
@given(pairs(), omega)
def test_welfare_is_concave_in_share_with_peak_between_preferences(team, w):
    a, c, rho, s2 = team
    grid = np.linspace(0, 1, 101)
    tw = cf.total_welfare(a, c, rho, s2, np.stack([grid, 1 - grid], -1), w)
    assert np.all(np.diff(tw, 2) <= 1e-12)  # concave
    beta, _ = cf.welfare_shares(a, c, rho, s2, w)
    pref1 = cf.preferred_share(a, c, rho, s2, member=0, omega=w)  # β_1 member 1 wants
    pref2 = 1 - cf.preferred_share(a, c, rho, s2, member=1, omega=w)  # β_1 member 2 wants
    lo, hi = sorted((pref1, pref2))
    assert lo - 1e-9 <= beta[0] <= hi + 1e-9


@SETTINGS
@given(pairs())
def test_welfare_rises_with_omega_to_first_best(team):
    a, c, rho, s2 = team
    omegas = np.linspace(0, 1, 11)
    tw = [cf.total_welfare(a, c, rho, s2, cf.welfare_shares(a, c, rho, s2, w)[0], w) for w in omegas]
    assert np.all(np.diff(tw) >= -1e-12)
    assert tw[-1] == pytest.approx(cf.first_best_welfare(a, c, rho, s2), abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(pairs())
def test_weighted_welfare_is_an_inverted_u_in_lambda_peaking_at_equal_weights(team):
    a, c, rho, s2 = team
    base = Team(a=a.tolist(), c=c.tolist(), rho=rho.tolist(), sigma2=s2, shares="weighted", **{"lambda": [0.5, 0.5]})
    lams = np.linspace(0, 1, 11)
    tw = np.array([base.replace(**{"lambda": [float(x), float(1 - x)]}).solve().objective for x in lams])
    peak = int(np.argmax(tw))
    assert lams[peak] == pytest.approx(0.5)
    assert np.all(np.diff(tw[: peak + 1]) >= -1e-12) and np.all(np.diff(tw[peak:]) <= 1e-12)
    assert tw[peak] == pytest.approx(base.replace(shares="welfare").solve().objective, abs=1e-12)


# -- water filling against the QP on random sizes ---------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(st.integers(2, 30), st.integers(0, 10_000), omega, st.floats(0.0, 0.6))
def test_water_filling_satisfies_kkt(n, seed, w, weak):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.3, 2.0, n) * np.where(rng.uniform(size=n) < weak, 0.05, 1.0)
    c, rho, s2 = rng.uniform(0.5, 2.0, n), rng.uniform(0.05, 3.0, n), float(rng.uniform(0.1, 2.0))
    beta, mu = cf.welfare_shares(a, c, rho, s2, w)
    A, R = cf.shorthands(a, c, rho, s2)
    grad = (1 - w) ** 2 * A - ((1 - w) ** 2 * A + R) * beta  # ∂TW/∂β_j
    assert beta.sum() == pytest.approx(1.0, abs=1e-12) and np.all(beta >= 0)
    active = beta > 0
    np.testing.assert_allclose(grad[active], mu, atol=1e-10)
    assert np.all(grad[~active] <= mu + 1e-10)


# -- the knowledge-sharing input (docs/theory/team.md extension): k_i = g_i m_i/d_i ----------------------------------
@st.composite
def knowledge_pairs(draw):
    """A two-member team with knowledge inputs: (a, c, rho, sigma2, g, d)."""
    a, c, rho, s2 = draw(pairs())
    g = np.array([draw(st.floats(0.0, 3.0)), draw(st.floats(0.0, 3.0))])
    return a, c, rho, s2, g, np.array([draw(positive), draw(positive)])


@SETTINGS
@given(knowledge_pairs(), share, share, omega, st.floats(1.01, 3.0))
def test_knowledge_rises_with_own_share_omega_and_g_falls_with_d(team, b1, b2, w, factor):
    a, c, rho, s2, g, d = team
    lo, hi = sorted((b1, b2))
    k_lo, k_hi = cf.knowledge(g, d, [lo, 1 - lo], w), cf.knowledge(g, d, [hi, 1 - hi], w)
    assert k_hi[0] >= k_lo[0] - 1e-15 and k_hi[1] <= k_lo[1] + 1e-15
    beta = [b1, 1 - b1]
    base = cf.knowledge(g, d, beta, w)
    assert np.all(cf.knowledge(g, d, beta, min(w + 0.1, 1.0)) >= base - 1e-15)
    assert cf.knowledge(g * [factor, 1], d, beta, w)[0] >= base[0]
    assert cf.knowledge(g, d * [factor, 1], beta, w)[0] <= base[0]
    if g[0] > 0.01:  # strictly, for a member whose knowledge is productive
        assert cf.knowledge(g * [factor, 1], d, beta, w)[0] > base[0]
        assert cf.knowledge(g, d * [factor, 1], beta, w)[0] < base[0]


@settings(max_examples=15, deadline=None)
@given(knowledge_pairs(), share, omega, st.floats(1.01, 3.0))
def test_knowledge_does_not_depend_on_risk(team, b1, w, factor):
    # the full model, not just the formula: knowledge sharing does not depend on ρ or σ²
    a, c, rho, s2, g, d = team
    fields = dict(a=a.tolist(), c=c.tolist(), g=g.tolist(), d=d.tolist(), omega=w, shares=[b1, 1 - b1])
    one = Team(**fields, rho=rho.tolist(), sigma2=s2).solve()
    two = Team(**fields, rho=(factor * rho).tolist(), sigma2=factor * s2).solve()
    np.testing.assert_allclose(one.rows["knowledge"], two.rows["knowledge"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(one.rows["knowledge"], g * (w + (1 - w) * np.array([b1, 1 - b1])) / d, rtol=1e-14)


@SETTINGS
@given(knowledge_pairs(), omega)
def test_welfare_shares_with_knowledge_are_the_qp_optimum(team, w):
    # water filling with A_i + g_i²/d_i against a brute-force grid over β_1 of the model's welfare
    a, c, rho, s2, g, d = team
    beta, _ = cf.welfare_shares(a, c, rho, s2, w, g=g, d=d)
    grid = np.linspace(0, 1, 2001)
    betas = np.stack([grid, 1 - grid], -1)
    m = w + (1 - w) * betas
    e, k = a * m / c, g * m / d
    tw = np.sum(a * e + g * k - c * e**2 / 2 - d * k**2 / 2 - rho * s2 * betas**2 / 2, -1)
    assert cf.total_welfare(a, c, rho, s2, beta, w, g=g, d=d) >= tw.max() - 1e-12


# -- precision: the local NLP (pyomo) against the closed form, outside levels included ----------------
@settings(max_examples=6, deadline=None)
@given(pairs(), st.floats(0.0, 1.0))
def test_cvxpy_and_pyomo_are_polished_to_the_closed_form(team, level):
    """The welfare-maximising shares with the first member's outside level at up to 1.2 times its
    certainty equivalent without levels (binding or not): cvxpy and pyomo, polished on their
    active set, reproduce the closed form to 1e-9 relative."""

    a, c, rho, s2 = team
    fields = dict(a=a.tolist(), c=c.tolist(), rho=rho.tolist(), sigma2=s2)
    free = Team(**fields).solve("closed-form")
    outside = [level * float(free.rows["ce"].iloc[0]) * 1.2, 0.0]
    problem = Team(**fields, outside=outside)
    exact = problem.solve("closed-form")
    if not exact.success:
        return  # the levels cannot all be met
    for method in ("cvxpy", "pyomo"):
        res = problem.solve(method)
        assert res.success and res.solver.get("polish") == "newton-kkt", (method, res.message)
        assert res.objective == pytest.approx(exact.objective, rel=1e-9, abs=1e-12)
        for col in ("share", "effort", "ce"):
            np.testing.assert_allclose(res.rows[col], exact.rows[col], rtol=1e-9, atol=1e-12, err_msg=f"{method} {col}")
