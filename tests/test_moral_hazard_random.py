"""Random Grossman–Hart instances: no method may claim an optimum that another method beats.

A seeded generator draws hidden-action problems (Grossman and Hart, 1983; docs/theory/moral_hazard.md) with 2–4
actions, 2–5 outcomes and a linear, square-root, log or CARA agent, including badly scaled CARA
cases (risk aversion up to 5, outcomes worth up to 100: h(v) = −log(1 − rv)/r spans many orders
of magnitude).  Every method solves each instance; the certificates (IC against every action, IR,
limited liability) are recomputed from the returned pays.  A result that claims a global optimum
(status optimal, not marked local) is wrong when another method's answer passes its checks and is
better; this must never happen.  A method may instead say ``not_solved`` — and then
``method="auto"`` must fall back to one that succeeds.
"""

import numpy as np
import pytest

from ital_opt.errors import MethodNotApplicable
from ital_opt.moral_hazard.model import MoralHazard

UTILITIES = ("linear", "sqrt", "log", "cara")


def grossman_hart(seed: int) -> MoralHazard:
    """A random hidden-action problem, the same for the same seed."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(2, 5)), int(rng.integers(2, 6))
    utility = UTILITIES[int(rng.integers(len(UTILITIES)))]
    prob = rng.dirichlet(np.ones(n), size=m)
    prob[:, -1] = 1.0 - prob[:, :-1].sum(axis=1)
    top = float(rng.choice([10.0, 50.0, 100.0]))
    spec = dict(actions=[f"a{i}" for i in range(m)], cost=np.sort(rng.uniform(0.0, 2.0, m)).tolist(),
                outcomes=np.sort(rng.uniform(0.0, top, n)).tolist(), prob=prob.tolist(), utility=utility)
    if utility == "cara":
        r = float(np.exp(rng.uniform(np.log(0.05), np.log(5.0))))
        spec["risk_aversion"] = r
        spec["reservation"] = float(rng.uniform(-2.0, 0.8) / r)
    elif utility == "log":
        spec["reservation"] = float(rng.uniform(-1.0, 2.0))
    else:
        spec["reservation"] = float(rng.uniform(0.0, 2.0))
    if rng.uniform() < (0.7 if utility == "linear" else 0.3):
        spec["min_pay"] = 0.0
    return MoralHazard(**spec)


def solve_all(mh: MoralHazard) -> dict:
    out = {}
    for m in mh.methods():
        if m.applies(mh) is not None:
            continue
        try:
            out[m.name] = mh.solve(m.name)
        except MethodNotApplicable:
            continue
    return out


def wrong_optima(results: dict) -> list[str]:
    """Every claim of a global optimum that another method's feasible answer beats."""
    bad = []
    for n1, r1 in results.items():
        if r1.status != "optimal" or r1.local:
            continue
        for n2, r2 in results.items():
            if n2 == n1 or r2.status != "optimal" or not r2.checks_ok:
                continue
            if r2.objective > r1.objective + 1e-6 * (1.0 + abs(r1.objective)):
                bad.append(f"{n1} claims {r1.objective:.10g} but {n2} finds {r2.objective:.10g} with passing checks")
    return bad


def check_instance(seed: int) -> None:
    mh = grossman_hart(seed)
    results = solve_all(mh)
    bad = wrong_optima(results)
    assert not bad, (seed, mh.spec, bad)
    for name, r in results.items():
        if r.status == "optimal" and not r.local:
            assert r.checks_ok, (seed, name, r.checks)
    if any(r.success for r in results.values()):
        auto = mh.solve()
        assert auto.success, (seed, auto.status, auto.message)


@pytest.mark.parametrize("seed", range(12))
def test_random_grossman_hart_instances(seed):
    check_instance(seed)


@pytest.mark.parametrize("seed", [1370, 1482])
def test_instances_where_a_dropped_action_was_called_optimal(seed):
    # Clarabel ended one action's exponential-cone program "optimal_inaccurate"; the action was
    # dropped and the best of the others reported as optimal (-20.19 instead of 7.974 for seed
    # 1370, 59.63 instead of 67.70 for seed 1482).  The rescaled program settles it now.
    mh = grossman_hart(seed)
    r, other = mh.solve("cvxpy"), mh.solve("scipy")
    assert r.success and other.success
    assert r.objective == pytest.approx(other.objective, abs=1e-9)
    check_instance(seed)


@pytest.mark.slow
def test_no_wrong_optimum_over_500_random_instances():
    for seed in range(1000, 1500):
        check_instance(seed)


# -- an unsettled subproblem: retried, bounded away, or the answer is not optimal ----------------------
def _cara_two_by_three(**changes):
    spec = dict(actions=["shirk", "work"], cost=[0.0, 0.4], outcomes=[0.0, 8.0, 20.0],
                prob=[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]], utility="cara", risk_aversion=0.8, reservation=0.2)
    spec.update(changes)
    return MoralHazard(**spec)


def _failing(monkeypatch, action_name, rungs=("direct", "rescaled", "newton")):
    """Make cvxpy's solves of `action_name`'s program end not_solved on the given rungs."""
    from ital_opt.moral_hazard import formulations as fm

    original = fm.CvxpyContracts.contract

    def contract(self, problem, a, **options):
        if problem.actions[a] != action_name:
            return original(self, problem, a, **options)
        import ital_opt.backends as backends

        real = backends.solve_cvxpy

        def broken(prog, solver=None, verbose=False, *, rung=None, **opts):
            if (rung or "direct") in rungs:
                return "not_solved", "cvxpy/CLARABEL"
            return real(prog, solver, verbose, rung=rung, **opts)

        monkeypatch.setattr(backends, "solve_cvxpy", broken)
        try:
            return original(self, problem, a, **options)
        finally:
            monkeypatch.setattr(backends, "solve_cvxpy", real)

    monkeypatch.setattr(fm.CvxpyContracts, "contract", contract)


def test_the_best_action_unsolved_means_not_solved_and_auto_falls_back(monkeypatch):
    mh = _cara_two_by_three()
    truth = mh.solve("scipy")
    assert truth.success and truth.extras["action"] == "work"
    _failing(monkeypatch, "work")
    r = mh.solve("cvxpy")
    # the best of the remaining actions ("shirk") is not called optimal
    assert r.status == "not_solved" and "'work'" in r.message
    auto = mh.solve()
    assert auto.success and auto.method.startswith("scipy")
    assert "cvxpy ended not_solved" in auto.message
    assert auto.objective == pytest.approx(truth.objective, abs=1e-9)


def test_a_failed_rung_is_retried(monkeypatch):
    mh = _cara_two_by_three()
    want = mh.solve("cvxpy")
    _failing(monkeypatch, "work", rungs=("direct",))
    r = mh.solve("cvxpy")
    assert r.success and r.method.endswith("+rescaled") and "needed a retry" in r.message
    assert r.objective == pytest.approx(want.objective, abs=1e-9)
    monkeypatch.undo()
    _failing(monkeypatch, "work", rungs=("direct", "rescaled"))
    r = mh.solve("cvxpy")
    assert r.success and r.method.endswith("+newton")
    assert r.objective == pytest.approx(want.objective, abs=1e-9)


def test_an_unsolved_action_out_of_the_running_by_the_first_best_bound(monkeypatch):
    # "dud" costs the same as "work" and almost never succeeds: even its first-best net value
    # 0.05*20 + ... - h(R + c) is below what "work" earns, so it need not be solved
    mh = _cara_two_by_three(actions=["shirk", "work", "dud"], cost=[0.0, 0.4, 0.4],
                            prob=[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    want = mh.solve("cvxpy")
    _failing(monkeypatch, "dud")
    r = mh.solve("cvxpy")
    assert r.success and r.objective == pytest.approx(want.objective, abs=1e-9)
    assert "out of the running" in r.message and "'dud'" in r.message
    row = next(t for t in r.extras["implementation"] if t["action"] == "dud")
    assert row["status"] == "not_solved" and row["net_value_bound"] < r.objective
