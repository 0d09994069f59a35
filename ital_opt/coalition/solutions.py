"""Solutions of TU games: Shapley, Banzhaf, core, least core, nucleolus (BOOK.md §5).

Games are dense worth vectors ``v`` over bitmask coalitions (see :mod:`.games`); x(S) = Σ_{i∈S}
x_i and the *excess* of S at x is e(S, x) = v(S) − x(S).

* **Shapley value** (Shapley 1953): φ_i = Σ_{S∌i} |S|!(n−|S|−1)!/n! · (v(S∪i) − v(S)).  Exact by
  enumeration of the 2^n coalitions, vectorised as φ_i = Σ_{S∋i} w⁺(|S|) v(S) − Σ_{S∌i} w⁻(|S|) v(S)
  with w⁺(s) = 1/(n·C(n−1, s−1)), w⁻(s) = 1/(n·C(n−1, s)); a 20-player game takes well under a
  second.  Beyond that, :func:`shapley_sample` averages marginal contributions over random
  orderings (Castro, Gómez & Tejada 2009) with a normal confidence interval; every sampled
  estimate is efficient because each ordering's marginals sum to v(N).
* **Banzhaf value** (Banzhaf 1965; raw, not normalised): ψ_i = 2^{1−n} Σ_{S∌i} (v(S∪i) − v(S)).
* **Core**: {x : x(N) = v(N), x(S) ≥ v(S) ∀S}.  :func:`core_violation` is max(|x(N) − v(N)|,
  max_S (v(S) − x(S))⁺).
* **Least core** (Maschler, Peleg & Shapley 1979): ε* = min ε s.t. x(S) + ε ≥ v(S) for
  ∅ ≠ S ≠ N, x(N) = v(N).  The core is non-empty iff ε* ≤ 0.  Its LP dual is
  max Σ_S y_S v(S) − t v(N) s.t. Σ_S y_S 1_S = t 1_N, Σ_S y_S = 1, y ≥ 0 — balanced collections,
  Bondareva–Shapley — used by the independent check :func:`least_core_dual`.
* **Nucleolus** (Schmeidler 1969): the imputation (x(N) = v(N), x_i ≥ v({i})) that
  lexicographically minimises the excesses sorted in decreasing order; the *prenucleolus* drops
  x_i ≥ v({i}).  Computed by the sequence of LPs of Maschler, Peleg & Shapley (1979), solved with
  HiGHS: stage k minimises the largest excess ε_k of the coalitions not yet fixed; coalitions
  with a positive dual price are tight at every optimum of stage k (complementary slackness), so
  their excess is fixed at ε_k; coalitions whose indicator lies in the span of the fixed ones
  have a determined excess and leave the LP (Guajardo & Jörnsten 2015 on why both steps are
  needed).  The rank of the fixed collection grows every stage, so at most n − 1 LPs are solved.
  The prenucleolus lies in the least core, and it is the least-core allocation reported.
* **Kohlberg criterion** (Kohlberg 1971), the independent check of a nucleolus: x is the
  prenucleolus iff every collection D(α, x) = {S : e(S, x) ≥ α} is balanced; for the nucleolus
  the singletons with x_i = v({i}) may be added with weight ≥ 0.  Checked level by level until the
  collection spans R^n, one small LP each (:func:`kohlberg_violation`).
* **Talmud rule** (Aumann & Maschler 1985): the nucleolus of a bankruptcy game; constrained equal
  awards of half-claims when E ≤ D/2, otherwise claims minus constrained equal losses of
  half-claims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.special import comb

from .games import coalition_sums, membership, sizes

__all__ = [
    "player_count",
    "shapley",
    "shapley_sample",
    "ShapleyEstimate",
    "banzhaf",
    "excesses",
    "core_violation",
    "in_core",
    "least_core",
    "least_core_dual",
    "core_nonempty",
    "nucleolus",
    "prenucleolus",
    "NucleolusResult",
    "kohlberg_violation",
    "talmud",
    "constrained_equal_awards",
    "banzhaf_sample",
    "bankruptcy_max_excess",
]

DUAL_TOL = 1e-9
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def player_count(v) -> int:
    """n for a worth vector of length 2^n."""
    size = len(v)
    n = size.bit_length() - 1
    if size < 2 or 2**n != size:
        raise ValueError(f"a worth vector has length 2^n, got {size}")
    return n


def _by_bit(arr, n, i):
    """View of a 2^n vector as (2^{n−1−i}, 2, 2^i): axis 1 is membership of player i."""
    return arr.reshape(2 ** (n - 1 - i), 2, 2**i)


# -- values ------------------------------------------------------------------------------------
def shapley(v) -> np.ndarray:
    """Exact Shapley value by enumeration (vectorised; O(n 2^n))."""
    v = np.asarray(v, float)
    n = player_count(v)
    s = sizes(n)
    w_in = np.zeros(n + 1)
    w_out = np.zeros(n + 1)
    w_in[1:] = 1.0 / (n * comb(n - 1, np.arange(0, n)))
    w_out[:n] = 1.0 / (n * comb(n - 1, np.arange(0, n)))
    plus, minus = w_in[s] * v, w_out[s] * v
    return np.array(
        [_by_bit(plus, n, i)[:, 1, :].sum() - _by_bit(minus, n, i)[:, 0, :].sum() for i in range(n)]
    )


def banzhaf(v) -> np.ndarray:
    """Raw Banzhaf value ψ_i = 2^{1−n} Σ_{S∌i} (v(S∪i) − v(S))."""
    v = np.asarray(v, float)
    n = player_count(v)
    return np.array(
        [(_by_bit(v, n, i)[:, 1, :].sum() - _by_bit(v, n, i)[:, 0, :].sum()) / 2 ** (n - 1) for i in range(n)]
    )


@dataclass(frozen=True)
class ShapleyEstimate:
    """A sampled Shapley value: estimate, half-width of the confidence interval, its level."""

    value: np.ndarray
    halfwidth: np.ndarray
    samples: int
    confidence: float


def shapley_sample(worth, n: int, samples: int = 1000, *, seed=None, confidence: float = 0.95,
                   batch: int | None = None) -> ShapleyEstimate:
    """Shapley value by random orderings; `worth` maps a boolean (m × n) matrix to m worths.

    Each ordering contributes every player's marginal contribution; the estimate is their mean
    and the half-width is z·sd/√samples (normal approximation).
    """
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    batch = batch or max(1, min(samples, (1 << 22) // max(1, n * n)))
    total = np.zeros(n)
    total_sq = np.zeros(n)
    done = 0
    steps = np.arange(n)
    while done < samples:
        m = min(batch, samples - done)
        perms = rng.permuted(np.tile(np.arange(n), (m, 1)), axis=1)
        position = np.argsort(perms, axis=1)
        members = position[:, None, :] <= steps[None, :, None]  # (m, step, player)
        w = np.asarray(worth(members.reshape(-1, n)), float).reshape(m, n)
        step_gain = np.diff(w, axis=1, prepend=0.0)
        marginal = np.empty((m, n))
        np.put_along_axis(marginal, perms, step_gain, axis=1)
        total += marginal.sum(0)
        total_sq += (marginal**2).sum(0)
        done += m
    mean = total / done
    var = np.maximum(total_sq / done - mean**2, 0.0) * done / max(done - 1, 1)
    z = norm.ppf(0.5 + confidence / 2)
    return ShapleyEstimate(mean, z * np.sqrt(var / done), done, confidence)


def banzhaf_sample(worth, n: int, samples: int = 1000, *, seed=None, confidence: float = 0.95,
                   batch: int | None = None) -> ShapleyEstimate:
    """Raw Banzhaf value from random coalitions (each player in with probability 1/2).

    Each sample draws one coalition R and evaluates every player's marginal contribution
    v(R ∪ {i}) − v(R ∖ {i}); the estimate is their mean, the half-width z·sd/√samples.
    """
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    batch = batch or max(1, min(samples, (1 << 21) // max(1, n * n)))
    total = np.zeros(n)
    total_sq = np.zeros(n)
    done = 0
    eye = np.eye(n, dtype=bool)
    while done < samples:
        m = min(batch, samples - done)
        R = rng.random((m, n)) < 0.5
        with_i = R[:, None, :] | eye[None]
        without_i = R[:, None, :] & ~eye[None]
        gain = (np.asarray(worth(with_i.reshape(-1, n)), float)
                - np.asarray(worth(without_i.reshape(-1, n)), float)).reshape(m, n)
        total += gain.sum(0)
        total_sq += (gain**2).sum(0)
        done += m
    mean = total / done
    var = np.maximum(total_sq / done - mean**2, 0.0) * done / max(done - 1, 1)
    z = norm.ppf(0.5 + confidence / 2)
    return ShapleyEstimate(mean, z * np.sqrt(var / done), done, confidence)


# -- core --------------------------------------------------------------------------------------
def excesses(v, x) -> np.ndarray:
    """e(S, x) = v(S) − x(S) for every mask S."""
    return np.asarray(v, float) - coalition_sums(x)


def core_violation(v, x) -> float:
    """max(|x(N) − v(N)|, max_S (v(S) − x(S))⁺): 0 iff x is in the core."""
    e = excesses(v, x)
    return float(max(abs(e[-1]), max(0.0, e[1:-1].max(initial=0.0))))


def in_core(v, x, tol: float = 1e-7) -> bool:
    scale = 1.0 + np.abs(np.asarray(v, float)).max()
    return core_violation(v, x) <= tol * scale


def _proper(n):
    masks = np.arange(1, 2**n - 1, dtype=np.int64)
    return masks, sp.csr_matrix(membership(n, masks).astype(float))


def least_core_dual(v) -> tuple[float, np.ndarray]:
    """ε* from the dual LP over balanced collections; returns (ε*, weights y over proper masks).

    Independent of :func:`least_core`: a different LP (columns are coalitions), solved from
    scratch.
    """
    v = np.asarray(v, float)
    n = player_count(v)
    masks, M = _proper(n)
    k = len(masks)
    # variables (y_S..., t); maximise Σ y v(S) − t v(N)
    cost = np.concatenate([-v[masks], [v[-1]]])
    A_eq = sp.vstack([
        sp.hstack([M.T, sp.csr_matrix(-np.ones((n, 1)))]),
        sp.csr_matrix(np.concatenate([np.ones(k), [0.0]])[None, :]),
    ]).tocsr()
    b_eq = np.concatenate([np.zeros(n), [1.0]])
    res = linprog(cost, A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * (k + 1), method="highs",
                  options=HIGHS_OPTIONS)
    if res.status != 0:
        raise RuntimeError(f"least-core dual LP failed: {res.message}")
    return float(-res.fun), res.x[:k]


@dataclass(frozen=True)
class NucleolusResult:
    """A (pre)nucleolus: the allocation, the excess level of each LP stage, the LPs solved."""

    x: np.ndarray
    levels: list
    lps: int
    imputations: bool


def _sequential_lp(v, lower=None) -> NucleolusResult:
    """Maschler–Peleg–Shapley sequence of LPs (dual prices fix coalitions; see module docstring).

    The game is scaled to max |v| = 1 for the LPs.  A newly fixed coalition whose indicator is
    already in the span of the fixed ones adds no equality (it is implied, and a rounded copy
    could make the system inconsistent).
    """
    v = np.asarray(v, float)
    n = player_count(v)
    if n == 1:
        return NucleolusResult(np.array([v[-1]]), [], 0, lower is not None)
    scale = float(np.abs(v).max()) or 1.0
    v = v / scale
    if lower is not None:
        lower = np.asarray(lower, float) / scale
    masks, M = _proper(n)
    vS = v[masks]
    Md = M.toarray()
    free = np.ones(len(masks), bool)
    eq_rows = [np.ones(n)]
    eq_rhs = [v[-1]]
    basis = np.ones((n, 1)) / np.sqrt(n)
    bounds = [(None, None)] * n if lower is None else [(float(lo), None) for lo in lower]
    bounds.append((None, None))
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    levels, lps = [], 0
    x = None
    while basis.shape[1] < n and free.any():
        idx = np.flatnonzero(free)
        A_ub = sp.hstack([-M[idx], sp.csr_matrix(-np.ones((len(idx), 1)))]).tocsr()
        A_eq = np.hstack([np.array(eq_rows), np.zeros((len(eq_rows), 1))])
        res = linprog(cost, A_ub=A_ub, b_ub=-vS[idx], A_eq=A_eq, b_eq=np.array(eq_rhs), bounds=bounds,
                      method="highs", options=HIGHS_OPTIONS)
        lps += 1
        if res.status != 0:
            raise RuntimeError(f"nucleolus LP {lps} failed: {res.message}")
        eps = float(res.x[-1])
        x = res.x[:n]
        levels.append(eps * scale)
        price = -np.asarray(res.ineqlin.marginals)
        newly = idx[price > DUAL_TOL * max(1.0, price.max())]
        if newly.size == 0:  # cannot happen (prices sum to 1); guard against solver noise
            newly = idx[[int(np.argmax(price))]]
        for j in newly[np.argsort(-price[np.searchsorted(idx, newly)])]:
            if np.linalg.norm(Md[j] - basis @ (basis.T @ Md[j])) > 1e-9:
                eq_rows.append(Md[j])
                eq_rhs.append(vS[j] - eps)
                basis = _orth(np.array(eq_rows))
        free[newly] = False
        # coalitions in the span of the fixed ones have a determined excess: no longer free
        rest = np.flatnonzero(free)
        if rest.size:
            resid = Md[rest] - (Md[rest] @ basis) @ basis.T
            free[rest[np.linalg.norm(resid, axis=1) < 1e-9]] = False
    if basis.shape[1] == n:
        # the fixed equalities determine x uniquely: solve them exactly
        x = np.linalg.solve(np.array(eq_rows), np.array(eq_rhs))
    return NucleolusResult(x * scale, levels, lps, lower is not None)


def _orth(rows) -> np.ndarray:
    """Orthonormal basis (columns) of the row space of `rows`."""
    u, s, vt = np.linalg.svd(np.atleast_2d(rows), full_matrices=False)
    r = int(np.sum(s > 1e-10 * max(1.0, s.max(initial=0.0))))
    return vt[:r].T


def prenucleolus(v) -> NucleolusResult:
    """The prenucleolus (efficient vectors, no individual-rationality bounds)."""
    return _sequential_lp(v, None)


def imputation_set_empty(v) -> bool:
    v = np.asarray(v, float)
    n = player_count(v)
    return bool(v[1 << np.arange(n)].sum() > v[-1] + 1e-12 * (1 + abs(v[-1])))


def nucleolus(v, pre: NucleolusResult | None = None) -> NucleolusResult:
    """Schmeidler's nucleolus over the imputations (the prenucleolus if it is an imputation).

    Raises ValueError when the imputation set is empty (Σ v({i}) > v(N)).
    """
    v = np.asarray(v, float)
    n = player_count(v)
    if imputation_set_empty(v):
        raise ValueError("the imputation set is empty: the singletons' worths exceed v(N)")
    lower = v[1 << np.arange(n)]
    pre = pre if pre is not None else prenucleolus(v)
    scale = 1.0 + np.abs(v).max()
    if np.all(pre.x >= lower - 1e-9 * scale):
        return NucleolusResult(pre.x, pre.levels, pre.lps, True)
    return _sequential_lp(v, lower)


def least_core(v, pre: NucleolusResult | None = None) -> tuple[float, np.ndarray]:
    """(ε*, x): the least-core value and its canonical point, the prenucleolus."""
    pre = pre if pre is not None else prenucleolus(v)
    if not pre.levels:  # one player
        return 0.0, pre.x
    return pre.levels[0], pre.x


def core_nonempty(v, tol: float = 1e-9) -> bool:
    scale = 1.0 + np.abs(np.asarray(v, float)).max()
    return least_core(v)[0] <= tol * scale


def kohlberg_violation(v, x, imputations: bool = False, tol: float = 1e-7) -> float:
    """0 when x satisfies Kohlberg's criterion for the (pre)nucleolus, 1 when it fails.

    Coalitions are grouped into excess levels (within tol · scale) from the largest down; each
    cumulative collection D must be balanced (positive weights on D, weights ≥ 0 on the
    singletons at their individual-rationality bound when `imputations`), checked by the LP
    max t s.t. Σ λ_S 1_S = 1_N, λ_S ≥ t on D; it stops once D spans R^n.
    """
    v = np.asarray(v, float)
    x = np.asarray(x, float)
    n = player_count(v)
    if n == 1:
        return float(abs(x[0] - v[-1]) > tol)
    scale = 1.0 + np.abs(v).max()
    masks = np.arange(1, 2**n - 1, dtype=np.int64)
    e = excesses(v, x)[masks]
    order = np.argsort(-e, kind="stable")
    Md = membership(n, masks).astype(float)
    boundary = []
    if imputations:
        single = 1 << np.arange(n)
        boundary = [int(np.searchsorted(masks, s)) for s, xi, lo in zip(single, x, v[single])
                    if xi - lo <= tol * scale]
    start = 0
    while start < len(order):
        stop = start
        while stop < len(order) and e[order[stop]] >= e[order[start]] - tol * scale:
            stop += 1
        D = order[:stop]
        extra = [b for b in boundary if b not in set(D.tolist())]
        k, b = len(D), len(extra)
        # variables (λ_D, μ_B, t): maximise t
        cost = np.zeros(k + b + 1)
        cost[-1] = -1.0
        A_eq = np.hstack([Md[D].T, Md[extra].T.reshape(n, b), np.zeros((n, 1))])
        A_ub = np.hstack([-np.eye(k), np.zeros((k, b)), np.ones((k, 1))])
        res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(k), A_eq=A_eq, b_eq=np.ones(n),
                      bounds=[(0, None)] * (k + b) + [(None, 1.0)], method="highs")
        if res.status != 0 or -res.fun <= 1e-9:
            return 1.0
        if np.linalg.matrix_rank(Md[D]) == n:
            return 0.0
        start = stop
    return 0.0


# -- bankruptcy ------------------------------------------------------------------------------------
def constrained_equal_awards(amount: float, caps) -> np.ndarray:
    """x_i = min(cap_i, λ) with Σ x_i = amount (0 ≤ amount ≤ Σ caps), exactly by sorting."""
    caps = np.asarray(caps, float)
    order = np.argsort(caps)
    x = np.zeros_like(caps)
    left, remaining = float(amount), len(caps)
    for i in order:
        share = left / remaining
        x[i] = min(caps[i], share)
        left -= x[i]
        remaining -= 1
    return x


def _min_proper_sum(y) -> float:
    """min of y(S) over non-empty proper subsets S (n ≥ 2)."""
    y = np.asarray(y, float)
    negative = y < 0
    if not negative.any():
        return float(y.min())
    if negative.all():
        return float(y.sum() - y.max())
    return float(y[negative].sum())


def bankruptcy_max_excess(estate: float, claims, x) -> float:
    """max over ∅ ≠ S ≠ N of e(S, x) in the bankruptcy game, in O(n log n) for x(N) = E.

    With v(S) = max(0, E − d(N∖S)) and x(N) = E, e(S, x) = max(−x(S), −(d − x)(N∖S)), so the
    largest excess is max(−min_S x(S), −min_T (d − x)(T)) over non-empty proper S, T.
    """
    x = np.asarray(x, float)
    claims = np.asarray(claims, float)
    return max(-_min_proper_sum(x), -_min_proper_sum(claims - x))


def talmud(estate: float, claims) -> np.ndarray:
    """The Talmud rule (Aumann & Maschler 1985), the nucleolus of the bankruptcy game."""
    claims = np.asarray(claims, float)
    half = claims / 2
    if estate <= half.sum():
        return constrained_equal_awards(estate, half)
    return claims - constrained_equal_awards(claims.sum() - estate, half)
