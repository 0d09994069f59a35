"""``kind = "coalition"``: cooperative division of an alliance's surplus (docs/theory/coalition.md).

Chapter 4 of the book chooses the output-sharing ratio cooperatively.  This kind gives the
cooperative side: a TU game (see :mod:`.games`) and its solutions — Shapley and Banzhaf values,
the core, the least core and the nucleolus — and whether a given allocation, or the team's
incentive-optimal shares applied to the grand coalition's welfare, is stable against coalitions
breaking away.

Games: an explicit table (``values``, coalitions left out worth ``default``), ``game =
"bankruptcy"`` (``estate``, ``claims``), ``"weighted_voting"`` (``quota``, ``weights``),
``"airport"`` (``costs``; a cost game whose rows are cost shares, positive numbers),
``"assignment"`` (``buyers``, ``sellers``, ``surplus``; glove markets are the 0/1 case), or
``team = "PATH"`` (the worth of S is the total welfare of the team restricted to S with shares
re-optimised within S; the team's own sharing rule decides only the team's incentive-optimal
shares β of the grand coalition, whose allocation β·v(N) — row ``team_allocation`` — and certainty
equivalents — row ``team_ce`` — are tested for core membership).  Optional ``allocation``: a payoff
vector whose core membership is reported.  ``samples`` and ``seed``: a sampled Shapley/Banzhaf
estimate where no exact method fits (a bankruptcy game with many claimants and non-integer data,
a large assignment game); never used when an exact value is available.

Methods (every answer passes the checks of :mod:`.checks`, Kohlberg's certificate included
where the 2^n excesses fit in memory):

* ``closed-form`` — bankruptcy (Talmud rule = nucleolus, exact Shapley/Banzhaf by the counting
  programme for integer data) and airport games (Littlechild–Owen, Littlechild);
* ``dynamic-programming`` — weighted voting with integer weights: exact Shapley–Shubik and
  Banzhaf indices for hundreds of players; nucleolus and least core by the ``highs`` LP sequence
  up to :data:`NUCLEOLUS_MAX_PLAYERS` players;
* ``assignment`` — assignment games: the nucleolus and least core over the essential coalitions
  (singletons and buyer–seller pairs), worths by ``scipy.optimize.linear_sum_assignment``, and
  the core's buyer-optimal and seller-optimal points from the assignment LP's duals (rows
  ``core_buyer_optimal``, ``core_seller_optimal``);
* ``highs`` — every game up to 25 players: exact values by enumeration, the nucleolus by the
  LP sequence with constraint generation (:mod:`.formulations`);
* ``cvxpy`` — the LP sequence with explicit tightness tests (n ≤ 8), a cross-check.

Result rows: ``player``, ``shapley``, ``banzhaf``, ``nucleolus`` and ``least_core`` (the
prenucleolus) where computed, plus ``allocation`` and ``team_share``/``team_allocation``.  Top
level: ``core_nonempty``, ``least_core_epsilon``, ``least_core_allocation``, ``convex``,
``shapley_in_core``, the core tests of the given/team allocations and ``certificate`` (which
certificate was checked, or why none could be).  Objective: v(N), the worth of the grand
coalition (an airport game: the total cost c(N)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..problem import Field, Method, Problem, register
from ..result import Result
from ..spec import SpecReader, load, read_toml
from . import checks as ck
from . import closed_form as cf
from . import formulations as fm
from . import games
from .games import DENSE_MAX_PLAYERS, Game, TeamFailure

GAMES = ("bankruptcy", "weighted_voting", "airport", "assignment")
NUCLEOLUS_MAX_PLAYERS = DENSE_MAX_PLAYERS  # the LP sequence over 2^n coalitions (constraint generation)
ASSIGNMENT_VALUES_MAX = 16  # exact Shapley/Banzhaf of assignment games: 2^n assignment problems
DP_MAX_WIDTH = 10**6       # counting programmes over integer weights/claims below this many units
CONVEX_MAX_PLAYERS = 16


def _f(doc, type_):
    return Field(type_, None, doc)


@register
class Coalition(Problem):
    """A cooperative (TU) game among named players, and its solutions.

    The game is a table of worths, a parametric game (bankruptcy, weighted voting, airport,
    assignment) or the sub-teams of a team spec; the result gives the Shapley and Banzhaf values,
    the core, the least core and the nucleolus.  The theory page (docs/theory/coalition.md) has
    the definitions and sources.
    """

    kind = "coalition"
    compare = ("shapley", "nucleolus", "banzhaf", "least_core", "least_core_epsilon")
    fields = {
        "players": _f("the player names (names must not contain '+'); an assignment game names them in "
                      "buyers and sellers instead", list),
        "values": _f("a table game: the worth of each coalition, keyed by its players' names joined by '+' "
                     "(\"firm+univ\")", dict),
        "default": _f("a table game: the worth of every coalition left out of values (default: every "
                      "non-empty coalition must be given)", float),
        "game": _f("a game given by its parameters: 'bankruptcy', 'weighted_voting', 'airport' or "
                   "'assignment'", str),
        "estate": _f("bankruptcy: the estate E to divide", float),
        "claims": _f("bankruptcy: each claimant's claim, one per player", list),
        "quota": _f("weighted voting: the weight a coalition needs to win (a winning coalition is worth 1)",
                    float),
        "weights": _f("weighted voting: each player's weight, one per player", list),
        "costs": _f("airport: each player's runway cost, one per player (a cost game: v(S) is the largest "
                    "cost in S)", list),
        "buyers": _f("assignment: the buyers' names", list),
        "sellers": _f("assignment: the sellers' names", list),
        "surplus": _f("assignment: the surplus of each buyer-seller pair, one row per buyer and one entry "
                      "per seller", list),
        "team": _f("the path of a team spec (relative to this file): each coalition is worth the welfare of "
                   "its sub-team", str),
        "allocation": _f("a payoff vector, one entry per player, whose core membership is reported", list),
        "samples": _f("the number of random orderings (Shapley) and coalitions (Banzhaf) sampled where no "
                      "exact method fits (at least 2)", int),
        "seed": Field(int, 0, "the random seed of the sampled estimates"),
    }

    # -- reading ------------------------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        sources = [k for k in ("values", "game", "team") if r.has(k)]
        if len(sources) != 1:
            raise r.error("values" if not sources else sources[1],
                          "give exactly one of 'values' (a table game), 'game' (one of "
                          f"{', '.join(GAMES)}) or 'team'" + (f" (got {', '.join(sources)})" if sources else ""))
        self.game_type = r.string("game", choices=GAMES) if sources == ["game"] else sources[0]
        if self.game_type == "assignment":
            self.players = self._read_assignment_players(r)
        else:
            self.players = r.strings("players")
        n = len(self.players)
        if n == 0:
            raise r.error("players", "must name at least one player")
        for name in self.players:
            if "+" in name:
                raise r.error("players", f"player names must not contain '+', got {name!r}")
        if self.game_type in ("values", "team") and n > DENSE_MAX_PLAYERS:
            raise r.error("players", f"{n} players: a {'table' if self.game_type == 'values' else 'team-derived'} "
                          f"game is stored as its 2^n worths, which fits up to {DENSE_MAX_PLAYERS} players "
                          f"(2^{DENSE_MAX_PLAYERS} float64 = {2**DENSE_MAX_PLAYERS * 8 >> 20} MiB)")
        self.samples = r.integer("samples", None, lo=2)
        self.seed = r.integer("seed", 0, lo=0)
        self.team_problem = None
        self.team_path = None
        # rows report sign × payoff: an airport game's are cost shares
        self.sign = -1.0 if self.game_type == "airport" else 1.0
        self.game = GAME_READERS[self.game_type](self, r)
        self.allocation = r.vector("allocation", n, None)
        self._refuse_unsolvable(r)

    def _refuse_unsolvable(self, r: SpecReader) -> None:
        """Name the field that puts a game beyond every method, before any method is tried."""
        if self.dense:
            return
        data = self.game.data
        if self.game_type == "bankruptcy" and self.samples is None and _integer_data(data["claims"], data["estate"]) is None:
            raise r.error("claims", f"{self.n} claimants with non-integer (or very large) estate and claims: the exact "
                          f"Shapley value needs integer data (after scaling by a power of ten) with an estate below "
                          f"{DP_MAX_WIDTH:g} units, or at most {DENSE_MAX_PLAYERS} claimants; give 'samples' "
                          "for a sampled estimate")
        if self.game_type == "weighted_voting" and _integer_data(data["weights"], data["quota"]) is None:
            raise r.error("weights", f"{self.n} players: exact indices beyond {DENSE_MAX_PLAYERS} players need integer "
                          f"weights and quota (after scaling by a power of ten) with a quota below {DP_MAX_WIDTH:g} units")

    def _read_assignment_players(self, r: SpecReader) -> list[str]:
        self.buyers = r.strings("buyers")
        self.sellers = r.strings("sellers")
        both = self.buyers + self.sellers
        if len(set(both)) != len(both):
            raise r.error("sellers", "a player cannot be both a buyer and a seller, and names must be distinct")
        if not self.buyers or not self.sellers:
            raise r.error("buyers" if not self.buyers else "sellers", "must name at least one player")
        if r.has("players"):
            players = r.strings("players")
            if players != both:
                raise r.error("players", f"an assignment game's players are the buyers, then the sellers: "
                              f"expected {both}, got {players}")
        return both

    def _read_team(self, r: SpecReader) -> Game:
        path = r.string("team")
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
        if team.n != n:
            raise r.error("team", f"the team {path!r} has {team.n} members but there are {n} players")
        params = {name: np.broadcast_to(np.asarray(getattr(team, name), float), (n,)).copy()
                  for name in ("a", "c", "rho", "g", "d")}
        params.update(sigma2=float(team.sigma2), omega=float(team.omega))
        self.team_problem = team
        self.team_path = str(full)
        return games.team_game(self.players, params, team, spec=data)

    # -- the game -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.players)

    @property
    def dense_limit(self) -> int:
        """The most players whose 2^n worths are tabulated: 25 (2^25 float64 = 256 MiB), 16 for
        assignment games (one assignment problem per coalition)."""
        return ASSIGNMENT_VALUES_MAX if self.game_type == "assignment" else DENSE_MAX_PLAYERS

    @property
    def dense(self) -> bool:
        """True when the 2^n worths are tabulated (see :attr:`dense_limit`)."""
        return self.n <= self.dense_limit

    def describe(self) -> str:
        """The game's kind in words ("a table game", "a weighted_voting game", ...)."""
        return {"values": "a table game", "team": "a team-derived game"}.get(self.game_type, f"a {self.game_type} game")

    @property
    def values(self) -> np.ndarray:
        """The dense worth vector over bitmask coalitions (bit i = player i)."""
        return self.game.values

    def shapley_sample(self, samples: int = 1000, seed=None, confidence: float = 0.95):
        """Sampled Shapley value with a confidence interval (see :func:`.closed_form.shapley_sample`)."""
        return cf.shapley_sample(self.game.worth, self.n, samples, seed=seed, confidence=confidence)

    def values_or_estimates(self, samples: int | None, seed: int | None):
        """(φ, ψ, half-widths): the exact Shapley and Banzhaf values where the 2^n worths are
        tabulated, else estimates from `samples` draws with their 95% half-widths, else None."""
        if self.dense:
            return cf.shapley(self.values), cf.banzhaf(self.values), None
        if not samples:
            return None, None, None
        phi = cf.shapley_sample(self.game.worth, self.n, samples, seed=seed)
        bz = cf.banzhaf_sample(self.game.worth, self.n, samples, seed=seed)
        return phi.value, bz.value, (phi.halfwidth, bz.halfwidth)

    def assemble(self, method: str, *, shapley, banzhaf, nucleolus=None, least_core=None, kind="nucleolus", extras=None,
                 message="", ci=None) -> Result:
        """The result: rows in the players' order (payoffs × sign), the core facts, the allocations."""
        sign = self.sign
        rows = pd.DataFrame({"player": list(self.players)})
        if shapley is not None:
            for name, value, halfwidth in zip(("shapley", "banzhaf"), (shapley, banzhaf), ci or (None, None), strict=True):
                rows[name] = _clean(sign * np.asarray(value, float))
                if halfwidth is not None:
                    rows[f"{name}_ci"] = halfwidth
        extras = dict(extras or {})
        extras.setdefault("game", self.game.source)
        notes = [message] if message else []
        if nucleolus is not None:
            rows["nucleolus"] = _clean(sign * np.asarray(nucleolus, float))
            extras["nucleolus_kind"] = kind
            if kind == "prenucleolus":
                notes.append("the imputation set is empty (Σ v({i}) > v(N)): the nucleolus column is the prenucleolus")
        if least_core is not None:
            eps, lc = least_core
            rows["least_core"] = _clean(sign * np.asarray(lc, float))
            extras["core_nonempty"] = bool(eps <= _scale_tol(self))
            extras["least_core_epsilon"] = float(0.0 if abs(eps) < 1e-12 else eps)
            extras["least_core_allocation"] = _clean(sign * np.asarray(lc, float)).tolist()
        if self.dense:
            extras.setdefault("convex", bool(games.is_convex(self.values)) if self.n <= CONVEX_MAX_PLAYERS else None)
        if shapley is not None and ci is None:
            violation = _core_violation(self, shapley)
            if violation is not None:
                extras["shapley_in_core"] = bool(violation <= _scale_tol(self))
        if self.allocation is not None:
            rows["allocation"] = self.allocation
            violation = _core_violation(self, sign * np.asarray(self.allocation, float))
            if violation is not None:
                extras["allocation_core_violation"] = violation
                extras["allocation_in_core"] = bool(violation <= _scale_tol(self))
        if self.team_problem is not None:
            v = self.values
            shares, ce, source = _team_shares(self)
            alloc = shares * v[-1]
            rows["team_share"] = shares
            rows["team_allocation"] = alloc
            extras["team_engine"] = self.game.data.get("engine")
            extras["team_method"] = source
            extras["team_allocation_core_violation"] = ck.core_violation(v, alloc)
            extras["team_allocation_in_core"] = bool(ck.in_core(v, alloc))
            if ce is not None:
                rows["team_ce"] = ce
                extras["team_ce_in_core"] = bool(ck.in_core(v, ce))
        return Result(status="optimal", method=method, objective=float(sign * self.game.grand), rows=rows, extras=extras,
                      message="; ".join(notes))

    def methods(self) -> list[Method]:
        sampling = frozenset({"samples", "seed"})
        return [
            Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True, options=sampling),
            Method("dynamic-programming", _run_voting, _voting_applies, solvers=("highs",), options=frozenset()),
            *(f.method() for f in self.formulations()),
        ]

    # -- checks: from the returned numbers only ----------------------------------------------------
    def check(self, result: Result) -> dict[str, float]:
        rows = result.rows
        sign = self.sign
        out: dict[str, float] = {}
        for c in [c for c in ("shapley", "nucleolus", "least_core") if c in rows]:
            out[f"{c}_efficiency"] = abs(sign * rows[c].to_numpy(float).sum() - self.game.grand)
        for column in ("core_buyer_optimal", "core_seller_optimal"):
            if column in rows:
                out[f"{column}_violation"] = _core_violation(self, rows[column].to_numpy(float))
        if "nucleolus" not in rows:
            result.extras["certificate"] = (f"no nucleolus to certify; Kohlberg's certificate would need the "
                                            f"2^{self.n} excesses, which do not fit in memory beyond "
                                            f"{DENSE_MAX_PLAYERS} players")
            return {k: float(x) for k, x in out.items()}
        nuc = sign * rows["nucleolus"].to_numpy(float)
        lc = sign * rows["least_core"].to_numpy(float)
        eps = float(result.extras["least_core_epsilon"])
        if self.dense and self.n > 1:
            v = self.values
            e_lc = cf.excesses(v, lc)
            out["least_core_violation"] = max(0.0, float((e_lc[1:-1] - eps).max(initial=-np.inf)))
            imputations = not ck.imputation_set_empty(v)
            if imputations:
                out["nucleolus_imputation_violation"] = max(0.0, float((v[1 << np.arange(self.n)] - nuc).max()))
            cert_nuc = ck.kohlberg_certificate(v, nuc, fm.balancing_weights, imputations=imputations)
            same = np.array_equal(nuc, lc) and not (imputations and cert_nuc["at_bound"])
            cert_lc = cert_nuc if same else ck.kohlberg_certificate(v, lc, fm.balancing_weights, imputations=False)
            out["nucleolus_kohlberg_violation"] = cert_nuc["violation"]
            out["least_core_kohlberg_violation"] = cert_lc["violation"]
            # the first level's balancing weights prove that no allocation has a smaller largest excess
            out["least_core_epsilon_gap"] = abs(eps - cert_lc["epsilon"])
            nonempty = cert_lc["epsilon"] <= _scale_tol(self)
            out["core_nonempty_mismatch"] = float(bool(result.extras["core_nonempty"]) != nonempty)
            if nonempty:
                out["nucleolus_core_violation"] = ck.core_violation(v, nuc)
            result.extras["certificate"] = (f"Kohlberg: balancing weights verified on {cert_nuc['levels']} excess "
                                            f"level(s) of the nucleolus, {cert_lc['levels']} of the least-core point")
        else:
            violation = _core_violation(self, nuc)
            if violation is not None:
                out["nucleolus_core_violation"] = violation
            if self.game_type == "bankruptcy":
                data = self.game.data
                shifted = lc - (lc.sum() - data["estate"]) / len(lc)
                out["least_core_violation"] = max(0.0, cf.bankruptcy_max_excess(data["estate"], data["claims"], shifted) - eps)
                lower = np.maximum(0.0, data["estate"] - (data["claims"].sum() - data["claims"]))
                out["nucleolus_imputation_violation"] = max(0.0, float((lower - nuc).max()))
            result.extras["certificate"] = (f"core membership checked by the game's structure; Kohlberg's certificate "
                                            f"not checked: the 2^{self.n} excesses do not fit in memory "
                                            f"(at most {DENSE_MAX_PLAYERS} players)")
        return {k: float(x) for k, x in out.items()}


# -- reading the game: one reader per game type ------------------------------------------------------
def _read_table(problem: Coalition, r: SpecReader) -> Game:
    default = r.number("default", None)
    table = r.table("values")
    try:
        return games.table_game(problem.players, table, default)
    except KeyError as exc:
        raise r.error("values", f"the coalition {exc.args[0]!r} is missing (every non-empty coalition "
                      "needs a worth, or give 'default' for the ones left out)") from None
    except ValueError as exc:
        key, message = exc.args[0]
        raise r.error(f"values.{key}", message) from None


def _read_bankruptcy(problem: Coalition, r: SpecReader) -> Game:
    estate = r.number("estate", nonneg=True)
    claims = r.vector("claims", problem.n, nonneg=True)
    if estate > claims.sum():
        raise r.error("estate", f"must not exceed the total claim {claims.sum():g}, got {estate:g}")
    return games.bankruptcy_game(problem.players, estate, claims)


def _read_voting(problem: Coalition, r: SpecReader) -> Game:
    quota = r.number("quota", positive=True)
    weights = r.vector("weights", problem.n, nonneg=True)
    if quota > weights.sum():
        raise r.error("quota", f"no coalition wins: the quota {quota:g} exceeds the total weight {weights.sum():g}")
    return games.voting_game(problem.players, quota, weights)


GAME_READERS = {
    "values": _read_table,
    "bankruptcy": _read_bankruptcy,
    "weighted_voting": _read_voting,
    "airport": lambda problem, r: games.airport_game(problem.players, r.vector("costs", problem.n, nonneg=True)),
    "assignment": lambda problem, r: games.assignment_game(
        problem.buyers, problem.sellers, r.matrix("surplus", (len(problem.buyers), len(problem.sellers)))),
    "team": Coalition._read_team,
}


# -- applicability ----------------------------------------------------------------------------------
def _integer_data(values, quota) -> int | None:
    """The scale making the data integers with the counting width within DP_MAX_WIDTH, or None."""
    k = cf.integer_scale(np.append(values, quota))
    if k is None or quota * k > DP_MAX_WIDTH:
        return None
    return k


def _closed_form_applies(problem: Coalition) -> str | None:
    # a bankruptcy game beyond the counting programme and enumeration without samples is refused at reading
    if problem.game_type not in ("bankruptcy", "airport"):
        return f"closed forms cover bankruptcy and airport games, not {problem.describe()}"
    return None


def _voting_applies(problem: Coalition) -> str | None:
    if problem.game_type != "weighted_voting":
        return f"the counting programme is for weighted voting games, not {problem.describe()}"
    data = problem.game.data
    if _integer_data(data["weights"], data["quota"]) is None:
        return (f"the weights and quota are not integers after scaling by a power of ten, or the quota exceeds "
                f"{DP_MAX_WIDTH:g} units (the counting programme's width)")
    return None


# -- result assembly ------------------------------------------------------------------------------------
def _clean(x) -> np.ndarray:
    x = np.asarray(x, float)
    return np.where(np.abs(x) < 1e-12, 0.0, x)


def _scale_tol(problem: Coalition) -> float:
    """1e-7 × (1 + the largest |worth|), or 1e-7 × (1 + |v(N)|) where the 2^n worths are not tabulated."""
    return 1e-7 * (ck.scale_of(problem.values) if problem.dense else 1.0 + abs(problem.game.grand))


def _core_violation(problem: Coalition, x) -> float | None:
    """max(|x(N) − v(N)|, max_S e(S, x)⁺) by the game's structure where it has one, else None."""
    data = problem.game.data
    if problem.dense:
        return ck.core_violation(problem.values, x)
    if problem.game_type == "bankruptcy":
        return ck.bankruptcy_core_violation(data["estate"], data["claims"], x)
    if problem.game_type == "airport":
        return ck.airport_core_violation(data["costs"], -np.asarray(x, float))
    if problem.game_type == "assignment":
        return ck.assignment_core_violation(data["surplus"], x, problem.game.grand)
    if problem.game_type == "weighted_voting":
        return ck.voting_core_violation(data["quota"], data["weights"], x)
    return None


def _team_shares(problem: Coalition):
    """The team's incentive-optimal shares (and CEs) in the grand coalition, from its own solve."""
    team = problem.team_problem
    result = team.solve()
    if result.status != "optimal":
        raise TeamFailure(f"the team problem {problem.team_path} was not solved: {result.message}")
    shares = result.rows["share"].to_numpy(float)
    ce = result.rows["ce"].to_numpy(float) if "ce" in result.rows else None
    return shares, ce, result.method


# -- methods ------------------------------------------------------------------------------------------
def _run_closed_form(problem: Coalition, samples: int | None = None, seed: int | None = None) -> Result:
    data = problem.game.data
    samples = problem.samples if samples is None else samples
    seed = problem.seed if seed is None else seed
    ci, message = None, ""
    if problem.game_type == "airport":
        costs = data["costs"]
        x = -cf.airport_nucleolus(costs)
        phi, bz = -cf.airport_shapley(costs), -cf.airport_banzhaf(costs)
        # the airport game is concave as a cost game: its nucleolus is its prenucleolus and lies in
        # the least core, so the least-core value is the largest proper excess at the nucleolus
        eps = ck.airport_max_excess(costs, -x) if problem.n > 1 else 0.0
    else:
        estate, claims = data["estate"], data["claims"]
        x = cf.talmud(estate, claims)
        # bankruptcy games are convex: the nucleolus is the prenucleolus, which minimises the largest
        # excess, so the least-core value is the largest proper excess at the Talmud point
        eps = cf.bankruptcy_max_excess(estate, claims, x) if problem.n > 1 else 0.0
        k = _integer_data(claims, estate)
        if k is not None:
            shap, banz = cf.bankruptcy_values(round(estate * k), np.round(claims * k).astype(int))
            phi, bz = np.array(shap, float) / k, np.array(banz, float) / k
            message = "Shapley and Banzhaf values exact (counting programme over integer claims)"
        else:
            phi, bz, ci = problem.values_or_estimates(samples, seed)
            if ci is not None:
                message = (f"{problem.n} players with non-integer data: Shapley and Banzhaf values are estimates from "
                           f"{samples} samples (seed {seed}; columns shapley_ci, banzhaf_ci: 95% half-widths)")
    return problem.assemble("closed-form", shapley=phi, banzhaf=bz, nucleolus=x, least_core=(eps, x),
                            extras={"convex": True, **({"samples": samples} if ci else {})}, message=message, ci=ci)


def _run_voting(problem: Coalition, solver: str | None = None, verbose: bool = False, **options) -> Result:
    data = problem.game.data
    k = _integer_data(data["weights"], data["quota"])
    quota = int(np.ceil(data["quota"] * k - 1e-9))
    shap, banz = cf.voting_values(quota, np.round(data["weights"] * k).astype(int))
    phi, bz = np.array(shap, float), np.array(banz, float)
    message = "Shapley–Shubik and Banzhaf indices exact (counting programme over integer weights)"
    if problem.n <= NUCLEOLUS_MAX_PLAYERS:
        x, lc, eps, kind = fm.nucleolus_dense(problem.values, options, verbose)
        return problem.assemble("dynamic-programming", shapley=phi, banzhaf=bz, nucleolus=x,
                                least_core=(eps, lc), kind=kind, message=message + "; nucleolus by the LP sequence")
    veto = data["weights"].sum() - data["weights"] < data["quota"]
    extras = {"core_nonempty": bool(veto.any()), "veto_players": [p for p, b in zip(problem.players, veto, strict=True) if b]}
    message += (f"; nucleolus and least core not computed: {problem.n} players exceed the LP sequence's "
                f"{NUCLEOLUS_MAX_PLAYERS} (the core is non-empty iff some player has a veto)")
    return problem.assemble("dynamic-programming", shapley=phi, banzhaf=bz, extras=extras, message=message)
