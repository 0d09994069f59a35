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

# payoffs this close count as a tie (the follower is indifferent): the followers' own solves are
# accurate to ~1e-15 (closed forms, Newton-polished menus), and the leader's optimum often sits
# exactly on such a tie (the subsidy that just admits a type), which this tolerance then widens
TIE_TOL = 1e-12
SLACK_TOL = 1e-9  # a constraint slack this far below 0 still counts as met (rounding)


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
    cooperators: float = 0.0         # evolutionary games: the expected number of populations' cooperators paid
    slack: np.ndarray | None = None  # evolutionary games: the leader's constraint slacks (>= 0 when met)
    resolution: float = 0.0          # the follower's objective is exact (0) or a step function of this step


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


GAME_KEYS = ("output", "target", "unique", "margin", "start", "basins")
TARGET_MARGIN = 0.01


class EvolutionFollower:
    """An evolutionary game (``kind = "evolution"``, docs/theory/evolution.md) as the follower.

    The government sets payoff parameters (a subsidy S to cooperators, a fine M on defectors, a
    dynamic penalty's scale M̄: entries of the game's ``[params]``); the populations follow the
    replicator dynamics.  The leader values the cooperation share of the ``output`` populations
    (default all) at the state the game settles in, at 1 per unit (and γ more outside), plus the
    subsidies as the members' income; a subsidy is paid to each population's cooperators there
    (outlay: its value × Σ_i x_i).  Which state, is said by the policy's ``[game]`` table:

    * by default, every attractor weighted by its basin (the share of initial states whose orbits
      reach it: "the probability that cooperation succeeds"), exact where the phase portrait allows
      it (:meth:`~ital_opt.evolution.model.Evolution.attractor_basins`: the separatrix of an
      interior saddle, so the objective is smooth in the levers), else on the game's
      ``basin_grid`` (default 21 per population; a step function of the levers, whose resolution
      the neighbourhood certificate allows for); ``basins = "grid"`` always uses the grid;
    * ``start``: the attractor the orbit from that state reaches (its exact rest point);
    * ``target`` (a corner, e.g. ``[1, 1]``): the leader's SW is evaluated at the target, which
      must be an ESS with every corner eigenvalue ≤ −``margin`` (the strict inequality of the ESS
      conditions, kept with a stated margin, default 0.01 payoff units); ``unique = true``: and
      every other corner must not be one (some eigenvalue ≥ ``margin``).  The constraint slacks
      travel with the outcome (``slack`` ≥ 0 when feasible), for the leader's search and the
      ``ess-lp`` method.
    """

    kind = "evolution"

    def __init__(self, problem, source: str, game: dict | None = None):
        self.problem = problem
        self.size = len(problem.populations)
        self.members = list(problem.populations)
        self.grid = problem.basin_grid or 21
        game = dict(game or {})
        unknown = sorted(set(game) - set(GAME_KEYS))
        if unknown:
            raise SpecError(f"game.{unknown[0]}", f"unknown field (fields: {', '.join(GAME_KEYS)})", source)
        output = game.get("output", self.members)
        if not (isinstance(output, list) and output and all(o in self.members for o in output)):
            raise SpecError("game.output", f"expected a list of population names ({', '.join(self.members)}), "
                            f"got {output!r}", source)
        self.output = [self.members.index(o) for o in output]
        self.target = self._corner(game.get("target"), "game.target", source)
        self.unique = game.get("unique", False)
        if not isinstance(self.unique, bool):
            raise SpecError("game.unique", f"expected true or false, got {self.unique!r}", source)
        if self.unique and self.target is None:
            raise SpecError("game.unique", "asks that the target be the only ESS: give game.target", source)
        self.margin = game.get("margin", TARGET_MARGIN)
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, float)) or not self.margin > 0:
            raise SpecError("game.margin", f"expected a positive number, got {self.margin!r}", source)
        self.margin = float(self.margin)
        start = game.get("start")
        if start is not None:
            if not (isinstance(start, list) and len(start) == self.size
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1 for v in start)):
                raise SpecError("game.start", f"expected {self.size} shares strictly between 0 and 1, got {start!r}", source)
            if self.target is not None:
                raise SpecError("game.start", "give a start (value the state reached from it) or a target, not both",
                                source)
            start = np.array(start, dtype=float)
        self.start = start
        self.basins = game.get("basins", "auto")
        if self.basins not in ("auto", "grid"):
            raise SpecError("game.basins", f"expected 'auto' (exact where possible) or 'grid', got {self.basins!r}", source)

    def _corner(self, value, where, source):
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == self.size and all(v in (0, 1) and not isinstance(v, bool)
                                                                          for v in value)):
            raise SpecError(where, f"expected a corner: {self.size} entries, each 0 or 1 (1: the first strategy), "
                            f"got {value!r}", source)
        return np.array(value, dtype=float)

    @property
    def search_samples(self) -> int | None:
        """The leader's global phase: 41 grid points in one dimension (64 Sobol points in more) where
        each follower solve integrates orbits; the default where only corner eigenvalues are needed."""
        return None if self.mode == "target" else 41

    @property
    def mode(self) -> str:
        return "target" if self.target is not None else "start" if self.start is not None else "basins"

    def group_label(self, group) -> str:
        return "all"

    def game(self, levers):
        return self.problem.replace(**levers.changes) if levers.changes else self.problem

    def corner_slack(self, game) -> np.ndarray:
        """The ESS constraints' slacks at the corners (≥ 0 when met): −margin − e_i at the target,
        and, with ``unique``, max_i e_i − margin at every other corner (e: the corner eigenvalues)."""
        corners, eig = game.payoffs.corner_eigenvalues()
        at = [bool(np.all(c == self.target)) for c in corners]
        slack = list(-self.margin - eig[at.index(True)])
        if self.unique:
            slack += [float(np.max(e)) - self.margin for c, e in zip(corners, eig, strict=True) if not np.all(c == self.target)]
        return np.array(slack)

    def rest_points(self, game, certified: bool):
        """(result or None, [(point, stability), ...]): the kind's own solve when certified, else the
        bimatrix closed form or the numeric analysis (inside searches)."""
        if certified:  # the game's own rest points and checks (its orbit and grid of basins are not needed)
            game = game.replace(start=None, basin_grid=None) if game.start is not None or game.basin_grid else game
            result = game.solve()
            if not result.success:
                return result, None
            return result, list(zip((np.asarray(p, float) for p in result.rows["point"]), result.rows["stability"], strict=True))
        from ..evolution.closed_form import bimatrix_analysis
        from ..evolution.numeric import analyse

        analysis = bimatrix_analysis(game.payoffs) or analyse(game)
        return None, [(rp.point, rp.stability) for rp in analysis.points]

    def solve(self, levers, y: float = 1.0, certified: bool = True) -> list[Outcome]:
        game = self.game(levers)
        result, points = self.rest_points(game, certified)
        if points is None:
            return [Outcome(self, result, np.nan, np.nan, ok=False, message=f"the game was not solved ({result.status})")]
        slack, resolution = None, 0.0
        if self.mode == "target":
            slack = self.corner_slack(game)
            if certified and self.unique:  # attractors off the corners, which the corner conditions cannot see
                others = [s for p, s in points if s in ("ess", "stable focus") and not np.allclose(p, self.target)]
                slack = np.concatenate([slack, -np.ones(len(others))])
            states, weights = self.target[None, :], np.ones(1)
            regime = ("target is the ESS" + (" (unique)" if self.unique else ""), bool(np.all(slack >= -SLACK_TOL)))
        elif self.mode == "start":
            limit = self.limit(game, points)
            if limit is None:
                return [Outcome(self, result, np.nan, np.nan, ok=False,
                                message="the orbit from the start reaches no attractor within the horizon")]
            states, weights = limit[None, :], np.ones(1)
            corner = bool(np.all((limit == 0) | (limit == 1)))
            regime = ("attractor reached from the start", tuple(limit) if corner else "off the corners")
        else:
            states, weights, how, resolution = game.attractor_basins(points, k=self.grid, exact=self.basins == "auto")
            regime = ("basins", tuple(s for _, s in points))
        output = float(np.sum(weights * states[:, self.output].mean(axis=1))) if len(states) else 0.0
        cooperators = float(np.sum(weights * states.sum(axis=1))) if len(states) else 0.0
        income = levers.paid_per_cooperator * cooperators  # the subsidies, as the members' income
        return [Outcome(self, result, output + income, output, regime=regime, cooperators=cooperators, slack=slack,
                        resolution=resolution)]

    def limit(self, game, points):
        """The attractor the orbit from ``start`` converges to (its exact rest point), or None."""
        from ..evolution.flows import advance, assign, expit

        attractors = np.array([p for p, s in points if s in ("ess", "stable focus")], dtype=float).reshape(-1, self.size)
        if not len(attractors):
            return None
        u = (np.log(self.start) - np.log1p(-self.start))[None, :]
        step = game.horizon / 10  # in segments, up to four horizons: stop as soon as the orbit has arrived
        for _ in range(40):
            u = advance(game.payoffs, u, step, rtol=1e-6)
            label = assign(expit(u), attractors, 1e-3)[0]
            if label >= 0:
                return attractors[label]
        return None
