"""Chapter 3 admission menu (docs/theory/admission.md): worked examples, closed form vs the convex form, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ital_opt
from ital_opt.admission import Admission
from ital_opt.admission import closed_form as cf
from ital_opt.errors import SpecError
from ital_opt.problem import verify

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_31 = dict(theta=[1.0, 1.5], prob=[0.6, 0.4], c=1.0, rho=2.0, sigma2=0.4, outside=[0.0, 0.0])


def _random_problem(rng, k, outside=0.0):
    theta = np.cumsum(rng.uniform(0.02, 0.5, k)) + rng.uniform(0.3, 1.0)
    prob = rng.dirichlet(np.full(k, 2.0))
    return Admission(theta=theta.tolist(), prob=prob.tolist(), c=float(rng.uniform(0.5, 2.0)),
                     rho=float(rng.uniform(0.0, 3.0)), sigma2=float(rng.uniform(0.0, 1.0)), outside=outside)


def _max_diff(a, b):
    return max(
        float(np.max(np.abs(a.rows[f].to_numpy() - b.rows[f].to_numpy())))
        for f in ("share", "transfer", "agent_utility")
    )


# -- worked examples (docs/theory/admission.md, examples 3-1 and 3-2) -------------------------------------------
@pytest.mark.parametrize("name", ["ch3_example_3_1.toml", "ch3_example_3_2.toml", *(
    pytest.param(n, marks=pytest.mark.slow)
    for n in ("ch3_ironing.toml", "ch3_risk_neutral.toml", "ch3_variant_cubic_cost.toml"))])
def test_bundled_examples_verify(name):
    report = verify(ital_opt.load(ROOT / "formulations" / name))
    assert report.ok, report.to_table()


def test_example_3_1_second_best_and_regime_table():
    p = Admission(**EXAMPLE_31)
    assert p.first_best() == pytest.approx([0.5556, 0.7377], abs=5e-5)
    table = {  # g: regime, beta_L, beta_H, t_L, t_H, payoff (docs/theory/admission.md)
        0.0: ("I", 0.37975, 0.73770, -0.01442, -0.30442, 0.445891),
        0.1: ("II", 0.40000, 0.73770, -0.01600, -0.29455, 0.445567),
        0.2: ("III", 0.55556, 0.73770, -0.03086, -0.19455, 0.418634),
        0.4: ("IV", 0.55556, 0.80000, -0.03086, -0.06400, 0.336267),
        0.8: ("IV", 0.55556, 1.00000, 0.14414, 0.07500, 0.031667),
    }
    for g, (regime, bl, bh, tl, th, payoff) in table.items():
        res = p.replace(**{"outside[1]": g}).solve()
        assert res.method == "closed-form" and res.success
        assert res.extras["regime"] == regime
        assert res.rows["share"].tolist() == pytest.approx([bl, bh], abs=5e-6)
        assert res.rows["transfer"].tolist() == pytest.approx([tl, th], abs=5e-6)
        assert res.objective == pytest.approx(payoff, abs=5e-7)
    assert p.solve().binding == ["IR_L", "IC_HL"]
    assert p.solve().rows["effort"].tolist() == pytest.approx([0.3797, 1.1066], abs=5e-5)


def test_example_3_1_json_output():
    out = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(ROOT / "formulations/ch3_example_3_1.toml"),
                          "--format", "json"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["kind"] == "admission" and data["regime"] == "I" and data["status"] == "optimal"
    assert {"theta", "prob", "share", "transfer", "effort", "agent_utility", "rent",
            "first_best_share"} <= set(data["rows"][0])
    assert data["objective"] == pytest.approx(0.445891, abs=5e-7)
    assert set(data["binding"]) == {"IR_L", "IC_HL"}


def test_prior_sensitivity():
    p = Admission(**EXAMPLE_31)
    want = {0.1: 0.51576, 0.2: 0.47337, 0.4: 0.37975, 0.6: 0.27211, 0.8: 0.14706}
    for ph, bl in want.items():
        assert p.replace(prob=[1 - ph, ph]).solve().rows["share"][0] == pytest.approx(bl, abs=5e-6)


# -- closed form against the numerical formulations ----------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, *(pytest.param(s, marks=pytest.mark.slow) for s in range(3, 20))])
def test_closed_form_matches_convex_form_random_k(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 51)) if seed else 50
    p = _random_problem(rng, k)
    a, b = p.solve("closed-form"), p.solve("cvxpy")
    assert a.success and b.success
    assert _max_diff(a, b) <= 1e-7
    assert abs(a.objective - b.objective) <= 1e-7
    assert b.checks["max_ic_violation"] <= 1e-7


@pytest.mark.parametrize("seed", [0, 1, 2, 3, *(pytest.param(s, marks=pytest.mark.slow) for s in range(4, 30))])
def test_two_type_regimes_match_convex_form(seed):
    rng = np.random.default_rng(100 + seed)
    p = _random_problem(rng, 2)
    bounds = cf.regime_bounds(p.prob, p.phi, p.r)
    g = float(rng.uniform(-0.1, 1.5 * bounds[2] + 0.2))
    p = p.replace(outside=[0.1, 0.1 + g])
    a, b = p.solve("closed-form"), p.solve("cvxpy")
    assert a.success and b.success, (a.checks, b.checks)
    assert _max_diff(a, b) <= 1e-7 and abs(a.objective - b.objective) <= 1e-7


def test_non_monotone_shares_are_ironed():
    # a rare middle type: the unironed shares fall from type 2 to type 3
    p = Admission(theta=[1.0, 1.1, 1.2, 2.0], prob=[0.3, 0.02, 0.38, 0.3], c=1.0, rho=2.0, sigma2=0.4)
    phi, r = p.phi, p.r
    assert cf.second_best(p.prob, phi, r, 0.0, iron=False) is None  # the plain formula declines
    a, b = p.solve("closed-form"), p.solve("cvxpy")
    assert a.extras["ironed"] and any({"2", "3"} <= set(g) for g in a.extras["pools"])
    assert a.rows["share"][1] == a.rows["share"][2]
    assert b.checks["max_ic_violation"] <= 1e-7
    assert _max_diff(a, b) <= 1e-7 and abs(a.objective - b.objective) <= 1e-7


def test_closed_form_declines_when_outside_options_rise_fast():
    p = Admission(theta=[1.0, 1.25, 1.5], prob=[0.3, 0.4, 0.3], c=1.0, rho=2.0, sigma2=0.4,
                  outside=[0.0, 0.2, 0.5])
    reasons = dict((m.name, why) for m, why in p.applicable())
    assert reasons["closed-form"] and "IR" in reasons["closed-form"]
    res = p.solve()
    assert res.method.startswith("cvxpy") and res.success
    assert res.checks["max_ic_violation"] <= 1e-7 and res.checks["max_ir_violation"] <= 1e-7


# -- bad input: exit code 2 and the field named ---------------------------------------------------
@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("c", -1.0, "positive"),
        ("rho", -2.0, "non-negative"),
        ("sigma2", -0.4, "non-negative"),
        ("prob", [0.6, 0.5], "sum to 1"),
        ("theta", [1.5, 1.0], "increasing"),
    ],
)
def test_bad_input_exit_code_2(tmp_path, capsys, field, value, fragment):
    from ital_opt.cli import main

    spec = dict(EXAMPLE_31, kind="admission")
    spec[field] = value
    path = tmp_path / "bad.toml"
    path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in spec.items()) + "\n")
    out = tmp_path / "out.json"
    assert main(["solve", str(path), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"'{field}'" in err and fragment in err and "bad.toml" in err
    assert not out.exists()
    with pytest.raises(SpecError) as exc:
        ital_opt.load(spec)
    assert exc.value.field == field


def test_bad_input_exit_code_2_via_python_m(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('kind = "admission"\ntheta = [1.0, 1.5]\nprob = [0.6, 0.4]\nc = -1.0\nrho = 2.0\nsigma2 = 0.4\n')
    out = subprocess.run([sys.executable, "-m", "ital_opt", "solve", str(path)], capture_output=True, text=True)
    assert out.returncode == 2 and "'c'" in out.stderr and "positive" in out.stderr


def test_bad_expressions_are_rejected():
    with pytest.raises(SpecError) as err:
        Admission(**EXAMPLE_31, cost="__import__('os')")
    assert err.value.field == "cost"
    with pytest.raises(SpecError) as err:
        Admission(**EXAMPLE_31, output="theta*x")
    assert err.value.field == "output"


# -- the general screening engine reaches the same menus -------------------------------------------
@pytest.mark.parametrize("seed", [1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 12))])
def test_screening_engine_matches_closed_form_random_k(seed):
    rng = np.random.default_rng(seed)
    p = _random_problem(rng, int(rng.integers(2, 51)))
    a, b = p.solve("closed-form"), p.solve("screening")
    assert b.success and b.method.startswith("screening/")
    assert _max_diff(a, b) <= 1e-7 and abs(a.objective - b.objective) <= 1e-7


@pytest.mark.parametrize("g", [0.1, pytest.param(0.2, marks=pytest.mark.slow), 0.4, pytest.param(0.8, marks=pytest.mark.slow)])
def test_screening_engine_matches_regimes(g):
    p = Admission(**EXAMPLE_31).replace(**{"outside[1]": g})
    a, b = p.solve("closed-form"), p.solve("screening")
    assert b.success and _max_diff(a, b) <= 1e-7 and abs(a.objective - b.objective) <= 1e-7


# -- the formulations as objects; options; pickling --------------------------------------------------------
def test_formulations_build_the_models_the_methods_solve():
    import cvxpy as cp
    import pyomo.environ as pyo

    from ital_opt.errors import OptionError

    problem = ital_opt.load("formulations/ch3_example_3_1.toml")
    model = problem.formulation("cvxpy-direct").build()
    assert isinstance(model, cp.Problem)
    model.solve(solver="CLARABEL")
    # the convex form's optimum is the alliance's payoff 0.445891 of example 3-1 (docs/theory/admission.md)
    assert model.value == pytest.approx(0.445891, abs=5e-7)
    assert problem.formulation("cvxpy-direct").recover(model).objective == pytest.approx(0.4458912637, abs=1e-9)
    nlp = problem.formulation("pyomo-direct").build()
    assert isinstance(nlp, pyo.ConcreteModel) and len(nlp.ic) == 2
    assert problem.formulation("screening").build().kind == "screening"
    with pytest.raises(OptionError):
        problem.solve("screening", tolerance=1)
    with pytest.raises(OptionError):
        problem.solve("closed-form", solver="CLARABEL")
    assert problem.solve("cvxpy-direct", solver="scs", polish_kkt=True).method == "cvxpy/SCS"


def test_problem_and_result_pickle():
    import pickle

    for path in ("formulations/ch3_example_3_1.toml", "formulations/ch3_variant_cubic_cost.toml"):
        problem = ital_opt.load(path)
        result = problem.solve()
        assert pickle.loads(pickle.dumps(result)).objective == result.objective
        assert pickle.loads(pickle.dumps(problem)).solve().objective == pytest.approx(result.objective, abs=1e-9)


def test_hostile_multistart_is_refused():
    from ital_opt.errors import OptionError

    problem = ital_opt.load("formulations/ch3_variant_cubic_cost.toml")
    with pytest.raises(OptionError) as info:
        problem.solve("pyomo-direct", multistart=10**8)
    assert info.value.field == "multistart" and "1,000" in str(info.value)


def test_the_all_pairs_programs_decline_many_types_and_build_sparse_rows():
    # n(n − 1) IC rows: built sparse, and the all-pairs programs leave large menus to the
    # closed form and the 'screening' method (which adds IC pairs as needed)
    from ital_opt.admission import formulations as adm

    n = adm.CVXPY_MAX_TYPES + 1
    big = Admission(theta=(1 + np.arange(n) / n).tolist(), prob=[1 / n] * n, c=1.0, rho=0.5, sigma2=0.2)
    reasons = {m.name: reason for m, reason in big.applicable()}
    assert f"at most {adm.CVXPY_MAX_TYPES} types" in reasons["cvxpy-direct"]
    assert f"at most {adm.PYOMO_MAX_TYPES} types" in reasons["pyomo-direct"]
    assert reasons["closed-form"] is None and reasons["screening"] is None
    small = Admission(theta=[1.0, 1.5, 2.5], prob=[0.2, 0.3, 0.5], c=1.0, rho=0.5, sigma2=0.2)
    A, b = adm.convex_constraints(small)
    x, u = np.array([0.1, 0.4, 0.9]), np.array([0.0, 0.2, 0.7])
    phi = small.phi
    ic = [u[k] - u[j] - (phi[k] - phi[j]) * x[j] for k in range(3) for j in range(3) if j != k]
    own = np.column_stack([u - small.outside, 1 - x, x]).ravel()
    np.testing.assert_allclose(A @ np.concatenate([x, u]) - b, np.concatenate([ic, own]), rtol=0, atol=1e-15)
