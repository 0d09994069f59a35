"""The effort stage of the team (BOOK.md §3, stage 2) and its independent certificate.

Given the sharing rule (α, β), member i chooses e_i ≥ 0 to maximise
V_i = CE_i + ω Σ_{j≠i} CE_j, whose part that depends on e_i is  m_i f(e) − C_i(e_i)  with
m_i = β_i + ω(B − β_i), f the expected output (default Σ a_j e_j, or the spec's `production`
in e1..en) and C_i the effort cost (default c_i e_i²/2, or the spec's `cost` in e, c).

* LEN (linear f, quadratic C): e_i = a_i m_i / c_i (closed_form.efforts).
* General forms: the Nash equilibrium is the solution of every member's KKT conditions
      m_i ∂f/∂e_i − C_i'(e_i) + ν_i = 0,   ν_i ≥ 0,   e_i ≥ 0,   ν_i e_i = 0,
  written as pyomo constraints (:func:`add_effort_stage`); the multiplier ν_i and the
  complementarity (smoothed Fischer–Burmeister, ν_i e_i = 1e-14) are added only for members
  whose bound can bind (C_i'(0) > 0); elsewhere stationarity alone is imposed (e_i = 0 then needs
  m_i ∂f/∂e_i = 0).
* Certificate (:func:`deviation_gains`): for every member separately, its best response to the
  others' efforts is computed by a one-dimensional search (a grid, then scipy's bounded Brent
  search around the best grid point; with linear output, where each member's objective depends
  on its own effort only, the same grid + golden-section search vectorised over members); the
  gain over the reported effort must be ≈ 0.  It uses
  only the returned numbers and the model's primitives, never the solver's multipliers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from . import closed_form

SMOOTHING = 1e-14  # τ in the smoothed complementarity ν_i e_i = τ


# -- numbers ------------------------------------------------------------------------------------
def output(team, e):
    """Expected output f(e) (e has members on its last axis)."""
    e = np.asarray(e, float)
    if team.production is None:
        return e @ team.a
    env = {f"e{i + 1}": e[..., i] for i in range(team.n)}
    return np.asarray(team.production.numpy(**env), float) * np.ones(e.shape[:-1])


def costs(team, e):
    """Each member's effort cost C_i(e_i)."""
    e = np.asarray(e, float)
    if team.cost is None:
        return team.c * e * e / 2
    return np.asarray(team.cost.numpy(e=e, c=team.c), float) * np.ones(e.shape)


def concern(team, beta):
    return closed_form.concern(beta, team.omega, team.budget_breaker)


def certainty_equivalents(team, beta, e):
    """CE_i = α_i + β_i f(e) − C_i(e_i) − ρ_i σ² β_i²/2."""
    beta = np.asarray(beta, float)
    return team.alpha + beta * output(team, e) - costs(team, e) - team.rho * team.sigma2 * beta**2 / 2


def total_welfare(team, beta, e):
    """Members' CE plus a budget breaker's expected income: f − ΣC − Σ R β²/2."""
    beta = np.asarray(beta, float)
    return float(output(team, e) - costs(team, e).sum() - np.sum(team.rho * team.sigma2 * beta**2) / 2)


def len_efforts(team, beta):
    return closed_form.efforts(team.a, team.c, beta, team.omega, team.budget_breaker)


# -- certificate ----------------------------------------------------------------------------------
def _member_value(team, i, m_i, e, x):
    """m_i f(x, e_{-i}) − C_i(x) for an array of candidate efforts x of member i."""
    x = np.atleast_1d(np.asarray(x, float))
    if team.production is None:
        f = float(team.a @ e) + team.a[i] * (x - e[i])
    else:
        trial = np.repeat(e[None, :], x.size, 0)
        trial[:, i] = x
        f = output(team, trial)
    if team.cost is None:
        cost = team.c[i] * x * x / 2
    else:
        cost = np.asarray(team.cost.numpy(e=x, c=team.c[i]), float) * np.ones(x.shape)
    return m_i * f - cost


GOLDEN = (np.sqrt(5.0) - 1) / 2


def _separable_values(team, m, x):
    """m_i a_i x_ik − C_i(x_ik) for candidate efforts x (members × candidates), linear output."""
    if team.cost is None:
        cost = team.c[:, None] * x * x / 2
    else:
        cost = np.asarray(team.cost.numpy(e=x, c=team.c[:, None]), float) * np.ones(x.shape)
    return (m * team.a)[:, None] * x - cost


def _separable_gains(team, m, e, grid):
    with np.errstate(all="ignore"):
        here = _separable_values(team, m, e[:, None])[:, 0]
    return np.maximum(0.0, separable_best(team, m, e, grid) - here)


def separable_best(team, m, e, grid=24):
    """Best-response values max_x m_i a_i x − C_i(x) of all members at once (linear output, so
    each V_i depends on e_i only): a grid over [0, U_i] (U_i widened while the best point is on
    the edge), then golden-section search in the two grid cells around the best point,
    vectorised over members.  `e` only sets the initial search range."""
    n = team.n
    m = np.broadcast_to(np.asarray(m, float), (n,))
    with np.errstate(all="ignore"):
        upper = 4.0 * np.maximum(e, 1.0)
        steps = np.linspace(0.0, 1.0, grid + 1)
        for _ in range(8):
            xs = upper[:, None] * steps
            vals = _separable_values(team, m, xs)
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
        f1, f2 = (_separable_values(team, m, x[:, None])[:, 0] for x in (x1, x2))
        for _ in range(90):  # the bracket shrinks by 0.618 per step: 90 steps reach 1e-19 of it
            left = f1 >= f2  # keep [lo, x2]
            hi = np.where(left, x2, hi)
            lo = np.where(left, lo, x1)
            x2n = np.where(left, x1, lo + GOLDEN * (hi - lo))
            x1n = np.where(left, hi - GOLDEN * (hi - lo), x2)
            fx = _separable_values(team, m, np.where(left, x1n, x2n)[:, None])[:, 0]
            f1, f2 = np.where(left, fx, f2), np.where(left, f1, fx)
            x1, x2 = x1n, x2n
        return np.fmax(best, np.fmax(f1, f2))


def deviation_gains(team, beta, e, grid=24):
    """Each member's gain from its own best response to the others' efforts (≥ 0)."""
    beta, e = np.asarray(beta, float), np.asarray(e, float)
    m = concern(team, beta)
    if team.production is None:
        return _separable_gains(team, m, e, grid)
    gains = np.zeros(team.n)
    with np.errstate(all="ignore"):
        for i in range(team.n):
            here = float(_member_value(team, i, m[i], e, e[i])[0])
            upper = 4.0 * max(e[i], 1.0)
            for _ in range(8):  # widen the bracket while the best point sits on its edge
                xs = np.linspace(0.0, upper, grid + 1)
                vals = _member_value(team, i, m[i], e, xs)
                vals = np.where(np.isfinite(vals), vals, -np.inf)
                k = int(np.argmax(vals))
                if k < grid:
                    break
                upper *= 4
            lo, hi = xs[max(k - 1, 0)], xs[min(k + 1, grid)]
            best = vals[k]
            res = minimize_scalar(
                lambda x: -float(_member_value(team, i, m[i], e, x)[0]),
                bounds=(lo, hi),
                method="bounded",
                options={"xatol": 1e-12 * max(1.0, hi)},
            )
            if np.isfinite(res.fun):
                best = max(best, -res.fun)
            gains[i] = max(0.0, best - here)
    return gains


# -- pyomo ------------------------------------------------------------------------------------------
def production_pyomo(team, E):
    if team.production is None:
        return sum(float(team.a[i]) * E[i] for i in range(team.n))
    return team.production.pyomo(**{f"e{i + 1}": E[i] for i in range(team.n)})


def cost_pyomo(team, i, x):
    if team.cost is None:
        return float(team.c[i]) * x**2 / 2
    return team.cost.pyomo(e=x, c=float(team.c[i]))


def bound_may_bind(team) -> np.ndarray:
    """Members whose effort bound e_i ≥ 0 can bind: marginal cost at 0 is positive."""
    if team.cost is None:
        return np.zeros(team.n, bool)
    h = 1e-7
    with np.errstate(all="ignore"):
        slope = (costs(team, np.full(team.n, h)) - costs(team, np.zeros(team.n))) / h
    return ~(slope <= 1e-6)


def add_effort_stage(model, team, concern_expr, start=None):
    """Add efforts `model.e` and every member's KKT conditions given m_i = concern_expr(i)."""
    import pyomo.environ as pyo
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate

    n = team.n
    init = np.ones(n) if start is None else np.maximum(np.asarray(start, float), 1e-3)
    model.e = pyo.Var(range(n), domain=pyo.NonNegativeReals, initialize=lambda m, i: float(init[i]))
    if team.production is None:
        marginal = [float(team.a[i]) for i in range(n)]
    else:
        f = production_pyomo(team, model.e)
        marginal = differentiate(f, wrt_list=[model.e[i] for i in range(n)], mode=Modes.reverse_symbolic)
    if team.cost is None:
        marginal_cost = [float(team.c[i]) * model.e[i] for i in range(n)]
    else:
        marginal_cost = [
            differentiate(cost_pyomo(team, i, model.e[i]), wrt=model.e[i], mode=Modes.reverse_symbolic)
            for i in range(n)
        ]
    binds = [int(i) for i in np.flatnonzero(bound_may_bind(team))]
    model.nu = pyo.Var(binds, domain=pyo.NonNegativeReals, initialize=0.0)
    model.stationarity = pyo.Constraint(
        range(n),
        rule=lambda m, i: concern_expr(i) * marginal[i] - marginal_cost[i] + (m.nu[i] if i in binds else 0) == 0,
    )
    # ν_i e_i = 0 through the smoothed Fischer–Burmeister equation √(e² + ν² + 2τ) = e + ν, whose
    # solutions are exactly e, ν ≥ 0 with eν = τ: smooth, so an interior-point solver keeps its
    # constraint qualification where the plain product constraint eν ≤ 0 loses it
    model.complementarity = pyo.Constraint(
        binds, rule=lambda m, i: pyo.sqrt(m.e[i] ** 2 + m.nu[i] ** 2 + 2 * SMOOTHING) == m.e[i] + m.nu[i]
    )
    return model
