"""Closed forms of screening (docs/theory/screening.md): two types, and N types by virtual values with ironing.

Assumptions (checked by :func:`applies`; ``method="auto"`` uses the closed form only when they hold):
one-dimensional types and allocation; the agent's utility splits as a(θ)v(q) + c(q) + b(θ)
(single crossing: types are ordered by a(θ), increasing or decreasing in θ — a cost type
u = −θq is ordered from the highest cost up; types with equal a(θ) and b(θ) are one type);
one common outside option ū; the surplus S(V) = principal(θ, v⁻¹(V)) + c(v⁻¹(V)) does not
depend on θ and is *proven* concave ("a convex separable cost" K = −S: by cvxpy's DCP rules, or
exactly for a polynomial; never by sampling); rents rise in that order,
(a_{k+1} − a_k)·V_min + b_{k+1} − b_k ≥ 0, so IR binds only at the bottom.

Then local downward IC and IR_1 bind, U_k = ū + Σ_{j<k} (a_{j+1} − a_j) V_j + b_k − b_1, and the
principal, who values the agent's utility with weight α = ``rent_weight`` (Baron and Myerson 1982),
maximises Σ_k p_k [ν_k V_k − K(V_k)] over non-decreasing V with the *virtual value*

    ν_k = a_k − (1 − α)(P_k⁺ / p_k)(a_{k+1} − a_k),  P_k⁺ = Σ_{j>k} p_j.

Where ν is not monotone it is *ironed*: replaced by its prior-weighted isotonic regression (pool
adjacent violators), which is exact because the block optimum of Σ p_k [ν_k V − K(V)] depends on
the block only through Σ p_k ν_k.  Then V_k = argmax_V [ν̄_k V − K(V)] = (K')⁻¹(ν̄_k) clipped to
the domain.  Mussa–Rosen (agent θq, principal −q²/2): q_k = max(0, ν̄_k).  Two types is the case
N = 2: no distortion at the top, downward distortion of the low type, rent to the high type
(Laffont and Martimort 2002, ch. 2).  When the optimum is unbounded (S' tends to a limit that the
top virtual value exceeds, as for a linear principal without an upper bound on q) the status is
``unbounded``.  A fixed cost of serving a type (``fixed_cost``) makes exclusion a choice: the
served types form an upper set in the order of a(θ), and each upper set is solved in closed form
(Laffont and Martimort 2002, §2.6 "shutdown").
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .symbolic import compiled, values


def groups(problem):
    """The types in the order of a(θ) (the direction of single crossing), grouped where a(θ)
    coincides (types the agent's preferences cannot tell apart): (order, starts)."""
    a = problem.a[:, 0]
    order = np.argsort(a, kind="stable")
    starts = np.flatnonzero(np.concatenate([[True], np.diff(a[order]) > 0]))
    return order, starts


def applies(problem) -> str | None:
    """None when the closed form's assumptions hold, else the one that fails."""
    if problem.multi or problem.m != 1:
        return "types or allocations are multidimensional"
    sp_ = problem.split
    if sp_ is None:
        return f"agent utility {problem.agent.text!r} does not split as a(theta)*v(q) + c(q) + b(theta): {problem.split_reason}"
    if np.ptp(problem.outside) > 0:
        return "outside options depend on the type (countervailing incentives): use a formulation"
    order, starts = groups(problem)
    b = problem.b[order]
    if np.any(np.diff(b)[np.diff(problem.a[order, 0]) == 0] != 0):
        return f"types with equal a(theta) = {sp_.a[0]} have different b(theta): not one type"
    if sp_.terms is None:
        return sp_.terms_reason
    concave = problem.concavity_proof
    if concave is not None:
        return f"the principal's surplus is not proven concave: {concave}"
    if problem.marginal is None:
        return problem.marginal_reason
    vlo = sp_.v_bounds[0][0]
    if starts.size > 1:
        if not math.isfinite(vlo):
            return "the allocation's valuation is unbounded below, so rents need not rise with the type"
        rise = np.diff(problem.a[order[starts], 0]) * vlo + np.diff(b[starts])
        if np.any(rise < -1e-12):
            return "rents need not rise with the type (b(theta) falls faster than the valuation bound allows)"
    return None


def marginal_inverse(split):
    """(K')^{-1} as a vectorised function ν -> V, with K = −S; or (None, reason)."""
    S = split.surplus
    theta_set = set(split.theta)
    if S.free_symbols & theta_set:
        return None, f"the principal's surplus {S} depends on the type (not a separable cost)"
    V = split.V[0]
    lo, hi = split.v_bounds[0]
    dS = sp.diff(S, V)
    grid = _grid(lo, hi)
    try:
        curv = values(sp.diff(S, V, 2), [V], grid)
        dSf = compiled(dS, [V])
    except ValueError as exc:
        return None, f"the principal's surplus {S}: {exc}"
    if np.any(curv[np.isfinite(curv)] > 1e-12):
        return None, f"the principal's surplus {S} is not concave in V = {split.v[0]}"
    nu = sp.Symbol("nu", real=True)
    inverse = None
    try:
        sols = sp.solve(sp.Eq(dS, nu), V)
    except Exception:  # sympy raises many kinds when it cannot solve: bisection is used
        sols = []
    test = grid[1:-1]
    slopes = dSf.numpy(shape=test.shape, V=test)
    for sol in sols:
        try:
            f = compiled(sol, [nu])
            back = f.numpy(shape=slopes.shape, nu=slopes)
        except (ValueError, TypeError):
            continue
        ok = np.isfinite(slopes)
        if ok.sum() >= 3 and np.allclose(back[ok], test[ok], rtol=1e-8, atol=1e-10):
            inverse = f
            break

    s_lo = float(dSf.numpy(shape=(1,), V=lo)[0]) if math.isfinite(lo) else math.inf
    s_hi = float(dSf.numpy(shape=(1,), V=hi)[0]) if math.isfinite(hi) else -math.inf

    def marginal(nu_values):
        """argmax_V ν·V + S(V) for each ν: S'(V) = −ν at an interior optimum (by the inverse of S'
        found above, else by bisection); corners where the slope points outside."""
        target = -np.asarray(nu_values, dtype=float)
        out = inverse.numpy(shape=target.shape, nu=target) if inverse is not None else _bisect(dSf, target, lo, hi)
        out = np.where(s_lo <= target, lo, out) if math.isfinite(lo) else out
        out = np.where(s_hi >= target, hi, out) if math.isfinite(hi) else out
        return np.clip(np.nan_to_num(out, nan=lo if math.isfinite(lo) else 0.0), lo, hi)

    # slopes at the open ends: sup_V ν V + S(V) is unbounded when ν + S'(∞) > 0 (or ν + S'(−∞) < 0)
    top = _limit(dS, V, sp.oo) if not math.isfinite(hi) else None
    bottom = _limit(dS, V, -sp.oo) if not math.isfinite(lo) else None

    def unbounded(nu_values):
        nu_values = np.asarray(nu_values, dtype=float)
        out = np.zeros(nu_values.shape, dtype=bool)
        if top is not None:
            out |= nu_values + top > 0
        if bottom is not None:
            out |= nu_values + bottom < 0
        return out

    marginal.unbounded = unbounded
    return marginal, ""


def _limit(expr, V, where) -> float:
    """lim S'(V) at an open end, as a float (±inf included); NaN when sympy cannot tell."""
    try:
        value = sp.limit(expr, V, where)
        return float(value) if value.is_real or value in (sp.oo, -sp.oo) else math.nan
    except (TypeError, ValueError, NotImplementedError):
        return math.nan


def _grid(lo, hi):
    a = lo if math.isfinite(lo) else (hi - 20 if math.isfinite(hi) else -10.0)
    b = hi if math.isfinite(hi) else a + 20
    g = np.linspace(a, b, 81)
    return g[1:-1] if not (math.isfinite(lo) and math.isfinite(hi)) else g


def _bisect(dSf, target, lo, hi, iters=200):
    """V with S'(V) = target (S' decreasing), elementwise."""
    a = np.full(target.shape, lo if math.isfinite(lo) else -1.0)
    b = np.full(target.shape, hi if math.isfinite(hi) else 1.0)
    if not math.isfinite(lo):
        for _ in range(60):
            bad = dSf.numpy(shape=a.shape, V=a) < target
            if not bad.any():
                break
            a = np.where(bad, a * 2 - 1, a)
    if not math.isfinite(hi):
        for _ in range(60):
            bad = dSf.numpy(shape=b.shape, V=b) > target
            if not bad.any():
                break
            b = np.where(bad, b * 2 + 1, b)
    for _ in range(iters):
        mid = (a + b) / 2
        val = dSf.numpy(shape=mid.shape, V=mid)
        a = np.where(val > target, mid, a)
        b = np.where(val > target, b, mid)
        if np.all(b - a <= 1e-15 * (1 + np.abs(a))):
            break
    return (a + b) / 2


def virtual_values(a: np.ndarray, prob: np.ndarray, rent_cost: float = 1.0) -> np.ndarray:
    """ν_k = a_k − (1 − α)(P_k⁺/p_k)(a_{k+1} − a_k), ν_N = a_N; `rent_cost` is 1 − α."""
    upper = np.cumsum(prob[::-1])[::-1] - prob  # P_k^+
    da = np.append(np.diff(a), 0.0)
    return a - rent_cost * upper / prob * da


def iron(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Prior-weighted isotonic (non-decreasing) regression: pool adjacent violators."""
    if values.size <= 1 or np.all(np.diff(values) >= 0):
        return values.copy()
    from scipy.optimize import isotonic_regression

    return isotonic_regression(values, weights=weights, increasing=True).x


def solve_menu(problem):
    """(V, U, pooled, status) of the closed form, per type.

    Types are taken in the order of a(θ) and types with equal a(θ) as one (their probabilities
    added).  With a fixed cost F of serving a type (q > 0), the served types are an upper set in
    that order (single crossing); every upper set is tried (the excluded types get q = 0) and
    the best kept."""
    order, starts = groups(problem)
    counts = np.diff(np.append(starts, problem.n))
    a = problem.a[order[starts], 0]
    b = problem.b[order[starts]]
    p = np.add.reduceat(problem.prob[order], starts)
    nu = virtual_values(a, p, 1.0 - problem.rent_weight)
    lo = problem.split.v_bounds[0][0]
    first = range(a.size + 1) if problem.excludable else [0]
    best = None
    for k0 in first:  # types below k0 excluded (V = v(0) = lo)
        ironed = np.concatenate([np.full(k0, np.nan), iron(nu[k0:], p[k0:])])
        V = np.full(a.size, lo, dtype=float)
        V[k0:] = problem.marginal(ironed[k0:])
        status = "unbounded" if np.any(problem.marginal.unbounded(ironed[k0:])) else "optimal"
        # rents: U_1 = ū, U_{k+1} = U_k + (a_{k+1} − a_k) V_k + b_{k+1} − b_k
        U = problem.outside[0] + np.concatenate([[0.0], np.cumsum(np.diff(a) * V[:-1] + np.diff(b))])
        value = problem.menu_value(order[starts], V, U, p)
        if best is None or value > best[0]:
            best = (value, V, U, ironed, k0, status)
    _, V, U, ironed, k0, status = best
    pooled = bool(np.any(np.abs(ironed[k0:] - nu[k0:]) > 1e-12))
    Vt, Ut = np.empty(problem.n), np.empty(problem.n)
    Vt[order], Ut[order] = np.repeat(V, counts), np.repeat(U, counts)
    return Vt, Ut, pooled, status
