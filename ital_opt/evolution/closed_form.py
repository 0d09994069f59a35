"""The replicator field of an n-population, two-strategy game, vectorised (pure numpy).

Population i has strategies 0 and 1 (cooperate / defect by default) and x_i is the share playing
strategy 0.  Its payoff A_i(s) depends on the whole strategy profile s ∈ {0, 1}^n and may depend
on the state x itself (state-dependent policies such as a penalty M(x) = M̄(1 − x)).  Against the
other populations' mixed states the expected payoff of strategy s_i is multilinear in x_{-i}:

    F_i(s_i; x) = Σ_{s_-i} A_i(s_i, s_-i; x) Π_{j≠i} p_j(s_j),   p_j(0) = x_j,  p_j(1) = 1 − x_j,

and the two-population replicator dynamics of Taylor (1979) and Hofbauer & Sigmund,
*Evolutionary Games and Population Dynamics* (1998, ch. 10), generalised to n populations, is

    ẋ_i = x_i (1 − x_i) ΔF_i(x),   ΔF_i = F_i(0; x) − F_i(1; x).

At a corner c ∈ {0, 1}^n the Jacobian is diagonal with entries (1 − 2c_i) ΔF_i(c), so a corner is
asymptotically stable (a strict Nash equilibrium, the ESS of an asymmetric game: Selten 1980) iff
every (1 − 2c_i) ΔF_i(c) < 0.  :func:`corner_eigenvalues` gives these for every corner at once.

Everything here works on a batch of states ``x`` of shape (N, n) (one row per state); the
payoff entries are constants or callables of the state columns (the model compiles its spec's
expressions into such callables).  No solver is used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

Entry = float | Callable[[dict], np.ndarray]


def mixed_weight(shares: Sequence, profile: Sequence[int], skip: int | None = None):
    """Π_{j ≠ skip} p_j(s_j): the probability of `profile` (without population `skip`) at `shares`.

    Works for numpy arrays and for sympy symbols alike.
    """
    weight = 1
    for j, (x, s) in enumerate(zip(shares, profile)):
        if j != skip:
            weight = weight * (x if s == 0 else 1 - x)
    return weight


@dataclass(frozen=True)
class Payoffs:
    """The payoff tables: ``entries[i][profile]`` is population i's payoff at the full profile.

    ``names`` are the populations (the names the state-dependent entries read their shares by).
    """

    names: tuple[str, ...]
    entries: tuple[dict[tuple[int, ...], Entry], ...]

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def constant(self) -> bool:
        return all(not callable(v) for table in self.entries for v in table.values())

    @cached_property
    def _tables(self):
        """Per population: the constant payoff differences A_i(0, s_-i) − A_i(1, s_-i), one per profile
        s_-i of the others (lexicographic), and the state-dependent ones as (column, entry0, entry1)."""
        n = self.n
        out = []
        for i in range(n):
            const, dynamic = np.zeros(2 ** (n - 1)), []
            for col, others in enumerate(itertools.product((0, 1), repeat=n - 1)):
                a0 = self.entries[i][(*others[:i], 0, *others[i:])]
                a1 = self.entries[i][(*others[:i], 1, *others[i:])]
                if callable(a0) or callable(a1):
                    dynamic.append((col, a0, a1))
                else:
                    const[col] = a0 - a1
            out.append((const, dynamic))
        return out

    def differences(self, x: np.ndarray) -> np.ndarray:
        """ΔF_i(x) for a batch of states ``x`` (N, n) -> (N, n)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        size, n = x.shape
        mixed = np.stack([x, 1.0 - x], axis=2)  # p_j(0) = x_j, p_j(1) = 1 − x_j
        env = {name: x[:, j] for j, name in enumerate(self.names)}
        out = np.empty((size, n))
        with np.errstate(all="ignore"):
            for i, (const, dynamic) in enumerate(self._tables):
                weight = np.ones((size, 1))
                for j in range(n):
                    if j != i:  # the probability of each profile of the others, lexicographic
                        weight = (weight[:, :, None] * mixed[:, j, None, :]).reshape(size, -1)
                if not dynamic:
                    out[:, i] = weight @ const
                    continue
                diff = np.repeat(const[None, :], size, axis=0)
                for col, a0, a1 in dynamic:
                    diff[:, col] = _value(a0, env) - _value(a1, env)
                out[:, i] = np.einsum("nk,nk->n", weight, diff)
        return out

    def field(self, x: np.ndarray) -> np.ndarray:
        """The replicator field ẋ = x(1 − x)ΔF(x) for a batch of states (N, n) -> (N, n)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        return x * (1.0 - x) * self.differences(x)

    def corner_eigenvalues(self) -> tuple[np.ndarray, np.ndarray]:
        """(corners (2^n, n), eigenvalues (2^n, n)): the diagonal Jacobian (1 − 2c_i)ΔF_i(c)."""
        c = np.array(list(itertools.product((0.0, 1.0), repeat=self.n)))
        return c, (1.0 - 2.0 * c) * self.differences(c)


def _value(entry: Entry, env: dict):
    return entry(env) if callable(entry) else entry


def logit_field(payoffs: Payoffs, u: np.ndarray) -> np.ndarray:
    """The field in log-odds u_i = log(x_i / (1 − x_i)): u̇_i = ΔF_i(x), the same time scale.

    Corners lie at infinity, so an orbit that converges to a corner never leaves the cube.
    """
    with np.errstate(over="ignore"):
        return payoffs.differences(1.0 / (1.0 + np.exp(-u)))


ZERO = 1e-7  # a real part this small (relative to the Jacobian's scale) counts as zero


def classify(eigenvalues: np.ndarray, zero: float) -> str:
    """The stability of a rest point from its Jacobian's eigenvalues.

    ``"ess"``: every real part negative and all eigenvalues real (a stable node; at a corner a
    strict Nash equilibrium); ``"stable focus"``: every real part negative, some complex;
    ``"source"`` / ``"unstable focus"``: every real part positive; ``"saddle"``: real parts of both
    signs; ``"neutral"``: some real part is zero (within `zero`) — the caller decides between
    ``"centre"``, a weak focus and ``"degenerate"``; it never guesses.
    """
    re, im = np.real(eigenvalues), np.imag(eigenvalues)
    complex_ = bool(np.any(np.abs(im) > zero))
    if np.any(np.abs(re) <= zero):
        return "neutral"
    if np.all(re < 0):
        return "stable focus" if complex_ else "ess"
    if np.all(re > 0):
        return "unstable focus" if complex_ else "source"
    return "saddle"


def sort_eigenvalues(eigenvalues) -> list[tuple[float, float]]:
    """Eigenvalues as (re, im) pairs in a canonical order (by imaginary, then real part)."""
    pairs = [(float(np.real(v)) + 0.0, float(np.imag(v)) + 0.0) for v in eigenvalues]  # no −0.0
    return sorted(pairs, key=lambda p: (round(p[1], 9), round(p[0], 9)))


def faces(n: int):
    """The faces of the cube where rest points may lie: (free coordinates, {fixed coordinate: 0|1}).

    A rest point has, for every i, x_i ∈ {0, 1} or ΔF_i(x) = 0; so every rest point lies in the
    relative interior of exactly one face, and on it solves ΔF_i = 0 for the free coordinates i.
    The 2^n corners come first (no free coordinate), then edges, ..., the interior last.
    """
    for k in range(n + 1):
        for free in itertools.combinations(range(n), k):
            fixed = [j for j in range(n) if j not in free]
            for values in itertools.product((0, 1), repeat=len(fixed)):
                yield free, dict(zip(fixed, values))


def position(point, n: int) -> str:
    """``"corner"``, ``"interior"`` or ``"edge"`` (any other face) of a rest point."""
    on = sum(1 for v in point if v in (0.0, 1.0))
    return "corner" if on == n else "interior" if on == 0 else "edge"


@dataclass
class RestPoint:
    """A rest point: its shares, its Jacobian's eigenvalues, its stability and how it was decided."""

    point: np.ndarray
    eigenvalues: np.ndarray
    stability: str
    note: str = ""


@dataclass
class Analysis:
    """What a method found: the rest points, and faces filled by a continuum of rest points."""

    points: list[RestPoint]
    continua: list[str]
    extras: dict


def face_name(names: Sequence[str], free, fixed: dict) -> str:
    """A face as text, e.g. ``firm = 1, research free``."""
    parts = [f"{names[j]} free" if j in free else f"{names[j]} = {fixed[j]}" for j in range(len(names))]
    return ", ".join(parts)


def bimatrix(payoffs: Payoffs) -> np.ndarray | None:
    """(a, b) with ΔF_1 = a_1 + b_1 x_2 and ΔF_2 = a_2 + b_2 x_1, for two populations whose payoffs do
    not depend on the state (a bimatrix game); None otherwise."""
    if payoffs.n != 2 or not payoffs.constant:
        return None
    (c1, _), (c2, _) = payoffs._tables  # the others' first strategy (share x_j) first, then the second
    return np.array([[c1[1], c2[1]], [c1[0] - c1[1], c2[0] - c2[1]]])


def bimatrix_analysis(payoffs: Payoffs) -> Analysis | None:
    """Every rest point of a bimatrix game's replicator dynamics in closed form, or None when the
    game is degenerate (a payoff difference vanishing on a whole edge: continua of rest points).

    ΔF_1 = a_1 + b_1 y, ΔF_2 = a_2 + b_2 x.  Corners: the diagonal Jacobian of the module
    docstring.  Edges: none (a rest point on x = c needs ΔF_2(c) = 0, a continuum).  Interior: the
    Nash equilibrium x* = −a_2/b_2, y* = −a_1/b_1 when both lie in (0, 1), with Jacobian
    [[0, x*(1 − x*)b_1], [y*(1 − y*)b_2, 0]]: a saddle when b_1 b_2 > 0, a centre (the first integral
    of Hofbauer & Sigmund 1998, §10.5) when b_1 b_2 < 0.
    """
    ab = bimatrix(payoffs)
    if ab is None:
        return None
    a, b = ab
    ends = np.array([a, a + b])  # ΔF_i with the other population at 0 and at 1
    if np.any(ends == 0.0):
        return None
    points = []
    corners, eig = payoffs.corner_eigenvalues()
    for c, e in zip(corners, eig, strict=True):
        stability = classify(e.astype(complex), ZERO * max(1.0, np.max(np.abs(e))))
        if stability == "neutral":  # a zero eigenvalue at a corner (a bifurcation): not decided here
            points.append(RestPoint(c, e.astype(complex), "degenerate", "a zero eigenvalue at a corner"))
        else:
            points.append(RestPoint(c, e.astype(complex), stability))
    if np.all(b != 0):
        star = np.array([-a[1] / b[1], -a[0] / b[0]])
        if np.all((star > 0) & (star < 1)):
            jac = np.array([[0.0, star[0] * (1 - star[0]) * b[0]], [star[1] * (1 - star[1]) * b[1], 0.0]])
            eig = np.linalg.eigvals(jac).astype(complex)
            stability = "saddle" if b[0] * b[1] > 0 else "centre"
            points.append(RestPoint(star, eig, stability, "" if stability == "saddle" else "first integral (bimatrix game)"))
    return Analysis(points, [], {})
