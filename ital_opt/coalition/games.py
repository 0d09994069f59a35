"""Transferable-utility games as worth vectors over bitmask-indexed coalitions (docs/theory/coalition.md).

A game on players N = {0, …, n−1} is a worth function v: 2^N → R with v(∅) = 0.  Coalition S is
the integer mask Σ_{i∈S} 2^i, so the whole game is one numpy vector ``v`` of length 2^n with
``v[0] = 0`` and ``v[2^n − 1] = v(N)``, the worth of the grand coalition.

Sources of games:

* **explicit table** – a worth for every non-empty coalition, keyed by player names joined with
  ``+`` (``"firm+univ"``), or for some of them with a ``default`` worth for the rest;
* **weighted voting** [q; w] (Shapley & Shubik 1954) – S wins (worth 1) iff w(S) ≥ q;
* **airport** (Littlechild & Owen 1973) – a cost game c(S) = max_{i∈S} c_i, kept as the TU game
  v = −c so that every solution concept applies unchanged (shares are then −x);
* **assignment** (Shapley & Shubik 1971) – buyers and sellers; v(S) is the largest total surplus
  a_ij of a matching between S's buyers and S's sellers (``scipy.optimize.linear_sum_assignment``);
  glove markets are the assignment games with a_ij = 1;
* **bankruptcy** (O'Neill 1982; Aumann & Maschler 1985) – an estate E < Σ d_i is divided among
  claimants with claims d_i; a coalition can secure what the others' claims leave over,
  v(S) = max(0, E − Σ_{j∉S} d_j).  Bankruptcy games are convex;
* **team-derived** (docs/theory/coalition.md, Chapter 4) – the worth of S is the total welfare of the team
  problem restricted to S's members: S shares its own output on its own simplex with shares
  re-optimised for S's welfare (budget balance within S), the same ω (mutual concern among
  S's members only) and the same a, c, ρ, σ² (and knowledge inputs g, d); outsiders contribute
  neither effort, knowledge nor output.
  For the LEN team this is the vectorised water-filling closed form
  :func:`ital_opt.team.closed_form.coalition_welfare` over all 2^n − 1 coalitions at once; teams
  with other production or cost forms are solved coalition by coalition with the team engine, a
  production expression restricted to S by setting outsiders' inputs e_j, k_j to 0 and
  renumbering S's members (:meth:`ital_opt.expr.Expr.substitute`).

A :class:`Game` also keeps the worth *function* (``worth(members)`` on a boolean membership
matrix), so that sampling estimates work for games too large to tabulate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Callable, Mapping, Sequence

import numpy as np

from ..spec import MAX_MAGNITUDE


#: the largest game tabulated as a dense worth vector (2^25 float64 = 256 MiB)
DENSE_MAX_PLAYERS = 25


def membership(n: int, masks) -> np.ndarray:
    """Boolean matrix (coalitions × n): row k marks the members of coalition ``masks[k]``."""
    masks = np.asarray(masks, dtype=np.int64)
    return ((masks[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def coalition_sums(x) -> np.ndarray:
    """x(S) = Σ_{i∈S} x_i for every mask S, by doubling: O(2^n).  A matrix x (n × m) gives one
    column of sums per column of x."""
    x = np.asarray(x, float)
    n = x.shape[0]
    out = np.empty((2**n,) + x.shape[1:])
    out[0] = 0.0
    for i in range(n):
        np.add(out[:1 << i], x[i], out=out[1 << i:2 << i])
    return out


def coalition_mask(name: str, players: Sequence[str]) -> int:
    """The mask of a coalition written as player names joined by ``+``; ValueError if malformed."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a coalition must be player names joined by '+'")
    index = {p: i for i, p in enumerate(players)}
    mask = 0
    for part in name.split("+"):
        part = part.strip()
        if part not in index:
            raise ValueError(f"names unknown player {part!r} (players: {', '.join(players)})")
        bit = 1 << index[part]
        if mask & bit:
            raise ValueError(f"names player {part!r} twice")
        mask |= bit
    return mask


def coalition_name(mask: int, players: Sequence[str]) -> str:
    """The ``+``-joined name of a mask, players in the order of `players`."""
    return "+".join(p for i, p in enumerate(players) if mask >> i & 1)


@dataclass(frozen=True, eq=False)
class Game:
    """A TU game: player names and a vectorised worth function on membership matrices.

    ``worth(members)`` maps a boolean matrix (coalitions × n) to their worths; ``values`` is the
    dense vector over all masks (computed once, for n ≤ DENSE_MAX_PLAYERS).
    """

    players: tuple[str, ...]
    worth: Callable[[np.ndarray], np.ndarray]
    source: str = "table"
    data: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.players)

    @cached_property
    def values(self) -> np.ndarray:
        n = self.n
        if n > DENSE_MAX_PLAYERS:
            raise ValueError(f"{n} players: the worth vector would have 2^{n} entries (at most {DENSE_MAX_PLAYERS} players)")
        if "dense" in self.data:
            out = np.asarray(self.data["dense"](), float)
        else:
            out = np.empty(2**n)
            chunk = 1 << 18
            for start in range(0, 2**n, chunk):
                masks = np.arange(start, min(start + chunk, 2**n), dtype=np.int64)
                out[masks] = self.worth(membership(n, masks))
        out[0] = 0.0
        return out

    @property
    def grand(self) -> float:
        """v(N)."""
        return float(self.worth(np.ones((1, self.n), bool))[0])

    @classmethod
    def from_values(cls, players: Sequence[str], values, source: str = "table", **data) -> Game:
        """A game from a dense worth vector (length 2^n, entry 0 ignored and set to 0)."""
        players = tuple(players)
        v = np.array(values, dtype=float)
        if v.shape != (2 ** len(players),):
            raise ValueError(f"expected {2 ** len(players)} worths for {len(players)} players, got {v.shape}")
        v[0] = 0.0
        weights = 1 << np.arange(len(players), dtype=np.int64)

        def worth(members):
            return v[np.asarray(members, bool) @ weights]

        game = cls(players, worth, source, dict(data))
        game.__dict__["values"] = v
        return game


def table_game(players: Sequence[str], table: Mapping[str, float], default: float | None = None) -> Game:
    """A game from worths keyed by ``+``-joined coalition names; coalitions left out are worth
    `default` (None: every non-empty coalition is needed).

    Raises ``KeyError(name)`` for a missing coalition (the name of the first one missing) and
    ``ValueError((key, message))`` for a malformed key or worth.
    """
    players = tuple(players)
    n = len(players)
    v = np.full(2**n, np.nan)  # NaN: not given (every given worth is finite)
    v[0] = 0.0
    for key, worth in table.items():
        try:
            mask = coalition_mask(key, players)
        except ValueError as exc:
            raise ValueError((key, str(exc))) from None
        if isinstance(worth, bool) or not isinstance(worth, (int, float, np.integer, np.floating)):
            raise ValueError((key, f"expected a number, got {worth!r}"))
        if not np.isfinite(worth) or abs(worth) > MAX_MAGNITUDE:
            raise ValueError((key, f"expected a finite number of at most {MAX_MAGNITUDE:g} in absolute value, "
                                   f"got {worth!r}"))
        if not np.isnan(v[mask]):
            raise ValueError((key, "the same coalition is given twice (under another spelling)"))
        v[mask] = float(worth)
    if default is not None:
        v[np.isnan(v)] = float(default)
    missing = np.flatnonzero(np.isnan(v))
    if missing.size:
        raise KeyError(coalition_name(int(missing[0]), players))
    return Game.from_values(players, v, "table")


def bankruptcy_game(players: Sequence[str], estate: float, claims) -> Game:
    """v(S) = max(0, E − Σ_{j∉S} d_j): what S secures after paying the others' claims in full."""
    claims = np.asarray(claims, float)
    total = claims.sum()

    def worth(members):
        members = np.asarray(members, bool)
        return np.maximum(0.0, estate - (total - members @ claims))

    return Game(tuple(players), worth, "bankruptcy", {"estate": float(estate), "claims": claims})


def voting_game(players: Sequence[str], quota: float, weights) -> Game:
    """The weighted voting game [quota; weights]: v(S) = 1 iff w(S) ≥ quota."""
    weights = np.asarray(weights, float)

    def worth(members):
        return (np.asarray(members, bool) @ weights >= quota).astype(float)

    def dense():
        return (coalition_sums(weights) >= quota).astype(float)

    return Game(tuple(players), worth, "weighted_voting", {"quota": float(quota), "weights": weights, "dense": dense})


def airport_game(players: Sequence[str], costs) -> Game:
    """The airport game as the TU game v(S) = −max_{i∈S} c_i (v(∅) = 0)."""
    costs = np.asarray(costs, float)

    def worth(members):
        members = np.asarray(members, bool)
        return -np.where(members, costs, 0.0).max(axis=1, initial=0.0)

    def dense():
        out = np.zeros(1)
        for c in costs:  # adding player i: the coalitions with i cost at least c_i
            out = np.concatenate([out, np.minimum(out, -c)])
        return out

    return Game(tuple(players), worth, "airport", {"costs": costs, "dense": dense})


def assignment_game(buyers: Sequence[str], sellers: Sequence[str], surplus) -> Game:
    """The assignment game: v(S) is the best matching value among S's buyers and sellers.

    Players are the buyers, then the sellers; negative surplus is never realised (a pair may
    stay unmatched), so it counts as 0.
    """
    from scipy.optimize import linear_sum_assignment

    surplus = np.maximum(np.asarray(surplus, float), 0.0)
    nb = len(buyers)

    def worth(members):
        members = np.atleast_2d(np.asarray(members, bool))
        out = np.zeros(len(members))
        for k, row in enumerate(members):
            b, s = np.flatnonzero(row[:nb]), np.flatnonzero(row[nb:])
            if b.size and s.size:
                sub = surplus[np.ix_(b, s)]
                r, c = linear_sum_assignment(sub, maximize=True)
                out[k] = sub[r, c].sum()
        return out

    return Game(tuple(buyers) + tuple(sellers), worth, "assignment",
                {"buyers": tuple(buyers), "sellers": tuple(sellers), "surplus": surplus})


def team_game(players: Sequence[str], params: Mapping, team=None, spec: Mapping | None = None) -> Game:
    """The team-derived game (see the module docstring).

    `params` holds the team's ``a``, ``c``, ``rho`` (per member), ``sigma2`` and ``omega``, and
    optionally the knowledge inputs ``g`` and ``d`` (per member; default 0 and 1);
    `spec` is the team's spec table and `team` its problem object.  The LEN team (linear
    production, quadratic cost, budget balance) uses the vectorised closed form; any other team is
    solved coalition by coalition with ``team.solve()`` on the sub-team (2^n − 1 solves).
    """
    from ital_opt.team.closed_form import coalition_welfare

    players = tuple(players)
    spec = dict(spec or {})
    a, c, rho = (np.asarray(params[k], float) for k in ("a", "c", "rho"))
    g, d = np.asarray(params.get("g", 0.0), float), np.asarray(params.get("d", 1.0), float)
    sigma2, omega = float(params["sigma2"]), float(params.get("omega", 0.0))
    if _is_len(spec, a, c, rho, sigma2, omega, g, d):

        def worth(members):
            return coalition_welfare(a, c, rho, sigma2, omega, np.asarray(members, bool), g=g, d=d)

        engine = "closed-form"
    else:
        if team is None:
            raise ValueError("this team is not LEN: the team problem object is needed to solve sub-teams")
        weights = 1 << np.arange(len(players), dtype=np.int64)

        @cache  # each sub-team is solved once
        def welfare(mask: int) -> float:
            return _sub_team_welfare(team, membership(len(players), [mask])[0]) if mask else 0.0

        def worth(members):
            return np.array([welfare(int(mask)) for mask in np.atleast_2d(np.asarray(members, bool)) @ weights], float)

        engine = "sub-team solves"
    return Game(players, worth, "team", {"team": team, "engine": engine, **params})


def _is_len(spec, a, c, rho, sigma2, omega, g=0.0, d=1.0) -> bool:
    """True when the team is the LEN model that the closed form covers (knowledge inputs g, d
    included: they enter through A_i = a_i²/c_i + g_i²/d_i)."""
    if any(spec.get(name) is not None for name in ("production", "cost", "knowledge_cost")) or spec.get("budget_breaker"):
        return False
    k = (1 - omega) ** 2
    return bool(np.all(k * (a * a / c + g * g / d) + rho * sigma2 > 0))


class TeamFailure(RuntimeError):
    """A team problem behind a team-derived game could not be solved (the game has no worths)."""


def _sub_team_welfare(team, row) -> float:
    """Total welfare of the sub-team `row` (welfare-maximising shares), by the team engine."""
    not_inherited = ("kind", "title", "expected", "shares", "lambda", "alpha", "outside", "disagreement", "members")
    spec = {k: v for k, v in team.spec.items() if k not in not_inherited}
    idx = np.flatnonzero(row)
    for name in ("a", "c", "rho", "g", "d"):  # the per-member fields
        value = spec.get(name)
        if isinstance(value, list):
            spec[name] = [value[i] for i in idx]
    if team.production is not None:  # outsiders put in nothing; members are renumbered within S
        position = {int(j): p + 1 for p, j in enumerate(idx)}
        spec["production"] = team.production.substitute(
            {f"{x}{j + 1}": f"{x}{position[j]}" if j in position else 0.0 for x in "ek" for j in range(team.n)}
        )
    members = "+".join(team.members[i] for i in idx)
    try:
        result = type(team)(_source=team.source, _base_dir=team.base_dir, **spec).solve()
    except (ArithmeticError, ValueError) as exc:  # e.g. log(0) where an outsider's input was
        what = f" with production {spec['production']!r}" if "production" in spec else ""
        raise TeamFailure(f"the sub-team of members {members}{what} cannot be solved: {exc}") from None
    if result.status != "optimal":
        raise TeamFailure(f"the sub-team of members {members} was not solved to optimality: {result.message}")
    return float(result.objective)


def is_convex(v, tol: float = 1e-9) -> bool:
    """Supermodularity: v(S∪{i,j}) − v(S∪{i}) − v(S∪{j}) + v(S) ≥ 0 for all S, i, j ∉ S."""
    v = np.asarray(v, float)
    n = int(np.log2(len(v)))
    masks = np.arange(len(v), dtype=np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            s = masks[((masks >> i) & 1 == 0) & ((masks >> j) & 1 == 0)]
            bi, bj = 1 << i, 1 << j
            if np.any(v[s | bi | bj] - v[s | bi] - v[s | bj] + v[s] < -tol):
                return False
    return True
