"""The followers the government leads, each through its kind's public model only.

A follower turns the :class:`~ital_opt.policy.instruments.Levers` (the subsidised parameters)
into a follower problem (``problem.replace(**changes)``), solves it with its own best method and
reads back what the leader needs: the alliance's welfare with subsidies counted as income, the
expected output at the TRUE parameters, the true effort costs, who is admitted.

* :class:`TeamFollower` — the Chapter 4 team (docs/theory/team.md): cost factors scale ``c``; the value y
  of a unit of output to the alliance (1 + r + δL) scales output and its risk (``a`` → y·a, or
  ``production`` → y·(production), and σ² → y²σ²); ``response = "fixed"`` keeps the sharing rule
  of the unsubsidised team.
* :class:`AdmissionFollower` — the Chapter 3 menu (docs/theory/admission.md) with a fixed cost F per admitted
  member: the admitted set is an upper set {k ≥ k*}, each candidate one admission problem over
  the admitted types (prior renormalised); the alliance picks the k* with the largest payoff net
  of F and plus the admission subsidies; ties are broken for (optimistic) or against
  (pessimistic) the leader.
* :class:`~ital_opt.policy.duopoly.DuopolyFollower` — Model D (docs/theory/policy.md, Models C and D).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SpecError
from ..result import Result

TIE_TOL = 1e-9


@dataclass
class Outcome:
    """The follower's answer at some instruments, in the leader's terms."""

    follower: Any
    result: Result | None
    alliance_welfare: float          # before formation cost and grants; subsidies as income
    expected_output: float           # at the true parameters
    true_costs: np.ndarray = None    # each member's true effort cost at the answer
    admitted_mass: np.ndarray = None  # prior mass of each tier admitted (admission followers)
    external: float = 0.0            # social value outside the alliance beyond γ·E[π] (consumer surplus, ...)
    regime: tuple = ()
    outside_total: float = 0.0       # Σ members' outside options (formation)
    formed: bool = True
    diffusion: dict = field(default_factory=dict)
    standalone_output: float = 0.0   # output of excluded applicants working alone (valued at γ)
    ok: bool = True
    message: str = ""


class TeamFollower:
    kind = "team"

    def __init__(self, problem, response: str, source: str):
        self.problem = problem
        self.size = problem.n
        self.response = response
        if problem.budget_breaker:
            raise SpecError("lower", "a team with a budget breaker already has an outside party; the policy layer "
                            "leads budget-balanced teams", source)
        self.base = problem.solve()
        if not self.base.success:
            raise SpecError("lower", f"the unsubsidised team is not solved ({self.base.status}: {self.base.message})", source)
        self.base_shares = self.base.rows["share"].to_numpy(float)
        # the spec's fields with its lists of numbers as arrays: a team of 10^4 members is then
        # re-read at each instrument point without converting 10^4 Python numbers per field
        self.fields = {k: _array(v) for k, v in problem.spec.items() if k != "kind"}

    def group_label(self, group) -> str:
        names = [self.problem.members[i] for i in group]
        return names[0] if len(names) == 1 else ("all" if len(names) == self.size else "+".join(names))

    @property
    def shares_fixed(self) -> bool:
        return self.response == "fixed" or self.problem.mode == "given"

    def spec_changes(self, levers, y: float) -> dict:
        t = self.problem
        changes = dict(levers.changes)
        changes["c"] = t.c * levers.cost_factor
        if t.production is None:
            changes["a"] = y * t.a
            if t.knowledge:
                changes["g"] = y * t.g
        elif y != 1.0:
            changes["production"] = f"{y!r}*({t.production.text})"
        changes["sigma2"] = y * y * t.sigma2
        if self.response == "fixed" and t.mode != "given":
            changes["shares"] = self.base_shares
        return changes

    def solve(self, levers, y: float = 1.0, certified: bool = True) -> list[Outcome]:
        """The team's answer; ``certified=False`` (inside searches) skips the team's own checks,
        which the final answer always runs."""
        t = self.problem
        if t.cost is not None and not np.allclose(levers.cost_factor, 1.0):
            raise SpecError("instruments", "a cost subsidy scales c, so it needs the team's default cost c*e**2/2",
                            t.source)
        # the team's class takes the spec's fields as keywords (cheaper than replace's per-field copies)
        fields = {**self.fields, **self.spec_changes(levers, y)}
        seen = type(t)(_source=t.source, _base_dir=t.base_dir, **fields)
        result = seen.solve() if certified else seen.select("auto").run(seen)
        if not (result.success if certified else result.status == "optimal"):
            return [Outcome(self, result, np.nan, np.nan, ok=False,
                            message=f"the team was not solved ({result.status}: {result.message})")]
        e = result.rows["effort"].to_numpy(float)
        costs = t.c * e * e / 2.0
        output = float(result.extras["expected_output"]) / y
        outside = float(np.sum(t.outside)) if t.outside is not None else 0.0
        zero = tuple(np.flatnonzero(result.rows["share"].to_numpy(float) <= 1e-12))
        return [Outcome(self, result, float(result.objective), output, true_costs=costs, regime=("zero shares", zero),
                        outside_total=outside)]


def _array(value):
    """A list of plain numbers as a float array (the spec reader checks an array at once); any
    other value as it is."""
    if isinstance(value, list) and value and set(map(type, value)) <= {int, float}:
        return np.asarray(value, dtype=float)
    return value


class AdmissionFollower:
    kind = "admission"

    def __init__(self, problem, fixed_cost: float, ties: str, source: str):
        self.problem = problem
        self.size = problem.n
        self.prob = problem.prob
        self.fixed_cost = fixed_cost
        self.ties = ties
        self._cache: dict = {}

    def group_label(self, group) -> str:
        return "all" if len(group) == self.size else "+".join(str(i) for i in group)

    def _outside(self, levers) -> np.ndarray:
        t = self.problem
        out = np.asarray(t.outside, float).copy()
        if levers.outside_delta is not None:
            out = np.maximum(out, self._standalone(levers)[0])
        return out

    def _standalone(self, levers):
        """A type's standalone certainty equivalent max(0, δ²φ/(1 − s_o) − r) (subsidy as income) and
        its standalone expected output 2δ²φ/(1 − s_o) where it works alone (docs/theory/policy.md, Model B, B2)."""
        t = self.problem
        phi = t.theta**2 / (2 * t.c)
        gross = levers.outside_delta**2 * phi / (1 - levers.outside_rate)
        works = gross - t.r > 0
        return np.where(works, gross - t.r, 0.0), np.where(works, 2 * gross, 0.0)

    def _menu(self, k, outside):
        """The admission menu over the types k.. (prior renormalised), cached."""
        key = (k, tuple(np.round(outside[k:], 15)))
        if key not in self._cache:
            t = self.problem
            mass = self.prob[k:].sum()
            sub = t.replace(theta=t.theta[k:].tolist(), prob=(self.prob[k:] / mass).tolist(), outside=outside[k:].tolist())
            self._cache[key] = (sub.solve(), mass)
        return self._cache[key]

    def solve(self, levers, y: float = 1.0, certified: bool = True) -> list[Outcome]:
        """Every optimal admitted set (ties within TIE_TOL): the leader breaks ties by ``ties``."""
        outside = self._outside(levers)
        candidates = []
        for k in range(self.size + 1):
            admitted = np.zeros(self.size)
            if k == self.size:
                candidates.append((0.0, Outcome(self, None, 0.0, 0.0, admitted_mass=admitted,
                                                regime=("admitted from type", k))))
                continue
            result, mass = self._menu(k, outside)
            if not result.success:
                return [Outcome(self, result, np.nan, np.nan, ok=False,
                                message=f"the admission menu over types {k}.. was not solved ({result.status})")]
            admitted[k:] = self.prob[k:]
            rows = result.rows
            rents = float(np.sum(admitted[k:] * rows["agent_utility"].to_numpy(float)))
            payoff = mass * float(result.objective) + float(np.sum(admitted * (levers.tier_subsidy - self.fixed_cost)))
            theta = rows["theta"].to_numpy(float)
            output = float(np.sum(admitted[k:] * theta * rows["effort"].to_numpy(float)))
            candidates.append((payoff, Outcome(self, result, payoff + rents, output, admitted_mass=admitted,
                                               regime=("admitted from type", k))))
        best = max(c[0] for c in candidates)
        chosen = [o for p, o in candidates if p >= best - TIE_TOL]
        if levers.outside_delta is not None:  # excluded types work alone: their welfare and output are social
            ce, output = self._standalone(levers)
            for o in chosen:
                out_mass = self.prob - o.admitted_mass
                o.external = float(np.sum(out_mass * ce))
                o.standalone_output = float(np.sum(out_mass * output))
        return chosen


class EvolutionFollower:
    """An evolutionary game (``kind = "evolution"``, docs/theory/evolution.md) as the follower.

    The government sets payoff parameters (a subsidy S to cooperators, a fine M on defectors:
    entries of the game's ``[params]``); the populations follow the replicator dynamics.  The
    leader values the share of initial states whose orbits reach full cooperation (the basin of the
    all-first-strategy corner, "the probability that cooperation succeeds"), at 1 per unit (and
    γ more outside), plus the subsidies as the members' income; the expected subsidy is paid at the
    cooperative attractor: value × Σ_i x_i weighted by its basin.  The basins are estimated on the
    game's ``basin_grid`` (default 21 per population)."""

    kind = "evolution"

    def __init__(self, problem, source: str):
        self.problem = problem
        self.size = len(problem.populations)
        self.members = list(problem.populations)
        self.grid = problem.basin_grid or 21

    def group_label(self, group) -> str:
        return "all"

    def solve(self, levers, y: float = 1.0, certified: bool = True) -> list[Outcome]:
        t = self.problem
        seen = t.replace(**levers.changes) if levers.changes else t
        full = np.ones(self.size)
        if certified:
            result = seen.replace(basin_grid=self.grid).solve()
            if not result.success:
                return [Outcome(self, result, np.nan, np.nan, ok=False, message=f"the game was not solved ({result.status})")]
            rows = result.rows
            basin = 0.0
            for point, b in zip(rows["point"], rows.get("basin", [np.nan] * len(rows)), strict=False):
                if np.allclose(np.asarray(point, float), full, atol=1e-6) and b == b:
                    basin = float(b)
            labels = tuple(rows["stability"])
        else:
            result = None
            basin = seen.basin_share(full, k=self.grid)
            labels = ()
        income = levers.paid_per_cooperator * self.size * basin  # the subsidies, as the members' income
        return [Outcome(self, result, basin + income, basin, regime=("basin of cooperation", round(basin, 12)) + labels)]
