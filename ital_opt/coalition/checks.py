"""Independent certificates for cooperative-game answers, from the returned numbers (no solver).

* **Efficiency**: |x(N) − v(N)|.
* **Core** {x : x(N) = v(N), x(S) ≥ v(S) ∀S}: :func:`core_violation` is
  max(|x(N) − v(N)|, max_S (v(S) − x(S))⁺), over all 2^n coalitions at once.
* **Kohlberg's criterion** (Kohlberg 1971): an efficient x is the prenucleolus iff every collection
  D(α, x) = {S : e(S, x) ≥ α} is balanced — Σ_{S∈D} λ_S 1_S = 1_N for some λ > 0; for the nucleolus
  the singletons at their individual-rationality bound x_i = v({i}) may be added with weight ≥ 0.
  It suffices to check the cumulative collections level by level until they span R^n.
  :func:`kohlberg_certificate` takes the weights of each level from a caller-supplied function (an
  LP elsewhere) and *verifies* them here: Σ λ_S 1_S = 1_N to a tolerance and min λ > 0.  The
  weights of the first level also certify the least-core value: for any efficient y,
  Σ λ_S e(S, y) = Σ λ_S v(S) − v(N) = ε Σ λ_S, so some coalition has excess ≥ ε at every y.
* Bankruptcy games beyond enumeration: the largest excess at x with x(N) = E is
  max(−min_S x(S), −min_T (d − x)(T)) (:func:`.closed_form.bankruptcy_max_excess`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .closed_form import bankruptcy_max_excess, excesses
from .games import membership


_LEVEL_TOL = 1e-7


def scale_of(v) -> float:
    return 1.0 + float(np.abs(np.asarray(v, float)).max())


def imputation_set_empty(v) -> bool:
    v = np.asarray(v, float)
    n = len(v).bit_length() - 1
    return bool(v[1 << np.arange(n)].sum() > v[-1] + 1e-12 * (1 + abs(v[-1])))


def core_violation(v, x) -> float:
    """max(|x(N) − v(N)|, max_S (v(S) − x(S))⁺): 0 iff x is in the core."""
    e = excesses(v, x)
    return float(max(abs(e[-1]), max(0.0, e[1:-1].max(initial=0.0))))


def in_core(v, x, tol: float = 1e-7) -> bool:
    return core_violation(v, x) <= tol * scale_of(v)


def _top_levels(e: np.ndarray, n: int):
    """Indices of the proper coalitions in decreasing excess, enough to cover the levels that
    span R^n (grown until they do), and the number of them sorted."""
    k = max(64, 8 * n)
    while k < len(e):
        part = np.argpartition(-e, k)[:k]
        yield part[np.argsort(-e[part], kind="stable")]
        k *= 8
    yield np.argsort(-e, kind="stable")


def kohlberg_certificate(v, x, weights: Callable, imputations: bool = False, tol: float = _LEVEL_TOL) -> dict:
    """Verify Kohlberg's criterion at x: ``{"violation": 0 or 1, "levels": k, "epsilon": ε,
    "balance_residual": r, "min_weight": m}``.

    `weights(D, B)` returns balancing weights (λ on the rows of the 0/1 matrix D, μ on the rows
    of B) or None; they are checked here, not trusted.
    """
    v = np.asarray(v, float)
    x = np.asarray(x, float)
    n = len(v).bit_length() - 1
    scale = scale_of(v)
    out = {"violation": 0.0, "levels": 0, "epsilon": 0.0, "balance_residual": 0.0, "min_weight": 1.0,
           "at_bound": False}
    if n == 1:
        out["violation"] = float(abs(x[0] - v[-1]) > tol * scale)
        return out
    e = excesses(v, x)
    e[0] = e[-1] = -np.inf
    boundary = np.zeros((0, n))
    if imputations:
        single = 1 << np.arange(n)
        at_bound = single[x - v[single] <= tol * scale]
        boundary = membership(n, at_bound).astype(float)
        out["at_bound"] = bool(len(at_bound))
    out["epsilon"] = float(e[1:-1].max())
    for order in _top_levels(e, n):
        finite = order[np.isfinite(e[order])]
        cut = e[finite]
        # level boundaries: where the excess drops by more than tol·scale
        breaks = np.flatnonzero(cut[:-1] - cut[1:] > tol * scale) + 1
        ends = list(breaks) + ([len(finite)] if len(finite) == (len(e) - 2) else [])
        for levels, end in enumerate(ends, 1):
            out["levels"] = levels
            D = membership(n, finite[:end]).astype(float)
            got = weights(D, boundary)
            if got is None:
                out["violation"] = 1.0
                return out
            lam, mu = got
            residual = float(np.abs(D.T @ lam + boundary.T @ mu - 1.0).max())
            out["balance_residual"] = max(out["balance_residual"], residual)
            out["min_weight"] = min(out["min_weight"], float(lam.min(initial=1.0)))
            if residual > 1e-7 or lam.min(initial=1.0) <= 1e-9 or (len(mu) and mu.min() < -1e-9):
                out["violation"] = 1.0
                return out
            if np.linalg.matrix_rank(D.T @ D) == n:
                return out
    return out


def _efficient_violation(x, total: float, max_excess: Callable) -> float:
    """max(|x(N) − total|, max_excess(x')⁺), x' = x shifted equally to x'(N) = total (the excess
    formulas of the structured games need an efficient allocation)."""
    x = np.asarray(x, float)
    return max(abs(x.sum() - total), max(0.0, max_excess(x - (x.sum() - total) / len(x))))


def bankruptcy_core_violation(estate: float, claims, x) -> float:
    """Core violation in a bankruptcy game in O(n log n)."""
    return _efficient_violation(x, estate, lambda y: bankruptcy_max_excess(estate, claims, y))


def airport_max_excess(costs, shares) -> float:
    """max over ∅ ≠ S ≠ N of x(S) − c(S) for cost shares x with x(N) = c(N), in O(n log n).

    For S whose costliest member is j (costs sorted), x(S) − c_j is largest with S = {j} and every
    cheaper player with a positive share; for the costliest player that set may be N itself, and
    then the smallest share among the others is left out.
    """
    costs = np.asarray(costs, float)
    x = np.asarray(shares, float)
    n = len(costs)
    order = np.argsort(costs, kind="stable")
    c, y = costs[order], x[order]
    positive = np.concatenate([[0.0], np.cumsum(np.maximum(y, 0.0))[:-1]])
    best = y + positive - c
    last = n - 1
    if n > 1 and np.all(y[:last] > 0):  # the best set for the costliest player is N: drop one member
        best[last] -= float(y[:last].min())
    return float(best.max())


def airport_core_violation(costs, shares) -> float:
    """max(|x(N) − c(N)|, max_S (x(S) − c(S))⁺) for cost shares x in the airport game."""
    costs = np.asarray(costs, float)
    return _efficient_violation(shares, costs.max(), lambda y: airport_max_excess(costs, y))


def assignment_core_violation(surplus, x, grand: float) -> float:
    """Core of the assignment game (Shapley & Shubik 1971): x ≥ 0, x_b + x_s ≥ a_bs, x(N) = v(N)."""
    surplus = np.maximum(np.asarray(surplus, float), 0.0)
    x = np.asarray(x, float)
    nb = surplus.shape[0]
    pair = surplus - x[:nb, None] - x[None, nb:]
    return float(max(abs(x.sum() - grand), max(0.0, float((-x).max())), max(0.0, float(pair.max()))))


def voting_core_violation(quota: float, weights, x) -> float | None:
    """Core of a weighted voting game: x ≥ 0, efficient, and all of v(N) = 1 on the veto players
    (the core is the set of such x; it is empty without veto players)."""
    weights = np.asarray(weights, float)
    x = np.asarray(x, float)
    veto = weights.sum() - weights < quota
    if not veto.any():
        return None  # the core is empty; the largest excess needs a knapsack over all coalitions
    return float(max(abs(x.sum() - 1.0), max(0.0, float((-x).max())), float(np.abs(x[~veto]).max(initial=0.0))))
