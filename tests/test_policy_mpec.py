"""kind = "policy": the MPEC for admission followers (Model B, docs/theory/policy.md) — the leader
over the Chapter 3 menu's KKT conditions, each candidate admitted set's menu written as its own
block and the alliance's choice of admitted set as value constraints — against the nested search
(which re-solves the follower by the admission kind) and Model B1's closed-form thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ital_opt

SPECS = Path(__file__).resolve().parents[1] / "formulations"
ADMISSION = str(SPECS / "ch3_example_3_1.toml")


def load(lower=ADMISSION, **spec):
    spec.setdefault("gamma", 0.5)
    spec["lambda"] = spec.pop("lam", 0.3)
    return ital_opt.load(dict(kind="policy", lower=lower, **spec))


def subsidy(tiers="all"):
    return dict(name="g", type="admission_subsidy", tiers=tiers, bounds=[0.0, 1.0])


# BOOK.md §4.2 / docs/theory/policy.md worked example B (Model B1): g_min = F − V_L/p_L with
# V_L = 0.113924; a flat subsidy pays iff F < 0.356513, a tied one iff F < 0.382150
@pytest.mark.slow
@pytest.mark.parametrize("F, tiers, want, admitted", [
    (0.10, "all", 0.0, 0), (0.25, "all", 0.060127, 0), (0.37, "all", 0.0, 1),
    (0.25, [0], 0.060127, 0), (0.37, [0], 0.180127, 0), (0.40, [0], 0.0, 1),
])
def test_B1_mpec_against_closed_form_and_nested(F, tiers, want, admitted):
    p = load(fixed_cost=F, instruments=[subsidy(tiers)])
    mpec, closed, nested = p.solve("mpec"), p.solve("closed-form"), p.solve("nested")
    assert mpec.success, (mpec.message, mpec.checks)
    assert mpec.method.startswith("mpec")
    assert mpec.rows["value"].iloc[0] == pytest.approx(want, abs=5e-7)
    assert mpec.extras["admitted_from"] == admitted
    for other in (closed, nested):
        assert mpec.objective == pytest.approx(other.objective, rel=1e-6, abs=1e-6)


def test_B1_bundled_spec_mpec():
    p = ital_opt.load(SPECS / "policy_B1_admission_subsidy.toml")
    r = p.solve("mpec")
    assert r.success and r.objective == pytest.approx(p.solve("closed-form").objective, abs=1e-8)


def _instance(theta, prob, c, rho, sigma2, outside):
    return dict(kind="admission", theta=theta, prob=prob, c=c, rho=rho, sigma2=sigma2, outside=outside)


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(st.integers(2, 3), st.floats(0.5, 1.5), st.floats(0.2, 1.0), st.floats(0.2, 1.0), st.floats(0.0, 1.0),
       st.floats(0.0, 0.6), st.floats(0.0, 0.5), st.integers(0, 10_000))
def test_random_admission_mpec_against_nested(n, c, rho, gamma, lam, F, outside, seed):
    rng = np.random.default_rng(seed)
    theta = 0.5 + np.cumsum(rng.uniform(0.1, 0.6, n))
    prob = rng.dirichlet(np.ones(n) * 2.0)
    lower = _instance(theta.tolist(), prob.tolist(), c, rho, 0.5, [outside] * n)
    tiers = [0] if rng.uniform() < 0.5 else "all"
    p = load(lower=lower, gamma=gamma, lam=lam, fixed_cost=F, instruments=[subsidy(tiers)])
    mpec, nested = p.solve("mpec"), p.solve("nested")
    assert mpec.status == "optimal" and nested.success
    assert mpec.objective == pytest.approx(nested.objective, rel=1e-6, abs=1e-6)
    try:
        closed = p.solve("closed-form")
    except ital_opt.MethodNotApplicable:
        return
    assert mpec.objective == pytest.approx(closed.objective, rel=1e-6, abs=1e-6)


def test_B1_closed_form_declines_positive_outside_options():
    """Found by the random comparison above: with θ = (0.918, 1.153), p = (0.712, 0.288), c = ρ = 1,
    σ² = 0.5, F = 0, γ = 1, λ = 0 and a common outside option 0.25 the alliance admits only the high
    type without support, and a flat subsidy ≥ 0.019 makes it admit both (SW 0.932 against 0.418);
    B1's V_L is the gain with zero outside options, so the closed form said "no subsidy"."""
    rng = np.random.default_rng(0)
    theta = (0.5 + np.cumsum(rng.uniform(0.1, 0.6, 2))).tolist()
    lower = _instance(theta, rng.dirichlet(np.ones(2) * 2.0).tolist(), 1.0, 1.0, 0.5, [0.25, 0.25])
    p = load(lower=lower, gamma=1.0, lam=0.0, fixed_cost=0.0, instruments=[subsidy()])
    with pytest.raises(ital_opt.MethodNotApplicable, match="zero outside options"):
        p.solve("closed-form")
    best = p.solve()
    assert best.success and best.objective == pytest.approx(0.9320495060, abs=1e-9)
    assert p.solve("mpec").objective == pytest.approx(best.objective, rel=1e-9)

def test_mpec_optimum_on_an_admission_threshold_is_moved_onto_the_chosen_set():
    """A seeded random instance of the trust audit: the piece admitting from type 1 peaks where its
    subsidy just admits type 1, and the program's answer was 1e-6 short of that threshold, so the
    follower (re-solved there) still admitted from type 2 (SW 1.0359) and another piece's worse point
    (subsidy 0.3599, SW 1.1307) was returned.  The nested search, which bisects the threshold with
    the follower itself, finds SW 1.2525856 at subsidy 0.0956931."""
    lower = dict(kind="admission", theta=[0.5, 1.25, 2.0], prob=[0.02681529474251769, 0.6079283145282885,
                 0.3652563907291938], c=1.4199344215279956, rho=0.8544903294557529, sigma2=0.1816341051504281)
    p = load(lower=lower, gamma=0.7141969396170498, lam=0.47410676878850766, fixed_cost=0.3604262762592298,
             instruments=[subsidy()])
    mpec, nested = p.solve("mpec"), p.solve("nested")
    assert mpec.success and nested.success, (mpec.checks, nested.checks)
    assert mpec.objective == pytest.approx(1.2525856, abs=1e-7)
    assert mpec.objective == pytest.approx(nested.objective, rel=1e-9)
    assert mpec.rows["value"].iloc[0] == pytest.approx(nested.rows["value"].iloc[0], abs=1e-9)

def test_mpec_applies_names_what_it_does_not_cover():
    from ital_opt.policy.formulations import Mpec

    outside = load(instruments=[dict(name="so", type="outside_subsidy", delta=0.7, bounds=[0.0, 0.5])])
    assert "admission subsidies" in Mpec().applies(outside)
    pessimistic = load(fixed_cost=0.25, ties="pessimistic", instruments=[subsidy()])
    assert "pessimistic" in Mpec().applies(pessimistic)
    cubic = load(lower=dict(kind="admission", theta=[1.0, 1.5], prob=[0.6, 0.4], c=1.0, rho=2.0, sigma2=0.4,
                            cost="c*e**3/3"), fixed_cost=0.25, instruments=[subsidy()])
    assert "convex" in Mpec().applies(cubic)
    assert Mpec().applies(load(fixed_cost=0.25, instruments=[subsidy()])) is None
