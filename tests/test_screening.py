"""Screening: named cases, change of variables, refusal, closed forms against formulations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import ital_opt
from ital_opt.errors import MethodNotApplicable, SpecError
from ital_opt.problem import verify
from ital_opt.screening.checks import upper_envelope
from ital_opt.screening.closed_form import iron, virtual_values
from ital_opt.screening.model import Screening

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "formulations").glob("screening_*.toml"))


def mussa_rosen(theta, prob, **kw):
    return Screening(theta=list(map(float, theta)), prob=list(map(float, prob)), agent="theta*q", principal="-q**2/2", **kw)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_bundled_specs_verify(path):
    report = verify(ital_opt.load(path))
    assert report.ok, report.to_table()


def test_two_types_by_hand():
    r = mussa_rosen([1, 2], [0.6, 0.4]).solve()
    assert r.method == "closed-form"
    assert r.rows["q"].tolist() == pytest.approx([1 / 3, 2.0], abs=1e-12)
    assert r.objective == pytest.approx(5 / 6, abs=1e-12)
    assert r.rows["rent"].tolist() == pytest.approx([0.0, 1 / 3], abs=1e-12)


def test_ironing_pools_by_prior_weight():
    nu = virtual_values(np.array([2.0, 3.0, 4.0]), np.array([0.5, 0.1, 0.4]))
    assert nu.tolist() == pytest.approx([1.0, -1.0, 4.0])
    assert iron(nu, np.array([0.5, 0.1, 0.4])).tolist() == pytest.approx([2 / 3, 2 / 3, 4.0])


def test_uniform_2000_types_continuous_limit():
    n = 2000
    theta = np.linspace(1, 2, n)
    problem = mussa_rosen(theta, np.full(n, 1 / n))
    r = problem.solve()
    assert r.objective == pytest.approx(2 / 3, abs=1e-3)
    assert np.max(np.abs(r.rows["q"].to_numpy() - np.maximum(0, 2 * theta - 2))) < 1e-2
    assert r.checks["max_ic_violation"] <= 1e-7
    local = problem.solve("cvxpy-local")
    assert local.objective == pytest.approx(2 / 3, abs=1e-3)
    assert np.max(np.abs(local.rows["q"].to_numpy() - r.rows["q"].to_numpy())) < 1e-6
    assert local.checks["max_ic_violation"] <= 1e-7


def admission(theta, prob, outside=0.0, c=1.0, rho=2.0, sigma2=0.4):
    """The Chapter 3 menu as the admission kind compiles it (docs/theory/admission.md)."""
    return Screening(
        theta=theta,
        prob=prob,
        agent="(theta**2/(2*c) - r)*q**2",
        principal="theta**2/c*q*(1-q)",
        q_bounds=[0, 1],
        outside=outside,
        params={"c": c, "r": rho * sigma2 / 2},
    )


def test_admission_example_3_1_via_x_equals_q_squared():
    problem = admission([1.0, 1.5], [0.6, 0.4])
    assert str(problem.split.v[0]) == "q**2"
    phi, r, p = np.array([0.5, 1.125]), 0.4, np.array([0.6, 0.4])
    beta_L = phi[0] / (phi[0] + r + p[1] / p[0] * (phi[1] - phi[0]))
    beta_H = phi[1] / (phi[1] + r)
    for method in ("cvxpy-local", "cvxpy"):
        res = problem.solve(method)
        assert res.rows["q"].tolist() == pytest.approx([beta_L, beta_H], abs=1e-7)
        assert res.objective == pytest.approx(0.445891, abs=1e-6)
        assert res.checks["max_ic_violation"] <= 1e-9


def test_admission_example_3_2_and_regime_iv():
    res = admission([1.0, 1.25, 1.5], [0.3, 0.4, 0.3]).solve("cvxpy")
    assert res.rows["q"].tolist() == pytest.approx([0.32129, 0.54289, 0.73770], abs=1e-5)
    assert res.rows["t"].tolist() == pytest.approx([-0.01032, -0.08333, -0.26421], abs=1e-5)
    assert res.objective == pytest.approx(0.466821, abs=1e-6)
    # docs/theory/admission.md, g = 0.4: regime IV, beta_H raised above first best to 0.8
    res = admission([1.0, 1.5], [0.6, 0.4], outside=[0.0, 0.4]).solve()
    assert res.rows["q"].tolist() == pytest.approx([0.55556, 0.8], abs=1e-5)
    assert res.objective == pytest.approx(0.336267, abs=1e-6)


def test_non_concave_refused_by_cvxpy_and_solved_locally_by_pyomo():
    problem = Screening(theta=[1, 2, 3], prob=[0.3, 0.3, 0.4], agent="theta*q", principal="q**2 - q**3", q_bounds=[0, 2])
    with pytest.raises(MethodNotApplicable, match=r"q\*\*2 - q\*\*3"):
        problem.solve("cvxpy")
    res = problem.solve()
    assert res.method.startswith("pyomo/") and res.local
    assert res.checks["max_ic_violation"] <= 1e-7


def test_no_split_falls_back_to_pyomo_in_q_t():
    problem = Screening(theta=[1, 2, 3], prob=[0.3, 0.3, 0.4], agent="log(theta + q)", principal="-q/2", q_bounds=[0, 10])
    assert problem.split is None
    res = problem.solve("pyomo")
    assert res.method.startswith("pyomo/") and res.local and res.status == "optimal"
    assert res.checks["max_ic_violation"] <= 1e-7
    auto = problem.solve()  # auto takes the non-separable Ipopt route first; both are local
    assert auto.method.startswith("ipopt") and auto.objective == pytest.approx(res.objective, abs=1e-8)


def test_closed_form_declines_with_reasons():
    countervailing = mussa_rosen([1, 2], [0.5, 0.5], outside=[0, 3])
    with pytest.raises(MethodNotApplicable, match="outside options"):
        countervailing.solve("closed-form")
    multi = Screening(theta=[[1, 1], [2, 2]], prob=[0.5, 0.5], agent="theta1*q1+theta2*q2", principal="-(q1**2+q2**2)/2")
    with pytest.raises(MethodNotApplicable, match="multidimensional"):
        multi.solve("closed-form")


def test_ic_option_all_pairs_skips_local():
    problem = mussa_rosen([1, 2, 3], [0.3, 0.3, 0.4], ic="all-pairs")
    reasons = dict((m.name, r) for m, r in problem.applicable())
    assert "all-pairs" in reasons["cvxpy-local"]
    assert problem.solve("cvxpy").method == "cvxpy/CLARABEL"


def test_multidimensional_constraint_generation_matches_full_all_pairs():
    rng = np.random.default_rng(3)
    grid = np.array([[a, b] for a in np.linspace(1, 2, 6) for b in np.linspace(1, 2, 6)])
    prob = rng.dirichlet(np.ones(len(grid)))
    problem = Screening(
        theta=grid.tolist(), prob=prob.tolist(), agent="theta1*q1 + theta2*q2", principal="-(q1**2 + q2**2)/2 - q1*q2/4"
    )
    if problem.convexity_reason is not None:  # the cross term is not DCP term by term
        problem = problem.replace(principal="-(q1**2 + q2**2)/2")
    cg = problem.solve("cvxpy")
    full = problem.solve("cvxpy", cg=False)
    assert cg.method.startswith("cvxpy-cg/")
    assert cg.objective == pytest.approx(full.objective, rel=1e-7)
    assert cg.checks["max_ic_violation"] <= 1e-7


def test_python_construction_with_params_and_replace():
    problem = Screening(theta=[1, 2], prob=[0.5, 0.5], agent="k*theta*q", principal="-q**2/2", params={"k": 2})
    res = problem.solve()
    assert res.rows["q"].tolist() == pytest.approx([0.0, 4.0], abs=1e-9)
    other = problem.replace(**{"params.k": 1, "prob[0]": 0.6, "prob[1]": 0.4})
    assert other.solve().objective == pytest.approx(5 / 6)


def test_bad_python_input_raises_spec_error():
    with pytest.raises(SpecError, match="theta"):
        mussa_rosen([2, 1], [0.5, 0.5])
    with pytest.raises(SpecError, match="prob"):
        mussa_rosen([1, 2], [0.5, 0.6])
    with pytest.raises(SpecError, match="agent"):
        Screening(theta=[1, 2], prob=[0.5, 0.5], agent="theta*z", principal="-q")
    with pytest.raises(SpecError, match="q_bounds"):
        mussa_rosen([1, 2], [0.5, 0.5], q_bounds=[1, 0])


def test_upper_envelope_matches_brute_force():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 10, 200):
        for _ in range(20):
            m = rng.normal(size=n).round(1)
            c = rng.normal(size=n)
            x = rng.normal(size=30)
            brute = (m[None, :] * x[:, None] + c[None, :]).max(axis=1)
            assert np.allclose(upper_envelope(m, c, x), brute, atol=1e-12)


def test_checks_detect_a_bad_menu():
    problem = mussa_rosen([1, 2], [0.6, 0.4])
    res = problem.solve()
    rows = res.rows
    rows.loc[0, "t"] += 0.5  # the low type's contract pays 0.5 more: the high type now envies it by 0.5
    assert problem.check(res)["max_ic_violation"] == pytest.approx(0.5, abs=1e-12)
    rows.loc[0, "t"] -= 1.5  # now the low type is 1 below its outside option
    assert problem.check(res)["max_ir_violation"] == pytest.approx(1.0, abs=1e-12)
