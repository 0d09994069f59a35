"""Screening's ``parametric`` hook: the all-pairs program built once and re-solved at every point.

Building and canonicalising a cvxpy problem costs far more than solving a small one (about
70 ms against 3 ms for ten types here).  When only fields that enter the program as numbers
vary, a sweep builds it once per worker process and, at each point, changes the numbers and
calls the solver again.  One-dimensional types, ``method="cvxpy"``: the all-pairs program in (q, t)

      max Σ_k p_k [w(θ_k, q_k) − t_k]
      s.t. u(θ_k, q_k) + t_k ≥ u(θ_k, q_l) + t_l (k ≠ l),  u(θ_k, q_k) + t_k ≥ ū_k,  q ∈ q_bounds,

* u affine and w concave quadratic in q, varying ``prob``, ``outside`` or ``theta``: the QP
  handed to Clarabel as matrices rebuilt from numpy arrays (:func:`screening_qp`);
* otherwise, u affine and w concave in q (the program is then DPP), varying ``prob``/``outside``:
  cvxpy Parameters, canonicalised once (:func:`screening_dpp`).

The solver's menu is then refined on its active set exactly as the kind's own ``solve("cvxpy")``
refines it (:func:`ital_opt.screening.formulations.polish`), so that a sweep's allocations agree
with the closed form to rounding, not to the solver's tolerance.  The result rows are those of
the kind (``theta, prob, q, t, agent_utility, principal_payoff, rent``); IC and IR are re-checked
from the returned numbers and a point whose violation exceeds 1e-6 is reported ``not_solved``.
Both report the method as ``cvxpy/CLARABEL``, like the kind's own ``solve("cvxpy")``.
:func:`point_solver` returns a callable ``changes -> result`` or None (then each point is solved
by the kind's own ``solve``).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from ..tolerances import CHECK_TOL  # the certificates' tolerance, as everywhere

_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def _field_names(names) -> set[str]:
    out = set()
    for n in names:
        m = _ENTRY.match(n)
        out.add(m[1] if m else n)
    return out


class Light:
    """The fields of a Result that a sweep table needs, without building DataFrames."""

    __slots__ = ("status", "method", "objective", "rows", "extras", "message")

    def __init__(self, status, method, objective=float("nan"), rows=None, extras=None, message=""):
        self.status, self.method, self.objective = status, method, objective
        self.rows, self.extras, self.message = rows or {}, extras or {}, message


NAME = "cvxpy/CLARABEL"


def point_solver(problem, names: list[str], method: str):
    """The fastest program built once for `names`, or None."""
    if method != "cvxpy" or problem.multi or problem.m != 1:
        return None
    if problem.rent_weight or problem.fixed_cost:  # not in these programs: each point is solved
        return None
    import cvxpy as cp

    try:
        return screening_qp(problem, names, method) or screening_dpp(problem, names, method)
    except (cp.error.DCPError, ValueError, TypeError, ArithmeticError):
        return None  # the program cannot be written for this spec: each point is solved by the kind


def _polished(problem, changes, qv, tv):
    """The solver's menu (q, t) refined on its active set, as the kind's own solve refines it."""
    from .formulations import polish
    from .symbolic import compiled

    point = problem.replace(**changes) if changes else problem
    split = point.split
    V = compiled(split.v[0], [split.q[0]]).numpy(shape=(point.n,), **{str(split.q[0]): qv})[:, None]
    V, U = polish(point, V, point.agent_values(qv[:, None]) + tv)
    q = point.q_from_V(V)
    return q[:, 0], U - point.agent_values(q)


def _rows_and_checks(problem, theta, prob_v, out_v, qv, tv, K, status_ok=True, note=""):
    with np.errstate(all="ignore"):
        U = np.asarray(problem.agent.numpy(theta=theta[:, None], q=qv[None, :]), float) + tv[None, :]
        w = np.broadcast_to(np.asarray(problem.principal.numpy(theta=theta, q=qv), float), (K,))
    own_u = np.diag(U).copy()
    payoff = w - tv
    rows = {"theta": theta, "prob": prob_v, "q": qv, "t": tv, "agent_utility": own_u,
            "principal_payoff": payoff, "rent": own_u - out_v}
    res = Light(status="optimal", method=NAME, objective=float(prob_v @ payoff), rows=rows)
    ic = float(np.max(U - own_u[:, None])) if K > 1 else 0.0
    ir = float(np.max(out_v - own_u))
    if max(ic, ir) > CHECK_TOL or not status_ok:
        res.status = "not_solved"
        res.message = f"{note}IC/IR violation {max(ic, ir):.3g}"
    return res


def _point_arrays(problem, changes, fields):
    """prob, outside, theta of a point from the base problem and the changes (validated)."""
    arrays = {"prob": np.asarray(problem.prob, float).copy(), "outside": np.asarray(problem.outside, float).copy(),
              "theta": np.asarray(problem.theta, float).copy()}
    for key, value in changes.items():
        field, idx = _ENTRY.match(key).groups()
        if field not in fields:
            raise KeyError(key)
        if idx is None:
            arrays[field][:] = value
        else:
            arrays[field][int(idx)] = value
    p, o, th = arrays["prob"], arrays["outside"], arrays["theta"]
    if not (np.all(p > 0) and abs(p.sum() - 1.0) <= 1e-9 and np.all(np.isfinite(o))
            and np.all(np.isfinite(th)) and np.all(np.diff(th) > 0)):
        problem.replace(**changes)  # raises the SpecError naming the field
    return p, o, th


def _coefficients(problem, theta):
    """Agent affine and principal concave quadratic in q: (α, a, c0, c1, c2) per type, or None."""
    f = lambda q: np.broadcast_to(np.asarray(problem.agent.numpy(theta=theta, q=q), float), theta.shape)  # noqa: E731
    g = lambda q: np.broadcast_to(np.asarray(problem.principal.numpy(theta=theta, q=q), float), theta.shape)  # noqa: E731
    with np.errstate(all="ignore"):
        f0, f1, f2, fm = f(0.0), f(1.0), f(2.0), f(-1.0)
        g0, g1, gm, g2, gh = g(0.0), g(1.0), g(-1.0), g(2.0), g(0.5)
    alpha, a = f0, f1 - f0
    c0, c1, c2 = g0, (g1 - gm) / 2, (g1 + gm) / 2 - g0
    close = lambda x, y: np.all(np.isfinite(x)) and np.allclose(x, y, rtol=1e-9, atol=1e-9)  # noqa: E731
    if not (close(f2, alpha + 2 * a) and close(fm, alpha - a)):
        return None
    if not (close(g2, c0 + 2 * c1 + 4 * c2) and close(gh, c0 + 0.5 * c1 + 0.25 * c2)) or np.any(c2 > 1e-12):
        return None
    return alpha, a, c0, c1, np.minimum(c2, 0.0)


def screening_qp(problem, names, method):
    """Affine agent, concave quadratic principal: the all-pairs QP handed straight to Clarabel.

    Variables x = (q, t); minimise ½xᵀPx + cᵀx with P = diag(−2p∘c2, 0), c = (−p∘c1, p);
    IR: −a_k q_k − t_k ≤ α_k − ū_k; IC_kl: a_k(q_l − q_k) + t_l − t_k ≤ 0; bounds on q.  The
    matrices are rebuilt from numpy arrays at each point (no modelling layer), so a point costs
    about a millisecond for ten types.
    """
    import clarabel
    import scipy.sparse as sps

    from ..backends import clarabel_solver

    fields = _field_names(names)
    if not fields <= {"prob", "outside", "theta"}:
        return None
    if _coefficients(problem, np.asarray(problem.theta, float)) is None:
        return None
    K = problem.n
    lo, hi = problem.q_bounds[0]
    kk, ll = np.nonzero(~np.eye(K, dtype=bool))
    n_ic = kk.size

    @functools.lru_cache(maxsize=1)
    def structure(key: bytes):
        """Coefficients and the constraint matrix for the types `key` (their bytes; cached: only
        prob/outside vary)."""
        theta = np.frombuffer(key)
        coef = _coefficients(problem, theta)
        if coef is None:
            return None
        alpha, a, c0, c1, c2 = coef
        A = np.zeros((K + n_ic + 2 * K, 2 * K))
        b0 = np.zeros(A.shape[0])
        idx = np.arange(K)
        A[idx, idx] = -a
        A[idx, K + idx] = -1.0
        r = K + np.arange(n_ic)
        A[r, kk] += -a[kk]
        A[r, K + kk] += -1.0
        A[r, ll] += a[kk]
        A[r, K + ll] += 1.0
        m = K + n_ic
        if np.isfinite(lo):
            A[m + idx, idx] = -1.0
            b0[m + idx] = -lo
            m += K
        if np.isfinite(hi):
            A[m + idx, idx] = 1.0
            b0[m + idx] = hi
            m += K
        return alpha, c1, c2, sps.csc_matrix(A[:m]), b0[:m], m

    # P = diag(−2 p∘c2, 0) in CSC form: one entry per q column, none for the t columns
    indptr = np.concatenate([np.arange(K + 1), np.full(K, K)])
    rows_p = np.arange(K)

    def solve(changes: dict) -> Light:
        prob_v, out_v, theta = _point_arrays(problem, changes, fields)
        st = structure(theta.tobytes())
        if st is None:
            return problem.replace(**changes).solve(method)
        alpha, c1, c2, A, b0, m = st
        b = b0.copy()
        b[:K] = alpha - out_v
        P = sps.csc_matrix((-2.0 * prob_v * c2, rows_p, indptr), shape=(2 * K, 2 * K))
        c = np.concatenate([-prob_v * c1, prob_v])
        solver = clarabel_solver(P, c, A, b, [clarabel.NonnegativeConeT(m)])
        sol = solver.solve()
        status = str(sol.status)
        if status not in ("Solved", "AlmostSolved"):
            mapped = {"PrimalInfeasible": "infeasible", "DualInfeasible": "unbounded"}.get(status, "not_solved")
            return Light(status=mapped, method=NAME, message=f"Clarabel status {status}")
        x = np.asarray(sol.x, float)
        qv, tv = _polished(problem, changes, x[:K], x[K:])
        return _rows_and_checks(problem, theta, prob_v, out_v, qv, tv, K,
                                status_ok=status == "Solved", note=f"Clarabel status {status}; ")

    return solve


def screening_dpp(problem, names, method):
    """Affine agent, concave principal: the all-pairs program with cvxpy Parameters p and ū (DPP)."""
    import cvxpy as cp

    from ..backends import solve_cvxpy

    fields = _field_names(names)
    if not fields <= {"prob", "outside"}:
        return None
    K = problem.n
    theta = np.asarray(problem.theta, float)
    q = cp.Variable(K, name="q")
    t = cp.Variable(K, name="t")
    p = cp.Parameter(K, nonneg=True, name="prob")
    ubar = cp.Parameter(K, name="outside")

    def agent(k, x):
        return problem.agent.cvxpy(theta=float(theta[k]), q=x)

    def principal(k, x):
        return problem.principal.cvxpy(theta=float(theta[k]), q=x)

    own = cp.hstack([agent(k, q[k]) for k in range(K)]) + t
    constraints = [own >= ubar]
    for l in range(K):  # every type k against item l, as one vector constraint per item
        mimic = problem.agent.cvxpy(theta=theta, q=q[l]) + t[l]
        if mimic.shape != (K,):
            return None
        constraints.append(own >= mimic)
    lo, hi = problem.q_bounds[0]
    if np.isfinite(lo):
        constraints.append(q >= lo)
    if np.isfinite(hi):
        constraints.append(q <= hi)
    w = cp.hstack([principal(k, q[k]) for k in range(K)])
    prog = cp.Problem(cp.Maximize(p @ (w - t)), constraints)
    if not prog.is_dcp(dpp=True):
        return None


    def solve(changes: dict) -> Light:
        prob_v, out_v, _ = _point_arrays(problem, changes, fields)
        p.value = prob_v
        ubar.value = out_v
        solve_cvxpy(prog, "CLARABEL")
        if prog.status not in ("optimal", "optimal_inaccurate") or q.value is None:
            status = {"infeasible": "infeasible", "unbounded": "unbounded"}.get(prog.status, "not_solved")
            return Light(status=status, method=NAME, message=f"cvxpy status {prog.status}")
        qv, tv = _polished(problem, changes, np.asarray(q.value, float), np.asarray(t.value, float))
        return _rows_and_checks(problem, theta, prob_v, out_v, qv, tv, K, status_ok=prog.status == "optimal",
                                note=f"cvxpy status {prog.status}; ")

    return solve
