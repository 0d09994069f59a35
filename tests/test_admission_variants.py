"""Variants of the admission menu (docs/theory/admission.md) solved by the general engines.

* the LEN model written differently (explicit output/cost expressions, a capability exponent,
  risk-neutral applicants) is recognised and agrees with the closed form;
* variants without a closed form (a cubic effort cost, output concave in effort) are solved by
  the screening kind and by the direct NLP, and checked against an independent reduced form.
"""


import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from ital_opt.admission import Admission
from ital_opt.admission.formulations import screening_spec

BASE = dict(theta=[1.0, 1.5], prob=[0.6, 0.4], c=1.0, rho=2.0, sigma2=0.4)


def _diff(a, b):
    return max(float(np.max(np.abs(a.rows[f].to_numpy() - b.rows[f].to_numpy())))
               for f in ("share", "transfer", "agent_utility"))


def test_len_written_out_is_recognised():
    p = Admission(**BASE, output="e*theta", cost="0.5*c*e*e")
    assert p.is_len
    ref = Admission(**BASE).solve()
    assert _diff(p.solve(), ref) <= 1e-12


def test_capability_exponent_is_a_relabelling():
    # output theta**gamma * e is the LEN model with capability theta**gamma
    p = Admission(**BASE, output="theta**gamma*e", params={"gamma": 1.5})
    relabelled = Admission(**{**BASE, "theta": (np.array(BASE["theta"]) ** 1.5).tolist()})
    a, b = p.solve("closed-form"), relabelled.solve("closed-form")
    assert a.rows["share"].tolist() == pytest.approx(b.rows["share"].tolist(), abs=1e-12)
    assert a.objective == pytest.approx(b.objective, abs=1e-12)
    nlp = p.solve("pyomo")
    assert nlp.success and _diff(a, nlp) <= 1e-6


@pytest.mark.parametrize("extra", [{}, {"rho": 0.0}, {"output": "theta**gamma*e", "params": {"gamma": 0.8}}])
def test_len_variants_agree_with_closed_form_via_screening(extra):
    p = Admission(**{**BASE, **extra})
    a, b = p.solve("closed-form"), p.solve("screening")
    assert b.success, b.checks
    assert _diff(a, b) <= 1e-7 and abs(a.objective - b.objective) <= 1e-7


def test_risk_neutral_first_best_shares_are_one():
    res = Admission(**{**BASE, "rho": 0.0}).solve()
    assert res.rows["first_best_share"].tolist() == pytest.approx([1.0, 1.0])
    assert res.rows["share"][1] == pytest.approx(1.0)  # no distortion at the top
    assert res.rows["share"][0] < 1.0


def _reduced_two_type(p):
    """Regime-I structure (IR_L and IC_HL bind) for any technology: the top share maximises the
    surplus, the low share maximises p_L S_L(β) − p_H [V_H(β) − V_L(β)]; V = v − rβ²."""
    th_l, th_h = p.theta
    surplus = lambda th, b: float(p.agent_value(th, b) + p.alliance_gross(th, b))  # noqa: E731

    def argmax(f):
        grid = np.linspace(1e-6, 1.0, 2001)
        i = int(np.argmax([f(b) for b in grid]))
        res = minimize_scalar(lambda b: -f(b), bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 2000)]),
                              method="bounded", options={"xatol": 1e-12})
        return float(res.x)

    pl, ph = p.prob
    bh = argmax(lambda b: surplus(th_h, b))
    bl = argmax(lambda b: pl * surplus(th_l, b) - ph * float(p.agent_value(th_h, b) - p.agent_value(th_l, b)))
    ul = p.outside[0]
    uh = ul + float(p.agent_value(th_h, bl) - p.agent_value(th_l, bl))
    payoff = pl * (surplus(th_l, bl) - ul) + ph * (surplus(th_h, bh) - uh)
    return np.array([bl, bh]), payoff


@pytest.mark.parametrize("extra", [{"cost": "c*e**3/3"}, pytest.param({"output": "theta*sqrt(e)"}, marks=pytest.mark.slow)])
def test_variants_without_closed_form(extra):
    p = Admission(**BASE, **extra)
    assert not p.is_len
    reasons = {m.name: why for m, why in p.applicable()}
    assert reasons["closed-form"] and reasons["cvxpy-direct"]
    share, payoff = _reduced_two_type(p)
    nlp = p.solve("pyomo")
    assert nlp.success, nlp.checks
    assert nlp.checks["max_ic_violation"] <= 1e-7
    assert nlp.rows["share"].tolist() == pytest.approx(share.tolist(), abs=1e-5)
    assert nlp.objective == pytest.approx(payoff, abs=1e-7)
    assert np.all(np.diff(nlp.rows["share"]) > 0)  # still separating, higher capability larger share
    eng = p.solve("screening")
    assert eng.success, eng.checks
    assert eng.rows["share"].tolist() == pytest.approx(share.tolist(), abs=1e-5)
    assert eng.objective == pytest.approx(payoff, abs=1e-7)


def test_screening_spec_of_the_book_model():
    spec = screening_spec(Admission(**BASE))
    assert spec["kind"] == "screening" and spec["q_bounds"] == [0.0, 1.0]
    assert spec["agent"] == "(theta**2/(2*c) - r)*q**2" and spec["principal"] == "theta**2/c*q*(1 - q)"
    assert spec["params"] == {"c": 1.0, "r": pytest.approx(0.4)}
    cubic = screening_spec(Admission(**BASE, cost="c*e**3/3"))
    assert "theta" in cubic["agent"] and "q" in cubic["principal"]
