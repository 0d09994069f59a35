"""The agent's utility of money u(w), its inverse h = u⁻¹ and its domain (docs/theory/moral_hazard.md).

Built-in families (Laffont and Martimort, 2002, §4.4; Mas-Colell, Whinston and Green, 1995, §6.C):

* ``linear``: u = w (a risk-neutral agent);
* ``sqrt``: u = √w on w ≥ 0, h(v) = v²;
* ``log``: u = log w on w > 0, h(v) = e^v;
* ``cara``: u = (1 − e^{−rw})/r, bounded above by 1/r, h(v) = −log(1 − rv)/r;
* ``crra``: u = w^{1−γ}/(1−γ) (log at γ = 1), h(v) = ((1−γ)v)^{1/(1−γ)}.

An expression in ``w`` is a utility on a finite pay interval; its inverse is found by bisection and
its derivative by central differences.  Every h here is increasing, and convex when u is concave:
the cheapest contract in utility space v = u(w) is then a convex program.

Pure numpy: the solver forms of h (cvxpy, pyomo) are built in :mod:`.formulations`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

UTILITY_KINDS = ("linear", "sqrt", "log", "cara", "crra")


@dataclass(frozen=True)
class Utility:
    """The agent's utility of pay u(w), its inverse h = u⁻¹ and its domain.

    ``family`` is one of :data:`UTILITY_KINDS` or ``"expression"``; ``risk_aversion`` is r (CARA)
    or γ (CRRA).  ``lower``/``upper`` bound the pay domain; ``v_lower``/``v_upper`` are u there (or
    the supremum of u).  ``linear`` marks a risk-neutral agent; ``concave`` a concave u (a convex h).
    """

    name: str
    u: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    lower: float = -math.inf
    upper: float = math.inf
    v_lower: float = -math.inf
    v_upper: float = math.inf
    family: str = "expression"
    risk_aversion: float | None = None
    linear: bool = False
    concave: bool = True

    @property
    def builtin(self) -> bool:
        """A built-in family: h has a closed form (and a DCP form in cvxpy)."""
        return self.family != "expression"

    def inverse_derivative(self, v):
        """h'(v) = 1 / u'(h(v))."""
        return 1.0 / self.derivative(self.inverse(v))

    def floor(self, min_pay: float | None) -> float:
        """The lowest utility a contract may promise: u(w_min), or the bottom of u's range."""
        if min_pay is None:
            return self.v_lower
        with np.errstate(divide="ignore"):  # log(0) = -inf: no floor
            return max(self.v_lower, float(self.u(np.array(float(min_pay)))))

    def unreachable(self, level: float) -> bool:
        """``level`` at or above the supremum of u: no pay gives the agent that much utility."""
        return math.isfinite(self.v_upper) and level >= self.v_upper - 1e-12 * (1 + abs(self.v_upper))


def builtin_utility(name: str, risk_aversion: float | None = None) -> Utility:
    """``linear``, ``sqrt``, ``log``, ``cara`` (u = (1 − e^{−rw})/r) or ``crra`` (u = w^{1−γ}/(1−γ), log at γ = 1)."""
    if name == "linear":
        return Utility("linear", lambda w: np.asarray(w, float), lambda v: np.asarray(v, float),
                       lambda w: np.ones_like(np.asarray(w, float)), family="linear", linear=True)
    if name == "sqrt":
        return Utility("sqrt", lambda w: np.sqrt(np.maximum(w, 0.0)), lambda v: np.square(np.maximum(v, 0.0)),
                       lambda w: 0.5 / np.sqrt(np.maximum(w, 1e-300)), lower=0.0, v_lower=0.0, family="sqrt")
    if name == "log" or (name == "crra" and risk_aversion == 1.0):
        return Utility("log", lambda w: np.log(w), lambda v: np.exp(v), lambda w: 1.0 / np.asarray(w, float),
                       lower=0.0, family="log")
    if name == "cara":
        r = float(risk_aversion)
        return Utility(f"cara({r:g})", lambda w: -np.expm1(-r * np.asarray(w, float)) / r,
                       lambda v: -np.log1p(-r * np.asarray(v, float)) / r, lambda w: np.exp(-r * np.asarray(w, float)),
                       v_upper=1.0 / r, family="cara", risk_aversion=r)
    if name == "crra":
        g = float(risk_aversion)
        k = 1.0 - g
        if g < 1.0:
            return Utility(f"crra({g:g})", lambda w: np.power(np.maximum(w, 0.0), k) / k,
                           lambda v: np.power(np.maximum(k * np.asarray(v, float), 0.0), 1.0 / k),
                           lambda w: np.power(np.maximum(w, 1e-300), -g), lower=0.0, v_lower=0.0,
                           family="crra", risk_aversion=g)
        return Utility(f"crra({g:g})", lambda w: np.power(w, k) / k,
                       lambda v: np.power(k * np.asarray(v, float), 1.0 / k),
                       lambda w: np.power(np.asarray(w, float), -g), lower=0.0, v_upper=0.0,
                       family="crra", risk_aversion=g)
    raise ValueError(f"unknown utility {name!r}")


def expression_utility(func: Callable[[np.ndarray], np.ndarray], lower: float, upper: float,
                       text: str = "expression", grid: int = 4001) -> Utility:
    """A utility given as a function of pay on [lower, upper] (finite); the caller checks monotonicity.

    The inverse is computed by vectorised bisection; u' by central differences.
    """
    lo, hi = float(lower), float(upper)
    ws = np.linspace(lo, hi, grid)
    us = func(ws)
    second = np.diff(us, 2)
    scale = max(1.0, float(np.max(np.abs(us))))
    concave = bool(np.all(second <= 1e-9 * scale))
    linear = bool(np.all(np.abs(second) <= 1e-10 * scale))
    v_lo, v_hi = float(func(np.array(lo))), float(func(np.array(hi)))

    def inverse(v):
        v = np.asarray(v, float)
        a = np.full(v.shape, lo)
        b = np.full(v.shape, hi)
        for _ in range(200):
            mid = 0.5 * (a + b)
            below = func(mid) < v
            a = np.where(below, mid, a)
            b = np.where(below, b, mid)
            if np.all(b - a <= 1e-15 * (1.0 + np.abs(a))):
                break
        return 0.5 * (a + b)

    def derivative(w):
        w = np.asarray(w, float)
        step = 1e-6 * (1.0 + np.abs(w))
        left = np.maximum(w - step, lo)
        right = np.minimum(w + step, hi)
        return (func(right) - func(left)) / (right - left)

    return Utility(text, func, inverse, derivative, lower=lo, upper=hi, v_lower=v_lo, v_upper=v_hi,
                   linear=linear, concave=concave)


def monotone_on(func: Callable, lower: float, upper: float, grid: int = 4001) -> tuple[bool, float | None]:
    """Whether func is finite and strictly increasing on a grid of [lower, upper]; else a bad point."""
    ws = np.linspace(lower, upper, grid)
    with np.errstate(all="ignore"):
        us = np.asarray(func(ws), float) * np.ones_like(ws)
    bad = ~np.isfinite(us)
    if bad.any():
        return False, float(ws[np.argmax(bad)])
    steps = np.diff(us)
    scale = 1e-12 * (1.0 + float(np.max(np.abs(us))))
    # decreasing anywhere, or flat at the bottom of the domain, is non-monotone (saturation at the top is not)
    if np.any(steps < -scale) or not steps[0] > 0:
        bad = steps < -scale
        at = np.argmax(bad) if bad.any() else np.argmax(steps <= 0)
        return False, float(ws[at])
    return True, None
