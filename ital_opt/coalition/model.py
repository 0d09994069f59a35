"""``kind = "coalition"``: cooperative division of an alliance's surplus (BOOK.md §3, §5).

Chapter 4 of the book chooses the output-sharing ratio cooperatively.  This kind gives the
cooperative side: a TU game (an explicit table of worths, a bankruptcy game, or the game derived
from a Chapter 4 team, see :mod:`.games`) and its solutions (see :mod:`.solutions`): Shapley and
Banzhaf values, the core, the least core and the nucleolus, and whether a given allocation — or
the team's incentive-optimal shares applied to the grand coalition's welfare — is stable against
coalitions breaking away.

Fields: ``players`` (names), then one of ``values`` (worth of every non-empty coalition, keys are
player names joined by ``+``), ``game = "bankruptcy"`` with ``estate`` and ``claims``, or
``team = "PATH"`` (a team spec, relative to this file, whose members are the players in the
same order; the worth of S is the total welfare of the
team restricted to S with shares re-optimised within S and the same ω).  Optional
``allocation``: a payoff vector whose core membership is reported.

Team-derived games: every coalition's worth uses welfare-maximising shares within the coalition
(what S can achieve on its own), whatever the team spec's ``shares`` rule; that rule (welfare,
weighted, bargaining or explicit shares) only decides the team's own incentive-optimal shares β
of the grand coalition, whose allocation β·v(N) (row ``team_allocation``) and certainty
equivalents (row ``team_ce``, α as in the team spec) are tested for core membership.

Methods: ``closed-form`` (bankruptcy games only: the Talmud rule is the nucleolus, Aumann &
Maschler 1985), ``highs`` (the Maschler–Peleg–Shapley LP sequence with dual prices, scipy/HiGHS;
n ≤ 16), ``cvxpy`` (the LP sequence with explicit tightness tests, cvxpy/HiGHS; n ≤ 8).  All
share the exact Shapley and Banzhaf values (enumeration).

Size: up to 20 players (exact Shapley by enumeration).  Bankruptcy games may have up to 60:
beyond 20 the closed form gives the nucleolus (Talmud rule) and the least-core value exactly in
O(n log n), and the Shapley and Banzhaf values are sampling estimates (solve options ``samples``,
default 4000, and ``seed``, default 0) with 95% half-widths in rows ``shapley_ci``/``banzhaf_ci``.

Result rows: ``player``, ``shapley``, ``nucleolus``, ``banzhaf``, ``least_core`` (the least-core
point reported is the prenucleolus), plus ``allocation`` and ``team_share``/``team_allocation``
when present.  Top level: ``core_nonempty``, ``least_core_epsilon``, ``least_core_allocation``,
``convex``, ``shapley_in_core``, and the core tests of the given/team allocations.
Objective: v(N), the worth of the grand coalition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..problem import Method, Problem, register
from ..result import Result
from ..spec import SpecReader, read_toml
from . import solutions as sol
from .games import Game, TeamFailure, bankruptcy_game, is_convex, table_game, team_game

MAX_PLAYERS = 20        # exact Shapley by enumeration, dense worth vector
BANKRUPTCY_MAX_PLAYERS = 60  # larger bankruptcy games: Talmud rule, sampled Shapley/Banzhaf
SAMPLES, SEED = 4000, 0  # sampling defaults (solve options ``samples`` and ``seed``)
LP_MAX_PLAYERS = 16     # the LP sequence (2^n − 2 rows)
CVXPY_MAX_PLAYERS = 8   # the tightness-test formulation
CHECK_LP_PLAYERS = 12   # Kohlberg balancedness checks


def _tol(v) -> float:
    return 1e-7 * (1.0 + float(np.abs(v).max()))


@register
class Coalition(Problem):
    """A cooperative (TU) game among named players; see the module docstring."""

    kind = "coalition"
    compare = ("shapley", "nucleolus", "banzhaf", "least_core", "least_core_epsilon")

    # -- reading ------------------------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        self.players = r.strings("players")
        n = len(self.players)
        if n == 0:
            raise r.error("players", "must name at least one player")
        for name in self.players:
            if "+" in name:
                raise r.error("players", f"player names must not contain '+', got {name!r}")
        limit = BANKRUPTCY_MAX_PLAYERS if r.data.get("game") == "bankruptcy" else MAX_PLAYERS
        if n > limit:
            raise r.error("players", f"at most {limit} players for this game (it has 2^n coalitions), got {n}")
        sources = [k for k in ("values", "game", "team") if r.has(k)]
        if len(sources) != 1:
            raise r.error("values", "give exactly one of 'values', 'game = \"bankruptcy\"' or 'team'"
                          + (f" (got {', '.join(sources)})" if sources else ""))
        self.team_problem = None
        self.team_path = None
        if sources == ["values"]:
            table = r.table("values")
            try:
                self.game = table_game(self.players, table)
            except KeyError as exc:
                raise r.error("values", f"the coalition {exc.args[0]!r} is missing "
                              "(every non-empty coalition needs a worth)") from None
            except ValueError as exc:
                key, message = exc.args[0]
                raise r.error(f"values.{key}", message) from None
        elif sources == ["game"]:
            r.string("game", choices=("bankruptcy",))
            estate = r.number("estate", nonneg=True)
            claims = r.vector("claims", n, nonneg=True)
            if estate > claims.sum():
                raise r.error("estate", f"must not exceed the total claim {claims.sum():g}, got {estate:g}")
            self.game = bankruptcy_game(self.players, estate, claims)
        else:
            self.game = self._read_team(r, r.string("team"))
        self.allocation = r.vector("allocation", n, None)

    def _read_team(self, r: SpecReader, path: str) -> Game:
        from ..spec import load

        full = Path(path) if Path(path).is_absolute() else self.base_dir / path
        try:
            data = read_toml(full)
        except SpecError as exc:
            raise r.error("team", f"cannot read the team spec {path!r}: {exc.message}") from None
        if data.get("kind") != "team":
            raise r.error("team", f"{path!r} is not a team spec (kind = {data.get('kind')!r})")
        try:
            team = load(full)
        except SpecError as exc:
            raise r.error("team", f"the team spec {path!r} is invalid: {exc}") from None
        n = len(self.players)
        members = len(np.atleast_1d(team.a))
        if members != n:
            raise r.error("team", f"the team {path!r} has {members} members but there are {n} players")
        params = {name: np.broadcast_to(np.asarray(getattr(team, name), float), (n,)).copy()
                  for name in ("a", "c", "rho", "g", "d")}
        params["sigma2"] = float(team.sigma2)
        params["omega"] = float(team.omega)
        self.team_problem = team
        self.team_path = str(full)
        return team_game(self.players, params, team, spec=data)

    # -- the game -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.players)

    @property
    def values(self) -> np.ndarray:
        """The dense worth vector over bitmask coalitions (bit i = player i)."""
        return self.game.values

    def shapley_sample(self, samples: int = 1000, seed=None, confidence: float = 0.95):
        """Sampled Shapley value with a confidence interval (see :func:`.solutions.shapley_sample`)."""
        return sol.shapley_sample(self.game.worth, self.n, samples, seed=seed, confidence=confidence)

    def methods(self) -> list[Method]:
        return [
            Method("closed-form", _run_closed_form, _bankruptcy_only, closed_form=True,
                   options=frozenset({"samples", "seed"})),
            Method("highs", _reporting_team_failure(_run_highs), _at_most(LP_MAX_PLAYERS)),
            Method("cvxpy", _reporting_team_failure(_run_cvxpy), _at_most(CVXPY_MAX_PLAYERS)),
        ]

    # -- checks: from the returned numbers only ----------------------------------------------------
    def check(self, result: Result) -> dict[str, float]:
        if self.n > MAX_PLAYERS:
            return _check_large_bankruptcy(self, result)
        v = self.values
        rows = result.rows
        n = self.n
        nuc = rows["nucleolus"].to_numpy(float)
        lc = rows["least_core"].to_numpy(float)
        phi = rows["shapley"].to_numpy(float)
        eps = float(result.extras["least_core_epsilon"])
        tol = _tol(v)
        e_lc = sol.excesses(v, lc)
        checks = {
            "shapley_efficiency": abs(phi.sum() - v[-1]),
            "nucleolus_efficiency": abs(nuc.sum() - v[-1]),
            "least_core_efficiency": abs(lc.sum() - v[-1]),
            "least_core_violation": max(0.0, float((e_lc[1:-1] - eps).max(initial=-np.inf))),
        }
        if not sol.imputation_set_empty(v):
            checks["nucleolus_imputation_violation"] = max(0.0, float((v[1 << np.arange(n)] - nuc).max()))
        if n <= LP_MAX_PLAYERS and n > 1:
            eps_dual, _ = sol.least_core_dual(v)
            checks["least_core_epsilon_gap"] = abs(eps - eps_dual)
            nonempty = eps_dual <= tol
            checks["core_nonempty_mismatch"] = float(bool(result.extras["core_nonempty"]) != nonempty)
            if nonempty:
                checks["nucleolus_core_violation"] = sol.core_violation(v, nuc)
        if n <= CHECK_LP_PLAYERS:
            imput = not sol.imputation_set_empty(v)
            checks["nucleolus_kohlberg_violation"] = sol.kohlberg_violation(v, nuc, imputations=imput)
            checks["least_core_kohlberg_violation"] = sol.kohlberg_violation(v, lc, imputations=False)
        return {k: float(x) for k, x in checks.items()}


def _bankruptcy_only(problem: Coalition) -> str | None:
    if problem.game.source != "bankruptcy":
        return "the Talmud rule is the nucleolus of bankruptcy games only"
    return None


def _at_most(limit):
    def applies(problem: Coalition) -> str | None:
        if problem.n > limit:
            return f"{problem.n} players: this formulation handles at most {limit} (2^n − 2 coalition constraints)"
        return None

    return applies


# -- methods --------------------------------------------------------------------------------------
def _reporting_team_failure(run):
    """`run`, with a team problem that cannot be solved (a team-derived game) reported as the
    result's status and message instead of raised."""

    def guarded(problem: Coalition, **options) -> Result:
        try:
            return run(problem, **options)
        except TeamFailure as exc:
            return Result(status="not_solved", method=run.__name__.removeprefix("_run_"), message=str(exc))

    return guarded


def _run_closed_form(problem: Coalition, **options) -> Result:
    data = problem.game.data
    if problem.n > MAX_PLAYERS:
        return _large_bankruptcy(problem, **options)
    v = problem.values
    x = sol.talmud(data["estate"], data["claims"])
    # bankruptcy games are convex: the nucleolus is the prenucleolus, which minimises the
    # largest excess, so the least-core value is the largest proper excess at the Talmud point
    eps = float(sol.excesses(v, x)[1:-1].max()) if problem.n > 1 else 0.0
    return _assemble(problem, "closed-form", nucleolus=x, least_core=(eps, x), kind="nucleolus")


def _run_highs(problem: Coalition, **options) -> Result:
    v = problem.values
    pre = sol.prenucleolus(v)
    eps, lc = sol.least_core(v, pre)
    if sol.imputation_set_empty(v):
        nuc, what = pre.x, "prenucleolus"
    else:
        nuc, what = sol.nucleolus(v, pre).x, "nucleolus"
    return _assemble(problem, "highs", nucleolus=nuc, least_core=(eps, lc), kind=what)


def _run_cvxpy(problem: Coalition, **options) -> Result:
    from .tightness import nucleolus_by_tightness

    v = problem.values
    n = problem.n
    lc, levels, method = nucleolus_by_tightness(v)
    eps = levels[0] if levels else 0.0
    lower = v[1 << np.arange(n)]
    if sol.imputation_set_empty(v):
        nuc, what = lc, "prenucleolus"
    elif np.all(lc >= lower - _tol(v)):
        nuc, what = lc, "nucleolus"
    else:
        nuc, _, method = nucleolus_by_tightness(v, lower)
        what = "nucleolus"
    return _assemble(problem, method, nucleolus=nuc, least_core=(eps, lc), kind=what)


def _clean(x) -> np.ndarray:
    x = np.asarray(x, float)
    return np.where(np.abs(x) < 1e-12, 0.0, x)


def _assemble(problem: Coalition, method: str, *, nucleolus, least_core, kind) -> Result:
    v = problem.values
    n = problem.n
    tol = _tol(v)
    eps, lc = least_core
    phi = sol.shapley(v)
    rows = pd.DataFrame({
        "player": list(problem.players),
        "shapley": _clean(phi),
        "nucleolus": _clean(nucleolus),
        "banzhaf": _clean(sol.banzhaf(v)),
        "least_core": _clean(lc),
    })
    nonempty = bool(eps <= tol)
    extras = {
        "game": problem.game.source,
        "core_nonempty": nonempty,
        "least_core_epsilon": float(0.0 if abs(eps) < 1e-12 else eps),
        "least_core_allocation": _clean(lc).tolist(),
        "nucleolus_kind": kind,
        "convex": bool(is_convex(v)) if n <= 16 else None,
        "shapley_in_core": bool(sol.in_core(v, phi)),
    }
    message = ""
    if kind == "prenucleolus":
        message = "the imputation set is empty (Σ v({i}) > v(N)): the nucleolus column is the prenucleolus"
    if problem.allocation is not None:
        rows["allocation"] = problem.allocation
        extras["allocation_core_violation"] = sol.core_violation(v, problem.allocation)
        extras["allocation_in_core"] = bool(sol.in_core(v, problem.allocation))
    if problem.team_problem is not None:
        shares, ce, source = _team_shares(problem)
        alloc = shares * v[-1]
        rows["team_share"] = shares
        rows["team_allocation"] = alloc
        extras["team_engine"] = problem.game.data.get("engine")
        extras["team_method"] = source
        extras["team_allocation_core_violation"] = sol.core_violation(v, alloc)
        extras["team_allocation_in_core"] = bool(sol.in_core(v, alloc))
        if ce is not None:
            rows["team_ce"] = ce
            extras["team_ce_in_core"] = bool(sol.in_core(v, ce))
    return Result(status="optimal", method=method, objective=float(v[-1]), rows=rows, extras=extras,
                  message=message)


def _team_shares(problem: Coalition):
    """The team's incentive-optimal shares (and CEs) in the grand coalition, from its own solve."""
    team = problem.team_problem
    result = team.solve()
    if result.status != "optimal":
        raise TeamFailure(f"the team problem {problem.team_path} was not solved: {result.message}")
    shares = result.rows["share"].to_numpy(float)
    ce = result.rows["ce"].to_numpy(float) if "ce" in result.rows else None
    return shares, ce, result.method


# -- bankruptcy games beyond exact enumeration --------------------------------------------------------
def _bankruptcy_core_violation(problem: Coalition, x) -> float:
    """Core violation in a bankruptcy game in O(n log n) (see solutions.bankruptcy_max_excess)."""
    data = problem.game.data
    x = np.asarray(x, float)
    efficiency = abs(x.sum() - data["estate"])
    shifted = x - (x.sum() - data["estate"]) / len(x)  # the excess formula needs x(N) = E
    return max(efficiency, max(0.0, sol.bankruptcy_max_excess(data["estate"], data["claims"], shifted)))


def _large_bankruptcy(problem: Coalition, samples: int = SAMPLES, seed=SEED, **options) -> Result:
    """n > 20: the Talmud rule (nucleolus = prenucleolus, convex game), least-core value in closed
    form, Shapley and Banzhaf values sampled with 95% confidence intervals."""
    data = problem.game.data
    estate, claims = data["estate"], data["claims"]
    x = sol.talmud(estate, claims)
    eps = sol.bankruptcy_max_excess(estate, claims, x)
    phi = sol.shapley_sample(problem.game.worth, problem.n, samples, seed=seed)
    bz = sol.banzhaf_sample(problem.game.worth, problem.n, samples, seed=seed)
    rows = pd.DataFrame({
        "player": list(problem.players),
        "shapley": phi.value,
        "nucleolus": _clean(x),
        "banzhaf": bz.value,
        "least_core": _clean(x),
        "shapley_ci": phi.halfwidth,
        "banzhaf_ci": bz.halfwidth,
    })
    extras = {
        "game": "bankruptcy",
        "core_nonempty": True,
        "least_core_epsilon": float(eps),
        "least_core_allocation": _clean(x).tolist(),
        "nucleolus_kind": "nucleolus",
        "convex": True,
        "shapley_in_core": bool(_bankruptcy_core_violation(problem, phi.value) <= _tol(claims)),
        "shapley_samples": phi.samples,
    }
    if problem.allocation is not None:
        rows["allocation"] = problem.allocation
        extras["allocation_core_violation"] = _bankruptcy_core_violation(problem, problem.allocation)
        extras["allocation_in_core"] = bool(extras["allocation_core_violation"] <= _tol(claims))
    message = (f"{problem.n} players: Shapley and Banzhaf values are estimates from {phi.samples} samples "
               "(columns shapley_ci, banzhaf_ci: 95% half-widths)")
    return Result(status="optimal", method="closed-form", objective=float(estate), rows=rows,
                  extras=extras, message=message)


def _check_large_bankruptcy(problem: Coalition, result: Result) -> dict[str, float]:
    data = problem.game.data
    rows = result.rows
    nuc = rows["nucleolus"].to_numpy(float)
    lc = rows["least_core"].to_numpy(float)
    eps = float(result.extras["least_core_epsilon"])
    shifted = lc - (lc.sum() - data["estate"]) / len(lc)
    checks = {
        "shapley_efficiency": abs(rows["shapley"].sum() - data["estate"]),
        "nucleolus_efficiency": abs(nuc.sum() - data["estate"]),
        "least_core_efficiency": abs(lc.sum() - data["estate"]),
        "least_core_violation": max(0.0, sol.bankruptcy_max_excess(data["estate"], data["claims"], shifted) - eps),
        "nucleolus_core_violation": _bankruptcy_core_violation(problem, nuc),
        "nucleolus_imputation_violation": max(0.0, float((np.maximum(
            0.0, data["estate"] - (data["claims"].sum() - data["claims"])) - nuc).max())),
    }
    return {k: float(x) for k, x in checks.items()}
