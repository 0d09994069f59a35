"""Numerical formulations of screening (docs/theory/screening.md, "Solving it as a convex program"): cvxpy and pyomo.

In the variables of :mod:`.symbolic` (V = v(q), the agent's utility U), with a_k = a(θ_k),
b_k = b(θ_k) and the surplus S_k(V) = principal(θ_k, v⁻¹(V)) + c(v⁻¹(V)):

    max  Σ_k p_k [ S_k(V_k) + a_k·V_k + b_k − U_k ]
    s.t. IC_kl  U_k − U_l − (a_k − a_l)·V_l ≥ b_k − b_l      (all pairs, or adjacent pairs + V monotone)
         IR_k   U_k ≥ ū_k,     V_k ∈ v(q_bounds).

* ``cvxpy`` — all pairs (the reference).  For multidimensional types, or many types, the pairs are
  generated lazily: solve with the pairs of near neighbours, add every type's most violated pairs,
  repeat until no IC is violated by more than 1e-9.  The optimum of a relaxation that is feasible
  for all pairs is optimal for all pairs.
* ``cvxpy-local`` — adjacent pairs in the order of a(θ) plus monotone V; equivalent to all pairs
  when a(θ) is strictly increasing over the types (single crossing: a one-dimensional type).
* ``pyomo`` — the same program with a nonlinear objective for a local NLP solver (Ipopt/ripopt) when
  cvxpy cannot establish concavity; without a split, the original variables (q, t) with the
  nonlinear IC constraints u(θ_k, q_k) + t_k ≥ u(θ_k, q_l) + t_l.

Binding constraints and multipliers (``Result.binding``, ``Result.multipliers``).  Types are
labelled by their 0-based index k in ``theta``:

* ``IR[k]``     U_k ≥ ū_k;
* ``IC[k->l]``  type k does not prefer type l's contract: u(θ_k, q_k) + t_k ≥ u(θ_k, q_l) + t_l;
* ``MON[k<l]``  (``cvxpy-local`` only) V_k ≤ V_l for l the type after k in the order of a(θ).

A multiplier is the rate at which the principal's expected payoff rises when the constraint is
relaxed by one unit of the agent's utility (for ``MON``, by one unit of V = v(q)); it is ≥ 0.  By
stationarity in U the IR multipliers sum to 1 and the IC multipliers carry probability mass
between types: in Mussa–Rosen without pooling, IR[0] has multiplier 1 and IC[k+1->k] the tail
probability Σ_{j>k} p_j.  cvxpy reports the dual of an inequality as this non-negative rate of the
problem it was given, whose objective is divided by max p and whose IC rows are scaled (see
:func:`_ic_pairs`); both factors are undone.  A constraint is *binding* when its multiplier
exceeds ``MULT_TOL`` and its slack at the returned menu (computed from q, t alone) is at most
``SLACK_TOL``·max(1, max_k |U_k|); ``multipliers`` holds the binding constraints only (all-pairs
IC has N² rows).  When constraints are degenerate (tight with more than one multiplier vector,
e.g. pooled or excluded types), the interior-point solver returns one of the optimal multiplier
vectors.  ``pyomo`` fills them from the solver's duals (Ipopt / ripopt through the NL interface,
HiGHS through appsi); the closed form leaves them empty.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.sparse as sps

from ..backends import solve_cvxpy, solve_pyomo, status_from_cvxpy
from ..problem import Formulation
from ..result import Result
from .symbolic import compiled

CG_TOL = 1e-9
TIGHT = dict(tol_gap_abs=1e-13, tol_gap_rel=1e-13, tol_feas=1e-12, tol_ktratio=1e-10, max_iter=60)
MEDIUM = dict(tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-9, tol_ktratio=1e-8, max_iter=120)
# feasibility of U matters little in one dimension: polish() recomputes the least rents exactly
LOOSE = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-7, tol_ktratio=1e-7, max_iter=150)


CG = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-9, tol_ktratio=1e-8, max_iter=200)


RUNGS = (("tight", TIGHT), ("medium", MEDIUM), ("loose", LOOSE))
CG_RUNGS = (("cg", CG), ("loose", LOOSE))


def _solve(prob, ladder=RUNGS, solver=None, verbose=False, **options):
    """Clarabel with tight tolerances (allocations to ~1e-8 on conic problems), then looser ones,
    then the backend's defaults, until a run certifies optimality.  The user's `options` are
    added to every rung (and checked by the backend); the rung that succeeded is recorded."""
    import warnings

    from ..backends import is_lp

    if (solver is None or str(solver).upper() == "CLARABEL") and not is_lp(prob):
        for rung, tolerances in ladder:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                status, method = solve_cvxpy(prob, "CLARABEL", verbose, rung=rung, **{**tolerances, **options})
            if status == "optimal":
                return status, method
        solver = "CLARABEL"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve_cvxpy(prob, solver, verbose, rung="default" if solver == "CLARABEL" else None, **options)


# -- the objective -----------------------------------------------------------------------------
def term_columns(problem):
    """[(coef per type (N,), h sympy)] of the surplus S = Σ coef(θ)·h(V)."""
    split = problem.split
    return [(problem.per_type(coef), h) for coef, h in split.terms]


def concavity_reason(problem) -> str | None:
    """None when cvxpy establishes that the objective is concave in V (DCP), else which term is not."""
    import cvxpy as cp

    split = problem.split
    if split is None:
        return f"agent utility {problem.agent.text!r} admits no change of variables: {problem.split_reason}"
    if split.terms is None:
        return split.terms_reason
    x = cp.Variable(problem.m)
    for coef, h in term_columns(problem):
        try:
            expr = compiled(h, split.V).cvxpy(**{str(v): x[j] for j, v in enumerate(split.V)})
        except Exception as exc:  # an atom cvxpy lacks
            return f"cannot express the term {h} of the principal's surplus in cvxpy ({exc})"
        if not isinstance(expr, cp.Expression) or expr.is_affine():
            continue
        if (np.all(coef >= 0) and expr.is_concave()) or (np.all(coef <= 0) and expr.is_convex()):
            continue
        g = ", ".join(f"q{'' if problem.m == 1 else j + 1} = {gj}" for j, gj in enumerate(split.g))
        return (
            f"cannot establish concavity: in principal {problem.principal.text!r} with {g}, the term "
            f"({coef.min():.4g}..{coef.max():.4g})*{h} of the surplus is not concave in V = "
            f"{', '.join(map(str, split.v))} (DCP); use method='pyomo' (local NLP)"
        )
    return None


def _objective(problem, V, U, excluded=None):
    """The expected payoff (scaled); the surplus of excluded types (V = v(0)) is a number, so that
    no cone is pinned at its apex (Clarabel fails on √V with V = 0 imposed)."""
    import cvxpy as cp

    p = problem.prob
    split = problem.split
    served = np.arange(problem.n) if excluded is None else np.flatnonzero(~excluded)
    cols = {str(v): V[served, j] for j, v in enumerate(split.V)}
    total = 0
    if served.size:
        for coef, h in term_columns(problem):
            expr = compiled(h, split.V).cvxpy(**cols)
            total = total + (p * coef)[served] @ expr
    if served.size < problem.n:
        out = np.flatnonzero(excluded)
        at_zero = {str(v): np.full(out.size, split.v_bounds[j][0]) for j, v in enumerate(split.V)}
        for coef, h in term_columns(problem):
            value = compiled(h, split.V).numpy(shape=(out.size,), **at_zero)
            value = float((p * coef)[out] @ value)
            if not math.isfinite(value):
                raise _Worthless
            total = total + value
    for j in range(problem.m):
        total = total + (p * problem.a[:, j]) @ V[:, j]
    const = float(p @ (problem.b + problem.surplus_const))
    # scaled so that the per-type weights are of order one (solver tolerances are absolute)
    rent_cost = 1.0 - problem.rent_weight  # the principal values the agent's utility at α
    return cp.Maximize((total - rent_cost * (p @ U) + const) / float(np.max(p)))


def _bounds(problem, V):
    cons = []
    for j, (lo, hi) in enumerate(problem.split.v_bounds):
        if math.isfinite(lo):
            cons.append(V[:, j] >= lo)
        if math.isfinite(hi):
            cons.append(V[:, j] <= hi)
    return cons


def _ic_scale(da):
    """The factor of each IC row: 1 / Σ_j |a_kj − a_lj| (1 where the types' a coincide)."""
    scale = np.abs(da).sum(axis=1)
    return 1.0 / np.where(scale > 0, scale, 1.0)


def _ic_pairs(problem, V, U, k, l):
    """IC_kl for index arrays k, l as one sparse block, each row divided by Σ_j |a_kj − a_lj|
    (neighbouring types differ little, and unscaled rows stall the interior-point method)."""
    n, m = problem.n, problem.m
    da = problem.a[k] - problem.a[l]
    scale = _ic_scale(da)
    rows = np.arange(k.size)
    AU = sps.csr_matrix(
        (np.concatenate([scale, -scale]), (np.concatenate([rows, rows]), np.concatenate([k, l]))),
        shape=(k.size, n),
    )
    expr = AU @ U
    for j in range(m):
        AV = sps.csr_matrix((-da[:, j] * scale, (rows, l)), shape=(k.size, n))
        expr = expr + AV @ V[:, j]
    return expr >= (problem.b[k] - problem.b[l]) * scale


class _Worthless(Exception):
    """An exclusion set whose payoff is −∞ (the surplus at q = 0 is not finite)."""


def with_exclusion(problem, solve_one):
    """`solve_one(excluded)` for each set of excluded types worth trying, the best kept.

    Without a fixed cost nobody is excluded by choice (``excluded=None``).  With one, the served
    types are an upper set in the order of a(θ) (single crossing), so the N + 1 sets are tried,
    each a convex program; the best answer is optimal over all exclusion choices."""
    if not problem.excludable:
        return solve_one(None)
    from .closed_form import groups

    order, starts = groups(problem)
    cuts = np.append(starts, problem.n)  # exclude the first cuts[i] types in the order of a(θ)
    best = None
    for cut in cuts:
        excluded = np.zeros(problem.n, dtype=bool)
        excluded[order[:cut]] = True
        try:
            res = solve_one(excluded)
        except _Worthless:  # excluding these types costs an infinite amount: never optimal
            continue
        if res.status != "optimal":  # never report an optimum over an incomplete search
            res.message = f"{res.message}; with the {int(cut)} lowest types excluded (so no exclusion choice is certain)"
            return res
        if best is None or res.objective > best.objective:
            best = res
    best.extras = {**best.extras, "exclusion_sets": int(cuts.size)}
    return best


def _finish(problem, V, U, status, method, blocks=(), excluded=None, **extra):
    """The Result of a cvxpy solve; `blocks` are (kind, constraint, k, l, row factor) of the IR, IC
    and MON constraints, whose duals give the binding constraints and their multipliers."""
    if status != "optimal" or V.value is None:
        return Result(status=status, method=method, message=f"solver status: {status}")
    Vv = np.asarray(V.value, dtype=float).reshape(problem.n, problem.m)
    Uv = np.asarray(U.value, dtype=float).ravel()
    if excluded is not None:
        Vv[excluded] = [lo for lo, _ in problem.split.v_bounds]
    unit = float(np.max(problem.prob))  # _objective divided the payoff by max p
    duals = [
        (kind, k, l, np.asarray(con.dual_value, dtype=float).ravel() * (unit * factor))
        for kind, con, k, l, factor in blocks
        if con.dual_value is not None
    ]
    return _polished_result(problem, Vv, Uv, excluded, method, duals, **extra)


def _polished_result(problem, V, U, excluded, method, duals, **extras):
    """The Result of a solver's menu (V, U) after :func:`polish`, its binding constraints and
    multipliers from `duals` (:func:`mark_binding`); ``res.solver["polish"]`` records that
    :func:`polish_kkt` replaced the solver's menu."""
    Vp, Up = polish(problem, V, U, excluded)
    res = mark_binding(problem.result_from_V(Vp, Up, method, **extras), problem, duals)
    if (problem.multi or problem.m != 1) and not np.array_equal(V, Vp):
        res.solver = {**res.get("solver", {}), "polish": "newton-kkt"}
    return res


# -- binding constraints and their multipliers (see the module docstring) --------------------------
MULT_TOL = 1e-9  # payoff per unit of utility; the IR multipliers sum to 1
SLACK_TOL = 1e-7


_LABELS = {"IR": "IR[{k}]", "IC": "IC[{k}->{l}]", "MON": "MON[{k}<{l}]"}  # the names of binding constraints


def menu_slack(problem, menu, kind, k, l=None) -> np.ndarray:
    """Slack of IR_k, IC_kl or MON_kl (V_l − V_k) at the menu (q (N, m), t, U), for index arrays k, l."""
    q, t, U = menu
    if kind == "IR":
        return U[k] - problem.outside[k]
    if kind == "IC":
        deviation = problem.agent.numpy(shape=k.shape, **problem.env(q[l], problem.theta[k]))
        return U[k] - deviation - t[l]
    V = problem.valuation(0, q[:, 0])
    return V[l] - V[k]


def mark_binding(res, problem, duals):
    """Set ``res.binding`` and ``res.multipliers`` from `duals`, a list of (kind, k, l, multipliers)
    with index arrays k (and l, or None for IR) and multipliers ≥ 0 in the principal's payoff per
    unit of the constraint.  Only constraints with a multiplier above MULT_TOL are looked at (a few
    per type), so the N² pairs of all-pairs IC are never named or evaluated one by one."""
    rows = res.rows
    menu = (
        np.array(rows["q"].tolist(), dtype=float).reshape(problem.n, problem.m),
        rows["t"].to_numpy(dtype=float),
        rows["agent_utility"].to_numpy(dtype=float),
    )
    tol = SLACK_TOL * max(1.0, float(np.max(np.abs(menu[2]))))
    binding, multipliers = [], {}
    for kind, k, l, lam in duals:
        hit = np.flatnonzero(lam > MULT_TOL)
        if hit.size:
            hit = hit[menu_slack(problem, menu, kind, k[hit], None if l is None else l[hit]) <= tol]
        for i, value in zip(hit.tolist(), lam[hit].tolist()):
            name = _LABELS[kind].format(k=int(k[i]), l=None if l is None else int(l[i]))
            binding.append(name)
            multipliers[name] = value
    res.binding, res.multipliers = binding, multipliers
    return res


def value_of(problem, V, U) -> float:
    """The principal's expected payoff Σ p [S(V) + a·V + b − U] (numpy)."""
    split = problem.split
    S = compiled(split.surplus, [*split.theta, *split.V]).numpy(shape=(problem.n,), **problem.split_env(V))
    return float(problem.prob @ (S + np.einsum("ij,ij->i", problem.a, V) + problem.b - (1.0 - problem.rent_weight) * U))


def minimal_rents(a, b, V, outside, sweeps: int = 100):
    """Least U with adjacent IC (both ways) and IR for sorted a and monotone V: max-plus scans."""
    U = outside.copy()
    up = np.diff(a) * V[:-1] + np.diff(b)  # U_k ≥ U_{k-1} + up_{k-1}
    down = -np.diff(a) * V[1:] - np.diff(b)  # U_{k-1} ≥ U_k + down_{k-1}
    W = np.concatenate([[0.0], np.cumsum(up)])
    D = np.concatenate([[0.0], np.cumsum(down)])
    for _ in range(sweeps):
        new = np.maximum(U, W + np.maximum.accumulate(U - W))
        # backward: U_{k} ≥ U_{j} + Σ_{i=k..j-1} down_i  for j > k
        rev = (new + D)[::-1]
        new = np.maximum(new, np.maximum.accumulate(rev)[::-1] - D)
        if np.array_equal(new, U):
            break
        U = new
    return U


def polish(problem, V, U, excluded=None):
    """Tidy and refine an interior-point solution of a one-dimensional problem (single crossing).

    1. Allocations near a bound are moved onto it (interior-point methods stop short of degenerate
       bounds by about the square root of their tolerance); U is recomputed as the least utility
       vector meeting IC and IR for these V (a longest path along the chain of types).  Snapping
       distances 1e-3 ... 0 are tried in turn; the first tidied menu at least as good for the
       principal is kept, else the solver's menu.
    2. :func:`refine` then solves the optimality conditions exactly on the active set the solver
       found, and keeps the refined menu when it is feasible and no worse.

    Multidimensional types or allocations (no chain of types): :func:`polish_kkt`.
    """
    if problem.multi or problem.m != 1:
        polished = polish_kkt(problem, V, U)
        return (V, U) if polished is None else polished
    if problem.n < 2:
        return V, U
    from .closed_form import groups

    order, starts = groups(problem)
    a = problem.a[:, 0]
    ao = a[order]
    lo, hi = problem.split.v_bounds[0]
    bo, oo = problem.b[order], problem.outside[order]

    def tidy(snap):
        Vs = V[order, 0].copy()
        if math.isfinite(lo):
            Vs = np.where(np.abs(Vs - lo) <= snap * (1 + abs(lo)), lo, Vs)
        if math.isfinite(hi):
            Vs = np.where(np.abs(Vs - hi) <= snap * (1 + abs(hi)), hi, Vs)
        if starts.size < problem.n:  # types with equal a: one allocation per group (their mean)
            counts = np.diff(np.append(starts, problem.n))
            Vs = np.repeat(np.add.reduceat(Vs, starts) / counts, counts)
        Vs = np.clip(np.maximum.accumulate(Vs), lo, hi)
        if excluded is not None:
            Vs[excluded[order]] = lo
        Vn, Un = np.empty_like(V), np.empty_like(U)
        Vn[order, 0], Un[order] = Vs, minimal_rents(ao, bo, Vs, oo)
        return value_of(problem, Vn, Un), Vn, Un

    base = tidy(0.0)  # the solver's allocation with the least rents: always feasible
    tol = 1e-15 * max(1.0, abs(base[0]))
    refined = _refined(problem, base[1], excluded)
    if refined is not None and refined[0] >= base[0] - tol:
        return refined[1], refined[2]
    for snap in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
        cand = tidy(snap)
        if cand[0] >= base[0] - tol:
            return cand[1], cand[2]
    return base[1], base[2]


def _surplus_derivatives(problem):
    """∂S/∂V_j and ∂²S/∂V_i∂V_j as :class:`ital_opt.expr.Expr` in (θ, V), or None when a
    derivative leaves the expression language (a kink)."""
    import sympy as sp

    split = problem.split
    names = [*split.theta, *split.V]
    try:
        first = [compiled(sp.diff(split.surplus, v), names) for v in split.V]
        second = [[compiled(sp.diff(split.surplus, vi, vj), names) for vj in split.V] for vi in split.V]
    except ValueError:
        return None
    return first, second


def polish_kkt(problem, V, U):
    """The exact optimum on the active set of a solver's menu (V, U), any dimension, or None.

    Unknowns z = (V, U); the principal maximises Σ_k p_k [S_k(V_k) + a_k·V_k + b_k − (1 − α)U_k]
    subject to IR, all-pairs IC (linear in (V, U)) and the bounds of V.  The constraints whose
    slack at the solver's menu is within a tolerance (several are tried) are held as equalities and
    the optimality conditions solved by :func:`ital_opt.kkt.newton_kkt`.  A candidate is kept when
    the certificates pass to 1e-12, it is a Karush–Kuhn–Tucker point (non-negative multipliers,
    :func:`ital_opt.kkt.stationarity`), it lies within 1e-3 of the solver's menu and its payoff
    is not below the solver's by more than the solver's own infeasibility could have bought
    (10·(1 + Σλ)·its largest violation) plus 1e-9; the first kept one is returned (feasible and a
    KKT point of a concave program, it is optimal).  Problems whose Newton system has more than
    :data:`ital_opt.kkt.MAX_SIZE` unknowns and active constraints are not polished.
    """
    from ..kkt import MAX_SIZE, polish_active_set

    n, m, split = problem.n, problem.m, problem.split
    nv = n * m
    if split is None or problem.excludable or nv + n > MAX_SIZE:
        return None
    V, U = np.asarray(V, float).reshape(n, m), np.asarray(U, float).ravel()
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(U))):
        return None
    derivs = _surplus_derivatives(problem)
    if derivs is None:
        return None
    first, second = derivs
    p, a, b, outside = problem.prob, problem.a, problem.b, problem.outside
    rent_cost = 1.0 - problem.rent_weight
    k_idx, l_idx = np.nonzero(~np.eye(n, dtype=bool))
    bounds = [(j, lo, 1.0) for j, (lo, _) in enumerate(split.v_bounds) if math.isfinite(lo)]
    bounds += [(j, hi, -1.0) for j, (_, hi) in enumerate(split.v_bounds) if math.isfinite(hi)]

    def slack(z):
        """A z − c of every constraint (IR, IC over all pairs, the bounds of V), in that order."""
        Vz, Uz = z[:nv].reshape(n, m), z[nv:]
        ic = Uz[k_idx] - Uz[l_idx] - np.einsum("ij,ij->i", a[k_idx] - a[l_idx], Vz[l_idx]) - (b[k_idx] - b[l_idx])
        bound = [sign * (Vz[:, j] - value) for j, value, sign in bounds]
        return np.concatenate([Uz - outside, ic, *bound])

    def rows_of(act):
        """The rows (A, c) of the constraints numbered `act`, A z >= c."""
        A, c = np.zeros((act.size, nv + n)), np.zeros(act.size)
        r = np.arange(act.size)
        ir, ic, bd = act < n, (act >= n) & (act < n + k_idx.size), act >= n + k_idx.size
        A[r[ir], nv + act[ir]] = 1.0
        c[ir] = outside[act[ir]]
        pair = act[ic] - n
        k, l = k_idx[pair], l_idx[pair]
        A[r[ic], nv + k] += 1.0
        A[r[ic], nv + l] -= 1.0
        for j in range(m):
            A[r[ic], l * m + j] = -(a[k, j] - a[l, j])
        c[ic] = b[k] - b[l]
        which, typ = np.divmod(act[bd] - n - k_idx.size, n)
        for i, (j, value, sign) in enumerate(bounds):
            hit = which == i
            A[r[bd][hit], typ[hit] * m + j] = sign
            c[r[bd][hit]] = sign * value
        return A, c

    def gradient(z):
        e = problem.split_env(z[:nv].reshape(n, m))
        gV = np.column_stack([f.numpy(shape=(n,), **e) for f in first]) + a
        return np.concatenate([(p[:, None] * gV).ravel(), -rent_cost * p])

    def hessian(z):
        e = problem.split_env(z[:nv].reshape(n, m))
        H = np.zeros((nv + n, nv + n))
        base = np.arange(n) * m
        for i in range(m):
            for j in range(m):
                H[base + i, base + j] = p * second[i][j].numpy(shape=(n,), **e)
        return H

    def system(act):
        if act.size + nv + n > MAX_SIZE:
            return None
        Aa, ca = rows_of(act)
        return (lambda z: Aa @ z - ca), (lambda z: Aa), None

    def project(z):
        for j, (lo, hi) in enumerate(split.v_bounds):  # rounding past a bound
            z[:nv].reshape(n, m)[:, j] = np.clip(z[:nv].reshape(n, m)[:, j], lo, hi)
        return z

    def value(z):
        return value_of(problem, z[:nv].reshape(n, m), z[nv:])

    def violation(z):
        with np.errstate(all="ignore"):
            return max(problem.check(problem.result_from_V(z[:nv].reshape(n, m), z[nv:], "polish")).values())

    z = polish_active_set(np.concatenate([V.ravel(), U]), slack, value, gradient, hessian, system, violation, project)
    # feasible and a KKT point of a concave program: the optimum
    return None if z is None else (z[:nv].reshape(n, m).copy(), z[nv:].copy())


def _refined(problem, Vn, excluded):
    """(value, V, U) of :func:`refine` from the solver's allocation `Vn`, repeated while the active
    set moves; None when it finds nothing."""
    found = None
    for _ in range(3):
        try:
            better = refine(problem, Vn, excluded)
        except (ValueError, FloatingPointError, ArithmeticError):
            return found
        if better is None:
            return found
        moved = float(np.max(np.abs(better[0] - Vn)))
        Vn = better[0]
        found = (value_of(problem, *better), *better)
        if moved <= 1e-14 * (1.0 + float(np.max(np.abs(Vn)))):
            break
    return found


def _rents_and_anchors(a, b, V, outside):
    """Least rents along the chain (sorted a, monotone V) and, per type, the type whose IR binds at
    the end of its path of binding ICs (below it: upward path; above it: downward path)."""
    n = a.size
    up = np.diff(a) * V[:-1] + np.diff(b)  # U_k ≥ U_{k-1} + up_{k-1}
    down = -np.diff(a) * V[1:] - np.diff(b)  # U_{k-1} ≥ U_k + down_{k-1}
    W = np.concatenate([[0.0], np.cumsum(up)])
    D = np.concatenate([[0.0], np.cumsum(down)])
    f = outside - W
    idx = np.arange(n)
    best_f = np.maximum.accumulate(f)
    arg_f = np.maximum.accumulate(np.where(f == best_f, idx, 0))
    g = (outside + D)[::-1]
    best_g = np.maximum.accumulate(g)
    arg_g = (n - 1 - np.maximum.accumulate(np.where(g == best_g, np.arange(n), 0)))[::-1]
    fwd, bwd = W + best_f, best_g[::-1] - D
    U = np.maximum(fwd, bwd)
    anchor = np.where(fwd >= bwd, arg_f, arg_g)
    return U, anchor


def refine(problem, V, excluded=None):
    """The exact optimum on the solver's active set, or None.

    In the order of a(θ), with the least rents U(V) along the chain: each U_k is the outside option
    of an anchor type plus the IC steps between them, linear in V.  Hence the objective is
    Σ_i [p_i S_i(V_i) + g_i V_i] + const with g_i = p_i a_i − (1 − α) Σ_k p_k ∂U_k/∂V_i (virtual
    values, generalised to any anchors).  Types whose allocations the solver pooled (equal within
    1e-6, or excluded) form blocks; each block's V solves Σ_B [p_i S_i'(V) + g_i] = 0 in its bounds
    (Newton's method on a concave function).  The result is kept only if it stays monotone."""
    from .closed_form import groups

    split = problem.split
    order, starts = groups(problem)
    counts = np.diff(np.append(starts, problem.n))
    lo, hi = split.v_bounds[0]
    Vo = V[order, 0]
    if starts.size < problem.n and np.any(np.abs(np.diff(Vo)[np.diff(problem.a[order, 0]) == 0]) > 0):
        return None  # types with equal a got different allocations: no chain to refine
    gidx = order[starts]  # one representative per group
    a = problem.a[gidx, 0]
    b = problem.b[gidx]
    p = np.add.reduceat(problem.prob[order], starts)
    Vg = Vo[starts]
    G = a.size
    fixed = np.zeros(G, dtype=bool) if excluded is None else excluded[gidx]
    _, anchor = _rents_and_anchors(a, b, Vg, problem.outside[gidx])
    # c_i = Σ_k p_k ∂U_k/∂V_i: an upward path j..k adds da_i for i in [j, k-1]; a downward path
    # k..j adds −da_{i-1} for i in [k+1, j]
    da = np.diff(a)
    k = np.arange(G)
    upward = anchor <= k
    cover_up = np.zeros(G + 1)
    np.add.at(cover_up, anchor[upward], p[upward])
    np.add.at(cover_up, k[upward], -p[upward])
    cover_down = np.zeros(G + 2)
    np.add.at(cover_down, k[~upward] + 1, p[~upward])
    np.add.at(cover_down, anchor[~upward] + 1, -p[~upward])
    c = np.cumsum(cover_up)[:G] * np.append(da, 0.0)
    c -= np.cumsum(cover_down)[:G] * np.concatenate([[0.0], da])
    g = p * a - (1.0 - problem.rent_weight) * c
    # blocks of pooled allocations (the solver's active monotonicity and bound constraints)
    scale = 1e-6 * (1.0 + float(np.max(np.abs(Vg))))
    breaks = np.flatnonzero((np.abs(np.diff(Vg)) > scale) | (fixed[1:] != fixed[:-1])) + 1
    derivs = _surplus_derivatives(problem)
    if derivs is None:
        return None
    (d1,), ((d2,),) = derivs
    w = problem.prob[order]
    member_group = np.repeat(np.arange(G), counts)

    def derivatives(Vgroup):
        """Per group: Σ_members p_k S_k'(V) + g and Σ_members p_k S_k''(V)."""
        Vm = Vgroup[member_group]
        env = problem.split_env(Vm[:, None], order)
        f1 = np.add.reduceat(w * d1.numpy(shape=Vm.shape, **env), starts) + g
        f2 = np.add.reduceat(w * d2.numpy(shape=Vm.shape, **env), starts)
        return f1, f2

    def solve_blocks(bstart, x):
        block = np.repeat(np.arange(bstart.size), np.diff(np.append(bstart, G)))
        pinned = np.add.reduceat(fixed.astype(int), bstart) > 0  # excluded: V = v(0)
        x = np.where(pinned, lo, x)
        for _ in range(60):  # Newton on each block's concave objective, clipped to the bounds
            f1, f2 = derivatives(x[block])
            f1, f2 = np.add.reduceat(f1, bstart)[~pinned], np.add.reduceat(f2, bstart)[~pinned]
            if not (np.all(np.isfinite(f1)) and np.all(np.isfinite(f2))) or np.any(f2 >= 0):
                raise ValueError("the surplus is not strictly concave on a block")
            new = x.copy()
            new[~pinned] = np.clip(x[~pinned] - f1 / f2, lo, hi)
            done = np.all(np.abs(new - x) <= 1e-15 * (1.0 + np.abs(x)))
            x = new
            if done:
                break
        return x, block

    bstart = np.concatenate([[0], breaks])
    x = np.add.reduceat(Vg * p, bstart) / np.add.reduceat(p, bstart)
    for _ in range(200):  # repair the solver's blocks until the pooled optimum's conditions hold
        x, block = solve_blocks(bstart, x)
        drop = np.flatnonzero(np.diff(x) < 0) + 1  # monotonicity violated: merge neighbours
        if drop.size:
            keep = np.ones(bstart.size, dtype=bool)
            keep[drop] = False
            x = np.maximum.accumulate(x)[keep]
            bstart = bstart[keep]
            continue
        f1, _ = derivatives(x[block])
        splits = []
        for bi in np.flatnonzero(np.diff(np.append(bstart, G)) > 1):
            start, stop = bstart[bi], (bstart[bi + 1] if bi + 1 < bstart.size else G)
            if fixed[start]:
                continue
            d = f1[start:stop]
            suffix = np.cumsum(d[::-1])[::-1][1:]  # the upper part [i:] wants to rise if > 0
            tol = 1e-12 * (1.0 + float(np.sum(np.abs(d))))
            prefix = np.cumsum(d)[:-1]  # the lower part [:i+1] wants to fall if < 0
            if x[bi] < hi and suffix.max() > tol:
                splits.append(start + 1 + int(np.argmax(suffix)))
            elif x[bi] > lo and prefix.min() < -tol:
                splits.append(start + 1 + int(np.argmin(prefix)))
        if not splits:
            break
        bstart = np.sort(np.concatenate([bstart, splits]))
        x = x[np.searchsorted(np.append(bstart[~np.isin(bstart, splits)], G), bstart, side="right") - 1]
    else:
        return None
    Vr = x[block]
    if np.any(np.diff(Vr) < 0):
        return None
    U, _ = _rents_and_anchors(a, b, Vr, problem.outside[gidx])
    Vn, Un = np.empty_like(V), np.empty(problem.n)
    Vn[order, 0] = np.repeat(Vr, counts)
    Un[order] = np.repeat(U, counts)
    rents = minimal_rents(problem.a[order, 0], problem.b[order], Vn[order, 0], problem.outside[order])
    Un[order] = rents  # the exact least rents (equal to the anchors' unless a path is not simple)
    return Vn, Un


def _ic_block(problem, V, U, k, l):
    """("IC", constraint, k, l, row factor): IC_kl for the pairs (k, l) as one cvxpy constraint."""
    return ("IC", _ic_pairs(problem, V, U, k, l), k, l, _ic_scale(problem.a[k] - problem.a[l]))


def _initial_pairs(problem, neighbours: int = 8) -> np.ndarray:
    """Pairs of near neighbours in type space, both directions."""
    n = problem.n
    if not problem.multi:
        order = np.argsort(problem.a[:, 0], kind="stable")
        pairs = np.column_stack([order[1:], order[:-1]])
        return np.vstack([pairs, pairs[:, ::-1]])
    th = problem.theta
    z = (th - th.mean(0)) / np.where(th.std(0) > 0, th.std(0), 1.0)
    kk = min(neighbours, n - 1)
    out = []
    step = max(1, 2_000_000 // n)
    for start in range(0, n, step):
        d = ((z[start : start + step, None, :] - z[None, :, :]) ** 2).sum(-1)
        rows = np.arange(start, min(n, start + step))
        d[rows - start, rows] = np.inf
        nb = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        out.append(np.column_stack([np.repeat(rows, kk), nb.ravel()]))
    pairs = np.vstack(out)
    pairs = np.vstack([pairs, pairs[:, ::-1]])
    return np.unique(pairs, axis=0)


def _violated_pairs(problem, V, U, per_type) -> np.ndarray:
    a, b = problem.a, problem.b
    intercept = U - np.einsum("ij,ij->i", a, V) - b
    n = problem.n
    out = []
    step = max(1, 2_000_000 // n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        gain = a[rows] @ V.T + intercept[None, :] + b[rows, None] - U[rows, None]
        gain[rows - start, rows] = -np.inf
        r = min(per_type, n - 1)
        top = np.argpartition(-gain, r - 1, axis=1)[:, :r]
        g = np.take_along_axis(gain, top, axis=1)
        mask = g > CG_TOL
        out.append(np.column_stack([np.repeat(rows, r)[mask.ravel()], top.ravel()[mask.ravel()]]))
    return np.vstack(out) if out else np.zeros((0, 2), dtype=int)



# -- the formulations ----------------------------------------------------------------------------
CVXPY_SOLVERS = ("CLARABEL", "SCS", "OSQP", "HIGHS")


class _CvxpyFormulation(Formulation):
    """Shared by the cvxpy formulations: the program in (V, U) of the module docstring."""

    solvers = CVXPY_SOLVERS
    label = "cvxpy"
    handles = frozenset({"rent_weight", "fixed_cost"})

    def applies(self, problem) -> str | None:
        return problem.convexity_reason

    def _variables(self, problem):
        import cvxpy as cp

        return cp.Variable((problem.n, problem.m), name="V"), cp.Variable(problem.n, name="U")

    def _program(self, problem, V, U, blocks, excluded=None):
        """The program with IR, the bounds of V and the IC (and MON) `blocks` (see :func:`_finish`)."""
        import cvxpy as cp

        blocks = [("IR", U >= problem.outside, np.arange(problem.n), None, 1.0), *blocks]
        cons = _bounds(problem, V) + [b[1] for b in blocks]
        if excluded is not None and excluded.any():  # excluded types get q = 0
            cons.append(V[np.flatnonzero(excluded), :] == np.asarray([lo for lo, _ in problem.split.v_bounds]))
        model = cp.Problem(_objective(problem, V, U, excluded), cons)
        model._screening = (V, U, blocks, excluded)  # read back by recover()
        return model

    def recover(self, problem, model) -> Result:
        V, U, blocks, excluded = model._screening
        status = status_from_cvxpy(model.status)
        solver = model.solver_stats.solver_name if model.solver_stats is not None else "?"
        return _finish(problem, V, U, status, f"{self.label}/{solver}", blocks, excluded=excluded)

    def run(self, problem, solver=None, verbose=False, **options) -> Result:
        def solve_one(excluded):
            model = self.build(problem, excluded=excluded)
            status, method = _solve(model, solver=solver, verbose=verbose, **options)
            if status != "optimal":
                return Result(status=status, method=method.replace("cvxpy/", f"{self.label}/", 1),
                              message=f"solver status: {status}")
            return self.recover(problem, model)

        return with_exclusion(problem, solve_one)


class CvxpyLocal(_CvxpyFormulation):
    """Adjacent IC in the order of a(θ), both directions, and a monotone allocation."""

    name = label = "cvxpy-local"

    def applies(self, problem) -> str | None:
        if problem.ic == "all-pairs":
            return "ic = 'all-pairs' was requested"
        if problem.multi or problem.m != 1:
            return "local IC needs one-dimensional types and allocations (single crossing)"
        if problem.split is None:
            return f"no change of variables: {problem.split_reason}"
        a = problem.a[:, 0]
        if np.unique(a).size != a.size:
            return f"single crossing fails: a(theta) = {problem.split.a[0]} takes equal values for different types"
        return problem.convexity_reason

    def build(self, problem, excluded=None, **options):
        V, U = self._variables(problem)
        order = np.argsort(problem.a[:, 0], kind="stable")
        lo, hi = order[:-1], order[1:]
        blocks = []
        if problem.n > 1:
            blocks = [_ic_block(problem, V, U, hi, lo), _ic_block(problem, V, U, lo, hi),
                      ("MON", V[hi, 0] >= V[lo, 0], lo, hi, 1.0)]
        return self._program(problem, V, U, blocks, excluded)


class CvxpyAllPairs(_CvxpyFormulation):
    """All-pairs IC (the reference); constraint generation for multidimensional or many types."""

    name = label = "cvxpy"
    options = frozenset({"cg", "max_rounds", "per_type"})

    def applies(self, problem) -> str | None:
        if problem.ic == "local":
            return "ic = 'local' was requested (the all-pairs formulation is not used)"
        if problem.split is None:
            return f"no change of variables makes IC linear: {problem.split_reason}"
        if problem.excludable and (problem.multi or problem.m != 1):
            return "a fixed cost with multidimensional types: the sets of excluded types are not enumerated"
        return problem.convexity_reason

    def build(self, problem, pairs=None, excluded=None, **options):
        """All pairs, or the IC pairs (k, l) given as an array of rows."""
        V, U = self._variables(problem)
        k, l = np.nonzero(~np.eye(problem.n, dtype=bool)) if pairs is None else pairs.T
        blocks = [_ic_block(problem, V, U, k, l)] if k.size else []
        return self._program(problem, V, U, blocks, excluded)

    def run(self, problem, solver=None, verbose=False, cg: bool | None = None, max_rounds: int = 60,
            per_type: int = 10, **options) -> Result:
        if cg is None:
            cg = problem.multi or problem.n > 400
        if not cg or problem.n == 1:
            return super().run(problem, solver=solver, verbose=verbose, **options)
        pairs = _initial_pairs(problem)
        rounds = 0
        while True:
            rounds += 1
            model = self.build(problem, pairs=pairs)
            V, U, *_ = model._screening
            status, method = _solve(model, CG_RUNGS, solver=solver, verbose=verbose, **options)
            if status != "optimal" or V.value is None:
                return Result(status=status, method=method, message=f"solver status: {status}")
            new = _violated_pairs(problem, np.asarray(V.value), np.asarray(U.value), per_type)
            if new.size:
                known = set(map(tuple, pairs.tolist()))
                new = np.array([p for p in new.tolist() if tuple(p) not in known], dtype=int).reshape(-1, 2)
            if new.size == 0 or rounds >= int(max_rounds):
                break
            pairs = np.vstack([pairs, new])
        res = self.recover(problem, model)
        res.method = res.method.replace("cvxpy/", "cvxpy-cg/", 1)
        res.extras = {**res.extras, "ic_pairs": int(len(pairs)), "cg_rounds": rounds}
        return res


# -- pyomo ---------------------------------------------------------------------------------------
def _pyomo_box(bounds):
    """Pyomo `bounds` and `initialize` rules for a (type k, component j) variable boxed by
    bounds[j] = (lo, hi): infinite ends become None; the start is the midpoint, or one unit
    inside the finite end, or 0."""

    def rule_bounds(model, k, j):
        lo, hi = bounds[j]
        return (lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None)

    def rule_init(model, k, j):
        lo, hi = bounds[j]
        if math.isfinite(lo) and math.isfinite(hi):
            return (lo + hi) / 2
        return lo + 1.0 if math.isfinite(lo) else (hi - 1.0 if math.isfinite(hi) else 0.0)

    return rule_bounds, rule_init


class Pyomo(Formulation):
    """The program in (V, U) for a local NLP solver (or HiGHS when it is linear); without a change
    of variables, the original variables (q, t) with nonlinear IC constraints."""

    name = "pyomo"
    solvers = ("nlp", "highs")  # nlp: Ipopt when installed, else the bundled ripopt
    handles = frozenset({"rent_weight", "fixed_cost"})
    options = None  # passed to the NLP solver

    def applies(self, problem) -> str | None:
        if problem.excludable and (problem.multi or problem.m != 1 or problem.split is None):
            return ("a fixed cost needs one-dimensional types ordered by single crossing (a change of "
                    "variables): otherwise the sets of excluded types are not enumerated")
        if problem.split is None and problem.n > 60:
            return f"the general NLP in (q, t) has N^2 nonlinear IC constraints; N = {problem.n} is too many"
        return None

    def build(self, problem, excluded=None, **options):
        import pyomo.environ as pyo
        import sympy as sp

        n, m = problem.n, problem.m
        model = pyo.ConcreteModel()
        model.K = pyo.RangeSet(0, n - 1)
        model.J = pyo.RangeSet(0, m - 1)
        p = problem.prob
        pairs = [(k, l) for k in range(n) for l in range(n) if k != l]
        model.pairs = pyo.Set(initialize=pairs, dimen=2)
        th = problem.theta.reshape(n, -1)
        if problem.split is not None:
            split = problem.split
            vbounds, vinit = _pyomo_box(split.v_bounds)
            model.V = pyo.Var(model.K, model.J, bounds=vbounds, initialize=vinit)
            if excluded is not None:  # excluded types get q = 0
                for k, j in itertools.product(np.flatnonzero(excluded).tolist(), range(m)):
                    model.V[k, j].fix(split.v_bounds[j][0])
            model.U = pyo.Var(model.K, initialize=0.0)
            a, b = problem.a, problem.b
            model.ic = pyo.Constraint(
                model.pairs,
                rule=lambda mdl, k, l: mdl.U[k] - mdl.U[l] - sum((a[k, j] - a[l, j]) * mdl.V[l, j] for j in range(m))
                >= b[k] - b[l],
            )
            model.ir = pyo.Constraint(model.K, rule=lambda mdl, k: mdl.U[k] >= float(problem.outside[k]))
            S = compiled(split.surplus, [*split.theta, *split.V])

            def surplus(k):
                env = {str(s): float(th[k, i]) for i, s in enumerate(split.theta)}
                env.update({str(v): model.V[k, j] for j, v in enumerate(split.V)})
                return S.pyomo(**env)

            obj = sum(
                float(p[k])
                * (surplus(k) + sum(float(a[k, j]) * model.V[k, j] for j in range(m)) + float(b[k])
                   - (1.0 - problem.rent_weight) * model.U[k])
                for k in range(n)
            )
            linear = split.terms is not None and all(
                h.is_polynomial(*split.V) and sp.Poly(h, *split.V).total_degree() <= 1 for _, h in split.terms
            )
        else:
            qbounds, qinit = _pyomo_box(problem.q_bounds)
            model.q = pyo.Var(model.K, model.J, bounds=qbounds, initialize=qinit)
            model.t = pyo.Var(model.K, initialize=0.0)

            def at(expr, k, l):  # expr(θ_k, q_l)
                env = {nm: float(th[k, i]) for i, nm in enumerate(problem.theta_names)}
                env.update({nm: model.q[l, j] for j, nm in enumerate(problem.q_names)})
                return expr.pyomo(**env)

            model.ic = pyo.Constraint(
                model.pairs,
                rule=lambda mdl, k, l: at(problem.agent, k, k) + mdl.t[k] >= at(problem.agent, k, l) + mdl.t[l],
            )
            model.ir = pyo.Constraint(
                model.K, rule=lambda mdl, k: at(problem.agent, k, k) + mdl.t[k] >= float(problem.outside[k])
            )
            alpha = problem.rent_weight
            obj = sum(
                float(p[k]) * (at(problem.principal, k, k) - model.t[k] + alpha * (at(problem.agent, k, k) + model.t[k]))
                for k in range(n)
            )
            linear = False
        model.obj = pyo.Objective(expr=obj, sense=pyo.maximize)
        model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        model.linear = linear  # a plain attribute: which solver fits
        model.excluded = excluded
        return model

    def recover(self, problem, model, method: str = "pyomo", local: bool = True) -> Result:
        import pyomo.environ as pyo

        n, m = problem.n, problem.m
        pairs = list(model.pairs)
        duals = _pyomo_duals(model, pairs, n)
        if problem.split is not None:
            V = np.array([[pyo.value(model.V[k, j]) for j in range(m)] for k in range(n)], dtype=float)
            U = np.array([pyo.value(model.U[k]) for k in range(n)], dtype=float)
            res = _polished_result(problem, V, U, model.excluded, method, duals)
            if local:
                res.message = (
                    "local optimum (the objective is not known to be concave)"
                    if problem.convexity_reason is not None
                    else "local NLP solver; the program is convex, so this is also the global optimum"
                )
        else:
            q = np.array([[pyo.value(model.q[k, j]) for j in range(m)] for k in range(n)], dtype=float)
            t = np.array([pyo.value(model.t[k]) for k in range(n)], dtype=float)
            res = mark_binding(problem.result_from_qt(q, t, method), problem, duals)
            res.message = "local optimum (no change of variables makes the problem convex)"
        res.local = bool(local)
        return res

    def run(self, problem, solver=None, verbose=False, **options) -> Result:
        def solve_one(excluded):
            model = self.build(problem, excluded=excluded)
            chosen = solver or ("highs" if model.linear else "nlp")
            nlp = {} if chosen == "highs" else {"tol": 1e-10, "bound_relax_factor": 0.0, "constr_viol_tol": 1e-12,
                                                 "mu_strategy": "adaptive"}
            status, method, local = solve_pyomo(model, chosen, verbose, **{**nlp, **options})
            if status != "optimal":
                return Result(status=status, method=method, message=f"solver status: {status}", local=local)
            return self.recover(problem, model, method, local)

        return with_exclusion(problem, solve_one)


def _pyomo_duals(model, pairs, n):
    """[(kind, k, l, multipliers)] of IR and IC from the model's ``dual`` suffix; [] when the solver
    gave none.  The rows are in utility units and the objective is the expected payoff, so a dual
    is the multiplier up to its sign: ripopt and appsi's HiGHS (checked) and Ipopt (AMPL's NL
    convention, which ripopt follows) report the dual of a ≥ row of a maximisation as ≤ 0, so the
    magnitude is taken, whichever convention a solver keeps."""
    get = model.dual.get
    ir = [get(model.ir[k]) for k in range(n)]
    ic = [get(model.ic[k, l]) for k, l in pairs]
    if any(d is None for d in ir) or any(d is None for d in ic):
        return []
    k, l = np.array(pairs, dtype=int).reshape(-1, 2).T
    return [("IR", np.arange(n), None, np.abs(np.array(ir, dtype=float))), ("IC", k, l, np.abs(np.array(ic, dtype=float)))]


FORMULATIONS = (CvxpyLocal(), CvxpyAllPairs(), Pyomo())
