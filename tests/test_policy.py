"""kind = "policy": the government as a Stackelberg leader (docs/theory/policy.md), Model A.

Expected values are docs/theory/policy.md's worked example A (the team of example 4-1, γ = 0.5, λ = 0.3);
propositions A-P1 … A-P5 are checked on random instances, the closed forms against the nested
search (which knows nothing of the formulas) and the MPEC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ital_opt
from ital_opt import SpecError
from ital_opt.policy import closed_form as cf

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "formulations"
TEAM = dict(kind="team", a=[1.2, 1.0], c=[1.0, 1.0], rho=[1.0, 2.0], sigma2=0.5, omega=0.0)


def policy(instruments=(), lower=None, **fields):
    spec = dict(kind="policy", lower=lower or TEAM, gamma=0.5, instruments=list(instruments))
    spec["lambda"] = fields.pop("lam", 0.3)
    spec.update(fields)
    return ital_opt.load(spec)


EACH = dict(name="s", type="cost_subsidy", members="each", bounds=[0.0, 0.95])
ALL = dict(name="s", type="cost_subsidy", members="all", bounds=[0.0, 0.95])
REWARD = dict(name="r", type="output_reward", bounds=[0.0, 2.0])


# -- worked example A (docs/theory/policy.md, the table) ----------------------------------------------------
def test_A1_member_rates_closed_form_and_nested():
    p = policy([EACH], response="fixed")
    a, b = p.solve("closed-form"), p.solve("nested")
    for r in (a, b):
        assert r.success, r.checks
        assert r.rows["value"].tolist() == pytest.approx([0.494583, 0.682152], abs=6e-7)
        assert r.objective == pytest.approx(2.1695, abs=5e-5)
        assert r.extras["outlay"] == pytest.approx(1.0240, abs=5e-5)
        efforts = [row["effort"] for row in r.extras["lower"]["rows"]]
        assert efforts == pytest.approx([1.4704, 1.1978], abs=5e-5)
    assert a.objective == pytest.approx(b.objective, abs=1e-9)


def test_A1_induced_effort_formula():
    # e_i = (a_i/c_i)[(1+γ) + λm_i/2]/(1+λ) (docs/theory/policy.md)
    r = policy([EACH], response="fixed").solve("closed-form")
    beta = np.array([row["share"] for row in r.extras["lower"]["rows"]])
    want = np.array([1.2, 1.0]) * (1.5 + 0.3 * beta / 2) / 1.3
    assert [row["effort"] for row in r.extras["lower"]["rows"]] == pytest.approx(want, abs=1e-10)


def test_A3_uniform_endogenous_nested_and_mpec():
    p = policy([ALL])
    n, m = p.solve("nested"), p.solve("mpec")
    assert n.rows["value"].tolist() == pytest.approx([0.557306], abs=6e-7)
    assert n.extras["lower"]["rows"][0]["share"] == pytest.approx(0.60653, abs=5e-6)
    assert m.objective == pytest.approx(n.objective, abs=1e-8)
    assert n.objective == pytest.approx(2.0847, abs=5e-5)


def test_A5_reward_does_not_move_shares():
    p = policy([REWARD])
    a, b = p.solve("closed-form"), p.solve("nested")
    assert a.rows["value"].tolist() == pytest.approx([0.274327], abs=6e-7)
    assert b.rows["value"].tolist() == pytest.approx(a.rows["value"].tolist(), abs=1e-6)
    assert a.extras["lower"]["rows"][0]["share"] == pytest.approx(0.619289, abs=5e-7)


def test_A0_and_json_shape():
    r = policy([]).solve()
    d = r.to_dict()
    assert d["kind"] == "policy" and d["objective"] == pytest.approx(1.3918, abs=5e-5)
    for key in ("social_welfare", "alliance_welfare", "outlay", "expected_output", "formed", "lower"):
        assert key in d
    assert d["lower"]["kind"] == "team"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("policy_*.toml")))
def test_bundled_specs_verify(name):
    report = ital_opt.verify(ital_opt.load(SPECS / name))
    assert report.ok, report.to_table()


# -- propositions (hypothesis) -------------------------------------------------------------------
team_params = st.fixed_dictionaries(dict(
    a=st.lists(st.floats(0.5, 2.0), min_size=2, max_size=2),
    c=st.lists(st.floats(0.5, 2.0), min_size=2, max_size=2),
    rho=st.lists(st.floats(0.2, 3.0), min_size=2, max_size=2),
    sigma2=st.floats(0.2, 1.0),
    omega=st.floats(0.0, 0.8),
))


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(team_params, st.floats(0.0, 1.0))
def test_AP1_budget_breaker_restores_first_best(params, gamma):
    # A-P1: with λ = 0, s_i* = 1 − m_i/(1+γ) and e_i = (1+γ)a_i/c_i; the nested search agrees
    p = policy([dict(EACH, bounds=[0.0, 0.99])], lower=dict(kind="team", **params), gamma=gamma, lam=0.0,
               response="fixed")
    closed, nested = p.solve("closed-form"), p.solve("nested")
    efforts = np.array([row["effort"] for row in closed.extras["lower"]["rows"]])
    assert efforts == pytest.approx((1 + gamma) * np.array(params["a"]) / np.array(params["c"]), rel=1e-9)
    assert nested.objective == pytest.approx(closed.objective, abs=1e-7)
    assert closed.objective >= nested.objective - 1e-9


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.05, 1.0), st.floats(1e-3, 0.2))
def test_AP2_AP3_rate_comparative_statics(gamma, lam, m, h):
    def s(g, lam_, mm):
        return float(cf.member_rates(np.array([mm]), g, lam_)[0])
    base = s(gamma, lam, m)
    if base > 0:  # A-P2 where the rate is interior
        assert s(gamma + h, lam, m) > base
        assert s(gamma, lam + h, m) < base
        if m + h <= 1:
            assert s(gamma, lam, m + h) < base
    # A-P3: s* > 0 iff 1 + γ > m(1 + λ/2)
    assert (base > 0) == (1 + gamma > m * (1 + lam / 2))


@pytest.mark.slow
@settings(max_examples=4, deadline=None)
@given(team_params, st.floats(0.0, 1.0), st.floats(0.05, 1.0))
def test_AP4_no_reward_beside_cost_subsidy(params, gamma, lam):
    # A-P4: with member-specific cost subsidies available the output reward is not used
    p = policy([EACH, REWARD], lower=dict(kind="team", **params), gamma=gamma, lam=lam, response="fixed")
    nested = p.solve("nested")
    assert nested.rows["value"].iloc[-1] == pytest.approx(0.0, abs=1e-6)
    closed = p.solve("closed-form")
    assert nested.objective == pytest.approx(closed.objective, abs=1e-7)


def test_AP5_reoptimised_shares_can_lower_welfare():
    fixed = policy([EACH], response="fixed").solve("closed-form")
    endo = policy([EACH]).solve("nested")
    assert endo.objective < fixed.objective - 1e-3  # 2.1581 < 2.1695 (docs/theory/policy.md)


@settings(max_examples=4, deadline=None)
@given(team_params, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_uniform_rate_closed_form_vs_nested_and_mpec(params, gamma, lam):
    p = policy([ALL], lower=dict(kind="team", **params), gamma=gamma, lam=lam, response="fixed")
    closed, nested = p.solve("closed-form"), p.solve("nested")
    assert nested.objective == pytest.approx(closed.objective, abs=1e-8)
    assert p.solve("mpec").objective == pytest.approx(closed.objective, abs=1e-7)


# -- certificates and bad input --------------------------------------------------------------------
def test_certificate_catches_a_wrong_answer():
    p = policy([EACH], response="fixed")
    r = p.solve("closed-form")
    r.rows.loc[0, "value"] = 0.3
    checks = p.check(r)
    assert checks["social_welfare_error"] > 1e-3 or checks["neighbourhood_gain"] > 1e-6


def test_budget_binds():
    p = policy([EACH], response="fixed", budget=0.5)
    assert "budget binds" in dict((m.name, why) for m, why in p.applicable())["closed-form"]
    r = p.solve()
    assert r.success and r.extras["outlay"] <= 0.5 + 1e-9
    assert r.extras["outlay"] == pytest.approx(0.5, abs=1e-6)
    assert p.solve("mpec").objective == pytest.approx(r.objective, abs=1e-6)


@pytest.mark.parametrize("bad, field", [
    (dict(instruments=[dict(name="x", type="nope")]), "instruments[0].type"),
    (dict(instruments=[dict(name="x", type="cost_subsidy", bounds=[0.5, 0.2])]), "instruments[0].bounds"),
    (dict(instruments=[dict(name="x", type="cost_subsidy", members=[5])]), "instruments[0].members"),
    (dict(instruments=[dict(name="x", type="admission_subsidy")]), "instruments[0].type"),
    (dict(response="maybe"), "response"),
    (dict(lower=dict(kind="screening")), "lower"),
    (dict(fixed_cost=1.0), "fixed_cost"),
])
def test_bad_input(bad, field):
    spec = dict(kind="policy", lower=TEAM, gamma=0.5)
    spec.update(bad)
    with pytest.raises(SpecError) as info:
        ital_opt.load(spec)
    assert info.value.field == field


def test_cli_bad_input_exit_2(tmp_path):
    import subprocess
    import sys

    f = tmp_path / "bad.toml"
    f.write_text('kind = "policy"\nlower = "missing.toml"\n')
    out = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(f)], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "bad.toml: field 'lower'" in out.stderr and "missing.toml: file not found" in out.stderr


def test_replace_lower_field_and_user_instrument():
    from ital_opt.policy import Instrument, register_instrument

    p = policy([ALL], response="fixed")
    q = p.replace(**{"lower.omega": 0.5, "gamma": 0.2})
    assert q.follower.problem.omega == 0.5 and q.gamma == 0.2

    @register_instrument
    class HalfCost(Instrument):
        """A test instrument: halves member costs and pays half of them."""
        type = "half_cost_test"
        followers = ("team",)

        def apply(self, levers, value):
            levers.cost_factor *= 1 - 0.5 * value[0]

        def outlay(self, outcome, value):
            return float(0.5 * value[0] * outcome.true_costs.sum())

    user = policy([dict(name="h", type="half_cost_test", value=1.0)], response="fixed")
    same = policy([dict(name="s", type="cost_subsidy", members="all", value=0.5)], response="fixed")
    assert user.solve().objective == pytest.approx(same.solve().objective, abs=1e-12)


def test_nested_warm_started_from_mpec_is_refined_on_the_bilevel_objective():
    from ital_opt import Team

    team = Team.random(5, seed=3)
    p = policy([EACH], lower={k: v for k, v in team.spec.items()})
    warm, mpec = p.solve("nested", warm_start="mpec", samples=64), p.solve("mpec")
    assert "warm-started" in warm.message and warm.success
    assert warm.objective >= mpec.objective - 1e-9
    default = p.solve("nested", samples=64)  # five rates: the MPEC's point is a start by default
    assert "warm-started" in default.message and default.objective >= mpec.objective - 1e-9
    with pytest.raises(ital_opt.OptionError):
        p.solve("nested", warm_start="closed-form")
