"""The effort stage of the team (docs/theory/team.md, stage 2) and its independent certificate.

Given the sharing rule (α, β), member i chooses its inputs — effort e_i ≥ 0 and, with the
knowledge-sharing extension, knowledge sharing k_i ≥ 0 — to maximise V_i = CE_i + ω Σ_{j≠i} CE_j,
whose part that depends on member i's inputs is

    m_i f(e, k) − C_i(e_i) − K_i(k_i)

with m_i = β_i + ω(B − β_i), f the expected output (default Σ a_j e_j + Σ g_j k_j, or the spec's
`production` in e1..en and k1..kn), C_i the effort cost (default c_i e_i²/2, or the spec's `cost`
in e, c) and K_i the knowledge cost (default d_i k_i²/2, or `knowledge_cost` in k, d).  Without
knowledge inputs the k terms are absent.

* LEN (linear f, quadratic C and K): e_i = a_i m_i / c_i and k_i = g_i m_i / d_i
  (closed_form.efforts, closed_form.knowledge).
* General forms: the Nash equilibrium is the solution of every member's KKT conditions, for each
  input x ∈ {e, k} with its cost (C_i for e, K_i for k)
      m_i ∂f/∂x_i − C_i'(x_i) + ν_i = 0,   ν_i ≥ 0,   x_i ≥ 0,   ν_i x_i = 0,
  written as pyomo constraints (:func:`add_effort_stage`); the multiplier ν_i and the
  complementarity (smoothed Fischer–Burmeister, ν_i x_i = 1e-14) are added only for inputs
  whose bound can bind (C_i'(0) > 0); elsewhere stationarity alone is imposed (x_i = 0 then needs
  m_i ∂f/∂x_i = 0).
* Certificate: :func:`ital_opt.team.checks.deviation_gains` bounds every member's gain from
  its own best response (a certified global search), from the returned numbers and the model's
  primitives only, never the solver's multipliers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import closed_form

SMOOTHING = 1e-14  # τ in the smoothed complementarity ν_i x_i = τ


class Input(NamedTuple):
    """One input of every member: its variable in expressions, cost coefficient, marginal output
    (linear output), the spec field of its cost expression and the suffix of its KKT components
    in the pyomo model (``nu``, ``stationarity``, ``complementarity``)."""

    var: str
    coef: str
    slope: str
    cost: str
    suffix: str


EFFORT = Input("e", "c", "a", "cost", "")
KNOWLEDGE = Input("k", "d", "g", "knowledge_cost", "_k")


def inputs(team) -> tuple[Input, ...]:
    """The inputs each member chooses: effort, and knowledge sharing when the team has it."""
    return (EFFORT, KNOWLEDGE) if team.knowledge else (EFFORT,)


# -- numbers ------------------------------------------------------------------------------------
def _knowledge_or_none(team, e, k):
    """k as an array when the team has knowledge inputs (zeros if not given), else None."""
    if not team.knowledge:
        return None
    return np.zeros(np.shape(e)) if k is None else np.asarray(k, float)


def named_inputs(team, e, k=None):
    """The members' inputs by their names in ``production``: e1..en from `e` (and k1..kn from `k`),
    each a sequence over the members."""
    return {f"{var}{i + 1}": x[i] for var, x in (("e", e), ("k", k)) if x is not None for i in range(team.n)}


def output(team, e, k=None):
    """Expected output f(e, k) (e and k have members on their last axis)."""
    e = np.asarray(e, float)
    k = _knowledge_or_none(team, e, k)
    if team.production is None:
        return e @ team.a if k is None else e @ team.a + k @ team.g
    members_first = [None if x is None else np.moveaxis(x, -1, 0) for x in (e, k)]
    return team.production.numpy(shape=e.shape[:-1], **named_inputs(team, *members_first))


def input_costs(team, x, kind=EFFORT):
    """C_i(x_i) (effort) or K_i(x_i) (knowledge) of every member."""
    x = np.asarray(x, float)
    coef = getattr(team, kind.coef)
    expr = getattr(team, kind.cost)
    if expr is None:
        return coef * x * x / 2
    return expr.numpy(shape=np.broadcast(x, coef).shape, **{kind.var: x, kind.coef: coef})


def costs(team, e, k=None):
    """Each member's cost C_i(e_i), plus K_i(k_i) with knowledge inputs."""
    k = _knowledge_or_none(team, e, k)
    total = input_costs(team, e)
    return total if k is None else total + input_costs(team, k, KNOWLEDGE)


def certainty_equivalents(team, beta, e, k=None):
    """CE_i = α_i + β_i f(e, k) − C_i(e_i) − K_i(k_i) − ρ_i σ² β_i²/2."""
    beta = np.asarray(beta, float)
    return team.alpha + beta * output(team, e, k) - costs(team, e, k) - team.rho * team.sigma2 * beta**2 / 2


def total_welfare(team, beta, e, k=None):
    """Members' CE plus a budget breaker's expected income: f − ΣC − ΣK − Σ R β²/2."""
    beta = np.asarray(beta, float)
    return float(output(team, e, k) - costs(team, e, k).sum() - np.sum(team.rho * team.sigma2 * beta**2) / 2)


def len_response(team, beta, kind=EFFORT):
    """The LEN Nash input x_i = s_i m_i / coef_i: effort a_i m_i/c_i or knowledge g_i m_i/d_i."""
    slope, coef = getattr(team, kind.slope), getattr(team, kind.coef)
    return closed_form.efforts(slope, coef, beta, team.omega, team.budget_breaker)


# -- pyomo ------------------------------------------------------------------------------------------
def production_pyomo(team, E, K=None):
    """f(E, K) as a pyomo expression (K: the knowledge variables, for a team that has them)."""
    if team.production is None:
        f = sum(float(team.a[i]) * E[i] for i in range(team.n))
        return f if K is None else f + sum(float(team.g[i]) * K[i] for i in range(team.n))
    return team.production.pyomo(**named_inputs(team, E, K))


def cost_expression(team, x, coef, kind=EFFORT, form="pyomo"):
    """C(x) (or K(x) with ``kind=KNOWLEDGE``) at cost coefficient `coef` as a pyomo expression, or
    a sympy one with ``form="sympy"``."""
    expr = getattr(team, kind.cost)
    if expr is None:
        return coef * x**2 / 2
    return getattr(expr, form)(**{kind.var: x, kind.coef: coef})


def cost_pyomo(team, i, x, kind=EFFORT):
    """C_i(x) (or K_i(x) with ``kind=KNOWLEDGE``) as a pyomo expression."""
    return cost_expression(team, x, float(getattr(team, kind.coef)[i]), kind)


def bound_may_bind(team, kind=EFFORT) -> np.ndarray:
    """Members whose bound x_i ≥ 0 on the input can bind: marginal cost at 0 is positive."""
    if getattr(team, kind.cost) is None:
        return np.zeros(team.n, bool)
    h = 1e-7
    with np.errstate(all="ignore"):
        slope = (input_costs(team, np.full(team.n, h), kind) - input_costs(team, np.zeros(team.n), kind)) / h
    return ~(slope <= 1e-6)


def add_inputs(model, team):
    """Add every member's inputs, ``model.e`` (and ``model.k``), as non-negative variables;
    returns ({input: variable}, the expected output f as a pyomo expression)."""
    import pyomo.environ as pyo

    variables = {}
    for kind in inputs(team):
        variables[kind] = pyo.Var(range(team.n), domain=pyo.NonNegativeReals, initialize=1.0)
        model.add_component(kind.var, variables[kind])
    return variables, production_pyomo(team, model.e, variables.get(KNOWLEDGE))


def add_effort_stage(model, team, concern_expr):
    """Add efforts `model.e` (and knowledge `model.k`) and every member's KKT conditions given
    m_i = concern_expr(i).  Effort's components are named ``e, nu, stationarity,
    complementarity``; knowledge's the same with ``_k`` (``k, nu_k, ...``).  Returns the inputs
    and the expected output, as :func:`add_inputs`."""
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate

    n = team.n
    variables, f = add_inputs(model, team)
    wrt = [var[i] for var in variables.values() for i in range(n)]
    grad = differentiate(f, wrt_list=wrt, mode=Modes.reverse_symbolic)
    for j, (kind, var) in enumerate(variables.items()):
        _add_conditions(model, team, kind, var, grad[j * n : (j + 1) * n], concern_expr)
    return variables, f


def _add_conditions(model, team, kind, X, marginal, concern_expr):
    """Stationarity m_i ∂f/∂x_i − C_i'(x_i) + ν_i = 0 for one input, with ν_i and the smoothed
    complementarity only where the bound x_i ≥ 0 can bind."""
    import pyomo.environ as pyo
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate

    n = team.n
    suffix = kind.suffix
    marginal_cost = [differentiate(cost_pyomo(team, i, X[i], kind), wrt=X[i], mode=Modes.reverse_symbolic)
                     for i in range(n)]
    binds = [int(i) for i in np.flatnonzero(bound_may_bind(team, kind))]
    nu = pyo.Var(binds, domain=pyo.NonNegativeReals, initialize=0.0)
    model.add_component("nu" + suffix, nu)
    def stationarity(m, i):
        return concern_expr(i) * marginal[i] - marginal_cost[i] + (nu[i] if i in binds else 0) == 0

    model.add_component("stationarity" + suffix, pyo.Constraint(range(n), rule=stationarity))
    # ν_i x_i = 0 through the smoothed Fischer–Burmeister equation √(x² + ν² + 2τ) = x + ν, whose
    # solutions are exactly x, ν ≥ 0 with xν = τ: smooth, so an interior-point solver keeps its
    # constraint qualification where the plain product constraint xν ≤ 0 loses it
    model.add_component(
        "complementarity" + suffix,
        pyo.Constraint(binds, rule=lambda m, i: pyo.sqrt(X[i] ** 2 + nu[i] ** 2 + 2 * SMOOTHING) == X[i] + nu[i]),
    )
