"""Moral hazard (kind = "moral_hazard"): textbook answers, random instances against brute force, bad input.

Sources: Laffont and Martimort (2002) §4.3 for the 2x2 limited-liability bonus; Grossman and Hart
(1983) for the cost-minimising contract; Rogerson (1985) for the first-order approach;
Holmström and Milgrom (1987) for the linear share 1/(1 + ρcσ²).
"""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt import cli
from ital_opt.errors import MethodNotApplicable, SpecError
from ital_opt.moral_hazard.first_order import holmstrom_milgrom_share, linear_contract
from ital_opt.moral_hazard.model import MoralHazard

FORMULATIONS = Path(__file__).resolve().parents[1] / "formulations"
FEW = settings(max_examples=12, deadline=None)


# -- textbook cases ---------------------------------------------------------------------------------
def two_by_two(c_low=0.0, c_high=1.0, p_low=0.2, p_high=0.6, reservation=0.0, min_pay=0.0, value=10.0):
    return MoralHazard(actions=["shirk", "work"], cost=[c_low, c_high], outcomes=[0.0, value],
                       prob=[[1 - p_low, p_low], [1 - p_high, p_high]], reservation=reservation, min_pay=min_pay)


@FEW
@given(st.floats(0.05, 0.45), st.floats(0.1, 0.5), st.floats(0.1, 3.0))
def test_two_by_two_bonus_is_cost_difference_over_probability_difference(p_low, gap, dc):
    p_high = p_low + gap
    mh = two_by_two(c_high=dc, p_low=p_low, p_high=p_high, value=1e3).replace(implement="work")
    bonus = dc / gap
    for method in ("closed-form", "cvxpy", "scipy"):
        r = mh.solve(method)
        assert r.success, (method, r.checks)
        assert r.rows["pay"].tolist() == pytest.approx([0.0, bonus], abs=1e-7)
        assert r.extras["expected_pay"] == pytest.approx(p_high * bonus, abs=1e-7)
        assert "IC[shirk]" in r.binding
    assert mh.solve().method == "closed-form"


def test_two_by_two_multipliers_and_limited_liability_rent():
    r = two_by_two().solve("cvxpy")
    # IC multiplier p_H / (p_H - p_L) = 1.5; the limited-liability constraint on failure has multiplier 1
    assert r.multipliers["IC[shirk]"] == pytest.approx(1.5, abs=1e-7)
    assert r.multipliers["LL[x1]"] == pytest.approx(1.0, abs=1e-7)
    assert r.extras["agent_utility"] == pytest.approx(0.5, abs=1e-9)  # the limited-liability rent


def test_first_best_when_the_action_is_observable():
    # risk-neutral agent without binding limited liability: second best = first best (sell the firm)
    mh = two_by_two(reservation=2.0)
    r = mh.solve("cvxpy")
    assert r.objective == pytest.approx(r.extras["first_best_objective"], abs=1e-7) == pytest.approx(3.0)
    # only one action (nothing to hide): the first-best flat wage h(R + c), with any utility
    one = MoralHazard(actions=["work"], cost=[0.5], outcomes=[0.0, 4.0], prob=[[0.5, 0.5]], utility="sqrt",
                      reservation=1.0)
    r = one.solve("cvxpy")
    assert r.rows["pay"].tolist() == pytest.approx([2.25, 2.25], abs=1e-6)
    assert r.objective == pytest.approx(r.extras["first_best_objective"], abs=1e-6)
    assert r.extras["first_best_pay"] == pytest.approx(2.25)


def test_risk_averse_three_actions_binding_constraints_and_multipliers():
    mh = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml")
    for method in ("cvxpy", "scipy"):
        r = mh.solve(method)
        assert r.success
        assert r.extras["action"] == "high"
        assert set(r.binding) == {"IR", "IC[mid]"}
        assert r.multipliers["IR"] == pytest.approx(6.4, abs=1e-5)
        assert r.multipliers["IC[mid]"] == pytest.approx(2.4, abs=1e-5)
        assert r.multipliers["IC[low]"] == pytest.approx(0.0, abs=1e-6)
    assert r.extras["agency_cost"] == pytest.approx(0.84, abs=1e-6)


def test_bundled_formulations_verify():
    for name in ("mh_2x2_limited_liability", "mh_sqrt_three_actions"):
        report = ital_opt.verify(ital_opt.load(FORMULATIONS / f"{name}.toml"))
        assert report.ok, report.to_table()


# -- continuous effort --------------------------------------------------------------------------------
def test_first_order_approach_failure_is_detected():
    mh = ital_opt.load(FORMULATIONS / "mh_foa_fails.toml").replace(fallback=False, targets=5, effort_grid=201)
    r = mh.solve("first-order")
    assert r.status == "not_solved" and not r.extras["foa_valid"]
    assert "FAILS" in r.message
    # the agent prefers e = 0 under the FOA contract, gaining 1/6: the independent check says so too
    assert r.extras["best_deviation"] == pytest.approx(0.0)
    assert r.checks["max_ic_violation"] == pytest.approx(1 / 6, abs=1e-6)
    assert r.objective == pytest.approx(6.734375, abs=1e-7)  # an upper bound only
    assert r.extras["mlrp"] and not r.extras["cdfc"]  # Rogerson's CDFC fails: p_success = 0.1 + 0.8 e^3 is convex
    fixed = mh.replace(fallback=True).solve("first-order")
    assert fixed.success and fixed.objective == pytest.approx(6.71484375, abs=1e-7)
    assert fixed.extras["foa_valid"] is False


def test_first_order_approach_valid_case():
    mh = ital_opt.load(FORMULATIONS / "mh_foa_valid.toml").replace(targets=7, effort_grid=201)
    r = mh.solve("first-order")
    assert r.success and r.extras["foa_valid"]
    assert r.extras["mlrp"] and r.extras["cdfc"]
    assert r.checks["max_ic_violation"] <= 1e-9
    assert 0 < r.extras["effort"] < 1


@pytest.mark.parametrize("rho,c,sigma2", [(2.0, 1.0, 0.5), (1.0, 2.0, 0.25), (0.5, 1.5, 2.0), (3.0, 0.5, 0.1)])
def test_holmstrom_milgrom_linear_share(rho, c, sigma2):
    out = linear_contract(rho, c, sigma2)
    assert out["share_closed_form"] == pytest.approx(1 / (1 + rho * c * sigma2))
    assert out["share"] == pytest.approx(holmstrom_milgrom_share(rho, c, sigma2), abs=1e-6)
    assert out["effort"] == pytest.approx(out["share"] / c, abs=1e-6)
    assert out["deviation_gain"] <= 1e-9


# -- random instances against brute force ---------------------------------------------------------------
def constraints(mh, a):
    """G v >= g (IR, IC) for implementing a, in utility space."""
    p, c, R = mh.prob, mh.cost, mh.reservation
    rows = [p[a]] + [p[a] - p[b] for b in range(len(c)) if b != a]
    rhs = [R + c[a]] + [c[a] - c[b] for b in range(len(c)) if b != a]
    return np.array(rows), np.array(rhs)


def brute_force_cost(mh, a, v_lo, quadratic):
    """Minimise p_a·v (LP) or p_a·v² (QP) over G v ≥ g, v ≥ v_lo by enumerating active sets.

    For the LP every vertex (n active constraints); for the strictly convex QP the stationary
    point of each face (KKT system of its active constraints).  Returns inf when infeasible.
    """
    G, g = constraints(mh, a)
    n = G.shape[1]
    A = np.vstack([G, np.eye(n)])
    b = np.concatenate([g, np.full(n, v_lo)])
    pa = mh.prob[a]
    best = math.inf
    sizes = [n] if not quadratic else range(0, n + 1)
    for k in sizes:
        for S in itertools.combinations(range(len(b)), k):
            AS, bS = A[list(S)], b[list(S)]
            if quadratic:
                K = np.block([[2 * np.diag(pa), -AS.T], [AS, np.zeros((k, k))]])
                rhs = np.concatenate([np.zeros(n), bS])
            else:
                K, rhs = AS, bS
            if abs(np.linalg.det(K)) < 1e-12:
                continue
            v = np.linalg.solve(K, rhs)[:n]
            if np.all(A @ v >= b - 1e-9):
                best = min(best, float(pa @ (v**2 if quadratic else v)))
    return best


def random_instance(rng, m, n, utility):
    prob = rng.dirichlet(np.ones(n) * 2, size=m)
    prob = prob / prob.sum(axis=1, keepdims=True)
    prob[:, -1] = 1 - prob[:, :-1].sum(axis=1)
    cost = np.sort(rng.uniform(0, 2, m))
    outcomes = np.sort(rng.uniform(0, 20, n))
    spec = dict(actions=[f"a{i}" for i in range(m)], cost=cost.tolist(), outcomes=outcomes.tolist(),
                prob=prob.tolist(), utility=utility, reservation=float(rng.uniform(0, 2)))
    if utility == "linear":
        spec["min_pay"] = 0.0
    return MoralHazard(**spec)


@pytest.mark.parametrize("utility", ["linear", "sqrt"])
@pytest.mark.parametrize("seed", range(8))
def test_random_instances_satisfy_constraints_and_match_brute_force(seed, utility):
    rng = np.random.default_rng(1000 + seed)
    m, n = (3, 3) if seed % 2 else (2, 3)
    mh = random_instance(rng, m, n, utility)
    quadratic = utility == "sqrt"
    gross = mh.prob @ mh.outcomes
    brute = [brute_force_cost(mh, a, 0.0, quadratic) for a in range(m)]
    brute_net = max(gross[a] - brute[a] for a in range(m))
    for method in ("cvxpy", "scipy"):
        r = mh.solve(method)
        assert r.status == "optimal"
        assert r.checks["max_ic_violation"] <= 1e-7 and r.checks["max_ir_violation"] <= 1e-7, r.checks
        assert r.objective == pytest.approx(brute_net, abs=1e-6)
        for row in r.extras["implementation"]:
            a = mh.actions.index(row["action"])
            if math.isfinite(brute[a]):
                assert row["implementation_cost"] == pytest.approx(brute[a], abs=1e-6)
            else:
                assert row["status"] == "infeasible"


@pytest.mark.parametrize("utility,rho", [("log", None), ("cara", 0.3), ("crra", 0.5), ("crra", 2.0)])
def test_risk_averse_families_agree_across_methods(utility, rho):
    rng = np.random.default_rng(7)
    mh = random_instance(rng, 3, 3, "linear")
    spec = {k: v for k, v in mh.spec.items() if k not in ("kind", "min_pay")}
    spec.update(utility=utility, reservation=-1.0 if utility == "crra" and rho == 2.0 else 0.5)
    if rho is not None:
        spec["risk_aversion"] = rho
    mh = MoralHazard(**spec)
    a, b = mh.solve("cvxpy"), mh.solve("scipy")
    assert a.success and b.success, (a.checks, b.checks, a.message, b.message)
    assert a.objective == pytest.approx(b.objective, abs=1e-6)
    assert a.rows["pay"].tolist() == pytest.approx(b.rows["pay"].tolist(), rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("method", ["cvxpy", "scipy"])
def test_expression_utility_matches_builtin(method):
    base = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml")
    spec = {k: v for k, v in base.spec.items() if k not in ("kind", "expected")}
    expr = MoralHazard(**{**spec, "utility": "2*sqrt(w)"})
    crra = MoralHazard(**{**spec, "utility": "crra", "risk_aversion": 0.5})
    r, want = expr.solve(method), crra.solve("cvxpy")
    assert r.success, r.checks
    assert r.objective == pytest.approx(want.objective, abs=1e-6)
    assert r.rows["pay"].tolist() == pytest.approx(want.rows["pay"].tolist(), abs=1e-5)
    assert r.multipliers["IC[mid]"] == pytest.approx(want.multipliers["IC[mid]"], rel=1e-4)


def test_convex_expression_utility_is_refused_by_cvxpy_but_solved_locally():
    spec = dict(actions=["a", "b"], cost=[0.0, 1.0], outcomes=[0.0, 10.0], prob=[[0.7, 0.3], [0.3, 0.7]],
                utility="w**2")  # risk-loving: the program in utility space is not convex
    mh = MoralHazard(**spec)
    with pytest.raises(MethodNotApplicable, match="not concave"):
        mh.solve("cvxpy")
    r = mh.solve()
    assert r.method == "scipy/SLSQP" and r.local and r.success


def test_unreachable_reservation_is_infeasible():
    mh = MoralHazard(actions=["a"], cost=[1.0], outcomes=[0, 1], prob=[[0.5, 0.5]], utility="cara",
                     risk_aversion=1.0, reservation=0.5)  # u < 1/r = 1 but R + c = 1.5
    assert mh.solve("cvxpy").status == "infeasible"


# -- bad input ---------------------------------------------------------------------------------------
GOOD = dict(kind="moral_hazard", actions=["shirk", "work"], cost=[0.0, 1.0], outcomes=[0.0, 10.0],
            prob=[[0.8, 0.2], [0.4, 0.6]], utility="linear", min_pay=0.0)


def write_toml(path, spec):
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in spec.items()))  # TOML accepts these JSON values


@pytest.mark.parametrize(
    "change,field",
    [
        ({"prob": [[0.8, 0.2], [0.4, 0.5]]}, "prob[1]"),
        ({"cost": [0.0]}, "cost"),
        ({"utility": "w - w**2/20"}, "utility"),
        ({"utility": "sqrt(w"}, "utility"),
        ({"utility": "__import__('os')"}, "utility"),
        ({"utility": "cara"}, "risk_aversion"),
        ({"prob": [[0.8, 0.2]]}, "prob"),
        ({"implement": "sleep"}, "implement"),
        ({"utility": "sqrt", "min_pay": -1.0}, "min_pay"),
    ],
)
def test_bad_input_exits_2_naming_the_field(tmp_path, capsys, change, field):
    spec = tmp_path / "bad.toml"
    write_toml(spec, {**GOOD, **change})
    out = tmp_path / "out.json"
    code = cli.main(["solve", str(spec), "--format", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"field '{field}'" in err and str(spec) in err
    assert not out.exists()
    if "w**2" in str(change):
        assert "non-monotone utility" in err


def test_bad_continuous_input_names_the_field(tmp_path, capsys):
    spec = dict(kind="moral_hazard", effort=[0.0, 1.0], outcomes=[0.0, 1.0], prob=["1 - e/2", "e/3"], cost="e**2")
    path = tmp_path / "bad.toml"
    write_toml(path, spec)
    assert cli.main(["solve", str(path)]) == 2
    assert "field 'prob'" in capsys.readouterr().err


def test_non_monotone_utility_in_python_raises_spec_error():
    with pytest.raises(SpecError, match="non-monotone utility"):
        MoralHazard(actions=["a"], cost=[0], outcomes=[0, 1], prob=[[0.5, 0.5]], utility="-w")


def test_json_output_is_one_object(tmp_path, capsys):
    code = cli.main(["solve", str(FORMULATIONS / "mh_2x2_limited_liability.toml"), "--format", "json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["action"] == "work" and data["expected_pay"] == pytest.approx(1.5)
    assert [row["pay"] for row in data["rows"]] == pytest.approx([0.0, 2.5])


def test_pyomo_method_agrees_on_a_risk_averse_instance():
    mh = ital_opt.load(FORMULATIONS / "mh_sqrt_three_actions.toml").replace(implement="high")
    r = mh.solve("pyomo")
    assert r.success and r.local and r.method.startswith("pyomo/")
    assert r.objective == pytest.approx(6.92, abs=1e-6)
    assert r.rows["pay"].tolist() == pytest.approx([0.64, 7.84, 14.44], abs=1e-5)


@FEW
@given(st.floats(0.05, 0.45), st.floats(0.1, 0.5), st.floats(0.1, 3.0), st.floats(0.0, 3.0), st.floats(1.0, 30.0))
def test_two_by_two_closed_form_matches_the_lp_and_brute_force(p_low, gap, dc, reservation, value):
    mh = two_by_two(c_high=dc, p_low=p_low, p_high=p_low + gap, reservation=reservation, value=value)
    closed, lp = mh.solve("closed-form"), mh.solve("cvxpy")
    gross = mh.prob @ mh.outcomes
    brute = max(gross[a] - brute_force_cost(mh, a, 0.0, quadratic=False) for a in range(2))
    assert closed.success and lp.success
    assert closed.objective == pytest.approx(brute, abs=1e-7)
    assert lp.objective == pytest.approx(brute, abs=1e-7)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(2, 4), st.sampled_from(["linear", "sqrt"]), st.integers(0, 10**6))
def test_random_instances_against_brute_force_many(m, n, utility, seed):
    mh = random_instance(np.random.default_rng(seed), m, n, utility)
    gross = mh.prob @ mh.outcomes
    brute = max(gross[a] - brute_force_cost(mh, a, 0.0, utility == "sqrt") for a in range(m))
    for method in ("cvxpy", "scipy"):
        r = mh.solve(method)
        assert r.status == "optimal"
        assert r.checks["max_ic_violation"] <= 1e-7 and r.checks["max_ir_violation"] <= 1e-7
        assert r.objective == pytest.approx(brute, abs=1e-6)


@pytest.mark.slow
def test_bundled_continuous_formulations_verify():
    for name in ("mh_foa_fails", "mh_foa_valid"):
        report = ital_opt.verify(ital_opt.load(FORMULATIONS / f"{name}.toml"))
        assert report.ok, report.to_table()


def test_an_action_that_cannot_be_implemented_is_infeasible():
    # "idle" costs more than "shirk" and changes nothing: no contract makes the agent choose it
    mh = MoralHazard(actions=["shirk", "idle"], cost=[0.0, 1.0], outcomes=[0.0, 10.0],
                     prob=[[0.5, 0.5], [0.5, 0.5]], min_pay=0.0)
    for method in ("closed-form", "cvxpy", "scipy"):
        assert mh.replace(implement="idle").solve(method).status == "infeasible"
        r = mh.solve(method)
        assert r.success and r.extras["action"] == "shirk"
        table = {row["action"]: row for row in r.extras["implementation"]}
        assert table["idle"]["status"] == "infeasible"


def test_doctest_of_the_model():
    import doctest

    from ital_opt.moral_hazard import model

    assert doctest.testmod(model).failed == 0


@FEW
@given(st.sampled_from([("sqrt", None), ("log", None), ("cara", 0.5), ("crra", 0.5), ("linear", None)]),
       st.floats(0.05, 0.45), st.floats(0.1, 0.5), st.floats(0.1, 1.0), st.floats(0.5, 1.5),
       st.sampled_from([None, 0.5, 2.0]))
def test_two_by_two_closed_form_for_risk_averse_agents(family, p_low, gap, dc, reservation, min_pay):
    utility, rho = family
    spec = dict(actions=["shirk", "work"], cost=[0.0, dc], outcomes=[0.0, 20.0],
                prob=[[1 - p_low, p_low], [1 - p_low - gap, p_low + gap]], utility=utility,
                reservation=reservation if utility != "cara" else reservation / 4, implement="work")
    if rho is not None:
        spec["risk_aversion"] = rho
    if min_pay is not None:
        spec["min_pay"] = min_pay
    mh = MoralHazard(**spec)
    closed, numeric = mh.solve("closed-form"), mh.solve("cvxpy")
    assert closed.status == numeric.status
    if closed.status != "optimal":
        return
    assert closed.success, closed.checks
    assert closed.objective == pytest.approx(numeric.objective, abs=1e-6)
    if utility == "linear":
        return  # a risk-neutral agent's optimal contract (and its multipliers) need not be unique
    assert set(closed.binding) == set(numeric.binding)
    for name, value in closed.multipliers.items():
        assert numeric.multipliers[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name
