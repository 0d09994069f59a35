"""Continuous effort: the first-order approach and its global check (Rogerson, 1985; BOOK.md §5).

The agent chooses effort e ∈ [e_lo, e_hi]; outcome j has probability p_j(e) (expressions in
``e`` summing to 1) and the cost is c(e).  The first-order approach (FOA) replaces the global
incentive constraint e ∈ argmax_e' Σ_j p_j(e') u(w_j) − c(e') by the agent's first-order
condition at the target effort,

    Σ_j p_j'(e) v_j − c'(e) = 0      (≤ 0 at e_lo, ≥ 0 at e_hi),     v_j = u(w_j),

which leaves a convex program in utility space for each target e (see :mod:`.contracts`);
the principal's best target maximises Σ_j p_j(e) x_j − Σ_j p_j(e) h(v_j) over e (a grid, then
bounded Brent refinement).  The relaxed value is an upper bound on the true optimum; it is the
optimum when the FOA contract is globally incentive compatible.  That is *checked*, never
assumed: the agent's payoff Σ_j p_j(e') u(w_j) − c(e') is evaluated on a fine grid of
deviations e' and the largest gain over the target is reported.  Rogerson's sufficient
conditions (MLRP and a convex distribution function) are not needed for the check; a
convex p_good(e) with two outcomes (CDFC violated) is the textbook failure.

Holmström–Milgrom (1987): output e + ε with ε ~ N(0, σ²), cost c e²/2, CARA ρ and a linear
contract α + βπ: the agent works e = β/c and the optimal share is β* = 1/(1 + ρcσ²).
:func:`linear_contract` recomputes it numerically from the agent's own optimisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..problem import Method
from ..result import Result
from ..spec import SpecReader

FOA_TOL = 1e-7


# -- reading the continuous-effort fields ------------------------------------------------------
def read_continuous(p, r: SpecReader) -> None:
    """Fields: effort = [lo, hi], outcomes, prob = [expr in e per outcome], cost = expr in e."""
    if r.has("actions"):
        raise r.error("actions", "give either discrete 'actions' or continuous 'effort', not both")
    bounds = r.vector("effort", 2, increasing=True)
    p.effort_bounds = (float(bounds[0]), float(bounds[1]))
    p.outcomes = r.vector("outcomes")
    n = p.outcomes.size
    p.outcome_names = r.strings("outcome_names", [f"x{j + 1}" for j in range(n)], n=n)
    raw = r.raw("prob")
    if not isinstance(raw, list) or len(raw) != n:
        raise r.error("prob", f"with continuous effort, expected {n} expressions in e (one per outcome), got {raw!r}")
    p.prob_expr = [_expr(r, f"prob[{i}]", raw[i]) for i in range(n)]
    p.cost_expr = r.expression("cost", ["e"])
    p.effort_grid = r.integer("effort_grid", 2001, lo=11)
    p.targets = r.integer("targets", 41, lo=3)
    p.implement = r.number("implement", None)
    p.fallback = r.boolean("fallback", True)
    lo, hi = p.effort_bounds
    if p.implement is not None and not lo <= p.implement <= hi:
        raise r.error("implement", f"must lie in effort = [{lo:g}, {hi:g}], got {p.implement:g}")
    grid = np.linspace(lo, hi, p.effort_grid)
    probs = prob_matrix(p, grid)
    if not np.all(np.isfinite(probs)):
        raise r.error("prob", f"an outcome probability is not finite for some effort in [{lo:g}, {hi:g}]")
    if np.any(probs < -1e-12):
        k, j = np.unravel_index(np.argmin(probs), probs.shape)
        raise r.error(f"prob[{j}]", f"is negative ({probs[k, j]:.3g}) at effort e = {grid[k]:.6g}")
    sums = probs.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-9):
        k = int(np.argmax(np.abs(sums - 1.0)))
        raise r.error("prob", f"the outcome probabilities must sum to 1 for every effort (within 1e-9); "
                              f"at e = {grid[k]:.6g} they sum to {sums[k]:.12g}")
    costs = cost_of(p, grid)
    if not np.all(np.isfinite(costs)):
        raise r.error("cost", f"is not finite for some effort in [{lo:g}, {hi:g}]")
    p.cost_scale = float(np.max(np.abs(costs)))
    p.actions = None
    # the best effort is found by Brent search on a flat maximum: accurate in value, not in location,
    # so verify compares the objective only
    p.compare = ()


def _expr(r: SpecReader, field: str, text):
    from ..expr import parse

    try:
        return parse(text, {"e"}, field=field, constants=r.params)
    except SpecError as exc:
        raise exc.located(r.source) from None


def _eval(expr, e):
    e = np.asarray(e, float)
    with np.errstate(all="ignore"):
        return np.asarray(expr.numpy(e=e), float) * np.ones_like(e)


def prob_matrix(p, efforts) -> np.ndarray:
    """p_j(e) for each effort (rows) and outcome (columns)."""
    return np.stack([_eval(x, efforts) for x in p.prob_expr], axis=-1)


def cost_of(p, efforts) -> np.ndarray:
    return _eval(p.cost_expr, efforts)


def _derivative(f, e, lo, hi, h=1e-6):
    """df/de by second-order differences, one-sided at the ends of [lo, hi]."""
    step = h * (1.0 + abs(e))
    if e - step < lo:
        return (-3 * f(e) + 4 * f(e + step) - f(e + 2 * step)) / (2 * step)
    if e + step > hi:
        return (3 * f(e) - 4 * f(e - step) + f(e - 2 * step)) / (2 * step)
    return (f(e + step) - f(e - step)) / (2 * step)


def _local_ic(p, effort, v):
    """The agent's first-order condition at `effort` as a cvxpy constraint (one-sided at the bounds)."""
    lo, hi = p.effort_bounds
    dp = np.array([_derivative(lambda x, ex=ex: float(_eval(ex, x)), effort, lo, hi) for ex in p.prob_expr])
    dc = _derivative(lambda x: float(cost_of(p, x)), effort, lo, hi)
    foc = dp @ v - dc
    if effort <= lo + 1e-12:
        return foc <= 0
    if effort >= hi - 1e-12:
        return foc >= 0
    return foc == 0


# -- the FOA contract for one target effort ------------------------------------------------------
@dataclass
class FOAContract:
    effort: float
    status: str
    pay: np.ndarray | None = None
    promised: np.ndarray | None = None
    expected_pay: float = math.inf
    net_value: float = -math.inf
    multipliers: dict | None = None
    method: str = "cvxpy"


def foa_contract(p, effort: float) -> FOAContract:
    """The cheapest contract meeting IR and the agent's first-order condition at `effort`."""
    return _cheapest_contract(p, effort, grid=None)


def agent_payoffs(p, pay, efforts) -> np.ndarray:
    """The agent's expected utility Σ_j p_j(e) u(w_j) − c(e) at each effort."""
    with np.errstate(all="ignore"):
        util = np.asarray(p.utility.u(np.asarray(pay, float)), float)
    return prob_matrix(p, efforts) @ util - cost_of(p, efforts)


def global_ic_gain(p, pay, effort, refine: int = 4) -> tuple[float, float]:
    """(largest gain of a deviation from `effort`, the best deviation).

    The agent's payoff is evaluated on a grid `refine` times finer than ``effort_grid`` (so the
    check does not reuse the grid of the 'grid' method's constraints) and the best point is
    polished by bounded Brent search between its neighbours.
    """
    from scipy.optimize import minimize_scalar

    lo, hi = p.effort_bounds
    grid = np.linspace(lo, hi, refine * (p.effort_grid - 1) + 1)
    vals = agent_payoffs(p, pay, grid)
    target = float(agent_payoffs(p, pay, np.array([effort]))[0])
    k = int(np.nanargmax(vals))
    best, where = float(vals[k]), float(grid[k])
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = minimize_scalar(lambda e: -float(agent_payoffs(p, pay, np.array([e]))[0]), bounds=(a, b),
                          method="bounded", options={"xatol": 1e-12})
    if -res.fun > best:
        best, where = float(-res.fun), float(res.x)
    return max(0.0, best - target), where


def first_order_approach(p) -> tuple[FOAContract, list[FOAContract]]:
    """Best target effort under the FOA: a grid of targets, then bounded Brent refinement."""
    return best_target(p, foa_contract)


def grid_contract(p, effort: float) -> FOAContract:
    """The cheapest contract implementing `effort` against every deviation on the effort grid.

    IR, the agent's first-order condition at `effort` (necessary for any interior optimum) and
    Σ_j (p_j(e) − p_j(d)) v_j ≥ c(e) − c(d) for each grid effort d: a convex program with
    `effort_grid` + 2 linear constraints.  It is tighter than the FOA and equals it when the FOA
    contract is globally incentive compatible.
    """
    lo, hi = p.effort_bounds
    return _cheapest_contract(p, effort, grid=np.linspace(lo, hi, p.effort_grid))


def _cheapest_contract(p, effort: float, grid: np.ndarray | None) -> FOAContract:
    """min E[u^-1(v)] in utility space v subject to IR, the first-order condition at `effort`,
    pay bounds, and (with `grid`) IC against every grid effort."""
    import cvxpy as cp

    from ..backends import solve_cvxpy

    u = p.utility
    pe = prob_matrix(p, np.array([effort]))[0]
    ce = float(cost_of(p, effort))
    v = cp.Variable(pe.size)
    ir = pe @ v - ce >= p.reservation
    local = _local_ic(p, effort, v)
    cons = [ir, local]
    if grid is not None:
        ic = (pe[None, :] - prob_matrix(p, grid)) @ v >= ce - cost_of(p, grid)
        cons.append(ic)
    v_lo = u.v_lower
    if p.min_pay is not None:
        v_lo = max(v_lo, float(u.u(np.array(p.min_pay))))
    if math.isfinite(v_lo):
        cons.append(v >= v_lo)
    if p.max_pay is not None:
        cons.append(v <= float(u.u(np.array(p.max_pay))))
    out = FOAContract(effort, "not_solved")
    if math.isfinite(u.v_upper) and p.reservation + ce >= u.v_upper:
        out.status = "infeasible"
        return out
    problem = cp.Problem(cp.Minimize(pe @ u.cvx_inverse(v)), cons)
    status, method = solve_cvxpy(problem)
    out.status, out.method = status, method
    if status != "optimal":
        return out
    out.promised = np.asarray(v.value, float)
    out.pay = np.asarray(u.inverse(out.promised), float)
    out.expected_pay = float(pe @ out.pay)
    out.net_value = float(pe @ p.outcomes) - out.expected_pay
    out.multipliers = {"IR": float(ir.dual_value), "FOC": float(np.asarray(local.dual_value).item())}
    if grid is not None:
        duals = np.asarray(ic.dual_value, float)
        for k in np.flatnonzero(duals > 1e-6 * (1 + duals.max(initial=0))):
            out.multipliers[f"IC[e={grid[k]:.6g}]"] = float(duals[k])
    return out


def best_target(p, contract_at) -> tuple[FOAContract, list[FOAContract]]:
    """The target effort with the best net value: a grid of targets, then bounded Brent refinement."""
    from scipy.optimize import minimize_scalar

    foa_contract = contract_at
    lo, hi = p.effort_bounds
    if p.implement is not None:
        c = foa_contract(p, p.implement)
        return c, [c]
    targets = np.linspace(lo, hi, p.targets)
    table = [foa_contract(p, e) for e in targets]
    values = np.array([c.net_value if c.status == "optimal" else -np.inf for c in table])
    if not np.any(np.isfinite(values)):
        return table[0], table
    k = int(np.argmax(values))
    best = table[k]
    a, b = targets[max(k - 1, 0)], targets[min(k + 1, len(targets) - 1)]
    if b > a:
        cache = {}

        def neg(e):
            c = foa_contract(p, float(e))
            cache[float(e)] = c
            return -c.net_value if c.status == "optimal" else np.inf

        res = minimize_scalar(neg, bounds=(a, b), method="bounded", options={"xatol": 1e-9})
        refined = cache.get(float(res.x)) or foa_contract(p, float(res.x))
        if refined.status == "optimal" and refined.net_value > best.net_value:
            best = refined
    return best, table


def rogerson_conditions(p, points: int = 201) -> dict[str, bool]:
    """Rogerson's sufficient conditions for the FOA, on a grid of efforts (outcomes in the given order).

    MLRP: the likelihood ratio p_j'(e)/p_j(e) is non-decreasing in j; CDFC: each cumulative
    probability F_k(e) = Σ_{j≤k} p_j(e) is convex in e.  Together (with u concave) they make the
    FOA valid; the global check does not rely on them.
    """
    lo, hi = p.effort_bounds
    grid = np.linspace(lo, hi, points)
    probs = prob_matrix(p, grid)
    dprob = np.gradient(probs, grid, axis=0)
    with np.errstate(all="ignore"):
        ratio = dprob / probs
    finite = np.isfinite(ratio)
    steps = np.diff(ratio, axis=1)
    mlrp = bool(np.all((steps >= -1e-7 * (1 + np.abs(ratio[:, :-1]))) | ~(finite[:, 1:] & finite[:, :-1])))
    cdf = np.cumsum(probs, axis=1)[:, :-1]
    second = cdf[2:] - 2 * cdf[1:-1] + cdf[:-2]
    cdfc = bool(np.all(second >= -1e-9))
    return {"mlrp": mlrp, "cdfc": cdfc}


# -- the kind's method and checks ----------------------------------------------------------------
def _foa_applies(p) -> str | None:
    if p.utility.cvx_inverse is None:
        return "the first-order approach needs a built-in utility (an expression has no DCP inverse)"
    return None


def _run_foa(p, **options) -> Result:
    best, table = first_order_approach(p)
    extras = {"targets": [{"effort": float(c.effort), "status": c.status,
                           "net_value": float(c.net_value) if c.status == "optimal" else None} for c in table]}
    if best.status != "optimal":
        return Result(status=best.status, method=best.method, extras=extras,
                      message="no target effort can be implemented under the first-order approach")
    pe = prob_matrix(p, np.array([best.effort]))[0]
    gain, deviation = global_ic_gain(p, best.pay, best.effort)
    scale = 1.0 + abs(p.reservation) + p.cost_scale
    valid = gain <= FOA_TOL * scale
    rows = pd.DataFrame({"outcome": p.outcome_names, "value": p.outcomes, "prob": pe, "pay": best.pay,
                         "utility": p.utility.u(best.pay)})
    extras = {
        "action": f"e={best.effort:.6g}",
        "effort": float(best.effort),
        "expected_pay": float(best.expected_pay),
        "expected_value": float(pe @ p.outcomes),
        "foa_valid": bool(valid),
        **rogerson_conditions(p),
        "best_deviation": deviation,
        "deviation_gain": gain,
        **extras,
    }
    if valid:
        message = f"first-order approach valid: no effort on a {p.effort_grid}-point grid gains more than {FOA_TOL:g}"
        return Result(status="optimal", method=f"first-order/{best.method}", objective=float(best.net_value),
                      rows=rows, extras=extras, binding=_binding_names(best), multipliers=best.multipliers or {},
                      message=message)
    message = (f"first-order approach FAILS: under its contract the agent prefers effort {deviation:.6g} to the "
               f"target {best.effort:.6g} (gain {gain:.6g}); the FOA value {best.net_value:.10g} is only an "
               "upper bound on the principal's optimum")
    extras["foa_objective"] = float(best.net_value)
    extras["foa_effort"] = float(best.effort)
    if not p.fallback:
        return Result(status="not_solved", method=f"first-order/{best.method}", objective=float(best.net_value),
                      rows=rows, extras=extras, binding=_binding_names(best), multipliers=best.multipliers or {},
                      message=message + " (fallback = false)")
    result = _run_grid(p)
    result.extras = {**result.extras, "foa_valid": False, "foa_objective": float(best.net_value),
                     "foa_effort": float(best.effort), "foa_deviation": deviation, "foa_deviation_gain": gain}
    result.method = "first-order→" + result.method
    result.message = message + "; answer from the global program on the deviation grid (method 'grid')"
    return result


def _binding_names(c: FOAContract) -> list[str]:
    return [k for k, v in (c.multipliers or {}).items() if abs(v) > 1e-6]


def _run_grid(p, **options) -> Result:
    best, table = best_target(p, grid_contract)
    if best.status != "optimal":
        return Result(status=best.status, method=f"grid/{best.method}",
                      message="no target effort can be implemented against the deviation grid")
    pe = prob_matrix(p, np.array([best.effort]))[0]
    rows = pd.DataFrame({"outcome": p.outcome_names, "value": p.outcomes, "prob": pe, "pay": best.pay,
                         "utility": p.utility.u(best.pay)})
    gain, deviation = global_ic_gain(p, best.pay, best.effort)
    extras = {
        "action": f"e={best.effort:.6g}",
        "effort": float(best.effort),
        "expected_pay": float(best.expected_pay),
        "expected_value": float(pe @ p.outcomes),
        "best_deviation": deviation,
        "deviation_gain": gain,
    }
    return Result(status="optimal", method=f"grid/{best.method}", objective=float(best.net_value), rows=rows,
                  extras=extras, binding=_binding_names(best), multipliers=best.multipliers or {},
                  message=f"globally incentive compatible against a {p.effort_grid}-point effort grid")


def continuous_methods() -> list[Method]:
    return [Method("first-order", _run_foa, _foa_applies), Method("grid", _run_grid, _foa_applies)]


def continuous_check(p, result: Result) -> dict[str, float]:
    """Global IC on the deviation grid, IR, limited liability and the objective, from the returned pays."""
    e = float(result.extras["effort"])
    pay = np.asarray(result.rows["pay"].tolist(), float)
    gain, _ = global_ic_gain(p, pay, e)
    agent = float(agent_payoffs(p, pay, np.array([e]))[0])
    out = {"max_ic_violation": gain, "max_ir_violation": max(0.0, p.reservation - agent)}
    if p.min_pay is not None:
        out["max_ll_violation"] = max(0.0, p.min_pay - float(np.min(pay)))
    pe = prob_matrix(p, np.array([e]))[0]
    out["objective_mismatch"] = abs(float(pe @ (p.outcomes - pay)) - float(result.objective))
    return out


# -- Holmström–Milgrom ------------------------------------------------------------------------------
def holmstrom_milgrom_share(rho: float, c: float, sigma2: float) -> float:
    """β* = 1/(1 + ρcσ²) for output e + ε, ε ~ N(0, σ²), cost c e²/2, CARA ρ."""
    return 1.0 / (1.0 + rho * c * sigma2)


def linear_contract(rho: float, c: float, sigma2: float, e_max: float | None = None) -> dict:
    """The optimal linear share recomputed numerically, with the agent's effort from his own problem.

    For each share β the agent maximises his certainty equivalent βe − c e²/2 (numerically, on
    [0, e_max], then checked against a grid); with IR binding the principal maximises the total
    certainty equivalent e − c e²/2 − ρσ²β²/2 over β ∈ [0, 1].
    """
    from scipy.optimize import minimize_scalar

    e_max = e_max if e_max is not None else 2.0 / c

    def effort(beta):
        res = minimize_scalar(lambda e: -(beta * e - c * e * e / 2), bounds=(0.0, e_max), method="bounded",
                              options={"xatol": 1e-12})
        return float(res.x)

    def surplus(beta):
        e = effort(beta)
        return e - c * e * e / 2 - rho * sigma2 * beta * beta / 2

    res = minimize_scalar(lambda b: -surplus(b), bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10})
    beta = float(res.x)
    e = effort(beta)
    grid = np.linspace(0.0, e_max, 20001)
    gain = float(np.max(beta * grid - c * grid**2 / 2) - (beta * e - c * e * e / 2))
    return {"share": beta, "share_closed_form": holmstrom_milgrom_share(rho, c, sigma2), "effort": e,
            "surplus": surplus(beta), "deviation_gain": max(0.0, gain)}
