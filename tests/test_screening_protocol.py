"""Screening in the kind protocol: formulations as objects, solving options, the parametric hook,
figures, and the one expression language (numpy, cvxpy, pyomo and sympy agree)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt.errors import OptionError, SpecError
from ital_opt.expr import from_sympy, parse

MUSSA_ROSEN = {"kind": "screening", "theta": [1.0, 1.5, 2.0], "prob": [0.3, 0.4, 0.3],
               "agent": "theta*q", "principal": "-q**2/2"}


def test_formulations_build_the_models():
    import cvxpy as cp
    import pyomo.environ as pyo

    problem = ital_opt.load(MUSSA_ROSEN)
    assert isinstance(problem.formulation("cvxpy").build(), cp.Problem)
    assert isinstance(problem.formulation("cvxpy-local").build(), cp.Problem)
    assert isinstance(problem.formulation("pyomo").build(), pyo.ConcreteModel)
    model = problem.formulation("cvxpy-local").build()
    model.solve(solver="CLARABEL")
    recovered = problem.formulation("cvxpy-local").recover(model)
    closed = problem.solve("closed-form")
    # Mussa–Rosen by hand: ν_k = θ_k − (P⁺_k/p_k)·0.5 with P⁺ = (0.7, 0.3, 0) is (−1/6, 1.125, 2),
    # and q = max(0, ν) (no ironing: ν is increasing)
    assert np.allclose(closed.rows["q"], [0.0, 1.125, 2.0])
    assert np.allclose(recovered.rows["q"], closed.rows["q"], atol=1e-7)


def test_every_method_declares_solvers_and_options():
    problem = ital_opt.load(MUSSA_ROSEN)
    for m in problem.methods():
        assert isinstance(m.solvers, tuple)
        assert m.options is None or isinstance(m.options, frozenset)


def test_solver_options_reach_the_backend_and_the_rung_is_recorded():
    problem = ital_opt.load(MUSSA_ROSEN)
    res = problem.solve("cvxpy", max_iter=200)
    assert res.solver["rung"] == "tight" and res.solver["options"]["max_iter"] == 200
    with pytest.raises(OptionError, match="not_a_clarabel_option"):
        problem.solve("cvxpy", not_a_clarabel_option=1)
    with pytest.raises(OptionError):
        problem.solve("closed-form", max_iter=3)


def test_parametric_hook_reports_the_method_and_matches_solve():
    problem = ital_opt.load(MUSSA_ROSEN)
    point = problem.parametric(["prob[0]", "prob[2]"], "cvxpy")
    out = point({"prob[0]": 0.2, "prob[2]": 0.4})
    assert out.method == "cvxpy/CLARABEL" and out.status == "optimal"
    direct = problem.replace(**{"prob[0]": 0.2, "prob[2]": 0.4}).solve("closed-form")
    assert math.isclose(out.objective, direct.objective, rel_tol=1e-7)
    assert problem.parametric(["prob[0]"], "pyomo") is None


def test_figures_through_the_hook():
    problem = ital_opt.load(MUSSA_ROSEN)
    figs = problem.figures(problem.solve())
    assert len(figs) == 1 and figs[0][1].axes


# -- one expression language: numpy, cvxpy, pyomo and sympy agree ---------------------------------
_LEAVES = st.one_of(st.sampled_from(["x", "y"]), st.integers(1, 5).map(str), st.sampled_from(["0.5", "2.5"]))


def _compose(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    power = st.tuples(children, st.sampled_from(["2", "3", "0.5", "-1"])).map(lambda t: f"({t[0]})**{t[1]}")
    call = st.tuples(st.sampled_from(["sqrt", "log", "exp", "abs", "square"]), children).map(lambda t: f"{t[0]}({t[1]})")
    neg = children.map(lambda c: f"-({c})")
    return st.one_of(binary, power, call, neg)


EXPRESSIONS = st.recursive(_LEAVES, _compose, max_leaves=6)


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=EXPRESSIONS, x=st.floats(0.1, 3.0), y=st.floats(-2.0, 2.0).filter(lambda v: v == 0 or abs(v) > 1e-6))
def test_the_four_back_ends_agree(text, x, y):
    import cvxpy as cp
    import pyomo.environ as pyo
    import sympy

    try:
        e = parse(text, {"x", "y"})
    except SpecError:  # a constant part that is not a finite real number (log(1 - 1)) is refused at parse time
        assume(False)
    with np.errstate(all="ignore"):
        ref = float(e.numpy(x=x, y=y))
    assume(math.isfinite(ref) and abs(ref) < 1e12)
    # cvxpy: atoms of constants, evaluated
    try:
        val = e.cvxpy(x=cp.Constant(x), y=cp.Constant(y))
        got = float(np.asarray(val.value if hasattr(val, "value") else val))
    except (ValueError, TypeError, ArithmeticError, cp.error.DCPError):
        got = None  # an operation cvxpy does not offer on these arguments (x**y, ...)
    if got is not None and math.isfinite(got):
        assert _close(got, ref), (text, got, ref)
    # pyomo: an expression in two variables, evaluated
    m = pyo.ConcreteModel()
    m.x, m.y = pyo.Var(initialize=x), pyo.Var(initialize=y)
    try:
        got = float(pyo.value(e.pyomo(x=m.x, y=m.y)))
    except (ValueError, ArithmeticError):
        got = None
    if got is not None:
        assert _close(got, ref), (text, got, ref)
    # sympy, and back through from_sympy into the language
    X, Y = sympy.symbols("x y", real=True)
    sym = sympy.sympify(e.sympy(x=X, y=Y))
    value = complex(sympy.N(sym.subs({X: x, Y: y})))
    if abs(value.imag) < 1e-12:
        assert _close(value.real, ref), (text, value, ref)
    back = from_sympy(sym, ["x", "y"])
    with np.errstate(all="ignore"):
        again = float(back.numpy(x=x, y=y))
    assert _close(again, ref), (text, back.text, again, ref)


def test_from_sympy_refuses_what_the_language_lacks():
    import sympy

    x = sympy.Symbol("x", real=True)
    for bad in (sympy.sign(x), sympy.Piecewise((x, x > 0), (0, True)), sympy.I * x, sympy.sin(x)):
        with pytest.raises(ValueError, match="outside the expression language|not a finite real"):
            from_sympy(bad, ["x"])
    with pytest.raises(ValueError, match="unknown symbol"):
        from_sympy(x + sympy.Symbol("z"), ["x"])
    assert from_sympy(sympy.Abs(x) / 3, ["x"]).numpy(shape=(2,), x=np.array([-3.0, 6.0])).tolist() == [1.0, 2.0]


def test_numpy_shape_broadcasts_a_constant():
    assert parse("2", set()).numpy(shape=(3,)).tolist() == [2.0, 2.0, 2.0]
    assert np.isnan(parse("sqrt(x)", {"x"}).numpy(shape=(1,), x=-1.0)[0])
