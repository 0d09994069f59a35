"""kind = "policy" over an evolutionary game (docs/theory/policy.md, Model E): the ESS linear
program against the nested search and a brute-force grid of the levers, hand-derived thresholds of
E1 (docs/theory/evolution.md), the exact (separatrix) basins against a grid of starts, and the
neighbourhood certificate on a deliberately non-optimal point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ital_opt
from ital_opt.evolution.closed_form import bimatrix_analysis
from ital_opt.evolution.numeric import analyse
from ital_opt.evolution.symbolic import affine_ess_conditions
from ital_opt.result import CHECK_TOL

SPECS = Path(__file__).resolve().parents[1] / "formulations"
STAGES = {  # docs/theory/evolution.md, E1: the stage parameter sets (α = 0.6)
    "formation": dict(dR=6, CF=4, CU=3, TF=2, TU=2, P=0.5),
    "operation": dict(dR=12, CF=3, CU=2.5, TF=4, TU=3, P=1),
    "diffusion": dict(dR=8, CF=2, CU=1.5, TF=5, TU=3, P=1),
}
ENTERPRISE = [["piF + alpha*dR - CF + S", "piF - CF + S + P"], ["piF + TF - P - M", "piF"]]
RESEARCH = [["piU + (1 - alpha)*dR - CU + S", "piU - CU + S + P"], ["piU + TU - P - M", "piU"]]


def e1_game(alpha=0.6, S=0.0, M=0.0, **stage) -> dict:
    params = dict(alpha=alpha, S=S, M=M, piF=10.0, piU=8.0, **stage)
    return dict(kind="evolution", populations=["enterprise", "research"], params=params,
                payoff=dict(enterprise=ENTERPRISE, research=RESEARCH))


def e1_policy(game, lam=0.3, gamma=0.0, S=(0.0, 3.0), M=(0.0, 1.5), cost=0.2, target=(1, 1), unique=False,
              margin=0.01, budget=None) -> ital_opt.Problem:
    spec = dict(kind="policy", lower=game, gamma=gamma, instruments=[
        dict(name="S", type="payoff_parameter", param="S", paid="cooperators", bounds=list(S)),
        dict(name="M", type="payoff_parameter", param="M", cost=cost, bounds=list(M))])
    spec["lambda"] = lam
    if target is not None:
        spec["game"] = dict(target=list(target), unique=unique, margin=margin)
    if budget is not None:
        spec["budget"] = budget
    return ital_opt.load(spec)


def threshold_11(alpha, dR, CF, CU, TF, TU, P):
    # docs/theory/evolution.md: (1, 1) is an ESS iff S + M > max(C_F − P − αΔR + T_F, C_U − P − (1 − α)ΔR + T_U)
    return max(CF - P - alpha * dR + TF, CU - P - (1 - alpha) * dR + TU)


# -- the ESS conditions, by hand ---------------------------------------------------------------------
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_e1_ess_conditions_are_the_hand_thresholds(stage):
    st_ = STAGES[stage]
    game = ital_opt.load(e1_game(**st_))
    conds = affine_ess_conditions(game, ["S", "M"])
    A, b = conds[(1, 1)]
    # e = −ΔF(1) = C_F − P − αΔR + T_F − S − M and e = C_U − P − (1 − α)ΔR + T_U − S − M
    assert A.tolist() == [[-1.0, -1.0], [-1.0, -1.0]]
    assert max(b) == pytest.approx(threshold_11(0.6, **st_), abs=1e-12)
    A0, b0 = conds[(0, 0)]  # (0, 0) is an ESS iff S + P < min(C_F, C_U): e = S + P − C
    assert A0.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert b0.tolist() == pytest.approx([st_["P"] - st_["CF"], st_["P"] - st_["CU"]], abs=1e-12)


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("M", [0.0, 0.7])
def test_cheapest_subsidy_is_the_threshold_plus_margin(stage, M):
    # with M fixed, the cheapest S making (1, 1) an ESS is max(0, threshold − M + margin)
    st_ = STAGES[stage]
    spec = e1_game(**st_)
    p = ital_opt.load(dict(kind="policy", lower=spec, gamma=0.0, game=dict(target=[1, 1], margin=0.01), instruments=[
        dict(name="S", type="payoff_parameter", param="S", paid="cooperators", bounds=[0.0, 5.0]),
        dict(name="M", type="payoff_parameter", param="M", value=M)], **{"lambda": 0.2}))
    r = p.solve("ess-lp")
    assert r.success, (r.message, r.checks)
    want = max(0.0, threshold_11(0.6, **st_) - M + 0.01)
    assert r.rows["value"].iloc[0] == pytest.approx(want, abs=1e-9)
    # SW at (1, 1) = 1 + 2S − 1.2·2S
    assert r.objective == pytest.approx(1.0 - 0.4 * want, abs=1e-9)
    # the follower agrees: at the answer (1, 1) is an ESS, a little less subsidy and it is not
    rows = r.extras["lower"]["rows"]
    assert [row["stability"] for row in rows if row["point"] == [1.0, 1.0]] == ["ess"]
    if want > 0.02:
        assert not p.evaluate(np.array([want - 0.02]))["feasible"]


def test_bundled_spec_methods_agree_and_match_hand_values():
    p = ital_opt.load(SPECS / "policy_E1_ess_subsidy.toml")
    lp, nested = p.solve("ess-lp"), p.solve("nested")
    assert lp.success and nested.success
    # hand derivation in the spec: S = 2.11 − 1.5, M = 1.5, SW = 1 − 0.6·0.61 − 0.26·1.5
    assert lp.rows["value"].tolist() == pytest.approx([0.61, 1.5], abs=1e-9)
    assert lp.objective == pytest.approx(0.244, abs=1e-12)
    assert nested.objective == pytest.approx(lp.objective, abs=1e-7)
    assert nested.rows["value"].tolist() == pytest.approx([0.61, 1.5], abs=1e-6)


def test_ess_lp_does_not_apply_where_the_conditions_are_not_linear():
    game = e1_game(**STAGES["formation"])
    game["payoff"] = dict(enterprise=[["piF + alpha*dR - CF + S*M", "piF - CF + S + P"], ["piF + TF - P - M", "piF"]],
                          research=RESEARCH)
    p = e1_policy(game)
    reason = dict((m.name, why) for m, why in p.applicable())["ess-lp"]
    assert reason is not None and "not affine" in reason
    assert e1_policy(e1_game(**STAGES["formation"]), target=None).select("nested")  # nested still applies
    with pytest.raises(ital_opt.MethodNotApplicable):
        e1_policy(e1_game(**STAGES["formation"]), target=None).solve("ess-lp")


def test_game_table_is_validated():
    with pytest.raises(ital_opt.SpecError) as info:
        e1_policy(e1_game(**STAGES["formation"]), target=(1, 2))
    assert info.value.field == "game.target"
    with pytest.raises(ital_opt.SpecError) as info:
        e1_policy(e1_game(**STAGES["formation"]), margin=0.0)
    assert info.value.field == "game.margin"


# -- the LP against a brute-force grid of the levers and the nested search -------------------------
def _grid_best(p, k=41):
    best = (-np.inf, None)
    for s in np.linspace(p.lo[0], p.hi[0], k):
        for m in np.linspace(p.lo[1], p.hi[1], k):
            ev = p.evaluate(np.array([s, m]), certified=False)
            if ev["feasible"] and ev["social_welfare"] > best[0]:
                best = (ev["social_welfare"], (s, m))
    return best


random_e1 = st.fixed_dictionaries(dict(
    alpha=st.floats(0.2, 0.8), dR=st.floats(2.0, 12.0), CF=st.floats(1.0, 5.0), CU=st.floats(1.0, 5.0),
    TF=st.floats(0.5, 5.0), TU=st.floats(0.5, 5.0), P=st.floats(0.0, 1.5)))


def random_policy(params, lam, cost, unique):
    return e1_policy(e1_game(**params), lam=lam, cost=cost, unique=unique, S=(0.0, 4.0), M=(0.0, 2.0))


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_e1, st.floats(0.05, 1.0), st.floats(0.0, 1.0), st.booleans())
def test_ess_lp_beats_every_feasible_grid_point(params, lam, cost, unique):
    p = random_policy(params, lam, cost, unique)
    r = p.solve("ess-lp")
    grid, _ = _grid_best(p, k=17)
    if r.status == "infeasible":
        assert grid == -np.inf  # no lever pair in the box works
        return
    assert r.success, (r.message, r.checks)
    assert grid <= r.objective + 1e-9  # no feasible grid point is better than the LP's optimum
    # and the grid comes close: SW is Lipschitz with constant 2λ + (1 + λ)cost per unit of lever
    spacing = 4.0 / 16 + 2.0 / 16
    assert r.objective - grid <= (2 * lam + (1 + lam) * cost) * spacing + 1e-9


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_e1, st.floats(0.05, 1.0), st.floats(0.01, 1.0), st.booleans())
def test_ess_lp_agrees_with_nested(params, lam, cost, unique):
    # both maximise SW at the target subject to the target being an ESS: the same optimum
    p = random_policy(params, lam, cost, unique)
    lp = p.solve("ess-lp")
    nested = p.solve("nested")
    if lp.status == "infeasible":
        assert nested.status != "optimal" or not nested.success
        return
    assert lp.success and nested.success, (lp.message, nested.message)
    assert nested.objective == pytest.approx(lp.objective, abs=1e-6)


# -- the basin-valued leader: exact basins, a smooth objective -------------------------------------
def test_separatrix_basins_match_a_fine_grid_of_starts():
    game = ital_opt.load(SPECS / "evo_e1_formation.toml")
    for S in (0.8, 1.5, 2.3):
        g = game.replace(**{"params.S": S})
        points = [(rp.point, rp.stability) for rp in analyse(g).points]
        attractors, shares, how, resolution = g.attractor_basins(points)
        assert resolution == 0.0 and "saddle" in how
        estimate = g.basins(attractors, 160)[1]
        assert shares == pytest.approx(estimate, abs=3e-3)  # the grid's own error is O(1/k)
        assert shares.sum() == pytest.approx(1.0, abs=1e-12)


def test_separatrix_basin_is_smooth_up_to_the_bifurcation_and_jumps_there():
    # (0, 0) stops being an ESS at S + P = min(C_F, C_U), S = 2.5, when the saddle leaves through the
    # edge x = 0 at y = (C_F − P − S)/(αΔR − T_F + M) = 1/3.6: below, the basin of (1, 1) rises smoothly to
    # a limit short of 1 (the sliver under the separatrix still goes to (0, 0)); above, it is everything
    game = ital_opt.load(SPECS / "evo_e1_formation.toml")

    def share(S):
        attractors, shares, _, resolution = game.replace(**{"params.S": S}).attractor_basins()
        assert resolution == 0.0
        return float(shares[[i for i, a in enumerate(attractors) if a.tolist() == [1.0, 1.0]][0]])

    near = [share(2.5 - h) for h in (1e-2, 1e-3, 1e-4, 1e-5)]
    assert np.all(np.diff(near) > 0)
    assert abs(near[-1] - near[-2]) < 1e-3 and near[-1] < 0.99  # converges to a limit below 1
    assert share(2.5 + 1e-4) == 1.0
    # smooth inside the regime: central differences at two steps agree
    d1 = (share(2.0 + 1e-3) - share(2.0 - 1e-3)) / 2e-3
    d2 = (share(2.0 + 1e-4) - share(2.0 - 1e-4)) / 2e-4
    assert d1 == pytest.approx(d2, rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3.0, 3.0), min_size=8, max_size=8))
def test_bimatrix_closed_form_rest_points_match_the_numeric_analysis(entries):
    a = np.round(np.array(entries), 3)
    spec = dict(kind="evolution", populations=["x", "y"],
                payoff=dict(x=[[a[0], a[1]], [a[2], a[3]]], y=[[a[4], a[5]], [a[6], a[7]]]))
    game = ital_opt.load(spec)
    closed = bimatrix_analysis(game.payoffs)
    if closed is None:
        return  # a degenerate game (a payoff difference vanishing on an edge)
    numeric = analyse(game)
    key = lambda pts: sorted((tuple(np.round(rp.point, 7)), rp.stability) for rp in pts)  # noqa: E731
    assert key(closed.points) == key(numeric.points)


@pytest.mark.slow
def test_basin_policy_nested_is_smooth_fast_and_certified():
    spec = dict(kind="policy", gamma=0.0, lower=str(SPECS / "evo_e1_formation.toml"), instruments=[
        dict(name="S", type="payoff_parameter", param="S", paid="cooperators", bounds=[0.0, 3.0]),
        dict(name="M", type="payoff_parameter", param="M", bounds=[0.0, 3.0])], **{"lambda": 0.1})
    p = ital_opt.load(spec)
    r = p.solve("nested")
    assert r.success, r.checks
    assert r.checks["neighbourhood_gain"] <= CHECK_TOL
    S, M = r.rows["value"].tolist()
    assert M == pytest.approx(3.0, abs=1e-9)  # the fine costs nothing: at its bound
    # an independent line search in S (M at its bound) on the exact basins finds the same optimum
    from scipy.optimize import minimize_scalar

    line = minimize_scalar(lambda s: -p.evaluate(np.array([s, 3.0]), certified=False)["social_welfare"],
                           bounds=(1.5, 2.5), method="bounded", options={"xatol": 1e-9})
    assert S == pytest.approx(line.x, abs=1e-5)
    assert r.objective == pytest.approx(-line.fun, abs=1e-9)


# -- the neighbourhood certificate fails where a better point is near --------------------------------
def test_neighbourhood_certificate_fails_on_a_non_optimal_point():
    p = ital_opt.load(SPECS / "policy_E1_ess_subsidy.toml")
    good = p.solve("ess-lp")
    assert good.checks["neighbourhood_gain"] <= CHECK_TOL
    x = good.rows["value"].to_numpy(float)
    worse = p.result_at(p.evaluate(x + np.array([0.05, 0.0])), "by hand")  # more subsidy than needed
    checks = p.check(worse)
    assert checks["constraint_violation"] == 0.0  # still an ESS ...
    assert checks["neighbourhood_gain"] > CHECK_TOL  # ... but a cheaper one is next to it


def test_neighbourhood_certificate_fails_off_the_basin_optimum():
    spec = dict(kind="policy", gamma=0.0, lower=str(SPECS / "evo_e1_formation.toml"), instruments=[
        dict(name="S", type="payoff_parameter", param="S", paid="cooperators", bounds=[0.0, 3.0]),
        dict(name="M", type="payoff_parameter", param="M", value=3.0)], **{"lambda": 0.1})
    p = ital_opt.load(spec)
    off = p.result_at(p.evaluate(np.array([1.5])), "by hand")
    assert p.check(off)["neighbourhood_gain"] > CHECK_TOL


@pytest.mark.slow
def test_e2_dynamic_penalty_matches_the_hand_optimum():
    # spec comment: M̄* = 6 solves u³/(6 − 3u) = 1/36 at u = 1/2; x* = 0.5, SW = 1/3
    p = ital_opt.load(SPECS / "policy_E2_dynamic_penalty.toml")
    r = p.solve("nested")
    assert r.success, r.checks
    assert r.rows["value"].iloc[0] == pytest.approx(6.0, abs=1e-6)
    assert r.objective == pytest.approx(1 / 3, abs=1e-9)
    u = (-3 + np.sqrt(9 + 12 * 6.0)) / 12.0
    assert r.extras["expected_output"] == pytest.approx(1 - u, abs=1e-9)


@pytest.mark.slow
def test_neighbourhood_certificate_over_grid_basins_allows_one_step_and_no_more():
    # basins = "grid": the basin share is a step function of S (one step: a cell of the game's 40 × 40 basin_grid);
    # the certificate passes at the search's answer, where a neighbour may gain a cell, and still
    # fails where a better point is near (S = 1.5: SW rises steeply with S there)
    spec = dict(kind="policy", gamma=0.0, lower=str(SPECS / "evo_e1_formation.toml"), game=dict(basins="grid"),
                instruments=[dict(name="S", type="payoff_parameter", param="S", paid="cooperators", bounds=[1.5, 2.5]),
                             dict(name="M", type="payoff_parameter", param="M", value=3.0)], **{"lambda": 0.1})
    p = ital_opt.load(spec)
    ev = p.evaluate(np.array([2.0]))
    assert ev["resolution"] == pytest.approx(1 / 40**2)
    from ital_opt.policy.checks import step_value

    assert step_value(p, ev) == pytest.approx((1 + 0.1 * 2.0 * 2) / 40**2)  # (1 + γ) + λ·S·2 per unit of share
    r = p.solve("nested")
    assert r.success, r.checks
    exact = ital_opt.load({**spec, "game": {}}).solve("nested")
    assert abs(r.objective - exact.objective) < 0.01  # the grid's optimum is near the exact one
    off = p.result_at(p.evaluate(np.array([1.5])), "by hand")
    assert p.check(off)["neighbourhood_gain"] > CHECK_TOL
