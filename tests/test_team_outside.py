"""Outside levels of a team (IR: CE_i ≥ u_i, docs/theory/team.md): imposed by every method that
chooses the shares, and ``infeasible`` when they cannot all be met."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt.team import closed_form, sharing
from ital_opt.team.model import Team

EXAMPLE_4_1 = dict(a=[1.2, 1.0], c=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5)
METHODS = ("closed-form", "cvxpy", "pyomo")


# -- Example 4-1 with member 1's outside level raised to 0.45, solved by hand --------------------------
# A = a²/c = (1.44, 1), R = ρσ² = (0.5, 1), ω = 0, shares (t, 1 − t), efforts e_i = a_i β_i:
#   E[π] = 1.44 t + (1 − t) = 1 + 0.44 t
#   CE_1 = t(1 + 0.44 t) − 1.44 t²/2 − 0.5 t²/2 = t − 0.53 t²
#   CE_2 = (1 − t)(1 + 0.44 t) − (1 − t)²/2 − (1 − t)²/2 = 1.44 t(1 − t)
#   TW = CE_1 + CE_2 = 2.44 t − 1.97 t², maximised at t = 2.44/3.94 = 0.619289 (BOOK.md §3)
# CE_1(0.619289) = 0.4160 < 0.45, so IR binds: t − 0.53 t² = 0.45 on the increasing branch,
#   t* = (1 − √(1 − 4·0.53·0.45))/(2·0.53) = (1 − √0.046)/1.06 = 0.741060,
# and TW falls as t rises past 0.619289, so t* is optimal: CE = (0.45, 1.44 t*(1 − t*)).
T_STAR = (1 - np.sqrt(0.046)) / 1.06


@pytest.mark.parametrize("method", METHODS)
def test_example_4_1_with_binding_outside_level(method):
    res = Team(**EXAMPLE_4_1, outside=[0.45, 0.0]).solve(method)
    assert res.success, (res.status, res.message, res.checks)
    assert T_STAR == pytest.approx(0.741060, abs=5e-7)
    assert res.rows["share"][0] == pytest.approx(T_STAR, abs=1e-6)
    assert res.rows["ce"].tolist() == pytest.approx([0.45, 1.44 * T_STAR * (1 - T_STAR)], abs=1e-7)
    assert res.objective == pytest.approx(2.44 * T_STAR - 1.97 * T_STAR**2, abs=1e-7)
    assert res.checks["max_ir_violation"] <= 1e-7


def test_example_4_1_slack_outside_levels_change_nothing():
    plain = Team(**EXAMPLE_4_1).solve()
    for method in METHODS:
        res = Team(**EXAMPLE_4_1, outside=[0.4, 0.3]).solve(method)  # CE = (0.4160, 0.3395): slack
        assert res.success and res.rows["share"][0] == pytest.approx(plain.rows["share"][0], abs=1e-7)


# Infeasible levels of Example 4-1: CE_2 = 1.44 t(1 − t) is at most 0.36 (t = ½), so a level 0.5 is out of
# reach; and CE_1 ≥ 0.45 needs t ≥ 0.741060 while CE_2 ≥ 0.3 needs t(1 − t) ≥ 0.3/1.44, t ≤ 0.704124.
@pytest.mark.parametrize(("outside", "named"), [([0.0, 0.5], "2 (outside level 0.5"), ([0.45, 0.3], "(outside level")])
def test_unattainable_outside_levels_are_infeasible(outside, named):
    team = Team(**EXAMPLE_4_1, outside=outside)
    for method in ("closed-form", "cvxpy"):
        res = team.solve(method)
        assert res.status == "infeasible" and named in res.message, (method, res.message)
    assert team.solve("pyomo").status != "optimal"
    assert team.solve().status == "infeasible"
    report = ital_opt.verify(team)
    assert not report.disagreements


def test_weighted_pair_with_binding_level_agrees_across_methods():
    # reading B with λ = (0.2, 0.8): β_1 = 0.537361 unconstrained (BOOK.md's λ table); member 1's CE there is
    # t − 0.53t² = 0.384321, so a level 0.42 binds: t − 0.53t² = 0.42, t = (1 − √(1 − 4·0.53·0.42))/1.06
    team = Team(**EXAMPLE_4_1, shares="weighted", outside=[0.42, 0.0], **{"lambda": [0.2, 0.8]})
    t = (1 - np.sqrt(1 - 4 * 0.53 * 0.42)) / 1.06
    for method in METHODS:
        res = team.solve(method, **({"starts": 4} if method == "pyomo" else {}))
        assert res.success and res.rows["share"][0] == pytest.approx(t, abs=1e-6), (method, res.status, res.message)


def test_three_members_binding_level_moves_auto_past_the_closed_form():
    # Example 4-2 (BOOK.md §3): β = (0.5417, 0.3054, 0.1529); a level for member 3 above its CE there binds
    team = Team(a=[1.2, 1.0, 0.8], c=1.0, rho=[1.0, 2.0, 2.0], sigma2=0.5)
    free = team.solve()
    level = float(free.rows["ce"][2]) + 0.05
    bound = team.replace(outside=[-1.0, -1.0, level])
    reason = dict((m.name, r) for m, r in bound.applicable())["closed-form"]
    assert reason and "slack" in reason and "3 (outside level" in reason
    res = bound.solve()
    assert res.success and res.method.startswith("cvxpy"), (res.method, res.message)
    assert res.rows["ce"][2] == pytest.approx(level, abs=1e-6)
    assert res.objective < free.objective
    other = bound.solve("pyomo")
    assert other.success and other.objective == pytest.approx(res.objective, abs=1e-6)


def test_given_shares_below_a_level_are_infeasible_by_every_method():
    team = Team(**EXAMPLE_4_1, shares=[0.5, 0.5], outside=[0.4, 0.0])  # CE_1 = 0.5 − 0.53/4 = 0.3675 < 0.4
    for method in METHODS:
        res = team.solve(method)
        assert res.status == "infeasible" and "1 (outside level 0.4, CE 0.3675" in res.message, (method, res.message)


# -- hypothesis: the exact one-share closed form against the general formulations, IR binding ---------
@st.composite
def pairs(draw):
    u = st.floats(0.3, 2.0)
    spec = dict(a=[draw(u), draw(u)], c=[draw(u), draw(u)], rho=[draw(st.floats(0.1, 3.0)), draw(st.floats(0.1, 3.0))],
                sigma2=draw(st.floats(0.1, 1.5)), omega=draw(st.sampled_from([0.0, 0.3, 0.7])))
    if draw(st.booleans()):
        w = draw(st.floats(0.1, 0.9))
        spec.update(shares="weighted", **{"lambda": [w, 1 - w]})
    team = Team(**spec)
    ce = team.solve("closed-form").rows["ce"].to_numpy(float)
    member = draw(st.integers(0, 1))
    levels = [-1.0, -1.0]
    levels[member] = float(ce[member] + draw(st.floats(0.005, 0.3)))  # above the unconstrained CE: binds or infeasible
    if draw(st.booleans()):
        levels[1 - member] = float(ce[1 - member] - draw(st.floats(0.0, 0.2)))
    return team.replace(outside=levels)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
def test_one_share_closed_form_matches_the_formulations_with_binding_levels(team):
    exact = team.solve("closed-form")
    assert exact.status in ("optimal", "infeasible")
    if exact.status == "optimal":
        assert exact.success, exact.checks
    applies = {m.name: reason for m, reason in team.applicable()}
    conic = team.solve("cvxpy") if applies["cvxpy"] is None else None  # weighted welfare may not be concave
    if conic is None:
        pass
    elif conic.status == "optimal":  # every binding level was a convex constraint
        assert exact.status == "optimal" and conic.success
        assert team.maximised(conic) == pytest.approx(team.maximised(exact), abs=1e-6)
        assert conic.rows["share"][0] == pytest.approx(exact.rows["share"][0], abs=2e-4)
    elif conic.status == "infeasible":  # the relaxation is infeasible: so is the problem
        assert exact.status == "infeasible"
    else:
        assert conic.status == "not_solved" and sharing.nonconvex_levels(team)
    nlp = team.solve("pyomo", starts=3)
    if nlp.success:  # a feasible answer: never better than the exact optimum
        assert exact.status == "optimal"
        assert team.maximised(nlp) <= team.maximised(exact) + 1e-6
    else:
        assert nlp.status != "optimal"
    assume(exact.status == "optimal")


def test_share_meeting_levels_on_intervals():
    # objective −(t − 0.5)² (values at 0, ½, 1: −0.25, 0, −0.25); a level that needs t ≤ 0.2 or t ≥ 0.9:
    # CE(t) = (t − 0.2)(t − 0.9) ≥ 0, values 0.18, −0.12, 0.08
    objective = np.array([-0.25, 0.0, -0.25])
    ce = np.array([[0.18], [-0.12], [0.08]])
    assert closed_form.share_meeting_levels(objective, ce, np.zeros(1)) == pytest.approx(0.2, abs=1e-12)
    # a level no share reaches
    assert closed_form.share_meeting_levels(objective, ce, np.array([0.5])) is None
