"""The formulations of hidden action: one object per way to write the problem as a program.

**Discrete actions** (Grossman and Hart, 1983; docs/theory/moral_hazard.md).  Implementing action a at least cost,
written in *utility space* v_j = u(w_j), so that pay is w_j = h(v_j) with h = u⁻¹ increasing and
convex (u concave):

    C(a) = min_v  Σ_j p[a, j] h(v_j)
           s.t.   IR:      Σ_j p[a, j] v_j − c_a ≥ R
                  IC[b]:   Σ_j (p[a, j] − p[b, j]) v_j ≥ c_a − c_b      for every b ≠ a
                  LL[j]:   v_j ≥ u(w_min)

Every constraint is linear in v and the objective is convex: a linear program for a risk-neutral
agent and a convex program otherwise.  The principal implements the action with the largest net
value Σ_j p[a, j] x_j − C(a); this maximum is over *every* candidate action, so a subproblem that
no solver rung settles leaves the whole answer ``not_solved`` (never the best of the others).

* :class:`CvxpyContracts` (``cvxpy``): the per-action convex program (HiGHS for the LP, Clarabel
  otherwise) with a ladder of retries when a subproblem is not solved: the same program rescaled
  (CARA in the variable s = (1 − rv)/(1 − rL), the others v = L + σy around the level
  L = R + c_a), then damped Newton steps with convex QPs, which is also the method for a concave
  expression utility (no DCP form of h).  ``build()`` gives ``{action: cvxpy.Problem}``.
* :class:`ScipyContracts` (``scipy``): ``linprog`` (HiGHS) for the LP, SLSQP in utility space
  otherwise (a KKT point, claimed local).
* :class:`PyomoContracts` (``pyomo``): the LP through HiGHS (global), else the NLP solver
  (Ipopt / ripopt, local).  ``build()`` gives ``{action: pyomo ConcreteModel}``.

Every solved contract is polished: the constraints that bind are read off and the KKT system of
that active set is solved to machine precision (:func:`polish_contract`); the polished point is
kept only when it is feasible, its multipliers have the right sign and it costs no more.

**Continuous effort** (Rogerson, 1985; see :mod:`.first_order`).

* :class:`FirstOrderContracts` (``first-order``): for each target effort e the convex program
  with IR and the agent's first-order condition; the global IC check decides whether the FOA
  holds, and when it fails the answer comes from the grid formulation (unless ``fallback = false``).
* :class:`GridContracts` (``grid``): IR, the first-order condition and IC against every effort on
  the ``effort_grid``.  ``build(target=e)`` gives the ``cvxpy.Problem`` of one target.

Solver objects only through :mod:`ital_opt.backends`.
"""

from __future__ import annotations

import math
import operator
import warnings
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import MethodNotApplicable
from ..kkt import newton_kkt
from ..problem import Formulation
from ..result import Result
from .closed_form import Contract, two_by_two, two_by_two_applies
from .first_order import FOA_TOL, FOAContract, best_target, derivative, foc_sense, rogerson_conditions
from .utility import Utility

BINDING_TOL = 1e-7


# -- the program's data ----------------------------------------------------------------------------
class Rows(NamedTuple):
    """The constraints of implementing one action in utility space: G v ≥ g and v_lo ≤ v ≤ v_hi."""

    G: np.ndarray
    g: np.ndarray
    names: list[str]  # IR, then IC[b] for every other action b
    v_lo: float
    v_hi: float

    def limits(self) -> tuple[float | None, float | None]:
        """(v_lo, v_hi) with None for an infinite bound (the solvers' convention)."""
        return (self.v_lo if math.isfinite(self.v_lo) else None, self.v_hi if math.isfinite(self.v_hi) else None)


def constraint_data(problem, a: int) -> Rows:
    """Rows G v ≥ g (IR, then IC[b] for b ≠ a) with their names, and the bounds (v_lo, v_hi) on v."""
    prob, cost, utility = problem.prob, problem.cost, problem.utility
    m, n = prob.shape
    others = [b for b in range(m) if b != a]
    G = np.vstack([prob[a][None, :], np.array([prob[a] - prob[b] for b in others]).reshape(-1, n)])
    g = np.concatenate([[problem.reservation + cost[a]], [cost[a] - cost[b] for b in others]])
    names = ["IR", *[f"IC[{problem.actions[b]}]" for b in others]]
    v_lo = utility.floor(problem.min_pay)
    v_hi = utility.v_upper
    if problem.max_pay is not None:
        v_hi = min(v_hi, float(utility.u(np.array(float(problem.max_pay)))))
    return Rows(G, g, names, v_lo, v_hi)


def settle(problem, contract: Contract, rows: Rows, v) -> Contract:
    """Fill the contract's pay from the promised utilities `v` and name the constraints that bind there."""
    contract.settle(problem.prob[contract.action], problem.utility, v)
    v, v_lo = contract.promised, rows.v_lo
    tol = BINDING_TOL * (1.0 + np.abs(rows.g))
    contract.binding = [nm for nm, s, t in zip(rows.names, rows.G @ v - rows.g, tol, strict=True) if s <= t]
    if problem.min_pay is not None and math.isfinite(v_lo):
        contract.binding += [f"LL[{o}]" for o, vj in zip(problem.outcome_names, v, strict=True)
                             if vj - v_lo <= BINDING_TOL * (1 + abs(v_lo))]
    return contract


def ll_multipliers(problem, duals) -> dict[str, float]:
    """The multipliers of the limited-liability floors by name (none without ``min_pay``)."""
    if problem.min_pay is None:
        return {}
    return {f"LL[{o}]": float(d) for o, d in zip(problem.outcome_names, np.atleast_1d(np.asarray(duals, float)), strict=True)}


def solver_bounds(problem, rows: Rows, inside: bool = False) -> tuple[float | None, float | None]:
    """(lo, hi) on v for a solver, None where unbounded.  A built-in utility without ``max_pay`` has
    no cap: its own supremum is left to the objective, or with `inside` becomes a point just below
    it (h is infinite there)."""
    lo, hi = rows.limits()
    utility = problem.utility
    if problem.max_pay is None and utility.builtin:
        hi = None
        if inside and math.isfinite(utility.v_upper):
            hi = utility.v_upper - 1e-9 * (1 + abs(utility.v_upper))
    return lo, hi


def infeasibility(rows: Rows, v) -> float:
    """The largest violation of G v ≥ g and of the bounds, relative to the right-hand sides."""
    G, g, _, v_lo, v_hi = rows
    v = np.asarray(v, float)
    rows = float(np.max((g - G @ v) / (1.0 + np.abs(g)), initial=0.0))
    low = float(np.max(v_lo - v, initial=0.0)) if math.isfinite(v_lo) else 0.0
    high = float(np.max(v - v_hi, initial=0.0)) if math.isfinite(v_hi) else 0.0
    return max(rows, low, high, 0.0)


# -- polishing: the KKT system of the binding constraints, solved exactly ------------------------------
def kkt_point(problem, a: int, v0) -> tuple[np.ndarray, dict[str, float]] | None:
    """The KKT point of implementing `a` on the active set read off `v0`, solved exactly; or None.

    With A the binding IR/IC rows and F the outcomes at the limited-liability floor, the optimum
    solves p_a,j h'(v_j) = Σ_i λ_i A_ij + ν_j (ν_j = 0 off F), A v = g_A and v_F = floor (Newton's
    method on this system; one linear solve for a risk-neutral agent).  The point is returned only
    if it is feasible to 1e-12 relative, the stationarity residual vanishes and λ, ν ≥ 0: the KKT
    conditions, which certify the global minimum of the convex program (h convex).  Returns
    (v, multipliers by constraint name).
    """
    utility: Utility = problem.utility
    rows = G, g, names, v_lo, v_hi = constraint_data(problem, a)
    v0 = np.asarray(v0, float)
    n = v0.size
    active = np.flatnonzero(G @ v0 - g <= 1e-6 * (1.0 + np.abs(g)))
    floor = np.flatnonzero(math.isfinite(v_lo) & (v0 - v_lo <= 1e-6 * (1.0 + abs(v_lo))))
    pa = problem.prob[a]
    A = G[active]
    E = np.eye(n)[floor]
    M = np.vstack([A, E])  # the active rows: A v = g_A, v_F = floor
    rhs = np.concatenate([g[active], np.full(len(floor), v_lo)])
    if utility.linear:
        # a linear h: the binding constraints (with the floor) must pin v down on their own
        if M.shape[0] < n or np.linalg.matrix_rank(M) < n:
            return None
        v = np.linalg.lstsq(M, rhs, rcond=None)[0]
        sol = np.linalg.lstsq(M.T, pa * utility.inverse_derivative(v), rcond=None)[0]
    else:
        def curvature(v):  # p h''(v) by central differences of h'
            step = 1e-6 * (1.0 + np.abs(v))
            return np.diag(pa * (utility.inverse_derivative(v + step) - utility.inverse_derivative(v - step)) / (2 * step))

        start = v0.copy()
        start[floor] = v_lo
        with np.errstate(all="ignore"):  # max −p·h(v) on the active set; ν, λ ≥ 0 at a KKT point
            found = newton_kkt(start, lambda v: -pa * utility.inverse_derivative(v), lambda v: -curvature(v),
                               lambda v: M @ v - rhs, lambda v: M, iters=60, full_output=True)
        if found is None:
            return None
        v, sol = found
        if math.isfinite(utility.v_upper) and np.any(v >= utility.v_upper):
            return None
    lam, nu = np.split(sol, [len(active)])
    with np.errstate(all="ignore"):
        hp = pa * utility.inverse_derivative(v)
    scale = 1.0 + float(np.max(np.abs(hp)))
    stationarity = float(np.max(np.abs(hp - A.T @ lam - E.T @ nu), initial=0.0))
    if (not np.all(np.isfinite(v)) or infeasibility(rows, v) > 1e-12 or stationarity > 1e-9 * scale
            or np.any(lam < -1e-9 * scale) or np.any(nu < -1e-9 * scale)):
        return None
    mult = {nm: 0.0 for nm in names}
    mult.update({names[i]: float(max(lam[r], 0.0)) for r, i in enumerate(active)})
    if problem.min_pay is not None and math.isfinite(v_lo):
        mult.update({f"LL[{problem.outcome_names[j]}]": 0.0 for j in range(n)})
        mult.update({f"LL[{problem.outcome_names[j]}]": float(max(nu[r], 0.0)) for r, j in enumerate(floor)})
    return v, mult


def polish_contract(problem, contract: Contract) -> Contract:
    """Replace a solved contract by the exact KKT point of its binding constraints (:func:`kkt_point`).

    The solver's point is kept when no KKT point is found there, or when the exact one would cost
    more than the solver's by over 1e-6 relative (the active set was misread).  The multipliers
    are then exact too, and ``contract.kkt`` records the certificate.
    """
    if contract.status != "optimal" or contract.promised is None or not problem.utility.concave:
        return contract
    found = kkt_point(problem, contract.action, contract.promised)
    if found is None:
        return contract
    v, mult = found
    cost = float(problem.prob[contract.action] @ problem.utility.inverse(v))
    if cost > contract.expected_pay + 1e-6 * (1.0 + abs(contract.expected_pay)):
        return contract
    settle(problem, contract, constraint_data(problem, contract.action), v)
    contract.multipliers = mult
    contract.kkt = True
    return contract


def phase_one(problem, a: int) -> tuple[float, np.ndarray | None]:
    """The phase-one LP of implementing `a`: max t s.t. G v − t·(1 + |g|) ≥ g, bounds on v, t ≤ 1
    (HiGHS via scipy).  Returns (t*, v*): the constraints are infeasible exactly when t* < 0, and
    with t* > 0 the point v* satisfies every IR/IC row strictly (a start for a local solver)."""
    from scipy.optimize import linprog

    rows = constraint_data(problem, a)
    G, g = rows.G, rows.g
    n = G.shape[1]
    scale = 1.0 + np.abs(g)
    lo, hi = rows.limits()
    A = np.hstack([-G / scale[:, None], np.ones((len(g), 1))])
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=A, b_ub=-g / scale, bounds=[(lo, hi)] * n + [(None, 1.0)],
                  method="highs")
    if res.status != 0:
        return math.nan, None
    return float(-res.fun), np.asarray(res.x[:n], float)


def certify_infeasible(problem, a: int) -> bool:
    """Whether no contract meets the (linear) IR/IC rows and pay bounds of `a`: :func:`phase_one` < 0."""
    t, _ = phase_one(problem, a)
    return t < -1e-9


# -- assembling the principal's choice -------------------------------------------------------------
def upper_bounds(problem) -> np.ndarray:
    """An upper bound on each action's net value, Σ_j p[a, j] x_j − (a lower bound on C(a)).

    For concave u, Jensen and IR give E_a[h(v)] ≥ h(E_a v) ≥ h(R + c_a), and limited liability
    E_a[w] ≥ w_min: C(a) is at least the first-best pay max(h(R + c_a), w_min).  Otherwise only
    w_min bounds the pay."""
    gross = problem.prob @ problem.outcomes
    if problem.utility.concave:
        return gross - np.asarray(problem.first_best()["pays"], float)
    return gross - (problem.min_pay if problem.min_pay is not None else -np.inf)


def pay_rows(problem, prob, pay) -> pd.DataFrame:
    """The result's rows: each outcome's value, probability under the implemented action, pay and utility."""
    return pd.DataFrame({"outcome": problem.outcome_names, "value": problem.outcomes, "prob": prob, "pay": pay,
                         "utility": problem.utility.u(pay)})


def assemble(problem, contracts: list[Contract], backend: str) -> Result:
    """The best net value over the candidate actions' contracts; ``not_solved`` if any is unsettled."""
    gross = problem.prob @ problem.outcomes
    fb = problem.first_best()
    table = []
    for c in contracts:
        ok = c.status == "optimal"
        table.append({
            "action": problem.actions[c.action],
            "cost": float(problem.cost[c.action]),
            "expected_value": float(gross[c.action]),
            "status": c.status,
            "implementation_cost": float(c.expected_pay) if ok else None,
            "net_value": float(gross[c.action] - c.expected_pay) if ok else None,
            "first_best_pay": fb["pays"][c.action],
            "binding": list(c.binding),
        })
    method = next((c.method for c in contracts if c.method), backend)
    feasible = [c for c in contracts if c.status == "optimal"]
    unsettled = [c for c in contracts if c.status not in ("optimal", "infeasible")]
    excluded = []
    if unsettled and feasible:
        # an unsolved action is out of the running if even a lower bound on its cost leaves it behind
        bound = upper_bounds(problem)
        best_net = max(gross[c.action] - c.expected_pay for c in feasible)
        margin = 1e-6 * (1.0 + abs(best_net))
        for c in list(unsettled):
            if bound[c.action] < best_net - margin:
                unsettled.remove(c)
                row = table[contracts.index(c)]
                row["net_value_bound"] = float(bound[c.action])
                excluded.append(f"{problem.actions[c.action]!r} (net value at most {bound[c.action]:.6g})")
    if unsettled:
        # the maximum over an incomplete set of subproblems is not the optimum
        names = ", ".join(repr(problem.actions[c.action]) for c in unsettled)
        why = "; ".join(c.message for c in unsettled if c.message)
        return Result(status="not_solved", method=method, extras={"implementation": table},
                      message=f"the cheapest contract for action {names} was not found" + (f" ({why})" if why else "")
                      + ": the best of the other actions need not be optimal")
    if not feasible:
        what = f"action {problem.implement!r}" if problem.implement else "any action"
        return Result(status="infeasible", method=method, extras={"implementation": table},
                      message=f"no contract implements {what} ({'; '.join(c.message for c in contracts if c.message)})")
    best = max(feasible, key=lambda c: (gross[c.action] - c.expected_pay, -c.action))
    a = best.action
    rows = pay_rows(problem, problem.prob[a], best.pay)
    objective = float(gross[a] - best.expected_pay)
    extras = {
        "action": problem.actions[a],
        "expected_pay": float(best.expected_pay),
        "expected_value": float(gross[a]),
        "agent_utility": float(problem.prob[a] @ problem.utility.u(best.pay) - problem.cost[a]),
        "first_best_action": fb["action"],
        "first_best_objective": fb["objective"],
        "first_best_pay": fb["pay"],
        "agency_cost": fb["objective"] - objective,
        "implementation": table,
    }
    local = any(c.local for c in contracts)
    notes = [f"{best.method} claims a local optimum only (a KKT point)"] if local else []
    notes += [c.message for c in feasible if c.message]
    if excluded:
        notes.append(f"not solved but out of the running by the first-best bound on the net value: {', '.join(excluded)}")
    return Result(status="optimal", method=best.method or method, objective=objective, rows=rows, extras=extras,
                  binding=list(best.binding), multipliers=dict(best.multipliers), local=local, message="; ".join(notes))


class ClosedFormContracts:
    """The 2x2 closed form for every candidate action (not a program: see :mod:`.closed_form`); a
    method for discrete actions only."""

    name = "closed-form"

    @staticmethod
    def applies(problem) -> str | None:
        return two_by_two_applies(problem.prob, problem.utility, problem.max_pay)

    @staticmethod
    def run(problem, **options) -> Result:
        contracts = [two_by_two(problem.prob, problem.cost, a, problem.utility, problem.reservation, problem.min_pay,
                                problem.actions, problem.outcome_names) for a in problem.candidate_actions()]
        return assemble(problem, contracts, "closed-form")


class _Discrete(Formulation):
    """Shared run: one subproblem per candidate action (unless R + c_a is out of u's reach), each
    polished, then :func:`assemble`.  Offered for discrete actions only (:data:`DISCRETE`)."""

    def model(self, problem, a: int):
        """The program of the cheapest contract for action `a`, in the formulation's modelling language."""
        raise NotImplementedError

    def build(self, problem, **options) -> dict:
        """``{action name: program}``: :meth:`model` for each candidate action."""
        return {problem.actions[a]: self.model(problem, a) for a in problem.candidate_actions()}

    def solve_contract(self, problem, contract: Contract, rows: Rows, **options) -> Contract:
        """Solve for the cheapest `contract` (its action's program has the constraints `rows`)."""
        raise NotImplementedError

    def contract(self, problem, a: int, **options) -> Contract:
        """The cheapest contract implementing action `a`, as this formulation finds it (unpolished); infeasible
        without a solve when R + c_a is out of u's reach."""
        utility, level = problem.utility, problem.reservation + problem.cost[a]
        if utility.unreachable(level):
            return Contract(a, "infeasible", message=f"action {problem.actions[a]!r}: reservation + cost = {level:g} "
                            f"is not below the supremum {utility.v_upper:g} of utility {utility.name!r}")
        return self.solve_contract(problem, Contract(a, "not_solved"), constraint_data(problem, a), **options)

    def run(self, problem, **options) -> Result:
        contracts = [polish_contract(problem, self.contract(problem, a, **options)) for a in problem.candidate_actions()]
        return assemble(problem, contracts, self.name)

    def recover(self, problem, model) -> Result:
        raise MethodNotApplicable(self.name, "solve the built programs and read them with the action's variables; "
                                             "run() assembles the principal's choice")


# -- cvxpy -------------------------------------------------------------------------------------------
def inverse_expression(utility: Utility, v, lang):
    """h(v) for a built-in utility in a modelling language: `lang` gives its exp, log, power and square
    (the cvxpy module, or pyomo's).  Convex, so the cvxpy expression is DCP."""
    r = utility.risk_aversion  # CRRA with γ = 1 is the family "log"
    return {
        "linear": lambda: v,
        "sqrt": lambda: lang.square(v),
        "log": lambda: lang.exp(v),
        "cara": lambda: -lang.log(1 - r * v) / r,
        "crra": lambda: lang.power((1.0 - r) * v, 1.0 / (1.0 - r)),
    }[utility.family]()


class CvxpyContracts(_Discrete):
    """Per action: the convex program in utility space (an LP for a risk-neutral agent), via cvxpy."""

    name = "cvxpy"
    solvers = ("CLARABEL", "HIGHS", "SCS")
    options = frozenset()

    def applies(self, problem) -> str | None:
        u = problem.utility
        if not u.builtin and not u.concave:
            return (f"utility {u.name!r} is not concave on [{u.lower:g}, {u.upper:g}]: "
                    "the program in utility space is not convex (use method 'scipy', a local solver)")
        return None

    def program(self, problem, a: int, rescale: bool = False):
        """(cvxpy.Problem, v as an expression, the constraint rows, the floor bound or None) for action `a`."""
        import cvxpy as cp

        utility = problem.utility
        data = constraint_data(problem, a)
        G, g = data.G, data.g
        level = problem.reservation + problem.cost[a]
        x = cp.Variable(G.shape[1])
        if rescale and utility.family == "cara":
            r = utility.risk_aversion
            top = 1.0 - r * level  # > 0: the level is below the supremum 1/r
            v = (1.0 - top * x) / r  # x = (1 − r v)/(1 − r L) > 0, so h(v) = −(log x + log top)/r
            objective = problem.prob[a] @ (-(cp.log(x) + math.log(top)) / r)
        else:
            sigma = max(1.0, abs(level), float(np.max(np.abs(g))))
            v = level + sigma * x if rescale else x
            # an expression utility (no DCP form of h): the LP in utility units, where the Newton iterations start
            objective = problem.prob[a] @ (inverse_expression(utility, v, cp) if utility.builtin else v)
        rows = [cp.Constant(G[i]) @ v >= g[i] for i in range(len(g))]
        lo, hi = solver_bounds(problem, data)
        floor = v >= lo if lo is not None else None
        bounds = ([floor] if floor is not None else []) + ([v <= hi] if hi is not None else [])
        return cp.Problem(cp.Minimize(objective), rows + bounds), v, rows, floor

    def model(self, problem, a: int):
        """The ``cvxpy.Problem`` of the cheapest contract for action `a`.

        The variable is the promised utility v (``problem.variables()[0]``), pay is h(v).  For an
        expression utility (no DCP form of h) the program is the LP in utility units from which
        the Newton iterations of ``run`` start."""
        return self.program(problem, a)[0]

    def solve_contract(self, problem, contract: Contract, rows: Rows, solver: str | None = None, verbose: bool = False,
                       **options) -> Contract:
        from ..backends import solve_cvxpy

        utility, a = problem.utility, contract.action
        failures = []
        # the ladder: the program as written, the same program rescaled, damped Newton with QP steps
        # (a solver named by the caller is used alone)
        rungs = ["direct", "rescaled", "newton"] if utility.builtin else ["newton"]
        if solver is not None and utility.builtin:
            rungs = ["direct"]
        for rung in rungs:
            if rung == "newton":
                status, method, v, cons, floor = self._newton(problem, a, rows, verbose)
            else:
                prog, v_expr, cons, floor = self.program(problem, a, rescale=rung == "rescaled")
                with warnings.catch_warnings():  # an inaccurate solve is retried and reported below
                    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                    status, method = solve_cvxpy(prog, solver, verbose, rung=rung, **options)
                v = None if v_expr.value is None else np.asarray(v_expr.value, float)
            if status == "infeasible" and rung == rungs[0]:
                contract.status, contract.method = "infeasible", method
                return contract
            if status == "optimal" and v is not None and infeasibility(rows, v) <= 1e-7:
                contract.status = "optimal"
                contract.method = method if rung in ("direct", "newton") else f"{method}+{rung}"
                break
            failures.append(f"{method} ({rung}): {status}")
        if contract.status != "optimal":
            contract.method = method
            if certify_infeasible(problem, a):
                contract.status = "infeasible"
            contract.message = f"action {problem.actions[a]!r}: " + "; ".join(failures)
            return contract
        if failures:
            contract.message = f"action {problem.actions[a]!r} needed a retry ({'; '.join(failures)})"
        settle(problem, contract, rows, v)
        contract.multipliers = {nm: float(np.asarray(c.dual_value).item()) for nm, c in zip(rows.names, cons, strict=True)
                                if c.dual_value is not None}
        if floor is not None and floor.dual_value is not None:
            contract.multipliers.update(ll_multipliers(problem, floor.dual_value))
        return contract

    def _newton(self, problem, a: int, rows: Rows, verbose: bool = False, tol: float = 1e-13, max_rounds: int = 60):
        """min p·h(v) over the linear constraints by damped Newton steps, each a convex QP (Clarabel).

        At the iterate v_k, h is replaced by its second-order model h(v_k) + h'(v_k) d + h''(v_k) d²/2;
        the QP's minimiser gives a feasible direction (the constraint set is convex) and a
        backtracking line search on the true objective keeps the descent.  Stops when the predicted
        decrease is below `tol`.  Returns (status, method, v, the last QP's rows, its floor bound)."""
        import cvxpy as cp

        from ..backends import solve_cvxpy

        utility = problem.utility
        p = problem.prob[a]
        lo = rows.v_lo if math.isfinite(rows.v_lo) else utility.v_lower
        hi = rows.v_hi if math.isfinite(rows.v_hi) else utility.v_upper
        start, v, cons, floor = self.program(problem, a)
        constraints = list(start.constraints)
        if math.isfinite(hi):  # stay strictly inside u's range: h' is unbounded at a finite supremum
            hi = hi - 1e-9 * (1 + abs(hi))
            constraints.append(v <= hi)
        # a feasible start: the cheapest contract in utility units (an LP); for a built-in utility the
        # program above is the convex one, so replace its objective
        start = cp.Problem(cp.Minimize(p @ v), constraints)
        status, method = solve_cvxpy(start, verbose=verbose, rung="newton")
        if status != "optimal":
            return status, method + "+newton", None, cons, floor
        x = np.clip(np.asarray(v.value, float), lo, hi)

        def objective(y):
            with np.errstate(all="ignore"):
                val = float(p @ utility.inverse(y))
            return val if math.isfinite(val) else math.inf

        for _ in range(max_rounds):
            with np.errstate(all="ignore"):
                slope = utility.inverse_derivative(x)
                step = 1e-5 * (1.0 + np.abs(x))
                up, down = np.minimum(x + step, hi), np.maximum(x - step, lo)
                curvature = np.maximum((utility.inverse_derivative(up) - utility.inverse_derivative(down)) / (up - down),
                                       0.0)
            if not (np.all(np.isfinite(slope)) and np.all(np.isfinite(curvature))):
                break
            d = v - x
            model = p @ cp.multiply(slope, d) + 0.5 * cp.sum(cp.multiply(p * curvature, cp.square(d)))
            qp = cp.Problem(cp.Minimize(model), constraints)
            status, method = solve_cvxpy(qp, verbose=verbose, rung="newton")
            if status != "optimal":
                break
            direction = np.clip(np.asarray(v.value, float), lo, hi) - x
            decrease = -float(p @ (slope * direction))
            if decrease <= tol * (1.0 + abs(objective(x))):
                return "optimal", method + "+newton", x, cons, floor
            t, f0 = 1.0, objective(x)
            while t > 1e-12 and objective(x + t * direction) > f0 - 1e-4 * t * decrease:
                t *= 0.5
            x = x + t * direction
        # the iterations stalled: the point stands only if the KKT conditions hold there
        found = kkt_point(problem, a, x) if utility.concave else None
        if found is None:
            return "not_solved", method + "+newton", None, cons, floor
        return "optimal", method + "+newton", found[0], cons, floor


# -- scipy -------------------------------------------------------------------------------------------
class ScipyContracts(_Discrete):
    """Per action: ``linprog`` (HiGHS) for the LP, SLSQP in utility space otherwise (local)."""

    name = "scipy"
    solvers = ()
    options = frozenset()

    def model(self, problem, a: int) -> dict:
        """``dict(c, A_ub, b_ub, bounds, constraint_names)`` for action `a`: the data scipy.optimize is called with."""
        rows = constraint_data(problem, a)
        return {"c": problem.prob[a], "A_ub": -rows.G, "b_ub": -rows.g,
                "bounds": [solver_bounds(problem, rows)] * rows.G.shape[1], "constraint_names": rows.names}

    def solve_contract(self, problem, contract: Contract, rows: Rows, verbose: bool = False, **options) -> Contract:
        from scipy.optimize import linprog, minimize

        utility, a = problem.utility, contract.action
        G, g, names = rows.G, rows.g, rows.names
        n = G.shape[1]
        lo, hi = solver_bounds(problem, rows)
        pa = problem.prob[a]
        if utility.linear:
            res = linprog(pa, A_ub=-G, b_ub=-g, bounds=[(lo, hi)] * n, method="highs")
            contract.method = "scipy/linprog-highs"
            if res.status == 2:
                contract.status = "infeasible"
                return contract
            if res.status != 0:
                contract.message = res.message
                return contract
            contract.status = "optimal"
            settle(problem, contract, rows, res.x)
            # the LP is in utility units; h' (constant for an affine u) converts its duals to pay units
            hp = float(np.atleast_1d(utility.inverse_derivative(contract.promised))[0])
            duals = -np.asarray(res.ineqlin.marginals, float) * hp
            contract.multipliers = {nm: float(d) for nm, d in zip(names, duals, strict=True)}
            contract.multipliers.update(ll_multipliers(problem, res.lower.marginals))
            return contract
        # strictly convex program in utility space; SLSQP finds its KKT point (claimed local only)
        contract.method = "scipy/SLSQP"
        contract.local = True
        _, upper = solver_bounds(problem, rows, inside=True)
        start_level = problem.reservation + problem.cost[a]
        if lo is not None:
            start_level = max(start_level, lo)
        if upper is not None:
            start_level = min(start_level, upper - 1e-3 * (1 + abs(upper)))
        res = minimize(
            lambda v: float(pa @ utility.inverse(v)),
            np.full(n, start_level),
            jac=lambda v: pa * utility.inverse_derivative(v),
            method="SLSQP",
            bounds=[(lo, upper)] * n,
            constraints=[{"type": "ineq", "fun": lambda v: G @ v - g, "jac": lambda v: G}],
            options={"ftol": 1e-14, "maxiter": 1000},
        )
        vv = np.asarray(res.x, float)
        infeas = float(np.max(g - G @ vv, initial=0.0))
        if not res.success or infeas > 1e-8 * (1 + np.max(np.abs(g))):
            # SLSQP often stops next to the optimum ("positive directional derivative"): accept the
            # point only if the KKT conditions hold on its active set; infeasibility only by the LP
            found = kkt_point(problem, a, vv) if utility.concave and np.all(np.isfinite(vv)) else None
            if found is None:
                contract.status = "infeasible" if certify_infeasible(problem, a) else "not_solved"
                contract.message = f"SLSQP: {res.message} (constraint violation {infeas:.2e})"
                return contract
            vv, contract.multipliers = found
            contract.kkt = True
            contract.message = f"SLSQP stopped early ({res.message}); the KKT conditions hold at the polished point"
        contract.status = "optimal"
        settle(problem, contract, rows, vv)
        mult = getattr(res, "multipliers", None)  # scipy >= 1.16: the constraints' multipliers, in order
        if isinstance(mult, dict):
            mult = mult.get("ineq")
        if mult is not None and not contract.kkt:
            contract.multipliers = {nm: float(d) for nm, d in zip(names, np.asarray(mult, float)[: len(names)], strict=False)}
        return contract


# -- pyomo -------------------------------------------------------------------------------------------
class PyomoContracts(_Discrete):
    """Per action: the LP through HiGHS (global) or the convex program through the NLP solver (local)."""

    name = "pyomo"
    solvers = ("nlp", "highs")
    options = None  # solver options pass through to Ipopt / ripopt

    def applies(self, problem) -> str | None:
        if not problem.utility.builtin:
            return ("an expression utility would be modelled in pay space, where the IC constraints are not convex "
                    "and u'(w) may be unbounded at the domain's edge (use method 'scipy')")
        return None

    def model(self, problem, a: int):
        """The pyomo ``ConcreteModel`` of action `a` in utility space: variables ``v[j]``, rows ``cons`` (IR, IC...)."""
        import pyomo.environ as pyo

        rows = constraint_data(problem, a)
        G, g = rows.G, rows.g
        model = pyo.ConcreteModel(name=f"cheapest contract for {problem.actions[a]}")
        J = range(G.shape[1])
        lo, cap = solver_bounds(problem, rows, inside=True)
        level = problem.reservation + problem.cost[a]
        start = min(max(level, lo if lo is not None else level), cap if cap is not None else level)
        model.v = pyo.Var(J, bounds=(lo, cap), initialize=start)
        lang = SimpleNamespace(exp=pyo.exp, log=pyo.log, power=operator.pow, square=lambda x: x**2)
        model.obj = pyo.Objective(expr=sum(float(problem.prob[a, j]) * inverse_expression(problem.utility, model.v[j], lang)
                                           for j in J))
        model.cons = pyo.ConstraintList()
        for i in range(len(g)):
            model.cons.add(sum(float(G[i, j]) * model.v[j] for j in J) >= float(g[i]))
        model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        return model

    def solve_contract(self, problem, contract: Contract, rows: Rows, solver: str | None = None, verbose: bool = False,
                       **options) -> Contract:
        import pyomo.environ as pyo

        from ..backends import solve_pyomo

        a, n = contract.action, rows.G.shape[1]
        model = self.model(problem, a)
        solver = solver or ("highs" if problem.utility.linear else "nlp")
        opts = dict(options) if solver == "highs" else {"tol": 1e-11, "acceptable_tol": 1e-10, **options}
        try:
            status, method, local = solve_pyomo(model, solver, verbose=verbose, **opts)
        except (AttributeError, RuntimeError, ValueError) as exc:  # a solver failure must not crash the caller
            contract.method, contract.local = "pyomo", True
            contract.message = f"pyomo: {type(exc).__name__}: {exc}"
            return contract
        if status not in ("optimal", "infeasible") and local:
            # once more from a point that meets every IR/IC row strictly (the phase-one LP)
            t, start = phase_one(problem, a)
            if start is not None and t > 0:
                for j in range(n):
                    lo, hi = model.v[j].bounds
                    model.v[j].value = float(np.clip(start[j], -np.inf if lo is None else lo, np.inf if hi is None else hi))
                try:
                    status, method, local = solve_pyomo(model, solver, verbose=verbose, **opts)
                except (AttributeError, RuntimeError, ValueError) as exc:
                    contract.message = f"pyomo: {type(exc).__name__}: {exc}"
        contract.method, contract.local, contract.status = method, local, status
        if status != "optimal":
            if local:  # a local solver's failure or "infeasible" proves nothing: the phase-one LP decides
                contract.status = "infeasible" if certify_infeasible(problem, a) else "not_solved"
            return contract
        settle(problem, contract, rows, [pyo.value(model.v[j]) for j in range(n)])
        for i, nm in enumerate(rows.names):
            dual = model.dual.get(model.cons[i + 1])
            if dual is not None:
                contract.multipliers[nm] = abs(float(dual))
        return contract


# -- continuous effort -------------------------------------------------------------------------------
class GridContracts(Formulation):
    """IR, the first-order condition at the target and IC against every effort on the grid (convex).
    Offered for continuous effort only (:data:`CONTINUOUS`)."""

    name = "grid"
    solvers = ("CLARABEL", "SCS")
    options = frozenset()
    deviations = True

    def applies(self, problem) -> str | None:
        if not problem.utility.builtin:
            return "the first-order approach needs a built-in utility (an expression has no DCP inverse)"
        return None

    def program(self, problem, effort: float):
        """(cvxpy.Problem, v, IR row, first-order row, grid IC block or None) for one target effort."""
        import cvxpy as cp

        u = problem.utility
        lo, hi = problem.effort_bounds
        pe = problem.probabilities(np.array([effort]))[0]
        ce = float(problem.effort_cost(np.array([effort]))[0])
        v = cp.Variable(pe.size)
        ir = pe @ v - ce >= problem.reservation
        dp = derivative(lambda x: problem.probabilities(np.array([x]))[0], effort, lo, hi)
        dc = derivative(lambda x: float(problem.effort_cost(np.array([x]))[0]), effort, lo, hi)
        foc = dp @ v - dc
        sense = foc_sense(effort, lo, hi)
        local = foc <= 0 if sense == "<=" else (foc >= 0 if sense == ">=" else foc == 0)
        cons = [ir, local]
        ic = None
        if self.deviations:
            grid = np.linspace(lo, hi, problem.effort_grid)
            ic = (pe[None, :] - problem.probabilities(grid)) @ v >= ce - problem.effort_cost(grid)
            cons.append(ic)
        v_lo = u.floor(problem.min_pay)
        if math.isfinite(v_lo):
            cons.append(v >= v_lo)
        if problem.max_pay is not None:
            cons.append(v <= float(u.u(np.array(problem.max_pay))))
        return cp.Problem(cp.Minimize(pe @ inverse_expression(u, v, cp)), cons), v, ir, local, ic

    def build(self, problem, target: float | None = None, **options):
        """The ``cvxpy.Problem`` implementing effort `target` (default: ``implement``, else the middle)."""
        lo, hi = problem.effort_bounds
        effort = target if target is not None else (problem.implement if problem.implement is not None else (lo + hi) / 2)
        return self.program(problem, float(effort))[0]

    def contract_at(self, problem, effort: float, solver=None, verbose=False, **options) -> FOAContract:
        from ..backends import solve_cvxpy

        u = problem.utility
        ce = float(problem.effort_cost(np.array([effort]))[0])
        if u.unreachable(problem.reservation + ce):
            return FOAContract(effort, "infeasible")
        prog, v, ir, local, ic = self.program(problem, effort)
        status, method = solve_cvxpy(prog, solver, verbose, **options)
        out = FOAContract(effort, status, method=method)
        if status != "optimal":
            return out
        pe = problem.probabilities(np.array([effort]))[0]
        out.pay = np.asarray(u.inverse(np.asarray(v.value, float)), float)
        out.expected_pay = float(pe @ out.pay)
        out.net_value = float(pe @ problem.outcomes) - out.expected_pay
        out.multipliers = {"IR": float(ir.dual_value), "FOC": float(np.asarray(local.dual_value).item())}
        if ic is not None:
            grid = np.linspace(*problem.effort_bounds, problem.effort_grid)
            duals = np.asarray(ic.dual_value, float)
            for k in np.flatnonzero(duals > 1e-6 * (1 + duals.max(initial=0))):
                out.multipliers[f"IC[e={grid[k]:.6g}]"] = float(duals[k])
        return out

    def search(self, problem, **options):
        lo, hi = problem.effort_bounds
        return best_target(lambda e: self.contract_at(problem, e, **options), lo, hi, problem.targets, problem.implement)

    def recover(self, problem, best: FOAContract) -> Result:
        pe = problem.probabilities(np.array([best.effort]))[0]
        rows = pay_rows(problem, pe, best.pay)
        gain, deviation = problem.deviation_gain(best.pay, best.effort)
        extras = {
            "action": f"e={best.effort:.6g}",
            "effort": float(best.effort),
            "expected_pay": float(best.expected_pay),
            "expected_value": float(pe @ problem.outcomes),
            "best_deviation": deviation,
            "deviation_gain": gain,
        }
        return Result(status="optimal", method=f"{self.name}/{best.method}", objective=float(best.net_value), rows=rows,
                      extras=extras, binding=best.binding(), multipliers=best.multipliers or {})

    def run(self, problem, **options) -> Result:
        best, table = self.search(problem, **options)
        if best.status != "optimal":
            return Result(status=best.status, method=f"grid/{best.method}",
                          message="no target effort can be implemented against the deviation grid")
        result = self.recover(problem, best)
        result.message = f"globally incentive compatible against a {problem.effort_grid}-point effort grid"
        return result


class FirstOrderContracts(GridContracts):
    """IR and the agent's first-order condition only; the global IC check decides whether it holds."""

    name = "first-order"
    deviations = False

    def run(self, problem, **options) -> Result:
        best, table = self.search(problem, **options)
        extras = {"targets": [{"effort": float(c.effort), "status": c.status,
                               "net_value": float(c.net_value) if c.status == "optimal" else None} for c in table]}
        if best.status != "optimal":
            return Result(status=best.status, method=best.method, extras=extras,
                          message="no target effort can be implemented under the first-order approach")
        result = self.recover(problem, best)
        gain, deviation = result.extras["deviation_gain"], result.extras["best_deviation"]
        grid = np.linspace(*problem.effort_bounds, 201)
        result.extras.update(foa_valid=bool(gain <= FOA_TOL * (1.0 + abs(problem.reservation) + problem.cost_scale)),
                             **rogerson_conditions(problem.probabilities(grid), grid), **extras)
        if result.extras["foa_valid"]:
            result.message = (f"first-order approach valid: no effort on a {problem.effort_grid}-point grid gains "
                              f"more than {FOA_TOL:g}")
            return result
        message = (f"first-order approach FAILS: under its contract the agent prefers effort {deviation:.6g} to the "
                   f"target {best.effort:.6g} (gain {gain:.6g}); the FOA value {best.net_value:.10g} is only an "
                   "upper bound on the principal's optimum")
        foa = {"foa_objective": float(best.net_value), "foa_effort": float(best.effort)}
        result.extras.update(foa)
        if not problem.fallback:
            result.status = "not_solved"
            result.message = message + " (fallback = false)"
            return result
        fixed = GridContracts().run(problem, **options)
        fixed.extras = {**fixed.extras, "foa_valid": False, **foa, "foa_deviation": deviation, "foa_deviation_gain": gain}
        fixed.method = "first-order→" + fixed.method
        fixed.message = message + "; answer from the global program on the deviation grid (method 'grid')"
        return fixed


DISCRETE = (CvxpyContracts(), ScipyContracts(), PyomoContracts())
CONTINUOUS = (FirstOrderContracts(), GridContracts())
