"""Values of TU games and the closed forms of structured games, in numpy (no solver).

Games are dense worth vectors ``v`` over bitmask coalitions (bit i = player i, see
:mod:`.games`); x(S) = Σ_{i∈S} x_i.

* **Shapley value** (Shapley 1953): φ_i = Σ_{S∌i} |S|!(n−|S|−1)!/n! · (v(S∪i) − v(S)), written
  as φ_i = Σ_{S∋i} w⁺(|S|) v(S) − Σ_{S∌i} w⁻(|S|) v(S) with w⁺(s) = 1/(n·C(n−1, s−1)) and
  w⁻(s) = 1/(n·C(n−1, s)), and summed over blocks of 2^16 coalitions: the only array of size
  2^n is v itself (2^25 float64 = 256 MiB), so exact values for table games up to
  :data:`.games.DENSE_MAX_PLAYERS` = 25 players take O(n 2^n) time and O(2^n) memory.
* **Banzhaf value** (Banzhaf 1965; raw, not normalised): ψ_i = 2^{1−n} Σ_{S∌i} (v(S∪i) − v(S)).
* Sampling estimates (:func:`shapley_sample`, :func:`banzhaf_sample`): random orderings
  (Castro, Gómez & Tejada 2009) and random coalitions, with normal confidence half-widths; each
  sampled Shapley estimate is efficient because each ordering's marginals sum to v(N).
* **Weighted voting** [q; w_1, …, w_n] with integer weights: the Shapley–Shubik index
  (Shapley & Shubik 1954) φ_i = Σ_s s!(n−1−s)!/n! · #{S ⊆ N∖i : |S| = s, q − w_i ≤ w(S) < q}
  and the Banzhaf index ψ_i = 2^{1−n} #{S ⊆ N∖i : q − w_i ≤ w(S) < q}, counted exactly (Python
  integers) by the dynamic programme over (size, weight) of all players, each player removed by
  deconvolution (Mann & Shapley 1962; Matsui & Matsui 2000): O(n² q) integer additions for the
  counts and O(n q) per distinct weight; int64 up to 62 players (every count ≤ C(n, s) fits).
* **Bankruptcy** games v(S) = max(0, E − d(N∖S)) (O'Neill 1982) with integer data: i's marginal
  contribution when the others outside S are T is f_i(d(T)) = (E − d(T))⁺ − (E − d(T) − d_i)⁺,
  and |T| is uniform on {0, …, n−1} under random orderings, so φ_i = (1/n) Σ_t
  E[f_i(d(T)) | |T| = t] with the same counting programme over claims below E: exact.  The
  **Talmud rule** (Aumann & Maschler 1985) is the nucleolus: constrained equal awards of
  half-claims when E ≤ D/2, otherwise claims minus constrained equal losses of half-claims.
* **Airport** cost games c(S) = max_{i∈S} c_i (Littlechild & Owen 1973): with costs sorted
  c_(1) ≤ … ≤ c_(n), the Shapley value is φ_(k) = Σ_{j≤k} (c_(j) − c_(j−1))/(n − j + 1) (each
  runway segment split equally among its users); the Banzhaf value is
  2^{1−n} Σ_{S ⊆ L_i} (c_i − max c(S)) over the players L_i with smaller costs; the nucleolus
  (Littlechild 1974) by the sequential rule: λ_1 = min_{k<n} c_(k)/(k + 1) paid by players up to
  the last minimiser k_1, then λ_2 = min_{k_1<k<n} (c_(k) − P_{k_1})/(k − k_1 + 1), …, with
  P_k what players (1) … (k) pay, and the largest player pays the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import comb, factorial

import numpy as np

from .games import coalition_sums, membership


_BLOCK = 16  # coalitions are summed in blocks of 2^16


def player_count(v) -> int:
    """n for a worth vector of length 2^n."""
    size = len(v)
    n = size.bit_length() - 1
    if size < 2 or 2**n != size:
        raise ValueError(f"a worth vector has length 2^n, got {size}")
    return n


def _signed_sums(v, w_in, w_out) -> np.ndarray:
    """r_i = Σ_{S∋i} w_in(|S|) v(S) − Σ_{S∌i} w_out(|S|) v(S), block by block."""
    v = np.asarray(v, float)
    n = player_count(v)
    k = min(n, _BLOCK)
    low_size = membership(k, np.arange(2**k)).sum(axis=1)  # |S| of the masks below 2^k
    out = np.zeros(n)
    for block in range(2 ** (n - k)):
        size = low_size + int(block).bit_count()
        chunk = v[block << k:(block + 1) << k]
        a, b = w_in[size] * chunk, w_out[size] * chunk
        for i in range(k):  # bit i of the mask: the middle axis
            out[i] += a.reshape(-1, 2, 2**i)[:, 1].sum() - b.reshape(-1, 2, 2**i)[:, 0].sum()
        for i in range(k, n):
            out[i] += a.sum() if block >> (i - k) & 1 else -b.sum()
    return out


def shapley(v) -> np.ndarray:
    """Exact Shapley value by enumeration: O(n 2^n) time, no array beyond v itself."""
    n = player_count(v)
    w = 1.0 / (n * np.array([comb(n - 1, s) for s in range(n)], float))
    w_in = np.concatenate([[0.0], w])   # w⁺(s) = w(s − 1)
    w_out = np.concatenate([w, [0.0]])  # w⁻(s) = w(s)
    return _signed_sums(v, w_in, w_out)


def banzhaf(v) -> np.ndarray:
    """Raw Banzhaf value ψ_i = 2^{1−n} Σ_{S∌i} (v(S∪i) − v(S))."""
    n = player_count(v)
    w = np.full(n + 1, 2.0 ** (1 - n))
    return _signed_sums(v, w, w)


def excesses(v, x) -> np.ndarray:
    """e(S, x) = v(S) − x(S) for every mask S."""
    return np.asarray(v, float) - coalition_sums(x)


# -- sampling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapleyEstimate:
    """A sampled value: estimate, half-width of the confidence interval, samples, level."""

    value: np.ndarray
    halfwidth: np.ndarray
    samples: int
    confidence: float


def _sampled(draw, n: int, samples: int, batch: int, confidence: float) -> ShapleyEstimate:
    """Mean and confidence half-width of the (m × n) marginal contributions `draw(m)` returns,
    over `samples` draws taken `batch` at a time."""
    from scipy.stats import norm

    total, total_sq, done = np.zeros(n), np.zeros(n), 0
    while done < samples:
        m = min(batch, samples - done)
        gain = draw(m)
        total += gain.sum(0)
        total_sq += (gain**2).sum(0)
        done += m
    mean = total / done
    var = np.maximum(total_sq / done - mean**2, 0.0) * done / max(done - 1, 1)
    z = norm.ppf(0.5 + confidence / 2)
    return ShapleyEstimate(mean, z * np.sqrt(var / done), done, confidence)


def shapley_sample(worth, n: int, samples: int = 1000, *, seed=None, confidence: float = 0.95,
                   batch: int | None = None) -> ShapleyEstimate:
    """Shapley value by random orderings; `worth` maps a boolean (m × n) matrix to m worths."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n)

    def draw(m):
        perms = rng.permuted(np.tile(np.arange(n), (m, 1)), axis=1)
        position = np.argsort(perms, axis=1)
        members = position[:, None, :] <= steps[None, :, None]  # (m, step, player)
        w = np.asarray(worth(members.reshape(-1, n)), float).reshape(m, n)
        marginal = np.empty((m, n))
        np.put_along_axis(marginal, perms, np.diff(w, axis=1, prepend=0.0), axis=1)
        return marginal

    return _sampled(draw, n, samples, batch or max(1, min(samples, (1 << 22) // max(1, n * n))), confidence)


def banzhaf_sample(worth, n: int, samples: int = 1000, *, seed=None, confidence: float = 0.95,
                   batch: int | None = None) -> ShapleyEstimate:
    """Raw Banzhaf value from random coalitions (each player in with probability 1/2)."""
    rng = np.random.default_rng(seed)
    eye = np.eye(n, dtype=bool)

    def draw(m):
        R = rng.random((m, n)) < 0.5
        with_i, without_i = R[:, None, :] | eye[None], R[:, None, :] & ~eye[None]
        return (np.asarray(worth(with_i.reshape(-1, n)), float)
                - np.asarray(worth(without_i.reshape(-1, n)), float)).reshape(m, n)

    return _sampled(draw, n, samples, batch or max(1, min(samples, (1 << 21) // max(1, n * n))), confidence)


# -- counting programme over (size, weight) --------------------------------------------------------
def integer_scale(values, limit: int = 10**6) -> int | None:
    """The smallest power of ten k ≤ `limit` making every value an integer, or None."""
    values = np.asarray(values, float)
    k = 1
    while k <= limit:
        scaled = values * k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return k
        k *= 10
    return None


#: up to this many players every count C[s, w] ≤ C(n, s) fits in int64 (C(62, 31) < 2^63)
INT64_MAX_PLAYERS = 62


def _counts(weights, cap: int) -> np.ndarray:
    """C[s, w] = #{S ⊆ N : |S| = s, w(S) = w} for w < cap: int64 where every count fits (n ≤ 62),
    else Python integers."""
    n = len(weights)
    C = np.zeros((n + 1, cap), dtype=np.int64 if n <= INT64_MAX_PLAYERS else object)
    C[0, 0] = 1
    for w in weights:
        if w < cap:
            C[1:, w:] = C[1:, w:] + C[:-1, :cap - w]
    return C


def _without(C, w: int) -> np.ndarray:
    """The counts of the other players from the counts of all (one player of weight w removed)."""
    cap = C.shape[1]
    if w >= cap:  # the player never fits below the cap: the counts are the others' already
        return C[:-1]
    R = np.empty_like(C)
    R[0] = C[0]
    for s in range(1, C.shape[0]):
        R[s] = C[s]
        R[s, w:] = C[s, w:] - R[s - 1, :cap - w]
    return R[:-1]


def voting_values(quota: int, weights) -> tuple[list[Fraction], list[Fraction]]:
    """Exact Shapley–Shubik and Banzhaf indices of the game [quota; weights] (integers ≥ 0)."""
    weights = [int(w) for w in weights]
    n = len(weights)
    quota = int(quota)
    C = _counts(weights, quota)
    n_fact = factorial(n)
    coef = [factorial(s) * factorial(n - 1 - s) for s in range(n)]
    by_weight: dict[int, tuple[Fraction, Fraction]] = {}  # players of equal weight have equal indices
    for w in set(weights):
        R = _without(C, w)
        lo = max(0, quota - w)
        swings = [int(c) for c in R[:, lo:quota].sum(axis=1)] if lo < quota else [0] * n  # ≤ C(n−1, s)
        by_weight[w] = (Fraction(sum(c * k for c, k in zip(swings, coef, strict=False)), n_fact),
                        Fraction(sum(swings), 2 ** (n - 1)))
    return [by_weight[w][0] for w in weights], [by_weight[w][1] for w in weights]


def bankruptcy_values(estate: int, claims) -> tuple[list[Fraction], list[Fraction]]:
    """Exact Shapley and Banzhaf values of the bankruptcy game with integer estate and claims."""
    claims = [int(d) for d in claims]
    n = len(claims)
    E = int(estate)
    if E <= 0:
        return [Fraction(0)] * n, [Fraction(0)] * n
    C = _counts(claims, E)  # T, the players outside S ∪ {i}, matters only while d(T) < E
    by_claim: dict[int, tuple[Fraction, Fraction]] = {}  # equal claims, equal values
    for d in set(claims):
        R = _without(C, d)
        # f(D) = d for D < E − d and E − D above: the first part is d times a count (exact in
        # int64), the second a short weighted sum in Python integers
        cut = max(0, E - d)
        below = [int(c) * d for c in R[:, :cut].sum(axis=1)]
        above = R[:, cut:].astype(object) @ np.array([E - x for x in range(cut, E)], dtype=object)
        gains = [b + int(a) for b, a in zip(below, above, strict=True)]
        by_claim[d] = (sum((Fraction(g, comb(n - 1, t)) for t, g in enumerate(gains)), Fraction(0)) / n,
                       Fraction(sum(gains), 2 ** (n - 1)))
    return [by_claim[d][0] for d in claims], [by_claim[d][1] for d in claims]


# -- bankruptcy --------------------------------------------------------------------------------------
def constrained_equal_awards(amount: float, caps) -> np.ndarray:
    """x_i = min(cap_i, λ) with Σ x_i = amount (0 ≤ amount ≤ Σ caps), exactly by sorting."""
    caps = np.asarray(caps, float)
    x = np.zeros_like(caps)
    left, remaining = float(amount), len(caps)
    for i in np.argsort(caps):
        x[i] = min(caps[i], left / remaining)
        left -= x[i]
        remaining -= 1
    return x


def talmud(estate: float, claims) -> np.ndarray:
    """The Talmud rule (Aumann & Maschler 1985), the nucleolus of the bankruptcy game."""
    claims = np.asarray(claims, float)
    half = claims / 2
    if estate <= half.sum():
        return constrained_equal_awards(estate, half)
    return claims - constrained_equal_awards(claims.sum() - estate, half)


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


# -- airport games (costs; shares are cost shares) --------------------------------------------------
def airport_shapley(costs) -> np.ndarray:
    """Littlechild–Owen: each runway segment's cost split equally among the players using it."""
    costs = np.asarray(costs, float)
    n = len(costs)
    order = np.argsort(costs, kind="stable")
    c = costs[order]
    segment = np.diff(c, prepend=0.0) / (n - np.arange(n))
    return np.cumsum(segment)[np.argsort(order)]


def airport_banzhaf(costs) -> np.ndarray:
    """Raw Banzhaf cost shares: 2^{1−n} Σ_{S ⊆ L_i} (c_i − max c(S)), L_i = {j : c_j < c_i}."""
    costs = np.asarray(costs, float)
    n = len(costs)
    out = np.empty(n)
    for i, ci in enumerate(costs):
        lower = np.sort(costs[costs < ci])
        total = ci + float(np.sum(2.0 ** np.arange(len(lower)) * (ci - lower)))  # max = lower[k]: 2^k sets
        out[i] = total * 2.0 ** (1 - n)
    return out


def airport_nucleolus(costs) -> np.ndarray:
    """Littlechild's (1974) sequential rule for the nucleolus of the airport cost game."""
    costs = np.asarray(costs, float)
    n = len(costs)
    order = np.argsort(costs, kind="stable")
    c = costs[order]
    pay = np.zeros(n)
    done, paid = 0, 0.0  # players (0) … (done − 1) are settled and pay `paid` together
    while done < n - 1:
        k = np.arange(done, n - 1)
        rate = (c[k] - paid) / (k - done + 2)
        best = rate.min()
        last = int(k[np.flatnonzero(rate <= best + 1e-12 * max(1.0, abs(best)))[-1]])
        pay[done:last + 1] = best
        paid += best * (last + 1 - done)
        done = last + 1
    pay[n - 1] = c[n - 1] - paid
    return pay[np.argsort(order)]
