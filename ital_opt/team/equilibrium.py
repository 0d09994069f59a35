"""The effort stage of the team (BOOK.md §3, stage 2) and its independent certificate.

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
* Certificate (:func:`deviation_gains`): for every member separately, its best response to the
  others' inputs is computed by search, and the gain over the reported inputs must be ≈ 0.
  With linear output each V_i is separable — m_i a_i e_i − C_i(e_i) plus m_i g_i k_i − K_i(k_i) —
  so each input is searched in one dimension, vectorised over members (a grid, then golden-section
  search around the best grid point).  With a production expression the member's own inputs are
  searched jointly: one dimension without knowledge (a grid, then scipy's bounded Brent search
  around the best grid point), two with it (a grid over (e_i, k_i), then L-BFGS-B in the grid
  cells around the best point).  Every grid is widened while its best point sits on its outer
  edge.  The certificate uses only the returned numbers and the model's primitives, never the
  solver's multipliers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from . import closed_form

SMOOTHING = 1e-14  # τ in the smoothed complementarity ν_i x_i = τ


class Input(NamedTuple):
    """One input of every member: its variable in expressions, cost coefficient, marginal output
    (linear output), the spec field of its cost expression, its result column and the suffix of
    its KKT components in the pyomo model (``nu``, ``stationarity``, ``complementarity``)."""

    var: str
    coef: str
    slope: str
    cost: str
    column: str
    suffix: str


EFFORT = Input("e", "c", "a", "cost", "effort", "")
KNOWLEDGE = Input("k", "d", "g", "knowledge_cost", "knowledge", "_k")


def inputs(team) -> tuple[Input, ...]:
    """The inputs each member chooses: effort, and knowledge sharing when the team has it."""
    return (EFFORT, KNOWLEDGE) if team.knowledge else (EFFORT,)


# -- numbers ------------------------------------------------------------------------------------
def _knowledge_or_none(team, e, k):
    """k as an array when the team has knowledge inputs (zeros if not given), else None."""
    if not team.knowledge:
        return None
    return np.zeros(np.shape(e)) if k is None else np.asarray(k, float)


def output(team, e, k=None):
    """Expected output f(e, k) (e and k have members on their last axis)."""
    e = np.asarray(e, float)
    k = _knowledge_or_none(team, e, k)
    if team.production is None:
        return e @ team.a if k is None else e @ team.a + k @ team.g
    env = {f"e{i + 1}": e[..., i] for i in range(team.n)}
    if k is not None:
        env.update({f"k{i + 1}": k[..., i] for i in range(team.n)})
    return np.asarray(team.production.numpy(**env), float) * np.ones(e.shape[:-1])


def input_costs(team, x, kind=EFFORT, coef=None):
    """C_i(x_i) (effort) or K_i(x_i) (knowledge); `coef` replaces the members' c or d (to cost
    candidate arrays)."""
    x = np.asarray(x, float)
    coef = getattr(team, kind.coef) if coef is None else coef
    expr = getattr(team, kind.cost)
    if expr is None:
        return coef * x * x / 2
    return np.asarray(expr.numpy(**{kind.var: x, kind.coef: coef}), float) * np.ones(np.broadcast(x, coef).shape)


def costs(team, e, k=None):
    """Each member's cost C_i(e_i), plus K_i(k_i) with knowledge inputs."""
    k = _knowledge_or_none(team, e, k)
    total = input_costs(team, e)
    return total if k is None else total + input_costs(team, k, KNOWLEDGE)


def concern(team, beta):
    return closed_form.concern(beta, team.omega, team.budget_breaker)


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


def len_efforts(team, beta):
    return len_response(team, beta, EFFORT)


def len_knowledge(team, beta):
    """k_i = g_i m_i / d_i, or None for a team without knowledge inputs."""
    return len_response(team, beta, KNOWLEDGE) if team.knowledge else None


# -- certificate ----------------------------------------------------------------------------------
def _member_value(team, i, m_i, e, k, x, y=None):
    """m_i f − C_i(x) − K_i(y) for arrays of candidate inputs x (effort) and y (knowledge, when the
    team has it) of member i, the others' inputs fixed at e, k."""
    x = np.atleast_1d(np.asarray(x, float))
    trial = np.repeat(e[None, :], x.size, 0)
    trial[:, i] = x.ravel()
    cost = input_costs(team, x, EFFORT, team.c[i])
    trial_k = None
    if k is not None:
        y = np.broadcast_to(np.asarray(y, float), x.shape)
        trial_k = np.repeat(k[None, :], x.size, 0)
        trial_k[:, i] = y.ravel()
        cost = cost + input_costs(team, y, KNOWLEDGE, team.d[i])
    return m_i * output(team, trial, trial_k).reshape(x.shape) - cost


GOLDEN = (np.sqrt(5.0) - 1) / 2


def _separable_values(team, m, x, kind=EFFORT):
    """m_i s_i x_ik − C_i(x_ik) for candidate inputs x (members × candidates), linear output
    (s = a, C the effort cost; or s = g, C = K for knowledge)."""
    slope = m * getattr(team, kind.slope)
    return slope[:, None] * x - input_costs(team, x, kind, getattr(team, kind.coef)[:, None])


def _separable_gains(team, m, x, kind, grid):
    with np.errstate(all="ignore"):
        here = _separable_values(team, m, x[:, None], kind)[:, 0]
    return np.maximum(0.0, separable_best(team, m, x, grid, kind) - here)


def separable_best(team, m, e, grid=24, kind=EFFORT):
    """Best-response values max_x m_i a_i x − C_i(x) of all members at once (linear output, so
    each V_i depends on member i's own inputs only; with ``kind=KNOWLEDGE`` the same for
    m_i g_i x − K_i(x)): a grid over [0, U_i] (U_i widened while the best point is on the edge),
    then golden-section search in the two grid cells around the best point, vectorised over
    members.  `e` only sets the initial search range."""
    n = team.n
    m = np.broadcast_to(np.asarray(m, float), (n,))

    def values(x):
        return _separable_values(team, m, x, kind)

    with np.errstate(all="ignore"):
        upper = 4.0 * np.maximum(e, 1.0)
        steps = np.linspace(0.0, 1.0, grid + 1)
        for _ in range(8):
            xs = upper[:, None] * steps
            vals = values(xs)
            vals = np.where(np.isfinite(vals), vals, -np.inf)
            k = np.argmax(vals, 1)
            edge = k == grid
            if not edge.any():
                break
            upper = np.where(edge, upper * 4, upper)
        rows = np.arange(n)
        best = vals[rows, k]
        lo, hi = xs[rows, np.maximum(k - 1, 0)], xs[rows, np.minimum(k + 1, grid)]
        x1, x2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
        f1, f2 = (values(x[:, None])[:, 0] for x in (x1, x2))
        for _ in range(90):  # the bracket shrinks by 0.618 per step: 90 steps reach 1e-19 of it
            left = f1 >= f2  # keep [lo, x2]
            hi = np.where(left, x2, hi)
            lo = np.where(left, lo, x1)
            x2n = np.where(left, x1, lo + GOLDEN * (hi - lo))
            x1n = np.where(left, hi - GOLDEN * (hi - lo), x2)
            fx = values(np.where(left, x1n, x2n)[:, None])[:, 0]
            f1, f2 = np.where(left, fx, f2), np.where(left, f1, fx)
            x1, x2 = x1n, x2n
        return np.fmax(best, np.fmax(f1, f2))


def _own_best(value, x0, grid):
    """max over x ≥ 0 of value(x) (vectorised over candidate arrays): a grid widened while its best
    point is on the outer edge, then scipy's bounded Brent search in the two cells around it."""
    upper = 4.0 * max(x0, 1.0)
    for _ in range(8):  # widen the bracket while the best point sits on its edge
        xs = np.linspace(0.0, upper, grid + 1)
        vals = value(xs)
        vals = np.where(np.isfinite(vals), vals, -np.inf)
        k = int(np.argmax(vals))
        if k < grid:
            break
        upper *= 4
    lo, hi = xs[max(k - 1, 0)], xs[min(k + 1, grid)]
    best = vals[k]
    res = minimize_scalar(
        lambda x: -float(value(x)[0]),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-12 * max(1.0, hi)},
    )
    return max(best, -res.fun) if np.isfinite(res.fun) else best


def _joint_best(value, x0, y0, grid):
    """max over x, y ≥ 0 of value(x, y) (vectorised over candidate arrays): a (grid + 1)² grid whose
    ranges are widened while its best point is on an outer edge, then L-BFGS-B from the best grid
    point within the grid cells around it."""
    upper = np.array([4.0 * max(x0, 1.0), 4.0 * max(y0, 1.0)])
    steps = np.linspace(0.0, 1.0, grid + 1)
    for _ in range(8):
        xs, ys = upper[0] * steps, upper[1] * steps
        vals = value(xs[:, None], ys[None, :])
        vals = np.where(np.isfinite(vals), vals, -np.inf)
        p, q = np.unravel_index(int(np.argmax(vals)), vals.shape)
        edge = np.array([p == grid, q == grid])
        if not edge.any():
            break
        upper = np.where(edge, upper * 4, upper)
    best = vals[p, q]
    bounds = [(xs[max(p - 1, 0)], xs[min(p + 1, grid)]), (ys[max(q - 1, 0)], ys[min(q + 1, grid)])]
    res = minimize(
        lambda z: -float(value(np.array([z[0]]), np.array([z[1]]))[0]),
        np.array([xs[p], ys[q]]),
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500},
    )
    return max(best, -res.fun) if np.isfinite(res.fun) else best


def deviation_gains(team, beta, e, k=None, grid=24):
    """Each member's gain from its own best response (over all its inputs) to the others' inputs (≥ 0)."""
    beta, e = np.asarray(beta, float), np.asarray(e, float)
    k = _knowledge_or_none(team, e, k)
    m = concern(team, beta)
    if team.production is None:
        gains = _separable_gains(team, m, e, EFFORT, grid)
        return gains if k is None else gains + _separable_gains(team, m, k, KNOWLEDGE, grid)
    gains = np.zeros(team.n)
    with np.errstate(all="ignore"):
        for i in range(team.n):
            if k is None:
                here = float(_member_value(team, i, m[i], e, None, e[i])[0])
                best = _own_best(lambda x: _member_value(team, i, m[i], e, None, x), e[i], grid)
            else:
                here = float(_member_value(team, i, m[i], e, k, e[i], k[i])[0])
                best = _joint_best(
                    lambda x, y: _member_value(team, i, m[i], e, k, *np.broadcast_arrays(x, y)), e[i], k[i], grid
                )
            gains[i] = max(0.0, best - here)
    return gains


# -- pyomo ------------------------------------------------------------------------------------------
def production_pyomo(team, E, K=None):
    """f(E, K) as a pyomo expression (K: the knowledge variables, for a team that has them)."""
    if team.production is None:
        f = sum(float(team.a[i]) * E[i] for i in range(team.n))
        return f if K is None else f + sum(float(team.g[i]) * K[i] for i in range(team.n))
    env = {f"e{i + 1}": E[i] for i in range(team.n)}
    if K is not None:
        env.update({f"k{i + 1}": K[i] for i in range(team.n)})
    return team.production.pyomo(**env)


def cost_pyomo(team, i, x, kind=EFFORT):
    """C_i(x) (or K_i(x) with ``kind=KNOWLEDGE``) as a pyomo expression."""
    coef, expr = float(getattr(team, kind.coef)[i]), getattr(team, kind.cost)
    if expr is None:
        return coef * x**2 / 2
    return expr.pyomo(**{kind.var: x, kind.coef: coef})


def bound_may_bind(team, kind=EFFORT) -> np.ndarray:
    """Members whose bound x_i ≥ 0 on the input can bind: marginal cost at 0 is positive."""
    if getattr(team, kind.cost) is None:
        return np.zeros(team.n, bool)
    h = 1e-7
    with np.errstate(all="ignore"):
        slope = (input_costs(team, np.full(team.n, h), kind) - input_costs(team, np.zeros(team.n), kind)) / h
    return ~(slope <= 1e-6)


def add_effort_stage(model, team, concern_expr, start=None, start_knowledge=None):
    """Add efforts `model.e` (and knowledge `model.k`) and every member's KKT conditions given
    m_i = concern_expr(i).  Effort's components are named ``e, nu, stationarity,
    complementarity``; knowledge's the same with ``_k`` (``k, nu_k, ...``)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate

    n = team.n
    kinds = inputs(team)
    starts = {EFFORT: start, KNOWLEDGE: start_knowledge}
    variables = {}
    for kind in kinds:
        init = np.ones(n) if starts[kind] is None else np.maximum(np.asarray(starts[kind], float), 1e-3)
        var = pyo.Var(range(n), domain=pyo.NonNegativeReals, initialize=lambda m, i, init=init: float(init[i]))
        model.add_component(kind.var, var)
        variables[kind] = var
    if team.production is None:
        marginal = {kind: [float(getattr(team, kind.slope)[i]) for i in range(n)] for kind in kinds}
    else:
        f = production_pyomo(team, model.e, variables.get(KNOWLEDGE))
        wrt = [variables[kind][i] for kind in kinds for i in range(n)]
        grad = differentiate(f, wrt_list=wrt, mode=Modes.reverse_symbolic)
        marginal = {kind: grad[j * n : (j + 1) * n] for j, kind in enumerate(kinds)}
    for kind in kinds:
        _add_conditions(model, team, kind, variables[kind], marginal[kind], concern_expr)
    return model


def _add_conditions(model, team, kind, X, marginal, concern_expr):
    """Stationarity m_i ∂f/∂x_i − C_i'(x_i) + ν_i = 0 for one input, with ν_i and the smoothed
    complementarity only where the bound x_i ≥ 0 can bind."""
    import pyomo.environ as pyo
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate

    n = team.n
    suffix = kind.suffix
    if getattr(team, kind.cost) is None:
        marginal_cost = [float(getattr(team, kind.coef)[i]) * X[i] for i in range(n)]
    else:
        marginal_cost = [
            differentiate(cost_pyomo(team, i, X[i], kind), wrt=X[i], mode=Modes.reverse_symbolic) for i in range(n)
        ]
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
