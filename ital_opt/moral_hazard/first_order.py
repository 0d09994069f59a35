"""Continuous effort: the first-order approach and its pieces (Rogerson, 1985; docs/theory/moral_hazard.md).

The agent chooses effort e ∈ [e_lo, e_hi]; outcome j has probability p_j(e) and the cost is c(e).
The first-order approach (FOA) replaces the global incentive constraint
e ∈ argmax_e' Σ_j p_j(e') u(w_j) − c(e') by the agent's first-order condition at the target,

    Σ_j p_j'(e) v_j − c'(e) = 0      (≤ 0 at e_lo, ≥ 0 at e_hi),     v_j = u(w_j),

which leaves a convex program in utility space for each target e (built in :mod:`.formulations`);
the principal's best target maximises Σ_j p_j(e) x_j − Σ_j p_j(e) h(v_j) over e (a grid, then
bounded Brent refinement: :func:`best_target`).  The relaxed value is an upper bound on the true
optimum; it is the optimum when the FOA contract is globally incentive compatible, which is
*checked* (:mod:`.checks`), never assumed.  Rogerson's sufficient conditions, MLRP and a convex
distribution function (CDFC), are reported by :func:`rogerson_conditions`; a convex p_good(e)
with two outcomes (CDFC violated) is the textbook failure (Mirrlees, 1975/1999).

Holmström–Milgrom (1987): :func:`linear_contract` recomputes the optimal linear share numerically
from the agent's own optimisation (the closed form 1/(1 + ρcσ²) is in :mod:`.closed_form`).

Algorithms over arrays and callables; no problem objects, no solver objects.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .closed_form import holmstrom_milgrom_share

FOA_TOL = 1e-7


@dataclass
class FOAContract:
    """The cheapest contract implementing one target effort (under the FOA or a deviation grid)."""

    effort: float
    status: str
    pay: np.ndarray | None = None
    expected_pay: float = math.inf
    net_value: float = -math.inf
    multipliers: dict | None = None
    method: str = "cvxpy"

    def binding(self) -> list[str]:
        return [k for k, v in (self.multipliers or {}).items() if abs(v) > 1e-6]


def derivative(f: Callable[[float], float], e: float, lo: float, hi: float, h: float = 1e-6) -> float:
    """df/de by second-order differences, one-sided at the ends of [lo, hi]."""
    step = h * (1.0 + abs(e))
    if e - step < lo:
        return (-3 * f(e) + 4 * f(e + step) - f(e + 2 * step)) / (2 * step)
    if e + step > hi:
        return (3 * f(e) - 4 * f(e - step) + f(e - 2 * step)) / (2 * step)
    return (f(e + step) - f(e - step)) / (2 * step)


def foc_sense(effort: float, lo: float, hi: float) -> str:
    """The agent's first-order condition at `effort`: ``"<="`` at e_lo, ``">="`` at e_hi, else ``"=="``."""
    if effort <= lo + 1e-12:
        return "<="
    if effort >= hi - 1e-12:
        return ">="
    return "=="


def best_target(contract_at: Callable[[float], FOAContract], lo: float, hi: float, targets: int,
                implement: float | None = None) -> tuple[FOAContract, list[FOAContract]]:
    """The target effort with the best net value: a grid of targets, then bounded Brent refinement."""
    from scipy.optimize import minimize_scalar

    if implement is not None:
        c = contract_at(implement)
        return c, [c]
    grid = np.linspace(lo, hi, targets)
    table = [contract_at(float(e)) for e in grid]
    values = np.array([c.net_value if c.status == "optimal" else -np.inf for c in table])
    if not np.any(np.isfinite(values)):
        return table[0], table
    k = int(np.argmax(values))
    best = table[k]
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    if b > a:
        at = functools.cache(contract_at)  # the refined point's contract is the one Brent evaluated

        def neg(e):
            c = at(float(e))
            return -c.net_value if c.status == "optimal" else np.inf

        res = minimize_scalar(neg, bounds=(a, b), method="bounded", options={"xatol": 1e-9})
        refined = at(float(res.x))
        if refined.status == "optimal" and refined.net_value > best.net_value:
            best = refined
    return best, table


def rogerson_conditions(probs: np.ndarray, grid: np.ndarray) -> dict[str, bool]:
    """Rogerson's sufficient conditions for the FOA from p_j(e) on a grid (rows: efforts).

    MLRP: the likelihood ratio p_j'(e)/p_j(e) is non-decreasing in j; CDFC: each cumulative
    probability F_k(e) = Σ_{j≤k} p_j(e) is convex in e.  Together (with u concave) they make the
    FOA valid; the global check does not rely on them.
    """
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
