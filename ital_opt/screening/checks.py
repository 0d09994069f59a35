"""Incentive checks of a screening menu, from its numbers alone (docs/theory/screening.md).

Type k's best deviation is max_l [ u(θ_k, q_l) + t_l ].  With the split
u = b(θ) + Σ_j a_j(θ) v_j(q_j) + c_j(q_j) of :mod:`.symbolic` it is

    b(θ_k) + max_l [ a(θ_k)·V_l + (U_l − a(θ_l)·V_l − b(θ_l)) ],   V_l = v(q_l), U_l = u(θ_l,q_l) + t_l,

a maximum of affine functions of a(θ_k).  For one-dimensional types and allocations it is the
upper envelope of N lines, found from the convex hull of the points (V_l, intercept_l) and
evaluated at every a(θ_k) by binary search: O(N log N).  Otherwise the N×N deviation matrix is
formed in chunks (a matrix product when the split exists, the agent expression otherwise).
"""

from __future__ import annotations

import numpy as np

CHUNK = 2_000_000  # entries of the deviation matrix held at once


def upper_envelope(slopes: np.ndarray, intercepts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """max_l (slopes_l * x + intercepts_l) for every x, in O(N log N)."""
    if slopes.size > 1 and not np.all(slopes[1:] >= slopes[:-1]):
        order = np.argsort(slopes, kind="stable")
        m, c = slopes[order], intercepts[order]
    else:  # a monotone menu: already in order
        m, c = slopes, intercepts
    # for equal slopes keep the largest intercept
    starts = np.flatnonzero(np.concatenate([[True], m[1:] != m[:-1]]))
    if starts.size < m.size:
        c = np.maximum.reduceat(c, starts)
        m = m[starts]
    hull = _upper_hull(m, c)
    m, c = m[hull], c[hull]
    if m.size == 1:
        return m[0] * x + c[0]
    # breakpoints between consecutive hull lines, increasing
    br = -(c[1:] - c[:-1]) / (m[1:] - m[:-1])
    idx = np.searchsorted(br, x, side="right")
    best = m[idx] * x + c[idx]
    # guard against rounding at breakpoints: also try the neighbour
    alt = np.maximum(idx - 1, 0)  # idx ≤ m.size − 1 (there are m.size − 1 breakpoints)
    return np.maximum(best, m[alt] * x + c[alt])


def _upper_hull(m: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Indices (in order of slope) of the lines on the upper envelope: the upper hull of (m, c).

    Vectorised pruning: a point on or below the chord of its two neighbours is not on the upper
    hull, so all such points are dropped at once; repeat until none is (then the chain is concave).
    A point sequence that prunes slowly is finished by the monotone chain.
    """
    idx = np.arange(m.size)
    for _ in range(100):
        if idx.size <= 2:
            return idx
        x, y = m[idx], c[idx]
        # cross product sign: (x_i - x_{i-1})*(y_{i+1} - y_{i-1}) - (y_i - y_{i-1})*(x_{i+1} - x_{i-1}) >= 0 -> drop
        cross = (x[1:-1] - x[:-2]) * (y[2:] - y[:-2]) - (y[1:-1] - y[:-2]) * (x[2:] - x[:-2])
        drop = cross >= 0
        if not drop.any():
            return idx
        keep = np.ones(idx.size, dtype=bool)
        keep[1:-1] = ~drop
        idx = idx[keep]
    return idx[_chain(m[idx], c[idx], np.arange(idx.size))]


def _chain(m, c, cand):
    """Monotone chain on candidate indices (sorted by slope): the upper hull."""
    stack: list[int] = []
    for i in cand.tolist():
        while len(stack) >= 2:
            i1, i2 = stack[-2], stack[-1]
            # line i2 is useless if i1 and i cross above it
            if (c[i] - c[i1]) * (m[i2] - m[i1]) >= (c[i2] - c[i1]) * (m[i] - m[i1]):
                stack.pop()
            else:
                break
        stack.append(i)
    return np.array(stack, dtype=int)


def best_deviation_split(a: np.ndarray, b: np.ndarray, V: np.ndarray, U: np.ndarray) -> np.ndarray:
    """max_l of type k's utility from report l, via the split (a: N×m, b: N, V: N×m, U: N)."""
    intercept = U - np.einsum("ij,ij->i", a, V) - b
    if a.shape[1] == 1:
        return b + upper_envelope(V[:, 0], intercept, a[:, 0])
    n = a.shape[0]
    out = np.empty(n)
    step = max(1, CHUNK // n)
    for start in range(0, n, step):
        block = a[start : start + step] @ V.T + intercept[None, :]
        out[start : start + step] = block.max(axis=1)
    return out + b


def best_deviation_generic(agent, theta_env, q_env, t: np.ndarray) -> np.ndarray:
    """max_l [agent(θ_k, q_l) + t_l] by chunks, with `agent` a callable of (theta_env, q_env)."""
    n = t.size
    out = np.empty(n)
    step = max(1, CHUNK // n)
    for start in range(0, n, step):
        sl = slice(start, start + step)
        th = {k: v[sl][:, None] for k, v in theta_env.items()}
        qq = {k: v[None, :] for k, v in q_env.items()}
        with np.errstate(all="ignore"):
            val = np.asarray(agent({**th, **qq}), dtype=float) + t[None, :]
        val = np.broadcast_to(val, (min(step, n - start), n))
        val = np.where(np.isnan(val), -np.inf, val)
        out[sl] = val.max(axis=1)
    return out
