"""Single-agent moral hazard: ``kind = "moral_hazard"`` (docs/theory/moral_hazard.md; Grossman and Hart, 1983).

A risk-neutral principal hires an agent whose action is hidden and pays him according to the
observed outcome.  Finitely many actions a with costs c_a, outcomes j worth x_j to the principal,
probabilities p[a, j] (one row per action, each summing to 1); the agent's utility u(w) − c_a
with u linear, sqrt, log, CARA (1 − e^{−rw})/r, CRRA w^{1−γ}/(1−γ) or an expression in ``w``
(:mod:`.utility`); reservation utility R, limited liability w ≥ w_min and an optional cap.

For each action the cheapest implementing contract C(a) is an LP (risk-neutral agent) or a
convex program in utility space (risk-averse agent), see :mod:`.formulations`; the principal
implements the action with the largest net value Σ_j p[a, j] x_j − C(a).  The objective is that
net value.  With two actions and two outcomes a closed form applies (:mod:`.closed_form`): the
spread in utility is the cost difference over the probability difference (for a risk-neutral
agent with limited liability: the bonus).

Continuous effort (fields ``effort``, ``prob`` as expressions in ``e``, ``cost`` as an
expression in ``e``) is solved by the first-order approach with a global check, or against a
grid of deviations (:mod:`.first_order`).  The certificates are in :mod:`.checks`, the figures
in :mod:`.figures`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import SpecError
from ..problem import Field, Method, Problem, register
from ..result import Result
from ..spec import REQUIRED, SpecReader
from . import checks
from .utility import UTILITY_KINDS, builtin_utility, expression_utility, monotone_on

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
    fields = {
        "actions": Field(list, None, "the action names, for discrete actions (give either actions or "
                                     "effort)"),
        "effort": Field(list, None, "[low, high]: the interval of a continuous effort e (then prob and cost "
                                    "are expressions in e)"),
        "cost": Field(list | str, REQUIRED, "the agent's cost of each action, in utility units, one per "
                                            "action; or an expression in e"),
        "outcomes": Field(list, REQUIRED, "the principal's value of each outcome, one per outcome"),
        "outcome_names": Field(list, None, "names of the outcomes (default x1, x2, ...)"),
        "prob": Field(list, REQUIRED, "one row per action, each outcome's probability (each row sums to 1); "
                                      "or, with continuous effort, one expression in e per outcome"),
        "utility": Field(str, "linear", "the agent's utility of pay w: 'linear', 'sqrt', 'log', 'cara', "
                                        "'crra' or an expression in w"),
        "risk_aversion": Field(float, None, "the coefficient of the utility: r > 0 for cara, gamma > 0 for "
                                            "crra; required for those two, refused otherwise"),
        "reservation": Field(float, 0.0, "the agent's reservation utility"),
        "min_pay": Field(float, None, "limited liability: the lowest pay allowed"),
        "max_pay": Field(float, None, "the highest pay allowed"),
        "implement": Field(str | float, None, "an action name (or, with continuous effort, an effort) to "
                                              "implement at least cost, instead of the principal's best "
                                              "action"),
        "effort_grid": Field(int, 2001, "continuous effort: the number of points (at least 11) of the grid "
                                        "of deviations the agent is checked against"),
        "targets": Field(int, 41, "continuous effort: the number of target efforts (at least 3) tried on a "
                                  "grid before the best is refined"),
        "fallback": Field(bool, True, "continuous effort: when the first-order approach gives a contract "
                                      "that is not globally incentive compatible, answer from the grid "
                                      "program"),
    }
    # pays need not be unique (risk-neutral agent, outcomes of zero probability) and interior-point
    # pays are accurate only to ~sqrt(tolerance) where the objective is flat: compare expected pay
    compare = ("expected_pay",)

    # -- reading (validation beyond the declared types) ------------------------------------------
    def _read(self, r: SpecReader) -> None:
        self.continuous = r.has("effort")
        if self.continuous:
            if r.has("actions"):
                raise r.error("actions", "give either discrete 'actions' or continuous 'effort', not both")
            bounds = r.vector("effort", 2, increasing=True)
            self.effort_bounds = (float(bounds[0]), float(bounds[1]))
        else:
            self.actions = r.strings("actions")
            if not self.actions:
                raise r.error("actions", "at least one action is needed")
        self.outcomes = r.vector("outcomes")
        n = self.outcomes.size
        self.outcome_names = r.strings("outcome_names", [f"x{j + 1}" for j in range(n)], n=n)
        if self.continuous:
            self._read_continuous(r, n)
            self._read_money(r, self.cost_scale)
            return
        m = len(self.actions)
        self.cost = r.vector("cost", m)
        self.prob = r.matrix("prob", (m, n), nonneg=True)
        sums = self.prob.sum(axis=1)
        for a in range(m):
            if abs(sums[a] - 1.0) > 1e-9:
                raise r.error(f"prob[{a}]", f"the outcome probabilities of action {self.actions[a]!r} "
                                            f"must sum to 1 (within 1e-9), they sum to {sums[a]:.12g}")
        self.implement = r.string("implement", None, choices=self.actions)
        self._read_money(r, float(np.max(np.abs(self.cost))))

    def _read_continuous(self, r: SpecReader, n: int) -> None:
        """prob = [expression in e per outcome of `n`], cost = expression in e, and the search's fields."""
        raw = r.raw("prob")
        if not isinstance(raw, list) or len(raw) != n:
            raise r.error("prob", f"with continuous effort, expected {n} expressions in e (one per outcome), got {raw!r}")
        self.prob_expr = [self._expression(r, f"prob[{i}]", raw[i]) for i in range(n)]
        self.cost_expr = r.expression("cost", ["e"])
        self.effort_grid = r.integer("effort_grid", 2001, lo=11)
        self.targets = r.integer("targets", 41, lo=3)
        self.implement = r.number("implement", None)
        self.fallback = r.boolean("fallback", True)
        lo, hi = self.effort_bounds
        if self.implement is not None and not lo <= self.implement <= hi:
            raise r.error("implement", f"must lie in effort = [{lo:g}, {hi:g}], got {self.implement:g}")
        grid = np.linspace(lo, hi, self.effort_grid)
        probs = self.probabilities(grid)
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
        costs = self.effort_cost(grid)
        if not np.all(np.isfinite(costs)):
            raise r.error("cost", f"is not finite for some effort in [{lo:g}, {hi:g}]")
        self.cost_scale = float(np.max(np.abs(costs)))
        self.actions = None
        # the best effort is found by Brent search on a flat maximum: accurate in value, not in
        # location, so verify compares the objective only
        self.compare = ()

    @staticmethod
    def _expression(r: SpecReader, field: str, text):
        from ..expr import parse

        try:
            return parse(text, {"e"}, field=field, constants=r.params)
        except SpecError as exc:
            raise exc.located(r.source) from None

    def _read_money(self, r: SpecReader, scale_costs) -> None:
        self.reservation = r.number("reservation", 0.0)
        self.min_pay = r.number("min_pay", None)
        self.max_pay = r.number("max_pay", None)
        if self.min_pay is not None and self.max_pay is not None and self.max_pay <= self.min_pay:
            raise r.error("max_pay", f"must exceed min_pay = {self.min_pay:g}, got {self.max_pay:g}")
        name = r.raw("utility", "linear")
        if not isinstance(name, str):
            raise r.error("utility", f"expected a name ({', '.join(UTILITY_KINDS)}) or an expression in w, got {name!r}")
        needs_rho = name in ("cara", "crra")
        rho = r.number("risk_aversion", None, positive=True)
        if needs_rho and rho is None:
            raise r.error("risk_aversion", f"is required for utility = {name!r}")
        if rho is not None and not needs_rho:
            raise r.error("risk_aversion", f"applies only to utility 'cara' or 'crra', not {name!r}")
        self.risk_aversion = rho
        if name in UTILITY_KINDS:
            self.utility = builtin_utility(name, rho)
            if self.utility.lower > -math.inf and self.min_pay is not None and self.min_pay < self.utility.lower:
                raise r.error("min_pay", f"utility {name!r} is defined for pay ≥ {self.utility.lower:g}, "
                                         f"got min_pay = {self.min_pay:g}")
            return
        expr = r.expression("utility", ["w"])
        lower = self.min_pay if self.min_pay is not None else 0.0
        span = DEFAULT_PAY_SPAN * (1.0 + float(np.max(np.abs(self.outcomes))) + abs(scale_costs) + abs(self.reservation))
        upper = self.max_pay if self.max_pay is not None else lower + span
        func = functools.partial(_evaluate, expr, name="w")
        ok, where = monotone_on(func, lower, upper)
        if not ok:
            raise r.error("utility", f"non-monotone utility: {expr.text!r} is not finite and strictly increasing "
                                     f"on the pay domain [{lower:g}, {upper:g}] (fails near w = {where:.6g})")
        self.utility = expression_utility(func, lower, upper, text=expr.text)

    # -- continuous effort: the model's functions of effort ----------------------------------------
    def probabilities(self, efforts) -> np.ndarray:
        """p_j(e) for each effort (rows) and outcome (columns)."""
        return np.stack([_evaluate(x, efforts) for x in self.prob_expr], axis=-1)

    def effort_cost(self, efforts) -> np.ndarray:
        return _evaluate(self.cost_expr, efforts)

    def agent_payoffs(self, pay, efforts) -> np.ndarray:
        """The agent's expected utility Σ_j p_j(e) u(w_j) − c(e) at each effort."""
        with np.errstate(all="ignore"):
            util = np.asarray(self.utility.u(np.asarray(pay, float)), float)
        return self.probabilities(efforts) @ util - self.effort_cost(efforts)

    def deviation_gain(self, pay, effort: float, refine: int = 4) -> tuple[float, float]:
        """(largest gain of a deviation from `effort`, the best deviation), on a grid `refine` times finer
        than ``effort_grid`` (so the check does not reuse the grid program's constraints), then zoomed."""
        return checks.deviation_gain(lambda e: self.agent_payoffs(pay, e), effort, *self.effort_bounds,
                                     refine * (self.effort_grid - 1) + 1)

    # -- methods ---------------------------------------------------------------------------------
    def formulations(self):
        from .formulations import CONTINUOUS, DISCRETE

        return list(CONTINUOUS if self.continuous else DISCRETE)

    def methods(self) -> list[Method]:
        from .formulations import ClosedFormContracts

        out = [] if self.continuous else [
            Method("closed-form", ClosedFormContracts.run, ClosedFormContracts.applies, closed_form=True)]
        return out + [f.method() for f in self.formulations()]

    def candidate_actions(self) -> list[int]:
        if self.implement is not None:
            return [self.actions.index(self.implement)]
        return list(range(len(self.actions)))

    def first_best(self) -> dict:
        """The observable-action benchmark: flat wage per action and the best action."""
        from .closed_form import first_best_pay

        gross = self.prob @ self.outcomes
        pays = [first_best_pay(self.cost, a, self.utility, self.reservation, self.min_pay)
                for a in range(len(self.actions))]
        cands = self.candidate_actions()
        net = {a: gross[a] - pays[a] for a in cands}
        best = max(cands, key=lambda a: (net[a], -a))
        return {"action": self.actions[best], "objective": float(net[best]), "pay": float(pays[best]),
                "pays": [float(p) for p in pays]}

    # -- checks ------------------------------------------------------------------------
    def check(self, result: Result) -> dict[str, float]:
        """IC (all actions, or a fine grid of efforts), IR, limited liability and the objective, from the pays."""
        pay = np.asarray(result.rows["pay"].tolist(), float)
        if self.continuous:
            e = float(result.extras["effort"])
            return checks.continuous_checks(lambda x: self.agent_payoffs(pay, x), self.probabilities(np.array([e]))[0],
                                            self.outcomes, pay, e, self.effort_bounds, 4 * (self.effort_grid - 1) + 1,
                                            result.objective, self.reservation, self.min_pay)
        a = self.actions.index(result.extras["action"])
        return checks.discrete_checks(self.prob, self.cost, self.outcomes, a, pay, self.utility.u, result.objective,
                                      self.reservation, self.min_pay, self.max_pay)


def _evaluate(expr, x, name="e"):
    """`expr` at the values `x` of its variable `name` (effort, or pay for a utility), in the shape of `x`."""
    x = np.asarray(x, float)
    with np.errstate(all="ignore"):
        return np.asarray(expr.numpy(**{name: x}), float) * np.ones_like(x)
