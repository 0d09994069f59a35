"""kind = "policy", Models B, C and D (docs/theory/policy.md–4.4): worked examples, closed forms against
the nested search, C-P1 on random instances, Hinloopen's equivalence at λ = 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import ital_opt
from ital_opt.policy import closed_form as cf

SPECS = Path(__file__).resolve().parents[1] / "formulations"
ADMISSION = str(SPECS / "ch3_example_3_1.toml")
TEAM = dict(kind="team", a=[1.2, 1.0], c=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5, omega=0.0)
DIFFUSION = dict(b=0.6, K=1.0, gamma_D=0.2, delta=0.9)


def load(**spec):
    spec.setdefault("gamma", 0.5)
    spec["lambda"] = spec.pop("lam", 0.3)
    return ital_opt.load(dict(kind="policy", **spec))


# -- Model B (docs/theory/policy.md, worked example B) -------------------------------------------------------
def test_B_thresholds_closed_form():
    th = cf.admission_thresholds([1.0, 1.5], [0.6, 0.4], 1.0, 2.0, 0.4, 0.25, 0.5, 0.3)
    assert th["gain_low"] == pytest.approx(0.113924, abs=5e-7)
    assert th["private_threshold"] == pytest.approx(0.189873, abs=5e-7)
    assert th["social_threshold"] == pytest.approx(0.439833, abs=5e-7)
    assert th["flat_threshold"] == pytest.approx(0.356513, abs=5e-7)
    assert th["tied_threshold"] == pytest.approx(0.382150, abs=5e-7)


@pytest.mark.parametrize("F, tiers, want, admitted", [
    (0.10, "all", 0.0, 0), (0.25, "all", 0.060127, 0), (0.37, "all", 0.0, 1), (0.40, "all", 0.0, 1),
    (0.25, [0], 0.060127, 0), (0.37, [0], 0.180127, 0), (0.40, [0], 0.0, 1),
])
def test_B1_table(F, tiers, want, admitted):
    p = load(lower=ADMISSION, fixed_cost=F,
             instruments=[dict(name="g", type="admission_subsidy", tiers=tiers, bounds=[0.0, 1.0])])
    closed, nested = p.solve("closed-form"), p.solve("nested")
    for r in (closed, nested):
        assert r.success, r.checks
        assert r.rows["value"].iloc[0] == pytest.approx(want, abs=5e-7)
        assert r.extras["admitted_from"] == admitted
    assert nested.objective == pytest.approx(closed.objective, abs=1e-8)
    if want > 0:  # the optimum sits on the admission threshold, and the result says so
        assert any("indifferent" in t for t in closed.extras["on_threshold"])


def test_B0_neutrality_flat_subsidy_without_exclusion():
    # B0: with no exclusion margin a flat subsidy is a pure transfer absorbed by fees: g* = 0
    p = load(lower=ADMISSION, instruments=[dict(name="g", type="admission_subsidy", bounds=[0.0, 1.0])])
    r = p.solve("nested")
    assert r.rows["value"].iloc[0] == pytest.approx(0.0, abs=1e-7)


def test_B2_outside_subsidy_moves_regimes_and_lowers_alliance_payoff():
    # B2: support for standalone R&D raises outside options more for capable types; the
    # alliance's payoff (the follower's objective) falls
    payoffs, regimes = [], []
    for s in (0.0, 0.1, 0.3):
        p = load(lower=ADMISSION, instruments=[dict(name="so", type="outside_subsidy", delta=0.7, value=s)])
        lower = p.solve().extras["lower"]
        payoffs.append(lower["objective"])
        regimes.append(lower["regime"])
    assert regimes == ["II", "III", "IV"]
    assert payoffs[0] > payoffs[1] > payoffs[2]


# -- Model C (docs/theory/policy.md, worked example C) ------------------------------------------------------------
def test_C_stage_three_values():
    d = cf.diffusion_rate(0.6, 0.2, 0.3)
    st3 = cf.diffusion(d, 0.6, 1.0, 0.2, 0.3)
    assert d == pytest.approx(0.290909, abs=5e-7)
    assert st3["adoption"] == pytest.approx(0.445455, abs=5e-7)
    assert st3["licence"] == pytest.approx(0.198430, abs=5e-7)
    assert st3["stage_value"] == pytest.approx(0.218273, abs=5e-7)
    # v3 = (b(1+λ) + γ_D)²/(2K(1+4λ)), L* = (b(1+λ) + γ_D)²/(K(1+4λ)²) at d*
    assert st3["stage_value"] == pytest.approx((0.6 * 1.3 + 0.2) ** 2 / (2 * 2.2), rel=1e-12)
    assert st3["licence"] == pytest.approx((0.6 * 1.3 + 0.2) ** 2 / 2.2**2, rel=1e-12)


def test_C_sequential_closed_form_vs_nested():
    p = ital_opt.load(SPECS / "policy_C_sequential.toml")
    closed, nested = p.solve("closed-form"), p.solve("nested")
    assert closed.rows["value"].tolist()[:2] == pytest.approx([0.47459, 0.66928], abs=5e-6)
    assert nested.objective == pytest.approx(closed.objective, abs=1e-8)


@pytest.mark.slow
def test_C_unconstrained_optimum_and_budget():
    p = ital_opt.load(SPECS / "policy_C_three_stages.toml")
    r = p.solve("nested")
    assert r.objective == pytest.approx(1.5546, abs=1e-4)
    assert r.extras["lower"]["rows"][0]["share"] == pytest.approx(0.5636, abs=1e-4)
    assert r.extras["outlays"]["cost subsidy"] == pytest.approx(1.2983, abs=2e-4)
    # a binding budget: lower SW, the budget met (nominal outlays: g + G2 + G3)
    b = p.replace(budget=1.0).solve("nested")
    assert b.success and b.extras["budget_outlay"] <= 1.0 + 1e-8 and b.objective < r.objective
    g = p.replace(budget=1.0).solve("nested", global_phase="de", samples=15, seed=1)
    assert g.objective == pytest.approx(b.objective, abs=1e-6)


def test_C_no_policy_no_alliance():
    p = load(lower=TEAM, formation_cost=1.2, diffusion=DIFFUSION)
    r = p.solve()
    assert r.success and r.extras["formed"] is False and r.objective == 0.0


@settings(max_examples=6, deadline=None)
@given(st.floats(0.0, 0.6), st.floats(0.2, 1.0), st.sampled_from([0, 1]))
def test_CP1_operation_subsidy_forms_the_alliance_more_cheaply(omega, sigma2, member):
    # C-P1: when members free ride (m_i < 1) a cost subsidy raises TW by (2 − m_i)/m_i > 1 per unit
    # of outlay, more than a lump-sum grant (1 per unit)
    lower = dict(TEAM, omega=omega, sigma2=sigma2)
    fixed = dict(response="fixed", gamma=0.0, lam=0.0)
    p0 = load(lower=lower, **fixed)
    p = load(lower=lower, instruments=[dict(name="s", type="cost_subsidy", members=[member], value=1e-5)], **fixed)
    q = load(lower=lower, instruments=[dict(name="s", type="cost_subsidy", members=[member], value=0.0)], **fixed)
    hi, lo, base = p.solve(), q.solve(), p0.solve()
    dTW = hi.extras["alliance_welfare"] - lo.extras["alliance_welfare"]
    dG = hi.extras["outlay"] - lo.extras["outlay"]
    m = omega + (1 - omega) * base.extras["lower"]["rows"][member]["share"]
    assert dTW / dG > 1.0
    assert dTW / dG == pytest.approx((2 - m) / m, rel=1e-3)


# -- Model D (docs/theory/policy.md) ------------------------------------------------------------------------
@pytest.mark.parametrize("rd, s", [("noncooperative", 0.25), ("cooperative", 0.5)])
def test_D_hinloopen_equivalence(rd, s):
    p = load(gamma=0.0, lam=0.0, lower=dict(kind="duopoly", D=1.0, G=2.0, b=0.2, rd=rd),
             instruments=[dict(name="s", type="cost_subsidy", members="all", bounds=[0.0, 0.9])])
    closed, nested = p.solve("closed-form"), p.solve("nested")
    assert closed.rows["value"].iloc[0] == pytest.approx(s, abs=1e-12)
    assert nested.rows["value"].iloc[0] == pytest.approx(s, abs=1e-6)
    assert nested.objective == pytest.approx(0.6536, abs=5e-5)
    assert closed.extras["lower"]["rows"][0]["rd"] == pytest.approx(cf.duopoly_planner_rd(1, 2, 0.2), abs=1e-12)
    assert cf.duopoly_planner_rd(1, 2, 0.2) == pytest.approx(0.3922, abs=5e-5)


def test_D_equivalence_breaks_with_costly_funds():
    res = {}
    for rd in ("noncooperative", "cooperative"):
        p = load(gamma=0.0, lam=0.3, lower=dict(kind="duopoly", D=1.0, G=2.0, b=0.2, rd=rd),
                 instruments=[dict(name="s", type="cost_subsidy", members="all", bounds=[0.0, 0.9])])
        assert "λ = 0" in dict((m.name, w) for m, w in p.applicable())["closed-form"]
        res[rd] = p.solve().objective
    assert abs(res["noncooperative"] - res["cooperative"]) > 1e-3


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 1.0))
def test_D_closed_form_rd_matches_follower(b):
    # x^N, x^C of docs/theory/policy.md against the follower's own first-order system
    for rd, mode in (("noncooperative", "N"), ("cooperative", "C")):
        p = load(gamma=0.0, lam=0.0, lower=dict(kind="duopoly", D=1.0, G=3.0, b=b, rd=rd),
                 instruments=[dict(name="s", type="cost_subsidy", members="all", value=0.2)])
        x = p.solve().extras["lower"]["rows"][0]["rd"]
        assert x == pytest.approx(float(cf.duopoly_rd(1.0, 3.0, b, 0.2, mode)), rel=1e-10)


# -- an evolutionary game as the follower (docs/theory/evolution.md) -------------------------------------------
@pytest.mark.parametrize("S, ess", [(0.05, False), (0.2, True)])
def test_evolution_follower_ess_threshold(S, ess):
    # (1, 1) is an ESS iff S + M > max(C_F − P − αΔR + T_F, C_U − P − (1 − α)ΔR + T_U) = 2.1 in the
    # formation stage (C = (4, 3), T = (2, 2), P = 0.5, ΔR = 6, α = 0.6), here with M = 2
    p = load(gamma=0.0, lam=0.1, lower=str(SPECS / "evo_e1_formation.toml"), instruments=[
        dict(name="S", type="payoff_parameter", param="S", paid="cooperators", value=S),
        dict(name="M", type="payoff_parameter", param="M", value=2.0)])
    r = p.solve()
    assert r.success, r.checks
    basin = r.extras["expected_output"]
    assert (basin > 0) == ess
    # SW = basin (1 per unit of cooperation) + subsidy income − (1 + λ)·outlay, outlay = S·2·basin
    assert r.extras["outlay"] == pytest.approx(S * 2 * basin, abs=1e-12)
    assert r.objective == pytest.approx(basin - 0.1 * S * 2 * basin, abs=1e-12)


def test_evolution_follower_bad_parameter():
    with pytest.raises(ital_opt.SpecError) as info:
        load(lower=str(SPECS / "evo_e1_formation.toml"),
             instruments=[dict(name="S", type="payoff_parameter", param="nope", value=1.0)])
    assert info.value.field == "instruments[0].param"
