"""Trustworthy screening numbers: cost types, degenerate types, exact polishing, the Baron–Myerson
rent weight, shutdown with a fixed cost, proven (not sampled) concavity and non-finite payoffs.
Every closed form is compared with formulations that do not use it."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ital_opt

FORMULATIONS = ("cvxpy-local", "cvxpy", "pyomo")


def _agree(problem, methods=FORMULATIONS, rtol=1e-9):
    """Every method's answer equals the closed form's (objective and allocations, relative rtol)."""
    closed = problem.solve("closed-form")
    assert closed.status == "optimal" and closed.checks_ok
    q0 = np.asarray(closed.rows["q"].tolist(), float)
    scale = max(1.0, float(np.max(np.abs(q0))))
    for m in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = problem.solve(m)
        assert res.status == "optimal" and res.checks_ok, (m, res.status, res.message)
        assert math.isclose(res.objective, closed.objective, rel_tol=rtol, abs_tol=rtol), (m, res.objective, closed.objective)
        q = np.asarray(res.rows["q"].tolist(), float)
        assert np.max(np.abs(q - q0)) <= rtol * scale, (m, q, q0)
    return closed


def test_cost_types_single_crossing_in_the_decreasing_direction():
    # Laffont and Martimort (2002, §2.6): cost types θ ∈ {1, 2}, agent −θq, principal S(q) = 2√q,
    # ν = 1/2 each.  First best for the efficient type: S'(q) = θ̲ ⇒ q = 1; the inefficient type's
    # virtual cost θ̄ + (ν/(1−ν))Δθ = 3 gives S'(q) = 3 ⇒ q = 1/9.  Rent Δθ·q̄ = 1/9.
    problem = ital_opt.load({"kind": "screening", "theta": [1.0, 2.0], "prob": [0.5, 0.5],
                             "agent": "-theta*q", "principal": "2*sqrt(q)"})
    assert problem.closed_form_reason is None
    closed = _agree(problem)
    assert np.allclose(closed.rows["q"], [1.0, 1 / 9], rtol=1e-12)
    assert np.allclose(closed.rows["rent"], [1 / 9, 0.0], atol=1e-12)
    assert problem.solve().method == "closed-form"


@pytest.mark.parametrize("gap", [1e-16, 2e-16, 1e-14])
def test_nearly_equal_types_are_pooled_and_solve(gap):
    theta = [0.2, 0.2 + gap, 0.5]
    problem = ital_opt.load({"kind": "screening", "theta": theta, "prob": [0.3, 0.3, 0.4],
                             "agent": "-theta*q", "principal": "2*sqrt(q)"})
    closed = _agree(problem, ("cvxpy", "pyomo"))
    assert closed.rows["q"][0] == closed.rows["q"][1]


def test_mussa_rosen_ten_thousand_types_exact():
    # q_k = max(0, ν̄_k) for the uniform prior on [1, 2.5] (Mussa and Rosen 1978)
    n = 10_000
    theta = np.linspace(1.0, 2.5, n)
    problem = ital_opt.load({"kind": "screening", "theta": theta.tolist(), "prob": (np.ones(n) / n).tolist(),
                             "agent": "theta*q", "principal": "-q**2/2"})
    _agree(problem, ("cvxpy-local",))


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.8])
def test_rent_weight_baron_myerson(alpha):
    # two types: ν_1 = θ_1 − (1 − α)(p_2/p_1)Δθ, so q_1 = 1 − (1 − α)·0.5 for θ = (1, 1.5), p = (1/2, 1/2)
    problem = ital_opt.load({"kind": "screening", "theta": [1.0, 1.5], "prob": [0.5, 0.5],
                             "agent": "theta*q", "principal": "-q**2/2", "rent_weight": alpha})
    closed = _agree(problem)
    q1 = 1 - (1 - alpha) * 0.5
    assert np.allclose(closed.rows["q"], [q1, 1.5])
    rent = 0.5 * q1
    welfare = 0.5 * (q1 - q1**2 / 2) + 0.5 * (1.5 * 1.5 - 1.5**2 / 2)
    assert math.isclose(closed.objective, welfare - (1 - alpha) * 0.5 * rent, rel_tol=1e-12)


# By hand: ν = (0.5, 1.125, 2) and each served type adds p_k ν_k²/2 (Mussa–Rosen), so serving from
# type 1 pays iff 0.3·0.125 > 0.3F (F < 0.125), from type 2 iff 0.4·0.6328 > 0.4F, type 3 iff 2 > F.
@pytest.mark.parametrize("fixed_cost, served", [(0.0, [True, True, True]), (0.05, [True, True, True]),
                                                 (0.3, [False, True, True]), (1.0, [False, False, True]),
                                                 (5.0, [False, False, False])])
def test_fixed_cost_makes_exclusion_a_choice(fixed_cost, served):
    problem = ital_opt.load({"kind": "screening", "theta": [1.2, 1.5, 2.0], "prob": [0.3, 0.4, 0.3],
                             "agent": "theta*q", "principal": "-q**2/2", "fixed_cost": fixed_cost})
    closed = _agree(problem)
    q = np.asarray(closed.rows["q"], float)
    assert (q > 0).tolist() == served
    value = sum(pk * nu**2 / 2 - pk * fixed_cost for pk, nu, s in zip([0.3, 0.4, 0.3], [0.5, 1.125, 2.0], served) if s)
    assert math.isclose(closed.objective, value, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(0.5, 3.0), min_size=2, max_size=5, unique=True),
       st.floats(0.0, 0.9), st.floats(0.0, 0.5), st.booleans())
def test_random_instances_closed_form_equals_formulations(theta, alpha, fixed_cost, cost_type):
    theta = sorted(theta)
    assume_spread = np.min(np.diff(theta)) > 1e-3
    if not assume_spread:
        return
    n = len(theta)
    prob = (np.arange(1, n + 1) / np.arange(1, n + 1).sum()).tolist()
    spec = {"kind": "screening", "theta": theta, "prob": prob, "rent_weight": alpha, "fixed_cost": fixed_cost,
            "agent": "-theta*q" if cost_type else "theta*q", "principal": "3*sqrt(q)" if cost_type else "-q**2/2"}
    _agree(ital_opt.load(spec), ("cvxpy-local", "cvxpy"), rtol=1e-8)


# -- the closed form's assumptions are proven, never sampled -----------------------------------------
BASE = {"kind": "screening", "theta": [1.0, 2.0], "prob": [0.5, 0.5], "agent": "theta*q"}


def test_linear_principal_without_a_bound_is_unbounded():
    problem = ital_opt.load({**BASE, "principal": "q"})
    assert problem.solve().status == "unbounded"
    assert problem.solve("closed-form").status == "unbounded"


def test_myerson_posted_price_linear_principal_on_the_unit_interval():
    # linear principal, q ∈ [0, 1]: the allocation is bang-bang (Myerson 1981 / Riley and Zeckhauser 1983)
    problem = ital_opt.load({**BASE, "principal": "0*q", "prob": [0.4, 0.6], "q_bounds": [0.0, 1.0]})
    closed = _agree(problem)
    # price 2 to the high type earns 0.6·2 = 1.2, price 1 to both earns 1: ν_1 = 1 − (0.6/0.4)·1 < 0
    assert closed.rows["q"].tolist() == [0.0, 1.0]
    assert math.isclose(closed.objective, 1.2, rel_tol=1e-12)


@pytest.mark.parametrize("principal", ["-q**2/2 + 1e-6*q**4", "-q**2/2 + 10*exp(-1000*(q-3.1)**2)"])
def test_unproven_concavity_is_not_a_closed_form(principal):
    problem = ital_opt.load({**BASE, "principal": principal})
    assert problem.closed_form_reason is not None and "not proven concave" in problem.closed_form_reason
    assert problem.solve().method != "closed-form"


def test_polynomial_concavity_is_proven_on_a_bounded_domain():
    problem = ital_opt.load({**BASE, "principal": "-q**2/2 + q**4/1000000", "q_bounds": [0.0, 10.0]})
    assert problem.closed_form_reason is None
    _agree(problem, ("pyomo",))


@pytest.mark.parametrize("principal", ["sqrt(-1)*q - q**2", "log(0) + q - q**2", "exp(1000) - q**2",
                                       "sqrt(-theta)*q - q**2", "log(q-q) + q - q**2", "1/(q-q) - q**2",
                                       "exp(1000*theta) - q**2"])
def test_non_finite_payoffs_are_never_optimal(principal):
    try:
        problem = ital_opt.load({**BASE, "principal": principal})
    except ital_opt.errors.SpecError:  # a constant that is not a finite number: refused when read
        return
    for m, reason in problem.applicable():
        assert reason is not None and "not a finite number" in reason, (m.name, reason)
    with pytest.raises(ital_opt.errors.MethodNotApplicable):
        problem.solve()


def test_non_finite_rows_fail_the_checks():
    problem = ital_opt.load({**BASE, "principal": "-q**2/2"})
    res = problem.solve("closed-form")
    res.rows.loc[0, "t"] = float("nan")
    checks = problem.check(res)
    assert not all(math.isfinite(v) and v <= 1e-9 for v in checks.values())


def test_a_route_that_does_not_model_a_field_in_use_is_not_used():
    # the non-separable route models neither the rent weight nor the fixed cost
    problem = ital_opt.load({**BASE, "agent": "sqrt(theta + q)", "principal": "-q**2/2", "rent_weight": 0.5})
    reasons = dict((m.name, r) for m, r in problem.applicable())
    assert "does not model rent_weight" in reasons["ipopt"]
    assert reasons["pyomo"] is None
