"""Independent certificates for a moral-hazard contract, computed from the returned pays alone.

Discrete actions (Grossman and Hart, 1983): for the pays w_j meant to implement action a, the
agent's payoff from each action b is U_b = Σ_j p[b, j] u(w_j) − c_b, and

* ``max_ic_violation`` = max(0, max_{b ≠ a} U_b − U_a) — over *all* actions, not only those a
  solver had as constraints;
* ``max_ir_violation`` = max(0, R − U_a);
* ``max_ll_violation`` = max(0, w_min − min_j w_j) with limited liability, and
  ``max_pay_violation`` with a pay cap;
* ``objective_mismatch``: the principal's Σ_j p[a, j] (x_j − w_j) recomputed against the claim.

Continuous effort (Rogerson, 1985): the agent's payoff U(e') = Σ_j p_j(e') u(w_j) − c(e') is
evaluated on a fine grid of deviations e' ∈ [e_lo, e_hi] and the best point is refined by
zooming grids around it; ``max_ic_violation`` is the largest gain over the target effort.

No solver is imported here: these numbers judge the solvers.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np


def contract_violations(prob, cost, a, pay, utility_fn, reservation=0.0, min_pay=None) -> dict[str, float]:
    """IC (against every other action), IR and limited-liability violations of `pay` implementing `a`."""
    pay = np.asarray(pay, float)
    with np.errstate(all="ignore"):
        util = np.asarray(utility_fn(pay), float)
    if not np.all(np.isfinite(util)):
        return {"max_ic_violation": math.inf, "max_ir_violation": math.inf, "max_ll_violation": math.inf}
    payoff = prob @ util - cost
    best_other = float(np.max(np.delete(payoff, a), initial=-math.inf))
    return agent_violations(best_other - payoff[a], payoff[a], pay, reservation, min_pay)


def agent_violations(gain, agent, pay, reservation=0.0, min_pay=None) -> dict[str, float]:
    """IC (the best deviation's `gain`), IR (the `agent`'s payoff against R) and limited liability of `pay`."""
    out = {"max_ic_violation": float(max(0.0, gain)), "max_ir_violation": float(max(0.0, reservation - agent))}
    if min_pay is not None:
        out["max_ll_violation"] = float(max(0.0, float(min_pay) - float(np.min(pay))))
    return out


def discrete_checks(prob, cost, outcomes, a, pay, utility_fn, objective, reservation=0.0, min_pay=None,
                    max_pay=None) -> dict[str, float]:
    """:func:`contract_violations`, the pay cap and the objective recomputed from the pays."""
    pay = np.asarray(pay, float)
    out = contract_violations(prob, cost, a, pay, utility_fn, reservation, min_pay)
    if max_pay is not None:
        out["max_pay_violation"] = float(max(0.0, float(np.max(pay)) - max_pay))
    net = float(prob[a] @ (np.asarray(outcomes, float) - pay))
    out["objective_mismatch"] = abs(net - float(objective))
    return out


def grid_maximum(f: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, points: int,
                 zooms: int = 12, width: int = 41) -> tuple[float, float]:
    """(max f, argmax) over [lo, hi]: a grid of `points`, then `zooms` finer grids around the best point.

    f takes an array of points.  Exact for the grid; the zooms refine a smooth interior maximum to
    about (hi − lo)/points · (2/width)^zooms without any solver.
    """
    grid = np.linspace(lo, hi, points)
    best, where = -math.inf, None
    for _ in range(zooms + 1):
        vals = np.asarray(f(grid), float)
        k = int(np.nanargmax(vals))
        if where is None or vals[k] > best:
            best, where = float(vals[k]), float(grid[k])
        a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        if not b > a:
            break
        grid = np.linspace(a, b, width)  # the next grid: between the neighbours of this grid's best point
    return best, where


def deviation_gain(payoff: Callable[[np.ndarray], np.ndarray], effort: float, lo: float, hi: float,
                   points: int) -> tuple[float, float]:
    """(largest gain of a deviation from `effort`, the best deviation) for the agent's `payoff`(efforts)."""
    target = float(np.asarray(payoff(np.array([effort])), float)[0])
    best, where = grid_maximum(payoff, lo, hi, points)
    return max(0.0, best - target), where


def continuous_checks(payoff: Callable[[np.ndarray], np.ndarray], probs_at_effort, outcomes, pay, effort: float,
                      bounds: tuple[float, float], points: int, objective, reservation=0.0,
                      min_pay=None) -> dict[str, float]:
    """Global IC on a fine deviation grid, IR, limited liability and the objective, from the pays."""
    pay = np.asarray(pay, float)
    gain, _ = deviation_gain(payoff, effort, bounds[0], bounds[1], points)
    out = agent_violations(gain, float(np.asarray(payoff(np.array([effort])), float)[0]), pay, reservation, min_pay)
    out["objective_mismatch"] = abs(float(np.asarray(probs_at_effort) @ (np.asarray(outcomes) - pay)) - float(objective))
    return out
