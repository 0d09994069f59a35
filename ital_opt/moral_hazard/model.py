"""Single-agent moral hazard: ``kind = "moral_hazard"`` (BOOK.md §5; Grossman and Hart, 1983).

A risk-neutral principal hires an agent whose action is hidden and pays him according to the
observed outcome.  Finitely many actions a with costs c_a, outcomes j worth x_j to the principal,
probabilities p[a, j] (one row per action, each summing to 1); the agent's utility u(w) − c_a
with u linear, sqrt, log, CARA (1 − e^{−rw})/r, CRRA w^{1−γ}/(1−γ) or an expression in ``w``;
reservation utility R and limited liability w ≥ w_min.

For each action the cheapest implementing contract C(a) is an LP (risk-neutral agent) or a
convex program in utility space (risk-averse agent), see :mod:`.contracts`; the principal
implements the action with the largest net value Σ_j p[a, j] x_j − C(a).  The objective is that
net value.  With two actions and two outcomes a closed form applies: the spread in utility is the
cost difference over the probability difference (for a risk-neutral agent with limited
liability: the bonus).

Continuous effort (fields ``effort``, ``prob`` as expressions in ``e``, ``cost`` as an
expression in ``e``) is solved by the first-order approach with a global check, see
:mod:`.first_order`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import MethodNotApplicable
from ..problem import Method, Problem, register
from ..result import Result
from ..spec import SpecReader
from . import contracts as ct

DEFAULT_PAY_SPAN = 100.0


@register
class MoralHazard(Problem):
    """Hidden action: the principal's best action and its cheapest implementing contract.

    >>> mh = MoralHazard(actions=["shirk", "work"], cost=[0, 1], outcomes=[0, 10],
    ...                  prob=[[0.8, 0.2], [0.4, 0.6]], min_pay=0)
    >>> r = mh.solve()
    >>> r.method, r.extras["action"], round(r.objective, 6), r.rows["pay"].tolist()
    ('closed-form', 'work', 4.5, [0.0, 2.5])
    """

    kind = "moral_hazard"

    # -- reading ---------------------------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        self.continuous = r.has("effort")
        if self.continuous:
            from .first_order import read_continuous

            read_continuous(self, r)
            self._read_money(r, scale_values=self.outcomes, scale_costs=self.cost_scale)
            return
        self.actions = r.strings("actions")
        m = len(self.actions)
        if m < 1:
            raise r.error("actions", "at least one action is needed")
        self.outcomes = r.vector("outcomes")
        n = self.outcomes.size
        self.outcome_names = r.strings("outcome_names", [f"x{j + 1}" for j in range(n)], n=n)
        self.cost = r.vector("cost", m)
        self.prob = r.matrix("prob", (m, n), nonneg=True)
        sums = self.prob.sum(axis=1)
        for a in range(m):
            if abs(sums[a] - 1.0) > 1e-9:
                raise r.error(f"prob[{a}]", f"the outcome probabilities of action {self.actions[a]!r} "
                                            f"must sum to 1 (within 1e-9), they sum to {sums[a]:.12g}")
        self.implement = r.string("implement", None, choices=self.actions)
        self._read_money(r, scale_values=self.outcomes, scale_costs=float(np.max(np.abs(self.cost))))

    def _read_money(self, r: SpecReader, scale_values, scale_costs) -> None:
        self.reservation = r.number("reservation", 0.0)
        self.min_pay = r.number("min_pay", None)
        self.max_pay = r.number("max_pay", None)
        if self.min_pay is not None and self.max_pay is not None and self.max_pay <= self.min_pay:
            raise r.error("max_pay", f"must exceed min_pay = {self.min_pay:g}, got {self.max_pay:g}")
        name = r.raw("utility", "linear")
        if not isinstance(name, str):
            raise r.error("utility", f"expected a name ({', '.join(ct.UTILITY_KINDS)}) or an expression in w, got {name!r}")
        needs_rho = name in ("cara", "crra")
        rho = r.number("risk_aversion", None, positive=True)
        if needs_rho and rho is None:
            raise r.error("risk_aversion", f"is required for utility = {name!r}")
        if rho is not None and not needs_rho:
            raise r.error("risk_aversion", f"applies only to utility 'cara' or 'crra', not {name!r}")
        self.risk_aversion = rho
        if name in ct.UTILITY_KINDS:
            self.utility = ct.builtin_utility(name, rho)
            if self.utility.lower > -math.inf and self.min_pay is not None and self.min_pay < self.utility.lower:
                raise r.error("min_pay", f"utility {name!r} is defined for pay ≥ {self.utility.lower:g}, "
                                         f"got min_pay = {self.min_pay:g}")
            self.utility_text = name
            return
        expr = r.expression("utility", ["w"])
        lower = self.min_pay if self.min_pay is not None else 0.0
        span = DEFAULT_PAY_SPAN * (1.0 + float(np.max(np.abs(scale_values))) + abs(scale_costs) + abs(self.reservation))
        upper = self.max_pay if self.max_pay is not None else lower + span

        def func(w, _expr=expr):
            with np.errstate(all="ignore"):
                return np.asarray(_expr.numpy(w=w), float) * np.ones_like(np.asarray(w, float))

        ok, where = ct.monotone_on(func, lower, upper)
        if not ok:
            raise r.error("utility", f"non-monotone utility: {expr.text!r} is not finite and strictly increasing "
                                     f"on the pay domain [{lower:g}, {upper:g}] (fails near w = {where:.6g})")
        self.utility = ct.expression_utility(func, lower, upper, text=expr.text)
        self.utility_text = expr.text
        self.utility_expr = expr

    # pays need not be unique (risk-neutral agent, outcomes of zero probability) and interior-point
    # pays are accurate only to ~sqrt(tolerance) where the objective is flat: compare expected pay
    compare = ("expected_pay",)

    # -- methods ---------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        if self.continuous:
            from .first_order import continuous_methods

            return continuous_methods()
        return [
            Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True),
            Method("cvxpy", _run_cvxpy, _cvxpy_applies),
            Method("scipy", _run_scipy),
            Method("pyomo", _run_pyomo, _pyomo_applies),
        ]

    def candidate_actions(self) -> list[int]:
        if self.implement is not None:
            return [self.actions.index(self.implement)]
        return list(range(len(self.actions)))

    def cheapest(self, a: int, backend: str = "cvxpy", cache: dict | None = None) -> ct.Contract:
        """The cheapest contract implementing action index `a` (backend "cvxpy", "scipy", "pyomo" or "closed-form").

        `cache` (cvxpy only) is shared across the actions of one solve: the program is compiled once.
        """
        args = (self.prob, self.cost, a)
        names = dict(action_names=self.actions, outcome_names=self.outcome_names)
        if backend == "closed-form":
            return ct.two_by_two(*args, self.utility, self.reservation, self.min_pay, **names)
        if backend == "pyomo":
            return ct.cheapest_contract_pyomo(*args, self.utility, self.reservation, self.min_pay, self.max_pay,
                                              **names, risk_aversion=self.risk_aversion,
                                              utility_expr=getattr(self, "utility_expr", None))
        if backend == "cvxpy":
            return ct.cheapest_contract_cvxpy(*args, self.utility, self.reservation, self.min_pay, self.max_pay,
                                              **names, cache=cache)
        return ct.cheapest_contract_scipy(*args, self.utility, self.reservation, self.min_pay, self.max_pay, **names)

    def first_best(self) -> dict:
        """The observable-action benchmark: flat wage per action and the best action."""
        gross = self.prob @ self.outcomes
        pays = [ct.first_best_pay(self.cost, a, self.utility, self.reservation, self.min_pay)
                for a in range(len(self.actions))]
        cands = self.candidate_actions()
        net = {a: gross[a] - pays[a] for a in cands}
        best = max(cands, key=lambda a: (net[a], -a))
        return {"action": self.actions[best], "objective": float(net[best]), "pay": float(pays[best]),
                "pays": [float(p) for p in pays]}

    # -- checks ------------------------------------------------------------------------------------
    def check(self, result: Result) -> dict[str, float]:
        """IC, IR, limited liability and the objective, recomputed from the returned pays."""
        if self.continuous:
            from .first_order import continuous_check

            return continuous_check(self, result)
        a = self.actions.index(result.extras["action"])
        pay = np.asarray(result.rows["pay"].tolist(), float)
        out = ct.contract_violations(self.prob, self.cost, a, pay, self.utility.u, self.reservation, self.min_pay)
        if self.max_pay is not None:
            out["max_pay_violation"] = float(max(0.0, float(np.max(pay)) - self.max_pay))
        net = float(self.prob[a] @ (self.outcomes - pay))
        out["objective_mismatch"] = abs(net - float(result.objective))
        return out


# -- methods ---------------------------------------------------------------------------------------
def _closed_form_applies(p: MoralHazard) -> str | None:
    if p.continuous:
        return "continuous effort"
    if p.prob.shape != (2, 2):
        return f"needs two actions and two outcomes, got {p.prob.shape[0]} and {p.prob.shape[1]}"
    if p.utility.cvx_inverse is None:
        return "needs a built-in utility (linear, sqrt, log, cara, crra)"
    if p.max_pay is not None:
        return "does not handle max_pay"
    return None


def _cvxpy_applies(p: MoralHazard) -> str | None:
    if p.utility.cvx_inverse is None and not p.utility.concave:
        return (f"utility {p.utility.name!r} is not concave on [{p.utility.lower:g}, {p.utility.upper:g}]: "
                "the program in utility space is not convex (use method 'scipy', a local solver)")
    return None


def _pyomo_applies(p: MoralHazard) -> str | None:
    if p.utility.cvx_inverse is None:
        return ("an expression utility would be modelled in pay space, where the IC constraints are not convex "
                "and u'(w) may be unbounded at the domain's edge (use method 'scipy')")
    return None


def _run_closed_form(p: MoralHazard, **options) -> Result:
    return _assemble(p, "closed-form")


def _run_cvxpy(p: MoralHazard, **options) -> Result:
    return _assemble(p, "cvxpy")


def _run_scipy(p: MoralHazard, **options) -> Result:
    return _assemble(p, "scipy")


def _run_pyomo(p: MoralHazard, **options) -> Result:
    return _assemble(p, "pyomo")


def implementation_table(p: MoralHazard, backend: str) -> list[ct.Contract]:
    cache: dict = {}
    return [p.cheapest(a, backend, cache) for a in p.candidate_actions()]


def _assemble(p: MoralHazard, backend: str) -> Result:
    """Solve C(a) for the candidate actions and pick the best net value."""
    contracts = implementation_table(p, backend)
    gross = p.prob @ p.outcomes
    fb = p.first_best()
    table = []
    for c in contracts:
        ok = c.status == "optimal"
        table.append({
            "action": p.actions[c.action],
            "cost": float(p.cost[c.action]),
            "expected_value": float(gross[c.action]),
            "status": c.status,
            "implementation_cost": float(c.expected_pay) if ok else None,
            "net_value": float(gross[c.action] - c.expected_pay) if ok else None,
            "first_best_pay": fb["pays"][c.action],
            "binding": list(c.binding),
        })
    feasible = [c for c in contracts if c.status == "optimal"]
    method = next((c.method for c in contracts if c.method), backend)
    local = any(c.local for c in contracts)
    if not feasible:
        worst = "infeasible" if all(c.status == "infeasible" for c in contracts) else "not_solved"
        what = f"action {p.implement!r}" if p.implement else "any action"
        return Result(status=worst, method=method, extras={"implementation": table},
                      message=f"no contract implements {what} ({'; '.join(c.message for c in contracts if c.message)})")
    best = max(feasible, key=lambda c: (gross[c.action] - c.expected_pay, -c.action))
    a = best.action
    rows = pd.DataFrame({
        "outcome": p.outcome_names,
        "value": p.outcomes,
        "prob": p.prob[a],
        "pay": best.pay,
        "utility": p.utility.u(best.pay),
    })
    objective = float(gross[a] - best.expected_pay)
    agent = float(p.prob[a] @ p.utility.u(best.pay) - p.cost[a])
    extras = {
        "action": p.actions[a],
        "expected_pay": float(best.expected_pay),
        "expected_value": float(gross[a]),
        "agent_utility": agent,
        "first_best_action": fb["action"],
        "first_best_objective": fb["objective"],
        "first_best_pay": fb["pay"],
        "agency_cost": fb["objective"] - objective,
        "implementation": table,
    }
    message = ""
    if best.status == "optimal" and local:
        message = f"{best.method} claims a local optimum only (a KKT point)"
    return Result(status="optimal", method=best.method or method, objective=objective, rows=rows, extras=extras,
                  binding=list(best.binding), multipliers=dict(best.multipliers), local=local, message=message)
