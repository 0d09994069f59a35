"""Cost-minimising contracts for a hidden action (Grossman and Hart, 1983; BOOK.md §5).

A risk-neutral principal hires an agent whose action a ∈ {1..m} is hidden; outcome j ∈ {1..n}
is observed with probability p[a, j] and is worth x_j to the principal.  The agent's utility is
additively separable, u(w) − c_a, with u increasing and concave; his reservation utility is R;
limited liability asks w_j ≥ w_min.

**Implementing action a** at least cost.  Write the contract in *utility space*, v_j = u(w_j),
so that pay is w_j = h(v_j) with h = u⁻¹ (increasing and convex):

    C(a) = min_v  Σ_j p[a, j] h(v_j)
           s.t.   IR:      Σ_j p[a, j] v_j − c_a ≥ R
                  IC[b]:   Σ_j (p[a, j] − p[b, j]) v_j ≥ c_a − c_b      for every b ≠ a
                  LL[j]:   v_j ≥ u(w_min)

Every constraint is linear in v and the objective is convex: a linear program for a
risk-neutral agent (h(v) = v, solved by HiGHS) and a convex program otherwise (sqrt: h = v²;
log: h = exp(v); CARA u = (1 − e^{−rw})/r: h = −log(1 − rv)/r; CRRA u = w^{1−γ}/(1−γ):
h = ((1−γ)v)^{1/(1−γ)}; solved by Clarabel).  An expression utility u(w), concave on its
domain, has no DCP form of h: damped Newton steps, each a convex QP in cvxpy on the quadratic
model of h (h and its derivatives from u by bisection and differences), with a line search.

The principal then implements the action with the largest net value Σ_j p[a, j] x_j − C(a).
With the action observable (first best) the principal pays the constant wage
w_a = max(h(R + c_a), w_min) (full insurance, Jensen), so the first-best net value is
Σ_j p[a, j] x_j − w_a.

Pure functions over numpy arrays; the solver objects come from :mod:`ital_opt.backends`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import MethodNotApplicable

BINDING_TOL = 1e-7
UTILITY_KINDS = ("linear", "sqrt", "log", "cara", "crra")


# -- utilities of money ------------------------------------------------------------------------
@dataclass(frozen=True)
class Utility:
    """The agent's utility of pay u(w), its inverse h = u⁻¹ and its domain.

    ``lower``/``upper`` bound the pay domain; ``v_lower``/``v_upper`` are u there (or the
    supremum of u).  ``cvx_inverse`` builds h(v) as a convex cvxpy expression (None for an
    expression utility: damped Newton with QP steps instead).  ``linear`` marks a risk-neutral agent.
    """

    name: str
    u: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    lower: float = -math.inf
    upper: float = math.inf
    v_lower: float = -math.inf
    v_upper: float = math.inf
    cvx_inverse: Callable | None = None
    linear: bool = False
    concave: bool = True

    def inverse_derivative(self, v):
        """h'(v) = 1 / u'(h(v))."""
        return 1.0 / self.derivative(self.inverse(v))

    def in_range(self, v: float) -> bool:
        return self.v_lower - 1e-12 <= v < self.v_upper or (self.v_upper == math.inf and v >= self.v_lower)


def builtin_utility(name: str, risk_aversion: float | None = None) -> Utility:
    """``linear``, ``sqrt``, ``log``, ``cara`` (u = (1 − e^{−rw})/r) or ``crra`` (u = w^{1−γ}/(1−γ), log at γ = 1)."""
    import cvxpy as cp

    if name == "linear":
        return Utility("linear", lambda w: np.asarray(w, float), lambda v: np.asarray(v, float),
                       lambda w: np.ones_like(np.asarray(w, float)), cvx_inverse=lambda v: v, linear=True)
    if name == "sqrt":
        return Utility("sqrt", lambda w: np.sqrt(np.maximum(w, 0.0)), lambda v: np.square(np.maximum(v, 0.0)),
                       lambda w: 0.5 / np.sqrt(np.maximum(w, 1e-300)), lower=0.0, v_lower=0.0,
                       cvx_inverse=lambda v: cp.square(v))
    if name == "log" or (name == "crra" and risk_aversion == 1.0):
        return Utility("log", lambda w: np.log(w), lambda v: np.exp(v), lambda w: 1.0 / np.asarray(w, float),
                       lower=0.0, cvx_inverse=lambda v: cp.exp(v))
    if name == "cara":
        r = float(risk_aversion)
        return Utility(f"cara({r:g})", lambda w: -np.expm1(-r * np.asarray(w, float)) / r,
                       lambda v: -np.log1p(-r * np.asarray(v, float)) / r, lambda w: np.exp(-r * np.asarray(w, float)),
                       v_upper=1.0 / r, cvx_inverse=lambda v: -cp.log(1 - r * v) / r)
    if name == "crra":
        g = float(risk_aversion)
        k = 1.0 - g
        if g < 1.0:
            return Utility(f"crra({g:g})", lambda w: np.power(np.maximum(w, 0.0), k) / k,
                           lambda v: np.power(np.maximum(k * np.asarray(v, float), 0.0), 1.0 / k),
                           lambda w: np.power(np.maximum(w, 1e-300), -g), lower=0.0, v_lower=0.0,
                           cvx_inverse=lambda v: cp.power(k * v, 1.0 / k))
        return Utility(f"crra({g:g})", lambda w: np.power(w, k) / k,
                       lambda v: np.power(k * np.asarray(v, float), 1.0 / k),
                       lambda w: np.power(np.asarray(w, float), -g), lower=0.0, v_upper=0.0,
                       cvx_inverse=lambda v: cp.power(k * v, 1.0 / k))
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
                   cvx_inverse=None, linear=linear, concave=concave)


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


# -- the cheapest contract implementing one action ---------------------------------------------
@dataclass
class Contract:
    """The cheapest contract implementing one action (or why there is none)."""

    action: int
    status: str                      # optimal | infeasible | not_solved
    pay: np.ndarray | None = None    # w_j
    promised: np.ndarray | None = None  # v_j = u(w_j)
    expected_pay: float = math.inf
    binding: list[str] = field(default_factory=list)
    multipliers: dict[str, float] = field(default_factory=dict)
    method: str = ""
    local: bool = False
    message: str = ""


def _constraint_data(prob, cost, a, reservation, utility: Utility, min_pay, max_pay, action_names, outcome_names):
    """Rows G v ≥ g with their names: IR, IC[b] for b ≠ a; and bounds on v."""
    m, n = prob.shape
    names = [f"IC[{action_names[b]}]" for b in range(m) if b != a]
    G = np.array([prob[a] - prob[b] for b in range(m) if b != a]).reshape(-1, n)
    g = np.array([cost[a] - cost[b] for b in range(m) if b != a])
    G = np.vstack([prob[a][None, :], G])
    g = np.concatenate([[reservation + cost[a]], g])
    names = ["IR", *names]
    v_lo = utility.v_lower
    if min_pay is not None:
        v_lo = max(v_lo, float(utility.u(np.array(float(min_pay)))))
    v_hi = utility.v_upper
    if max_pay is not None:
        v_hi = min(v_hi, float(utility.u(np.array(float(max_pay)))))
    return G, g, names, v_lo, v_hi


def _unreachable(utility: Utility, level: float) -> bool:
    """R + c_a at or above the supremum of u: no pay gives the agent his reservation utility."""
    return math.isfinite(utility.v_upper) and level >= utility.v_upper - 1e-12 * (1 + abs(utility.v_upper))


def _new_contract(a: int, utility: Utility, level: float, action_names) -> Contract:
    """An unsolved contract for action `a`, or an infeasible one when R + c_a is out of u's reach."""
    contract = Contract(a, "not_solved")
    if _unreachable(utility, level):
        contract.status = "infeasible"
        contract.message = (f"action {action_names[a]!r}: reservation + cost = {level:g} is not below "
                            f"the supremum {utility.v_upper:g} of utility {utility.name!r}")
    return contract


def _binding(G, g, names, v, v_lo, outcome_names, min_pay):
    slack = G @ v - g
    tol = BINDING_TOL * (1.0 + np.abs(g))
    out = [nm for nm, s, t in zip(names, slack, tol) if s <= t]
    if min_pay is not None and math.isfinite(v_lo):
        out += [f"LL[{outcome_names[j]}]" for j in range(len(v)) if v[j] - v_lo <= BINDING_TOL * (1 + abs(v_lo))]
    return out


def _finish(contract: Contract, prob, a, utility, v):
    v = np.asarray(v, float)
    contract.promised = v
    contract.pay = np.asarray(utility.inverse(v), float)
    contract.expected_pay = float(prob[a] @ contract.pay)
    return contract


def cheapest_contract_cvxpy(prob, cost, a, utility: Utility, reservation=0.0, min_pay=None, max_pay=None,
                            action_names=None, outcome_names=None, cache: dict | None = None) -> Contract:
    """C(a) by cvxpy: an LP (HiGHS) for linear utility, a convex program (Clarabel) otherwise.

    With a `cache` dict shared across the actions of one problem, a built-in utility's program is
    compiled once with cvxpy parameters (p[a], the IR/IC rows and right-hand sides; DPP) and only
    re-solved for each action.
    """
    import cvxpy as cp

    from ..backends import solve_cvxpy

    m, n = prob.shape
    action_names = action_names or [str(i) for i in range(m)]
    outcome_names = outcome_names or [str(j) for j in range(n)]
    G, g, names, v_lo, v_hi = _constraint_data(prob, cost, a, reservation, utility, min_pay, max_pay,
                                               action_names, outcome_names)
    if utility.cvx_inverse is None and not utility.concave:
        raise MethodNotApplicable("cvxpy", f"utility {utility.name!r} is not concave on its domain "
                                           f"[{utility.lower:g}, {utility.upper:g}], so the program is not convex")
    v = cp.Variable(n)
    rows = [cp.Constant(G[i]) @ v >= g[i] for i in range(len(g))]
    bounds = []
    if math.isfinite(v_lo):
        bounds.append(v >= v_lo)
    if math.isfinite(v_hi) and (max_pay is not None or utility.cvx_inverse is None):
        bounds.append(v <= v_hi)
    contract = _new_contract(a, utility, reservation + cost[a], action_names)
    if contract.status == "infeasible":
        return contract
    if utility.cvx_inverse is not None and cache is not None:
        if "dpp" not in cache:
            weights = cp.Parameter(n, nonneg=True)
            lhs, rhs = cp.Parameter(G.shape), cp.Parameter(g.shape)
            stacked = lhs @ v >= rhs
            problem = cp.Problem(cp.Minimize(weights @ utility.cvx_inverse(v)), [stacked] + bounds)
            cache["dpp"] = (v, weights, lhs, rhs, stacked, bounds, problem)
        v, weights, lhs, rhs, stacked, bounds, problem = cache["dpp"]
        weights.value, lhs.value, rhs.value = prob[a], G, g
        status, method = solve_cvxpy(problem)
        rows = [_Row(stacked, i) for i in range(len(g))]
    elif utility.cvx_inverse is not None:
        problem = cp.Problem(cp.Minimize(prob[a] @ utility.cvx_inverse(v)), rows + bounds)
        status, method = solve_cvxpy(problem)
    else:
        status, method, problem = _newton(prob[a], v, rows + bounds, utility, v_lo, v_hi)
    contract.method = method
    contract.status = status
    if status != "optimal":
        return contract
    vv = np.asarray(v.value, float)
    _finish(contract, prob, a, utility, vv)
    contract.binding = _binding(G, g, names, vv, v_lo, outcome_names, min_pay)
    scale = 1.0
    contract.multipliers = {nm: float(scale * np.asarray(c.dual_value).item()) for nm, c in zip(names, rows)
                            if c.dual_value is not None}
    if min_pay is not None and bounds and math.isfinite(v_lo):
        duals = np.atleast_1d(np.asarray(bounds[0].dual_value, float))
        for j in range(n):
            contract.multipliers[f"LL[{outcome_names[j]}]"] = float(duals[j])
    return contract


class _Row:
    """One row of a stacked cvxpy constraint, exposing its dual value like a scalar constraint."""

    def __init__(self, constraint, index):
        self.constraint, self.index = constraint, index

    @property
    def dual_value(self):
        duals = self.constraint.dual_value
        return None if duals is None else np.atleast_1d(np.asarray(duals, float))[self.index]


def _newton(p, v, constraints, utility: Utility, v_lo, v_hi, tol=1e-13, max_rounds=60):
    """min p·h(v) over linear constraints by damped Newton steps: each step a convex QP (Clarabel).

    h is convex (u concave) but has no DCP form, so at the iterate v_k it is replaced by its
    second-order model h(v_k) + h'(v_k) d + h''(v_k) d²/2; the QP's minimiser gives a feasible
    direction (the constraint set is convex) and a backtracking line search on the true objective
    keeps the descent.  Stops when the predicted decrease is below `tol`.  Returns the last QP.
    """
    import cvxpy as cp

    from ..backends import solve_cvxpy

    lo = v_lo if math.isfinite(v_lo) else utility.v_lower
    hi = v_hi if math.isfinite(v_hi) else utility.v_upper

    def objective(x):
        return float(p @ utility.inverse(x))

    # a feasible start: the cheapest contract in utility units (an LP)
    start = cp.Problem(cp.Minimize(p @ v), constraints)
    status, method = solve_cvxpy(start)
    if status != "optimal":
        return status, method + "+newton", start
    x = np.clip(np.asarray(v.value, float), lo, hi)
    problem = start
    for _ in range(max_rounds):
        slope = utility.inverse_derivative(x)
        step = 1e-5 * (1.0 + np.abs(x))
        up, down = np.minimum(x + step, hi), np.maximum(x - step, lo)
        curvature = np.maximum((utility.inverse_derivative(up) - utility.inverse_derivative(down)) / (up - down), 0.0)
        d = v - x
        model = p @ cp.multiply(slope, d) + 0.5 * cp.sum(cp.multiply(p * curvature, cp.square(d)))
        problem = cp.Problem(cp.Minimize(model), constraints)
        status, method = solve_cvxpy(problem)
        if status != "optimal":
            break
        direction = np.clip(np.asarray(v.value, float), lo, hi) - x
        decrease = -float(p @ (slope * direction))
        if decrease <= tol * (1.0 + abs(objective(x))):
            break
        t, f0 = 1.0, objective(x)
        while t > 1e-12 and objective(x + t * direction) > f0 - 1e-4 * t * decrease:
            t *= 0.5
        x = x + t * direction
    v.value = x
    return status, method + "+newton", problem


def cheapest_contract_scipy(prob, cost, a, utility: Utility, reservation=0.0, min_pay=None, max_pay=None,
                            action_names=None, outcome_names=None) -> Contract:
    """C(a) by scipy: linprog(method="highs") for linear utility, SLSQP in utility space otherwise (local)."""
    from scipy.optimize import linprog, minimize

    m, n = prob.shape
    action_names = action_names or [str(i) for i in range(m)]
    outcome_names = outcome_names or [str(j) for j in range(n)]
    G, g, names, v_lo, v_hi = _constraint_data(prob, cost, a, reservation, utility, min_pay, max_pay,
                                               action_names, outcome_names)
    lo = v_lo if math.isfinite(v_lo) else None
    hi = v_hi if (math.isfinite(v_hi) and (max_pay is not None or utility.cvx_inverse is None)) else None
    contract = _new_contract(a, utility, reservation + cost[a], action_names)
    if contract.status == "infeasible":
        return contract
    if utility.linear:
        res = linprog(prob[a], A_ub=-G, b_ub=-g, bounds=[(lo, hi)] * n, method="highs")
        contract.method = "scipy/linprog-highs"
        if res.status == 2:
            contract.status = "infeasible"
            return contract
        if res.status != 0:
            contract.message = res.message
            return contract
        contract.status = "optimal"
        vv = np.asarray(res.x, float)
        _finish(contract, prob, a, utility, vv)
        # the LP is in utility units; h' (constant for an affine u) converts its duals to pay units
        duals = -np.asarray(res.ineqlin.marginals, float) * float(np.atleast_1d(utility.inverse_derivative(vv))[0])
        contract.multipliers = {nm: float(d) for nm, d in zip(names, duals)}
        if min_pay is not None:
            for j in range(n):
                contract.multipliers[f"LL[{outcome_names[j]}]"] = float(res.lower.marginals[j])
        contract.binding = _binding(G, g, names, contract.promised, v_lo, outcome_names, min_pay)
        return contract
    # strictly convex program in utility space; SLSQP finds its KKT point (claimed local only)
    contract.method = "scipy/SLSQP"
    contract.local = True
    eps = 1e-9
    upper = hi if hi is not None else (utility.v_upper - eps * (1 + abs(utility.v_upper))
                                       if math.isfinite(utility.v_upper) else None)
    start_level = reservation + cost[a]
    if lo is not None:
        start_level = max(start_level, lo)
    if upper is not None:
        start_level = min(start_level, upper - 1e-3 * (1 + abs(upper)))
    x0 = np.full(n, start_level)
    pa = prob[a]
    res = minimize(
        lambda v: float(pa @ utility.inverse(v)),
        x0,
        jac=lambda v: pa * utility.inverse_derivative(v),
        method="SLSQP",
        bounds=[(lo, upper)] * n,
        constraints=[{"type": "ineq", "fun": lambda v: G @ v - g, "jac": lambda v: G}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    vv = np.asarray(res.x, float)
    infeas = float(np.max(g - G @ vv, initial=0.0))
    if not res.success or infeas > 1e-8 * (1 + np.max(np.abs(g))):
        contract.status = "infeasible" if infeas > 1e-4 else "not_solved"
        contract.message = f"SLSQP: {res.message} (constraint violation {infeas:.2e})"
        return contract
    contract.status = "optimal"
    _finish(contract, prob, a, utility, vv)
    mult = getattr(res, "multipliers", None)  # scipy >= 1.16: the constraints' multipliers, in order
    if isinstance(mult, dict):
        mult = mult.get("ineq")
    if mult is not None:
        contract.multipliers = {nm: float(d) for nm, d in zip(names, np.asarray(mult, float)[: len(names)])}
    contract.binding = _binding(G, g, names, vv, v_lo, outcome_names, min_pay)
    return contract


def two_by_two(prob, cost, a, utility: Utility, reservation=0.0, min_pay=None, action_names=None,
               outcome_names=None) -> Contract:
    """Closed form for two actions and two outcomes (Laffont and Martimort, 2002, §4.3–4.4).

    Implementing a against the other action b.  If c_a ≤ c_b a flat contract v = max(R + c_a, u(w_min))
    does it.  Otherwise the good outcome g is the one a makes likelier (δ = p[a, g] − p[b, g] > 0)
    and the spread in utility is the cost difference over the probability difference,
    B = (c_a − c_b)/δ (for a risk-neutral agent: the bonus); the base is
    v_bad = max(u(w_min), R + c_a − p[a, g]·B) and v_good = v_bad + B.  This is optimal for any
    increasing convex h = u⁻¹: the agent's expected utility and the spread are both at their
    least (a wider spread at the same mean costs more by Jensen), or, when limited liability
    binds, every feasible contract is at least as large outcome by outcome.
    Multipliers (pay per unit of utility): without binding limited liability
    μ_IR = p_g h'(v_g) + p_b h'(v_b) and λ_IC = p_g p_b (h'(v_g) − h'(v_b))/δ; with it μ_IR = 0,
    λ_IC = p_g h'(v_g)/δ and ν_LL = p_b h'(v_b) + p_g h'(v_g).
    """
    action_names = action_names or ["0", "1"]
    outcome_names = outcome_names or ["0", "1"]
    b = 1 - a
    floor = utility.v_lower
    if min_pay is not None:
        floor = max(floor, float(utility.u(np.array(float(min_pay)))))
    contract = Contract(a, "optimal", method="closed-form")
    level = reservation + cost[a]
    if cost[a] <= cost[b]:
        v = np.full(2, max(floor, level))
        ll = v[0] <= floor + 1e-15 and min_pay is not None
        contract.binding = (["IR"] if v[0] <= level + 1e-15 else []) + (
            [f"LL[{o}]" for o in outcome_names] if ll else [])
    else:
        deltas = prob[a] - prob[b]
        good = int(np.argmax(deltas))
        bad = 1 - good
        delta = float(deltas[good])
        if delta <= 0:
            contract.status = "infeasible"
            contract.message = f"action {action_names[a]!r} costs more and makes no outcome likelier"
            return contract
        spread = (cost[a] - cost[b]) / delta
        base = level - prob[a, good] * spread
        ll = math.isfinite(floor) and base <= floor
        v = np.zeros(2)
        v[bad] = max(floor, base)
        v[good] = v[bad] + spread
        contract.binding = [f"IC[{action_names[b]}]"]
        if v[bad] <= base + 1e-15 * (1 + abs(base)):
            contract.binding.insert(0, "IR")
        if ll and min_pay is not None:  # (the domain bound of sqrt/crra is not reported, as in the solvers)
            contract.binding.append(f"LL[{outcome_names[bad]}]")
        if np.all(np.isfinite(v)) and v[good] < utility.v_upper:
            hg, hb = utility.inverse_derivative(np.array([v[good], v[bad]]))
            pg, pb = prob[a, good], prob[a, bad]
            ic = f"IC[{action_names[b]}]"
            if not ll:
                contract.multipliers = {"IR": float(pg * hg + pb * hb), ic: float(pg * pb * (hg - hb) / delta)}
            elif base < floor:
                contract.multipliers = {"IR": 0.0, ic: float(pg * hg / delta)}
                if min_pay is not None:
                    contract.multipliers[f"LL[{outcome_names[bad]}]"] = float(pb * hb + pg * hg)
                    contract.multipliers[f"LL[{outcome_names[good]}]"] = 0.0
    if not v.max() < utility.v_upper:
        contract.status = "infeasible"
        contract.message = (f"action {action_names[a]!r} needs utility {v.max():g}, not below the supremum "
                            f"{utility.v_upper:g} of utility {utility.name!r}")
        return contract
    contract.promised = v
    contract.pay = np.asarray(utility.inverse(v), float)
    contract.expected_pay = float(prob[a] @ contract.pay)
    return contract


def first_best_pay(cost, a, utility: Utility, reservation=0.0, min_pay=None) -> float:
    """The cheapest pay for action a when it is observable: a flat wage max(h(R + c_a), w_min)."""
    level = reservation + cost[a]
    if level >= utility.v_upper:
        return math.inf
    w = float(utility.inverse(np.array(max(level, utility.v_lower))))
    if min_pay is not None:
        w = max(w, float(min_pay))
    return w


# -- checks from the returned pays alone --------------------------------------------------------
def contract_violations(prob, cost, a, pay, utility_fn, reservation=0.0, min_pay=None) -> dict[str, float]:
    """IC, IR and limited-liability violations of pays `pay` meant to implement action `a`.

    max_ic_violation is the agent's largest gain from switching to another action.
    """
    pay = np.asarray(pay, float)
    with np.errstate(all="ignore"):
        util = np.asarray(utility_fn(pay), float)
    if not np.all(np.isfinite(util)):
        return {"max_ic_violation": math.inf, "max_ir_violation": math.inf, "max_ll_violation": math.inf}
    payoff = prob @ util - cost
    others = np.delete(payoff, a)
    out = {
        "max_ic_violation": float(max(0.0, float(np.max(others, initial=-math.inf)) - payoff[a])),
        "max_ir_violation": float(max(0.0, reservation - payoff[a])),
    }
    if min_pay is not None:
        out["max_ll_violation"] = float(max(0.0, float(min_pay) - float(np.min(pay))))
    return out


def _pyomo_inverse(utility: Utility, risk_aversion):
    """h(v) as a pyomo expression builder for the built-in utilities (None for an expression)."""
    import pyomo.environ as pyo

    name = utility.name.split("(")[0]
    if name == "linear":
        return lambda v: v
    if name == "sqrt":
        return lambda v: v**2
    if name == "log":
        return lambda v: pyo.exp(v)
    if name == "cara":
        r = float(risk_aversion)
        return lambda v: -pyo.log(1 - r * v) / r
    if name == "crra":
        k = 1.0 - float(risk_aversion)
        return lambda v: (k * v) ** (1.0 / k)
    return None


def cheapest_contract_pyomo(prob, cost, a, utility: Utility, reservation=0.0, min_pay=None, max_pay=None,
                            action_names=None, outcome_names=None, *, risk_aversion=None,
                            utility_expr=None) -> Contract:
    """C(a) by pyomo with the NLP solver (Ipopt if installed, else ripopt), a local interior-point method.

    Built-in utilities are modelled in utility space (a convex program, though the solver only
    claims a local optimum); an expression utility in pay space with u(w) from the expression
    (IC constraints are then differences of concave functions: a local optimum only).
    """
    import pyomo.environ as pyo

    from ..backends import solve_pyomo

    m, n = prob.shape
    action_names = action_names or [str(i) for i in range(m)]
    outcome_names = outcome_names or [str(j) for j in range(n)]
    G, g, names, v_lo, v_hi = _constraint_data(prob, cost, a, reservation, utility, min_pay, max_pay,
                                               action_names, outcome_names)
    contract = Contract(a, "not_solved")
    if _unreachable(utility, reservation + cost[a]):
        contract.status = "infeasible"
        contract.message = f"action {action_names[a]!r}: reservation + cost is not below the supremum of utility"
        return contract
    model = pyo.ConcreteModel()
    J = range(n)
    inverse = _pyomo_inverse(utility, risk_aversion) if utility_expr is None else None
    pay_space = inverse is None
    if pay_space:
        lo = utility.lower if min_pay is None else max(float(min_pay), utility.lower)
        hi = utility.upper if max_pay is None else float(max_pay)
        start = float(np.clip(utility.inverse(np.array(min(max(reservation + cost[a], utility.v_lower),
                                                                utility.v_upper))), lo, hi))
        model.w = pyo.Var(J, bounds=(lo, hi), initialize=start + 0.1 * (hi - lo) / max(n, 1) * 0)
        util = {j: utility_expr.pyomo(w=model.w[j]) for j in J}
        model.obj = pyo.Objective(expr=sum(prob[a, j] * model.w[j] for j in J))
    else:
        lo = v_lo if math.isfinite(v_lo) else None
        cap = v_hi if (math.isfinite(v_hi) and max_pay is not None) else None
        if cap is None and math.isfinite(utility.v_upper):
            cap = utility.v_upper - 1e-9 * (1 + abs(utility.v_upper))
        level = reservation + cost[a]
        start = min(max(level, lo if lo is not None else level), cap if cap is not None else level)
        model.v = pyo.Var(J, bounds=(lo, cap), initialize=start)
        util = {j: model.v[j] for j in J}
        model.obj = pyo.Objective(expr=sum(prob[a, j] * inverse(model.v[j]) for j in J))
    model.cons = pyo.ConstraintList()
    for i in range(len(g)):
        model.cons.add(sum(float(G[i, j]) * util[j] for j in J) >= float(g[i]))
    model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    # every case goes to the NLP solver: backends.solve_pyomo's HiGHS path (appsi) deadlocks in pyomo's
    # output capture when the CLI has redirected standard output (reported to the lead)
    try:
        status, method, local = solve_pyomo(model, "nlp", tol=1e-11, acceptable_tol=1e-10)
    except (AttributeError, RuntimeError, ValueError) as exc:  # a solver failure must not crash the caller
        contract.method, contract.local = "pyomo", True
        contract.message = f"pyomo: {type(exc).__name__}: {exc}"
        return contract
    contract.method, contract.local = method, local
    contract.status = status
    if status != "optimal":
        return contract
    if pay_space:
        w = np.array([pyo.value(model.w[j]) for j in J])
        vv = np.asarray(utility.u(w), float)
        contract.pay, contract.promised = w, vv
        contract.expected_pay = float(prob[a] @ w)
    else:
        vv = np.array([pyo.value(model.v[j]) for j in J])
        _finish(contract, prob, a, utility, vv)
    for i, nm in enumerate(names):
        dual = model.dual.get(model.cons[i + 1])
        if dual is not None:
            contract.multipliers[nm] = abs(float(dual))
    contract.binding = _binding(G, g, names, vv, v_lo, outcome_names, min_pay)
    return contract
