"""Independent certificates of a team's answer (docs/theory/team.md): no solver, only the returned numbers.

:func:`certificates` reports ``max_deviation_gain`` (below), ``budget_balance_violation``
(|Σβ − 1| and |Σα|, or (Σβ − 1)⁺ with a budget breaker), ``share_bound_violation``,
``ce_error`` and ``objective_error`` (the reported CE and welfare against those recomputed from
the shares and inputs) and, with outside options, ``max_ir_violation``.

**Equilibrium.**  Given shares β and the others' inputs, member i's effort-stage payoff in its own
inputs x (effort, and knowledge with the extension) is V_i(x) = m_i f(x; x_{-i}) − C_i(x_e) −
K_i(x_k), m_i = β_i + ω(B − β_i).  The reported inputs are a Nash equilibrium iff no member gains
by deviating: gain_i = sup_{x ≥ 0} V_i(x) − V_i(x_i) = 0.  :func:`deviation_gains` returns a
certified *upper bound* on every gain, so a positive deviation can never hide:

* LEN forms (linear output, quadratic costs): the best response is exact, x = m_i s_i / coef_i.
* Any other cost or production: a branch-and-bound search with interval arithmetic (Moore, Kearfott
  & Cloud, *Introduction to Interval Analysis*, SIAM 2009, ch. 6; Hansen & Walster, *Global
  Optimization Using Interval Analysis*, 2004).  On every box the natural interval extension of
  V_i and the mean-value form V_i(mid) + ∇V_i(box)·(box − mid) bound V_i from above; a box whose
  bound is below the best value found (+ tolerance) is discarded, a box on which a partial
  derivative has one sign is collapsed onto the face where the maximum lies, the others are
  bisected.  Unlike a grid followed by a local search, a narrow peak between grid points cannot
  be stepped over.  The region beyond the search box [0, U] is excluded by monotonicity: U is
  widened until every partial derivative ∂V_i/∂x_d is negative on [U_d, ∞) (the other inputs in
  [0, U]).  When the search cannot close (a derivative that never turns negative, a box budget
  exhausted) the bound it reports is the largest remaining upper bound, possibly ∞: an
  incomplete search is never reported as a certificate.

The interval extension walks the sympy form of the model's expressions (Symbols, numbers, +, ×,
powers, exp, log, abs); rounding errors are covered by the relative tolerance of the search.
"""

from __future__ import annotations

import functools
import itertools
import operator

import numpy as np

from . import closed_form, equilibrium
from .equilibrium import EFFORT

REL_TOL = 1e-12  # boxes whose upper bound exceeds the best value by less than this (relative) are closed
MAX_ROUNDS = 200
MAX_BOXES = 200_000


# -- interval arithmetic over numpy arrays ---------------------------------------------------------
class Interval:
    """Closed intervals [lo, hi], elementwise over numpy arrays (lo = -inf / hi = inf allowed):
    the sum, product and reciprocal that :func:`enclose` composes."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi=None):
        self.lo = np.asarray(lo, float)
        self.hi = self.lo if hi is None else np.asarray(hi, float)

    def __add__(self, other):
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __mul__(self, other):
        with np.errstate(invalid="ignore"):
            p = np.stack([self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi])
        p = np.where(np.isnan(p), 0.0, p)  # 0·∞ at an endpoint: the product is 0 there
        return Interval(p.min(0), p.max(0))

    def reciprocal(self):
        zero_inside = (self.lo <= 0) & (self.hi >= 0)
        with np.errstate(divide="ignore"):
            lo, hi = 1.0 / self.hi, 1.0 / self.lo
        return Interval(np.where(zero_inside, -np.inf, lo), np.where(zero_inside, np.inf, hi))


def _monotone(x: Interval, f, increasing=True) -> Interval:
    with np.errstate(all="ignore"):
        a, b = f(x.lo), f(x.hi)
    return Interval(a, b) if increasing else Interval(b, a)


def _power(x: Interval, p: float) -> Interval:
    """x**p for a number p: integer powers on all reals, other powers on x ≥ 0 (their domain)."""
    if float(p).is_integer():
        n = int(p)
        if n == 0:
            return Interval(np.ones_like(x.lo))
        if n < 0:
            return _power(x, -n).reciprocal()
        return _monotone(x if n % 2 else _abs(x), lambda v: v**n)  # odd powers increase; even ones of |x|
    x = Interval(np.maximum(x.lo, 0.0), np.maximum(x.hi, 0.0))
    return _monotone(x, lambda v: v**p, increasing=p > 0)


def _abs(x: Interval) -> Interval:
    lo = np.where((x.lo <= 0) & (x.hi >= 0), 0.0, np.minimum(np.abs(x.lo), np.abs(x.hi)))
    return Interval(lo, np.maximum(np.abs(x.lo), np.abs(x.hi)))


def _log(x: Interval) -> Interval:
    return _monotone(Interval(np.maximum(x.lo, 0.0), np.maximum(x.hi, 0.0)), np.log)


class Unsupported(ValueError):
    """An expression node without an interval extension here."""


def enclose(expr, env) -> Interval:
    """An interval enclosure of the sympy expression `expr` with Symbols given by `env` (Interval)."""
    import sympy as sp

    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        return Interval(float(expr))
    args = [enclose(a, env) for a in expr.args] if not expr.is_Pow else None
    if expr.is_Add or expr.is_Mul:
        return functools.reduce(operator.add if expr.is_Add else operator.mul, args)
    if expr.is_Pow:
        base, power = expr.args
        if power.is_Number:
            return _power(enclose(base, env), float(power))
        return enclose(sp.exp(power * sp.log(base)), env)
    for function, extension in ((sp.exp, lambda x: _monotone(x, np.exp)), (sp.log, _log), (sp.Abs, _abs)):
        if isinstance(expr, function):
            return extension(args[0])
    raise Unsupported(f"no interval extension of {type(expr).__name__}")


# -- branch and bound -------------------------------------------------------------------------------
class Objective:
    """V(x) and its gradient for a batch of independent maximisations sharing one expression.

    ``value`` is a sympy expression in ``variables`` (the inputs searched) and ``parameters``
    (Symbols whose values differ between the problems of the batch, given per problem)."""

    def __init__(self, value, variables, parameters=None, parameter_values=None):
        import sympy as sp

        self.value = value
        self.variables = list(variables)
        self.gradient = [sp.diff(value, v) for v in self.variables]
        self.parameters = list(parameters or [])
        self.parameter_values = [np.asarray(p, float) for p in (parameter_values or [])]

    def _env(self, boxes_lo, boxes_hi, owner):
        env = {v: Interval(boxes_lo[:, d], boxes_hi[:, d]) for d, v in enumerate(self.variables)}
        env.update({p: Interval(vals[owner]) for p, vals in zip(self.parameters, self.parameter_values)})
        return env

    def bound(self, lo, hi, owner):
        env = self._env(lo, hi, owner)
        return enclose(self.value, env), [enclose(g, env) for g in self.gradient]

    def at(self, x, owner):
        with np.errstate(all="ignore"):
            return enclose(self.value, self._env(x, x, owner)).hi


def _tail_ok(objective: Objective, upper: np.ndarray) -> np.ndarray:
    """Whether every partial derivative is negative beyond the search box in its own coordinate."""
    P, dims = upper.shape
    ok = np.ones(P, bool)
    owner = np.arange(P)
    for d in range(dims):
        lo = np.zeros_like(upper)
        hi = upper.copy()
        lo[:, d], hi[:, d] = upper[:, d], np.inf
        with np.errstate(all="ignore"):
            slope = enclose(objective.gradient[d], objective._env(lo, hi, owner))
        ok &= slope.hi < 0
    return ok


def certified_max(objective: Objective, problems: int, start: np.ndarray, initial: np.ndarray | None = None):
    """Global maxima of V over x ≥ 0 for each of `problems` problems: (lower, upper) arrays with
    lower = the best value found at a point, upper ≥ sup V (certified; ∞ if the search could not
    close).  `start` (problems × d) is a point of each problem that sets the initial search box."""
    start = np.atleast_2d(np.asarray(start, float))
    dims = start.shape[1]
    upper = 4.0 * np.maximum(start, 1.0)
    for _ in range(40):
        tail = _tail_ok(objective, upper)
        if tail.all():
            break
        upper = np.where(tail[:, None], upper, upper * 4.0)
    lower = np.full(problems, -np.inf) if initial is None else np.asarray(initial, float).copy()
    # the start point and 16 cells per coordinate of [0, U] to begin with
    cells = 16
    steps = np.linspace(0.0, 1.0, cells + 1)
    cell = np.array(list(itertools.product(range(cells), repeat=dims)))  # (cells^d, d)
    owner = np.repeat(np.arange(problems), len(cell))
    lo = upper[owner] * steps[np.tile(cell, (problems, 1))]
    hi = upper[owner] * steps[np.tile(cell, (problems, 1)) + 1]
    lower = np.fmax(lower, objective.at(start, np.arange(problems)))
    remaining = np.full(problems, -np.inf)
    for _ in range(MAX_ROUNDS):
        if not len(lo):
            break
        mid = (lo + hi) / 2
        with np.errstate(all="ignore"):
            fmid = objective.at(mid, owner)
            np.fmax.at(lower, owner, np.where(np.isfinite(fmid), fmid, -np.inf))
            value, grad = objective.bound(lo, hi, owner)
            half = (hi - lo) / 2
            spread = sum(np.maximum(np.abs(g.lo), np.abs(g.hi)) * half[:, d] for d, g in enumerate(grad))
            bound = np.fmin(np.where(np.isnan(value.hi), np.inf, value.hi),
                            np.where(np.isnan(fmid + spread), np.inf, fmid + spread))
        tol = REL_TOL * (1.0 + np.abs(lower[owner]))
        keep = bound > lower[owner] + tol
        # one sign of ∂V/∂x_d on the box: the box's maximum lies on the face where V is largest
        for d, g in enumerate(grad):
            falling, rising = keep & (g.hi <= 0), keep & (g.lo >= 0)
            hi[falling, d] = lo[falling, d]
            lo[rising, d] = hi[rising, d]
        lo, hi, owner = lo[keep], hi[keep], owner[keep]
        if len(lo) > MAX_BOXES:
            np.fmax.at(remaining, owner, bound[keep])
            lo = lo[:0]
            break
        width = (hi - lo) / upper[owner]
        split = np.argmax(width, 1)
        point = width[np.arange(len(lo)), split] <= 0  # collapsed to a point: its value is known
        if point.any():
            with np.errstate(all="ignore"):
                np.fmax.at(lower, owner[point], objective.at(lo[point], owner[point]))
            lo, hi, owner, split = lo[~point], hi[~point], owner[~point], split[~point]
        rows = np.arange(len(lo))
        cut = (lo[rows, split] + hi[rows, split]) / 2
        lo2, hi2 = lo.copy(), hi.copy()
        hi[rows, split] = cut
        lo2[rows, split] = cut
        lo, hi, owner = np.concatenate([lo, lo2]), np.concatenate([hi, hi2]), np.concatenate([owner, owner])
    else:
        np.fmax.at(remaining, owner, np.inf)
    if len(lo):
        with np.errstate(all="ignore"):
            value, _ = objective.bound(lo, hi, owner)
        np.fmax.at(remaining, owner, np.where(np.isnan(value.hi), np.inf, value.hi))
    tail = _tail_ok(objective, upper)
    # every discarded box was bounded by the best value then known plus the tolerance
    closed = lower + REL_TOL * (1.0 + np.abs(lower))
    certified = np.where(tail, np.fmax(closed, remaining), np.inf)
    return lower, certified


def certificates(team, result) -> dict[str, float]:
    columns = team.vectors(result)
    beta, e, k = columns["share"], columns["effort"], columns.get("knowledge")
    ce = equilibrium.certainty_equivalents(team, beta, e, k)
    total = beta.sum()
    budget = max(0.0, total - 1) if team.budget_breaker else max(abs(total - 1), abs(team.alpha.sum()))
    out = {
        "max_deviation_gain": float(deviation_gains(team, beta, e, k).max()),
        "budget_balance_violation": float(budget),
        "share_bound_violation": float(max(0.0, -beta.min())),
        "ce_error": float(np.max(np.abs(ce - columns["ce"]))),
        "objective_error": abs(float(result.objective) - equilibrium.total_welfare(team, beta, e, k)),
    }
    if team.outside is not None:
        out["max_ir_violation"] = float(max(0.0, np.max(team.outside - ce)))
    return out


# -- the team's deviation certificate ----------------------------------------------------------------
def _symbols():
    import sympy as sp

    return sp.Symbol("x", nonnegative=True), sp.Symbol("y", nonnegative=True), sp.Symbol("coef", positive=True)


def separable_response(team, m, start, kind=EFFORT):
    """(lower, certified upper) of max_{x ≥ 0} m_i s_i x − C_i(x) for every member at once (linear
    output: the input's slope s_i is a_i for effort, g_i for knowledge)."""
    slope = np.broadcast_to(np.asarray(m, float), (team.n,)) * getattr(team, kind.slope)
    coef = getattr(team, kind.coef)
    if getattr(team, kind.cost) is None:  # m s x − coef x²/2: exact
        best = np.maximum(slope, 0.0) ** 2 / (2 * coef)
        return best, best
    import sympy as sp

    x, _, c = _symbols()
    s = sp.Symbol("s", real=True)
    value = s * x - equilibrium.cost_expression(team, x, c, kind, "sympy")
    objective = Objective(value, [x], [s, c], [slope, coef])
    return certified_max(objective, team.n, np.asarray(start, float).reshape(-1, 1))


def _member_objective(team, i, m_i, e, k):
    """V_i in member i's own inputs (x: effort, y: knowledge) with the others' inputs fixed."""
    import sympy as sp

    own = dict(zip(equilibrium.inputs(team), _symbols()[:2], strict=False))  # effort x (and knowledge y)
    env = equilibrium.named_inputs(team, *[None if v is None else [sp.Float(float(u)) for u in v] for v in (e, k)])
    env.update({f"{kind.var}{i + 1}": v for kind, v in own.items()})
    used = {name: value for name, value in env.items() if name in team.production.names}
    value = float(m_i) * team.production.sympy(**used)
    for kind, v in own.items():
        value = value - equilibrium.cost_expression(team, v, sp.Float(float(getattr(team, kind.coef)[i])), kind, "sympy")
    return Objective(value, list(own.values()))


def deviation_gains(team, beta, e, k=None):
    """Certified upper bounds on each member's gain from its own best response (over all its
    inputs) to the others' inputs (≥ 0; ∞ where the search could not be completed)."""
    beta, e = np.asarray(beta, float), np.asarray(e, float)
    k = equilibrium._knowledge_or_none(team, e, k)
    m = closed_form.concern(beta, team.omega, team.budget_breaker)
    gains = np.zeros(team.n)
    if team.production is None:
        for kind, x in zip(equilibrium.inputs(team), (e, k), strict=False):  # k is None without knowledge inputs
            with np.errstate(all="ignore"):
                here = m * getattr(team, kind.slope) * x - equilibrium.input_costs(team, x, kind)
            _, best = _guarded(team.n, separable_response, team, m, x, kind)
            gains += np.maximum(0.0, best - here)
        return np.where(np.isnan(gains), np.inf, gains)
    with np.errstate(all="ignore"):  # each member's m_i f − C_i(e_i) − K_i(k_i) at the reported inputs
        here = m * equilibrium.output(team, e, k) - equilibrium.costs(team, e, k)
    for i in range(team.n):
        start = np.asarray([[e[i]] if k is None else [e[i], k[i]]], float)
        _, best = _guarded(1, certified_max, _member_objective(team, i, m[i], e, k), 1, start, [here[i]])
        gains[i] = max(0.0, float(best[0]) - here[i]) if np.isfinite(here[i]) else np.inf
    return gains


def _guarded(size, search, *args):
    """``search(*args)``, a certified search for `size` problems; an expression without an interval
    extension certifies nothing (∞)."""
    try:
        return search(*args)
    except Unsupported:
        return np.full(size, -np.inf), np.full(size, np.inf)
