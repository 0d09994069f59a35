"""Polishing a solver's answer: Newton's method on the optimality conditions of its active set.

Interior-point and local NLP solvers stop when their residuals fall below a tolerance, so their
answers are accurate to about 1e-8 (interior point: the square root of the barrier parameter near
degenerate constraints).  The exact optimum is the solution of the Karush–Kuhn–Tucker conditions
with the constraints the solver found binding (its *active set*) held as equalities:

    max f(z)  s.t.  c_i(z) = 0  (i active)      ⇔      ∇f(z) + J(z)ᵀλ = 0,   c(z) = 0,

and Newton's method on this square system converges quadratically from the solver's answer
(Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006, §18.1, "local SQP method").  Active
sets are often degenerate (pooled types bind in both directions, an excluded type's constraints
coincide), so each Newton system is solved in the least-squares sense (a minimum-norm step,
LAPACK's complete orthogonal factorisation through :func:`scipy.linalg.lstsq`).

The polished point is only a candidate: the caller accepts it when the independent checks find
it feasible and it is at least as good as the solver's answer, and keeps the solver's otherwise.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

MAX_SIZE = 600  # unknowns plus active constraints: a dense Newton system beyond this is too slow
ACTIVE = (1e-6, 1e-7, 1e-5, 1e-8)  # slack (relative) below which a constraint is taken as binding
FEASIBLE = 1e-12  # a polished point must pass the certificates to this (relative) precision


def newton_kkt(
    z0: np.ndarray,
    gradient: Callable[[np.ndarray], np.ndarray],
    hessian: Callable[[np.ndarray], np.ndarray],
    constraints: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray],
    curvature: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    iters: int = 25,
    full_output: bool = False,
):
    """The point where ∇f + Jᵀλ = 0 and c = 0, by Newton's method from `z0`; None if it fails.

    `gradient` and `hessian` are those of the objective (maximised), `constraints` the active
    constraints' values c(z) (zero at the answer) and `jacobian` their (rows × unknowns) Jacobian;
    `curvature(z, λ)` is Σ λ_i ∇²c_i(z) for nonlinear constraints (None: they are linear).  The
    multipliers start from the least-squares fit of stationarity at `z0`.  Returns None when the
    system is too large for a dense solve, a value is not finite, or the steps do not settle.
    With ``full_output`` the answer is ``(z, λ)``, λ ≥ 0 for the binding constraints of
    ``max f s.t. c ≥ 0`` at a Karush–Kuhn–Tucker point.
    """
    from scipy.linalg import lstsq

    z = np.array(z0, dtype=float)
    J = np.atleast_2d(np.asarray(jacobian(z), dtype=float)).reshape(-1, z.size)
    m = J.shape[0]
    if z.size + m > MAX_SIZE:
        return None
    g = np.asarray(gradient(z), dtype=float)
    lam = np.zeros(m)
    if curvature is not None and m:  # the multipliers enter the Hessian of the Lagrangian
        lam = lstsq(J.T, -g, lapack_driver="gelsy")[0]
    scale = 1.0 + float(np.max(np.abs(z), initial=0.0))
    for _ in range(iters):
        H = np.asarray(hessian(z), dtype=float)
        if curvature is not None and m:
            H = H + np.asarray(curvature(z, lam), dtype=float)
        K = np.block([[H, J.T], [J, np.zeros((m, m))]])
        rhs = -np.concatenate([g, np.asarray(constraints(z), dtype=float)])
        if not (np.all(np.isfinite(K)) and np.all(np.isfinite(rhs))):
            return None
        step = lstsq(K, rhs, lapack_driver="gelsy")[0]  # the new multipliers directly
        z = z + step[: z.size]
        lam = step[z.size:]
        if not np.all(np.isfinite(z)):
            return None
        g = np.asarray(gradient(z), dtype=float)
        J = np.atleast_2d(np.asarray(jacobian(z), dtype=float)).reshape(-1, z.size)
        c = np.asarray(constraints(z), dtype=float)
        # converged when the conditions hold to rounding (no further solve needed)
        if (np.max(np.abs(c), initial=0.0) <= 1e-14 * scale
                and np.max(np.abs(g + J.T @ lam), initial=0.0) <= 1e-13 * (1.0 + np.max(np.abs(g), initial=0.0))):
            break
        if np.max(np.abs(step[: z.size]), initial=0.0) <= 1e-15 * scale:
            break
    else:  # no exact fixed point in the iterations: accept only a settled one
        if np.max(np.abs(step[: z.size]), initial=0.0) > 1e-12 * scale:
            return None
    return (z, lam) if full_output else z


def stationarity(gradient: np.ndarray, jacobian: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative multipliers λ that best satisfy ∇f + Jᵀλ = 0, and the residual's largest entry.

    A feasible point of ``max f s.t. c ≥ 0`` whose binding constraints have Jacobian J is a
    Karush–Kuhn–Tucker point when the residual is zero: the certificate that a polished point is
    optimal on its active set, not merely a solution of its equations (non-negative least squares,
    :func:`scipy.optimize.nnls`, so degenerate constraints with many multiplier vectors are fine).
    """
    from scipy.optimize import nnls

    g = np.asarray(gradient, dtype=float)
    J = np.atleast_2d(np.asarray(jacobian, dtype=float)).reshape(-1, g.size)
    if J.shape[0] == 0:
        return np.zeros(0), float(np.max(np.abs(g), initial=0.0))
    lam, _ = nnls(J.T, -g)
    return lam, float(np.max(np.abs(g + J.T @ lam), initial=0.0))


def polish_active_set(z0, slack, value, gradient, hessian, system, violation, project=lambda z: z):
    """The exact optimum of ``max value(z) s.t. slack(z) ≥ 0`` on the active set of a solver's `z0`.

    The constraints whose slack at `z0` is within a tolerance (each of :data:`ACTIVE`, relative to
    1 + max|z0|) are held as equalities: ``system(act)`` gives, for the numbers `act` of those
    constraints, ``(constraints, jacobian, curvature)`` for :func:`newton_kkt` (None: not tried).
    The Newton point, passed through `project` (rounding past a bound), is kept when it lies within
    1e-3 of `z0`, the caller's certificates find it feasible (``violation(z)`` to :data:`FEASIBLE`),
    it is a Karush–Kuhn–Tucker point (non-negative multipliers, :func:`stationarity`) and its value
    is not below the solver's by more than the solver's own infeasibility could have bought
    (10·(1 + Σλ)·its largest violation) plus 1e-9.  The first kept point is returned, else None.
    """
    s0 = slack(z0)
    size = 1.0 + float(np.max(np.abs(z0)))
    f0, tried = value(z0), set()
    violation0 = float(np.max(np.maximum(-s0, 0.0)))
    for tol in ACTIVE:
        act = np.flatnonzero(s0 <= tol * size)
        key = tuple(act.tolist())
        if key in tried:
            continue
        tried.add(key)
        equations = system(act)
        if equations is None:
            continue
        constraints, jacobian, curvature = equations
        z = newton_kkt(z0, gradient, hessian, constraints, jacobian, curvature)
        if z is None:
            continue
        z = project(z)
        if np.max(np.abs(z - z0)) > 1e-3 * size or not violation(z) <= FEASIBLE * size:
            continue
        g = gradient(z)
        lam, residual = stationarity(g, jacobian(z))
        if residual > 1e-9 * (1.0 + float(np.max(np.abs(g)))):
            continue  # a solution of the equations, but not a Karush–Kuhn–Tucker point
        bought = 10.0 * (1.0 + float(lam.sum())) * violation0  # what the solver's infeasibility may buy
        if value(z) < f0 - bought - 1e-9 * (1.0 + abs(f0)):
            continue
        return z
    return None
