"""``kind = "evolution"``: evolutionary games between populations (docs/theory/evolution.md).

Boundedly rational populations — enterprises, the research side, the government — each choose
between two strategies (cooperate / defect, support / not); x_i is the share of population i
playing the first.  Shares follow the replicator dynamics (Taylor 1979; Hofbauer & Sigmund 1998)

    ẋ_i = x_i (1 − x_i) ΔF_i(x),

ΔF_i being the payoff difference between population i's two strategies against the others'
mixed states (:mod:`.closed_form`).  The payoff tables may depend on the state, so dynamic
policies such as a penalty M(x) = M̄(1 − x) are written directly in the spec.

Fields: ``populations`` (names, two or more), ``strategies`` (default ``["C", "D"]``),
``[payoff]`` (per population a nested list indexed by its own strategy, then the others' in
``populations`` order; entries are numbers or expressions in [params] and the population names,
which stand for the shares), ``start`` and ``horizon`` (a trajectory), ``basin_grid`` (k: basins
over a k^n grid of interior starts).

Methods (both find every rest point — the 2^n corners, and the solutions of ΔF = 0 on every
edge, face and the interior — with its Jacobian's eigenvalues and a stability label):

* ``symbolic`` — exact: sympy solves each face's polynomial system, eigenvalues at 40 digits,
  centres by a first integral or the first Lyapunov coefficient, and the ESS conditions of every
  corner as inequalities in [params] (:mod:`.symbolic`); applies when the payoff differences are
  rational functions of the shares and there are at most four populations;
* ``numeric`` — multistart root finding, finite-difference Jacobians and a Poincaré return map
  (:mod:`.numeric`); options ``starts`` (random starts per face) and ``seed``.

Both are :class:`~ital_opt.Formulation` objects (:mod:`.formulations`): ``problem.formulation(
"symbolic").build()`` hands over the sympy system (field, Jacobian, each face's equations).

Rows (one per rest point, sorted by shares): ``point``, ``eigenvalues`` ([re, im] pairs),
``stability`` (``"ess"``, ``"saddle"``, ``"source"``, ``"centre"``, ``"stable focus"``,
``"unstable focus"``, ``"degenerate"``), ``position`` (corner, edge, interior), ``note`` (how a
non-hyperbolic point was decided) and ``basin`` (the share of the grid converging to each
attractor, with ``basin_grid``).  An "ess" is an asymptotically stable rest point with real
eigenvalues — at a corner, a strict Nash equilibrium (Selten 1980); asymptotically stable foci
are counted apart (``asymptotically_stable``).  The objective is the number of ESS.  Top level:
``stabilities`` (the labels in row order, as one string), ``asymptotically_stable``,
``ess_conditions`` (symbolic method), ``trajectory`` (with ``start``), ``basin_unassigned``,
``continua`` (faces filled by rest points, if any).
"""

from __future__ import annotations

import itertools
from functools import cached_property, partial

import numpy as np
import pandas as pd

from ..errors import OptionError, SpecError
from ..expr import FUNCTIONS, Expr, parse
from ..problem import Field, Method, Problem, register
from ..result import Result
from ..spec import REQUIRED, SpecReader
from . import checks
from .closed_form import Payoffs, position, sort_eigenvalues

MAX_POPULATIONS = 6
SYMBOLIC_MAX = 4
MAX_GRID_POINTS = 4_000_000
ATTRACTORS = ("ess", "stable focus")


def _compiled(entry: float | Expr):
    """A payoff entry for :class:`.closed_form.Payoffs`: a number, or a callable of the shares."""
    if not isinstance(entry, Expr):
        return entry
    if not entry.names:  # parameters only
        return float(entry.numpy())
    return partial(_value_at, entry)  # a partial, not a lambda: payoffs pickle (basins on workers)


def _value_at(entry: Expr, env: dict):
    return entry.numpy(**env)


@register
class Evolution(Problem):
    """Replicator dynamics of an n-population, two-strategy game: its rest points and their stability.

    Each population's share of the first strategy follows the replicator equation; the result
    lists every rest point with its eigenvalues and stability, and optionally a trajectory and
    the basins of attraction.  The theory page (docs/theory/evolution.md) has the model and
    sources.
    """

    kind = "evolution"
    sense = None  # the objective counts ESS; it is not optimised
    compare = ("point", "eigenvalues")
    fields = {
        "populations": Field(list, REQUIRED, "the population names, two or more; each name is also the share "
                                             "x_i of the first strategy in that population, in expressions"),
        "strategies": Field(list, ["C", "D"], "the names of the two strategies every population chooses from"),
        "payoff": Field(dict, REQUIRED, "one entry per population: a nested list indexed by its own strategy, "
                                        "then the others' in populations order; entries are numbers or "
                                        "expressions in the params and the shares"),
        "start": Field(list, None, "initial shares, one per population in [0, 1], for a trajectory"),
        "horizon": Field(float, 100.0, "the length of the trajectory (and of each basin integration) in units "
                                       "of time"),
        "basin_grid": Field(int, None, "the number k of grid points per population: each stable rest point's "
                                       "basin of attraction is estimated over a grid of k^n interior starts"),
    }

    # -- reading ------------------------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        self.populations = r.strings("populations")
        n = len(self.populations)
        if n < 2:
            raise r.error("populations", f"needs two or more populations, got {n}")
        if n > MAX_POPULATIONS:
            raise r.error("populations", f"at most {MAX_POPULATIONS} populations are supported, got {n}")
        for name in self.populations:
            if not name.isidentifier() or name in FUNCTIONS or name in r.params:
                raise r.error("populations", f"'{name}' cannot name a share in expressions (use an identifier "
                                             "other than a function or parameter name)")
        self.strategies = r.strings("strategies", ["C", "D"], n=2)
        table = r.table("payoff")
        unknown = sorted(set(table) - set(self.populations))
        if unknown:
            raise r.error(f"payoff.{unknown[0]}", f"not a population (populations: {', '.join(self.populations)})")
        self._entries = []
        for i, name in enumerate(self.populations):
            if name not in table:
                raise r.error("payoff", f"the payoff of population '{name}' is missing")
            self._entries.append(self._read_table(r, i, name, table[name]))
        self.payoffs = Payoffs(
            tuple(self.populations),
            tuple({s: _compiled(v) for s, v in t.items()} for t in self._entries),
        )
        self.start = r.vector("start", n, None, lo=0.0, hi=1.0)
        self.horizon = r.number("horizon", 100.0, positive=True)
        self.basin_grid = r.integer("basin_grid", None, lo=2)
        if self.basin_grid is not None and self.basin_grid**n > MAX_GRID_POINTS:
            raise r.error("basin_grid", f"{self.basin_grid}^{n} starts exceed {MAX_GRID_POINTS:,}; choose a smaller k")

    def _read_table(self, r: SpecReader, i: int, name: str, value) -> dict:
        n = len(self.populations)
        others = [p for j, p in enumerate(self.populations) if j != i]
        out = {}
        for index in itertools.product((0, 1), repeat=n):
            where = f"payoff.{name}" + "".join(f"[{k}]" for k in index)
            entry = value
            for depth, k in enumerate(index):
                if not isinstance(entry, list) or len(entry) != 2:
                    label = "its own strategy" if depth == 0 else f"the strategy of '{others[depth - 1]}'"
                    at = f"payoff.{name}" + "".join(f"[{j}]" for j in index[:depth])
                    raise r.error(at, f"expected a list of 2 entries indexed by {label} "
                                      f"(strategies {', '.join(self.strategies)}), got {entry!r}"[:200])
                entry = entry[k]
            if isinstance(entry, bool) or not isinstance(entry, (int, float, str)):
                raise r.error(where, f"expected a number or an expression, got {entry!r}")
            if isinstance(entry, str):
                try:
                    expr = parse(entry, set(self.populations), field=where, constants=r.params)
                except SpecError as exc:
                    raise exc.located(self.source) from None
                entry = expr
            elif not np.isfinite(entry):
                raise r.error(where, f"expected a finite number, got {entry}")
            own, rest = index[0], list(index[1:])
            profile = tuple(rest[:i] + [own] + rest[i:])
            out[profile] = entry if isinstance(entry, Expr) else float(entry)
        return out

    def payoff_entry(self, i: int, profile) -> float | Expr:
        """Population i's payoff at the full strategy profile (0: first strategy), a number or an Expr."""
        return self._entries[i][tuple(profile)]

    # -- the dynamics -------------------------------------------------------------------------
    def field(self, x) -> np.ndarray:
        """ẋ at a batch of states (N, n) (or one state)."""
        return self.payoffs.field(x)

    def differences(self, x) -> np.ndarray:
        """ΔF_i(x): the payoff advantage of each population's first strategy, at a batch of states."""
        return self.payoffs.differences(x)

    def trajectory(self, start=None, horizon: float | None = None, samples: int = 400):
        """(t, x): the orbit from `start` (default the spec's) up to `horizon` (default the spec's)."""
        from .flows import trajectory

        start = self.start if start is None else np.asarray(start, dtype=float)
        if start is None:
            raise SpecError("start", "no start given (in the spec or as an argument)", self.source)
        return trajectory(self.payoffs, start, self.horizon if horizon is None else horizon, samples)

    def basins(self, attractors, k: int | None = None, horizon: float | None = None, *,
               executor: str = "local", workers: int = 1, scheduler: str | None = None):
        """(labels, shares, unassigned): which of `attractors` each start of the k^n grid reaches.

        ``executor``, ``workers`` and ``scheduler`` spread the starts over a local process pool or
        a Dask cluster (as for sweeps); the labels do not depend on them."""
        from .flows import basins

        k = k or self.basin_grid or 50
        return basins(self.payoffs, k, attractors, self.horizon if horizon is None else horizon,
                      **self.basin_options(executor=executor, workers=workers, scheduler=scheduler))

    def basin_options(self, executor: str = "local", workers: int = 1, scheduler: str | None = None) -> dict:
        """The executor options of :meth:`basins`, checked (an OptionError names the bad one)."""
        if executor not in ("local", "dask"):
            raise OptionError("executor", f"expected 'local' or 'dask', got {executor!r}", self.source)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise OptionError("workers", f"expected a positive whole number, got {workers!r}", self.source)
        if scheduler is not None and not isinstance(scheduler, str):
            raise OptionError("scheduler", f"expected a scheduler address, got {scheduler!r}", self.source)
        return {"executor": executor, "workers": workers, "scheduler": scheduler}

    def attractors(self) -> list[np.ndarray]:
        """The asymptotically stable rest points ("ess", "stable focus"), by the numeric analysis."""
        from .numeric import analyse

        return [rp.point for rp in analyse(self).points if rp.stability in ATTRACTORS]

    def basin_share(self, point=None, k: int | None = None) -> float:
        """The share of interior starts (a k^n grid, default the spec's ``basin_grid`` or 50) whose
        orbits converge to `point`.

        Default point: everybody playing the first strategy (all cooperate), the "probability that
        cooperation succeeds" of docs/theory/evolution.md.  A point that is not an attractor gets 0.
        """
        point = np.ones(len(self.populations)) if point is None else np.asarray(point, dtype=float)
        attractors = self.attractors()
        near = [i for i, a in enumerate(attractors) if np.max(np.abs(a - point)) <= 1e-6]
        if not near:
            return 0.0
        return float(self.basins(attractors, k)[1][near[0]])

    def attractor_basins(self, points=None, k: int | None = None, exact: bool = True):
        """(attractors (m, n), basin shares (m,), how, resolution) of the asymptotically stable points.

        `points`: the rest points as (point, stability) pairs (default: the numeric analysis).
        Exact where the phase portrait allows it — two populations, every non-corner rest point
        accounted for: one corner attractor and no other rest point off the corners (its basin is
        the whole square, by Poincaré–Bendixson), or two corner attractors and one interior saddle
        (the basins are separated by the saddle's stable manifold, traced to the boundary:
        :func:`.flows.separatrix_basins`), so the shares are smooth in the parameters; elsewhere
        the k^n grid of starts estimates them, a step function of the parameters whose
        ``resolution`` is one grid cell (1/k^n); exact shares have resolution 0.  ``exact=False``
        always uses the grid.
        """
        from .closed_form import position
        from .flows import separatrix_basins
        from .numeric import jacobian

        if points is None:
            from .numeric import analyse

            points = [(rp.point, rp.stability) for rp in analyse(self).points]
        points = [(np.asarray(p, dtype=float), s) for p, s in points]
        n = len(self.populations)
        stable = [p for p, s in points if s in ATTRACTORS]
        attractors = np.array(stable, dtype=float).reshape(-1, n)
        off = [(p, s) for p, s in points if position(p, n) != "corner"]
        hyperbolic = all(s != "degenerate" for p, s in points)
        corners = all(position(p, n) == "corner" for p in stable)
        if exact and n == 2 and hyperbolic and corners:
            if len(stable) == 1 and not off:
                return attractors, np.ones(1), "one attractor, no rest point off the corners: the whole square", 0.0
            if len(stable) == 2 and len(off) == 1 and off[0][1] == "saddle" and position(off[0][0], n) == "interior":
                saddle = off[0][0]
                shares = separatrix_basins(self.payoffs, saddle, jacobian(self.payoffs.field, saddle), stable)
                if shares is not None:
                    return attractors, shares, "separated by the interior saddle's stable manifold (exact)", 0.0
        k = k or self.basin_grid or 50
        if not len(stable):
            return attractors, np.zeros(0), "no attractor", 0.0
        shares = self.basins(stable, k)[1]
        return attractors, shares, f"a grid of {k}^{n} starts (a step function of the parameters)", 1.0 / k**n

    def ess_conditions(self) -> dict[tuple[int, ...], list]:
        """{corner: [sympy expressions e_i]}: the corner is an ESS iff every e_i < 0 ([params] as symbols)."""
        from .symbolic import ess_conditions

        return ess_conditions(self)

    # -- methods ------------------------------------------------------------------------------
    @cached_property
    def symbolic_reason(self) -> str | None:
        if len(self.populations) > SYMBOLIC_MAX:
            return f"more than {SYMBOLIC_MAX} populations (sympy's polynomial systems grow too fast)"
        from .symbolic import not_rational

        return not_rational(self)

    def methods(self) -> list[Method]:
        return [f.method() for f in self.formulations()]

    def result(self, analysis, method: str, extras: dict | None = None, **basin_options) -> Result:
        """The result of an analysis (a :class:`.closed_form.Analysis`): rows sorted by shares."""
        basin_options = self.basin_options(**basin_options)
        n = len(self.populations)
        found = sorted(analysis.points, key=lambda rp: tuple(np.round(rp.point, 9)))
        rows = pd.DataFrame({
            "point": [[float(v) for v in rp.point] for rp in found],
            "eigenvalues": [[list(p) for p in sort_eigenvalues(rp.eigenvalues)] for rp in found],
            "stability": [rp.stability for rp in found],
            "position": [position(rp.point, n) for rp in found],
            "note": [rp.note for rp in found],
        })
        out = dict(extras or {})
        labels = rows["stability"].tolist()
        out["stabilities"] = ", ".join(labels)
        out["asymptotically_stable"] = sum(s in ATTRACTORS for s in labels)
        message = ""
        if analysis.continua:
            out["continua"] = analysis.continua
            message = "continua of rest points on: " + "; ".join(analysis.continua)
        if self.basin_grid is not None:
            stable = [i for i, s in enumerate(labels) if s in ATTRACTORS]
            _, shares, unassigned = self.basins([found[i].point for i in stable], **basin_options)
            basin = np.full(len(rows), np.nan)
            basin[stable] = shares
            rows["basin"] = basin
            out["basin_unassigned"] = unassigned
        if self.start is not None:
            _, path = self.trajectory()
            final = path[-1]
            near = [rp.point for rp in found if np.max(np.abs(rp.point - final)) <= 1e-3]
            out["trajectory"] = {"start": self.start.tolist(), "horizon": self.horizon, "final": final.tolist(),
                                 "limit": [float(v) for v in near[0]] if near else None}
        return Result(status="optimal", method=method, objective=float(labels.count("ess")), rows=rows,
                      extras=out, message=message)

    def check(self, result: Result) -> dict[str, float]:
        rows = result.rows
        return checks.certify(self.payoffs.field, len(self.populations), rows["point"].tolist(),
                              rows["eigenvalues"].tolist(), rows["stability"].tolist())
