"""A second nucleolus formulation: the sequence of LPs with explicit tightness tests (cvxpy).

The main method (:mod:`.solutions`) fixes coalitions by their dual prices.  This one never
looks at duals: after stage k gives the smallest largest excess ε_k, each coalition that is tight
at the stage's solution is tested with its own LP — maximise its slack x(S) + ε_k − v(S) over the
stage's optimal face — and it is fixed at ε_k only when that slack cannot be made positive
(Maschler, Peleg & Shapley 1979; the "tight in every optimum" rule).  Coalitions spanned by the
fixed ones leave the LP as in the main method.  It is written in cvxpy (HiGHS through
:func:`ital_opt.backends.solve_cvxpy`), a different modelling layer from the main method's
scipy call, and is meant as an independent cross-check for small games (n ≤ 8).
"""

from __future__ import annotations

import numpy as np

from ..backends import solve_cvxpy
from .games import membership
from .solutions import player_count


def nucleolus_by_tightness(v, lower=None, tol: float = 1e-8):
    """(x, levels, method name): the (pre)nucleolus; `lower` adds x_i ≥ lower_i (imputations)."""
    import cvxpy as cp

    v = np.asarray(v, float)
    n = player_count(v)
    unit = float(np.abs(v).max()) or 1.0  # solve the game scaled to max |v| = 1
    v = v / unit
    if lower is not None:
        lower = np.asarray(lower, float) / unit
    scale = 1.0
    masks = np.arange(1, 2**n - 1, dtype=np.int64)
    M = membership(n, masks).astype(float)
    vS = v[masks]
    free = np.ones(len(masks), bool)
    fixed_rows, fixed_rhs = [np.ones(n)], [v[-1]]
    levels, method = [], "cvxpy"
    x = cp.Variable(n)
    while len(fixed_rows) < n and free.any():
        idx = np.flatnonzero(free)
        eps = cp.Variable()
        base = [np.array(fixed_rows) @ x == np.array(fixed_rhs)]
        if lower is not None:
            base.append(x >= lower)
        stage = cp.Problem(cp.Minimize(eps), base + [M[idx] @ x + eps >= vS[idx]])
        status, method = solve_cvxpy(stage)
        if status != "optimal":
            raise RuntimeError(f"nucleolus stage LP: {status} ({method})")
        level = float(eps.value)
        levels.append(level * unit)
        slack = M[idx] @ x.value + level - vS[idx]
        newly = []
        face = base + [M[idx] @ x + level >= vS[idx]]
        for j in idx[slack <= tol * scale]:
            test = cp.Problem(cp.Maximize(M[j] @ x + level - vS[j]), face)
            status, method = solve_cvxpy(test)
            if status == "optimal" and test.value <= tol * scale:
                newly.append(j)
        if not newly:  # numerical guard: fix the tightest coalition
            newly = [idx[int(np.argmin(slack))]]
        for j in newly:  # an implied (spanned) equality is not added: rounding could break it
            if np.linalg.matrix_rank(np.array(fixed_rows + [M[j]])) > len(fixed_rows):
                fixed_rows.append(M[j])
                fixed_rhs.append(vS[j] - level)
        free[newly] = False
        rows = np.array(fixed_rows)
        u, s, vt = np.linalg.svd(rows, full_matrices=False)
        basis = vt[: int(np.sum(s > 1e-10 * s.max()))].T
        rest = np.flatnonzero(free)
        if rest.size:
            resid = M[rest] - (M[rest] @ basis) @ basis.T
            free[rest[np.linalg.norm(resid, axis=1) < 1e-9]] = False
    xs = np.linalg.solve(np.array(fixed_rows), np.array(fixed_rhs))
    return xs * unit, levels, method
