"""Screening with a non-separable agent utility: Ipopt with exact derivatives and all-pairs IC by
constraint generation (ital_opt.screening.nonseparable), checked against the general NLP in
(q, t) of the pyomo formulation and by the kind's all-pairs IC certificate.

The cases are u = log(1 + θq) (single crossing: u_θq = 1/(1 + θq)² > 0, so local IC binds) and
utilities whose cross-partial changes sign (single crossing fails and non-adjacent IC pairs bind,
which only constraint generation finds).
"""

import time

import numpy as np
import pytest

import ital_opt
from ital_opt.errors import MethodNotApplicable


def instance(n, agent="log(1 + theta*q)", principal="-q**2/2", seed=None, **extra):
    theta = np.linspace(1.0, 3.0, n)
    prob = np.full(n, 1.0 / n)
    if seed is not None:
        rng = np.random.default_rng(seed)
        theta = np.sort(rng.uniform(0.5, 3.0, n))
        prob = rng.dirichlet(np.ones(n) * 2.0)
    return ital_opt.load({"kind": "screening", "theta": theta.tolist(), "prob": prob.tolist(), "agent": agent,
                          "principal": principal, **extra})


@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_the_general_nlp_on_small_random_instances(seed):
    p = instance(10, principal="-q**2/2 + 0.2*q", seed=seed)
    r, ref = p.solve("ipopt"), p.solve("pyomo")
    assert r.success and ref.success, (r.message, ref.message)
    assert r.checks["max_ic_violation"] <= 1e-9 and r.local
    assert r.objective == pytest.approx(ref.objective, abs=1e-7)
    assert np.max(np.abs(r.rows["q"].to_numpy() - ref.rows["q"].to_numpy())) <= 1e-5


def test_auto_takes_ipopt_for_a_non_separable_agent_and_refuses_a_separable_one():
    p = instance(80)
    r = p.solve()
    assert r.method.startswith("ipopt") and r.success
    with pytest.raises(MethodNotApplicable, match="separates"):
        ital_opt.load({"kind": "screening", "theta": [1, 2], "prob": [0.5, 0.5], "agent": "theta*q",
                       "principal": "-q**2/2"}).solve("ipopt")


@pytest.mark.parametrize("agent", ["log(1 + theta*q) + (theta - 2)**2 * q", "sqrt(1 + theta*q) * (3 - theta)"])
def test_constraint_generation_adds_the_non_adjacent_pairs_single_crossing_misses(agent):
    p = instance(12, agent=agent, q_bounds=[0, 5])
    r = p.solve("ipopt")
    assert r.success and r.method == "ipopt/cg" and r.extras["rounds"] > 1
    assert r.extras["ic_pairs"] > 2 * (12 - 1)
    assert r.checks["max_ic_violation"] <= 1e-9
    # both are local methods; where the general NLP converges, it finds no better menu
    ref = p.solve("pyomo")
    if ref.success:
        assert r.objective >= ref.objective - 1e-7


def test_two_hundred_types_quickly_with_all_pairs_ic():
    p = instance(200)
    p.solve("ipopt")  # imports (sympy, cyipopt) out of the timing
    start = time.perf_counter()
    r = p.solve("ipopt")
    elapsed = time.perf_counter() - start
    assert r.success and r.checks["max_ic_violation"] <= 1e-9
    assert np.all(np.diff(r.rows["q"].to_numpy()) >= -1e-9)  # single crossing: a monotone allocation
    assert elapsed < 10.0  # target 2 s on a quiet machine (benchmarks/bench_screening.py)


@pytest.mark.slow
def test_a_thousand_types_with_all_pairs_ic():
    p = instance(1000)
    r = p.solve("ipopt")
    assert r.success and r.checks["max_ic_violation"] <= 1e-9
