"""Screening when the agent's utility does not split: Ipopt with exact sparse derivatives (docs/theory/screening.md).

One-dimensional types θ_1 < … < θ_N with prior p_k, one allocation q_k ∈ [q_lo, q_hi], and an
agent utility u(θ, q) that admits no change of variables a(θ)v(q) + c(q) + b(θ) (for instance
u = log(1 + θq)), so that the IC constraints stay nonlinear in q.  In the variables (q, U), with
U_k = u(θ_k, q_k) + t_k the agent's utility and w the principal's gross payoff,

    max  Σ_k p_k [ w(θ_k, q_k) + u(θ_k, q_k) − U_k ]
    s.t. IC_kl:  U_k − U_l − [u(θ_k, q_l) − u(θ_l, q_l)] ≥ 0      (all pairs k ≠ l)
         IR_k:   U_k ≥ ū_k  (a bound),      q_k ∈ [q_lo, q_hi].

Every IC row touches three variables (U_k, U_l, q_l) and its Hessian is one entry on q_l, and the
objective's Hessian is diagonal in q: the Hessian of the Lagrangian is *diagonal*.  Ipopt (through
cyipopt) gets these exact first and second derivatives; u_q, u_qq, w_q, w_qq come from sympy and
are evaluated with :mod:`ital_opt.expr`.

**All-pairs IC by constraint generation** (as in the cutting-plane treatment of multidimensional
screening, e.g. Belloni, Lopomo and Wang, 2010): start from the adjacent pairs (local IC, which
suffice under single crossing u_θq > 0 with a monotone allocation), solve, find each type's best
deviation among *all* reports from the menu's numbers, add the violated pairs and re-solve from the
last point (warm start), until no pair is violated by more than 1e-9.

**Start**: the relaxed problem with downward adjacent IC binding and IR binding for the lowest type
(Maskin and Riley, 1984; Laffont and Martimort, 2002, §2.6 for the separable case), solved pointwise:
type j's allocation maximises its virtual surplus
p_j [w(θ_j, q) + u(θ_j, q)] − (Σ_{i>j} p_i)[u(θ_{j+1}, q) − u(θ_j, q)] on a grid, then by Newton
steps.  With single crossing and a monotone result this is already the optimum.

**Certificate**: the least utilities that meet every IC and IR constraint for the returned
allocation (raising U where a pair is violated, Gauss–Seidel in the order of the types), then the
kind's all-pairs check.  Ipopt is a local method: the result is marked ``local``.
"""

from __future__ import annotations

import math

import numpy as np

from ..problem import Formulation
from ..result import Result

CG_TOL = 1e-9
BIG = 2e19  # Ipopt's infinity
IPOPT_OPTIONS = dict(tol=1e-10, constr_viol_tol=1e-11, acceptable_tol=1e-9, bound_relax_factor=0.0,
                     mu_strategy="adaptive", max_iter=500)


class _Derivatives:
    """u, u_q, u_qq, w + u, (w + u)_q, (w + u)_qq as expressions in theta and q (sympy, then ital_opt.expr)."""

    def __init__(self, problem):
        import sympy as sp

        from ..expr import from_sympy

        th, q = sp.Symbol("theta", real=True), sp.Symbol("q", real=True)
        u = sp.sympify(problem.agent.sympy(theta=th, q=q))
        w = sp.sympify(problem.principal.sympy(theta=th, q=q))
        names = ["theta", "q"]
        surplus = w + u
        self.u, self.u_q, self.u_qq = (from_sympy(e, names) for e in (u, sp.diff(u, q), sp.diff(u, q, 2)))
        self.s, self.s_q, self.s_qq = (from_sympy(e, names) for e in (surplus, sp.diff(surplus, q),
                                                                          sp.diff(surplus, q, 2)))

    @staticmethod
    def at(expr, theta, q):
        theta, q = np.broadcast_arrays(np.asarray(theta, float), np.asarray(q, float))
        return expr.numpy(shape=theta.shape, theta=theta, q=q)


def _pointwise_start(problem, d: _Derivatives, lo: float, hi: float) -> np.ndarray:
    """Each type's allocation maximising its virtual surplus (downward adjacent IC binding)."""
    theta, p = problem.theta, problem.prob
    n = problem.n
    tail = np.concatenate([np.cumsum(p[::-1])[::-1][1:], [0.0]])  # Σ_{i>j} p_i
    nxt = np.concatenate([theta[1:], theta[-1:]])

    def virtual(q, s=d.s, u=d.u):
        """The virtual surplus at q (n, G); with (s, u) = (s_q, u_q) or (s_qq, u_qq), its slope or curvature."""
        th, th1 = theta[:, None], nxt[:, None]
        return p[:, None] * d.at(s, th, q) - tail[:, None] * (d.at(u, th1, q) - d.at(u, th, q))

    top = hi if math.isfinite(hi) else lo + max(1.0, abs(lo))
    for _ in range(60):
        grid = np.linspace(lo, top, 201)
        vals = virtual(np.broadcast_to(grid, (n, grid.size)))
        vals = np.where(np.isfinite(vals), vals, -np.inf)
        k = np.argmax(vals, axis=1)
        if math.isfinite(hi) or np.all(k < grid.size - 1):
            break
        top = lo + 2.0 * (top - lo)
    q = grid[k]
    step = grid[1] - grid[0]
    left, right = np.maximum(q - step, lo), np.minimum(q + step, top if not math.isfinite(hi) else hi)
    for _ in range(30):  # safeguarded Newton on the bracket around the grid maximum
        g, h = virtual(q[:, None], d.s_q, d.u_q)[:, 0], virtual(q[:, None], d.s_qq, d.u_qq)[:, 0]
        newton = np.where(h < 0, q - g / np.where(h < 0, h, -1.0), q)
        q_new = np.clip(newton, left, right)
        better = virtual(q_new[:, None])[:, 0] >= virtual(q[:, None])[:, 0]
        q_new = np.where(better, q_new, q)
        converged = np.max(np.abs(q_new - q), initial=0.0) <= 1e-14 * (1 + np.max(np.abs(q)))
        q = q_new
        if converged:
            break
    from .closed_form import iron

    return np.clip(iron(q, p), lo, hi)  # iron: the nearest non-decreasing allocation (weights: the prior)


def _chain_utilities(problem, d: _Derivatives, q: np.ndarray) -> np.ndarray:
    """U with every downward adjacent IC and the IR constraints met, binding where they can:
    U_k = max(ū_k, U_{k−1} + u(θ_k, q_{k−1}) − u(θ_{k−1}, q_{k−1}))."""
    theta = problem.theta
    step = d.at(d.u, theta[1:], q[:-1]) - d.at(d.u, theta[:-1], q[:-1])
    U = np.empty(problem.n)
    U[0] = problem.outside[0]
    for k in range(1, problem.n):
        U[k] = max(problem.outside[k], U[k - 1] + step[k - 1])
    return U


def _least_utilities(D: np.ndarray, U: np.ndarray, outside: np.ndarray, sweeps: int = 50) -> np.ndarray:
    """The least U' ≥ U with U'_k ≥ ū_k and U'_k ≥ U'_l + D_kl for all pairs (Gauss–Seidel in type order).

    D_kl = u(θ_k, q_l) − u(θ_l, q_l).  Terminates when a sweep changes nothing (no IC cycle gains)."""
    U = np.maximum(U.astype(float).copy(), outside)
    n = U.size
    for _ in range(sweeps):
        changed = False
        for order in (range(n), range(n - 1, -1, -1)):
            for k in order:
                best = float(np.max(U + D[k]))  # D[k, k] = 0, so best ≥ U_k
                if best > U[k]:
                    U[k] = best
                    changed = True
        if not changed:
            break
    return U


def _deviation_matrix(d: _Derivatives, theta: np.ndarray, q: np.ndarray) -> np.ndarray:
    """D_kl = u(θ_k, q_l) − u(θ_l, q_l)."""
    own = d.at(d.u, theta, q)
    return d.at(d.u, theta[:, None], q[None, :]) - own[None, :]


class _Program:
    """The callbacks of the program in x = (q, U) for cyipopt, with the IC pairs (k, l)."""

    def __init__(self, problem, d: _Derivatives, pairs: np.ndarray):
        self.p, self.theta, self.n, self.d = problem.prob, problem.theta, problem.n, d
        self.k, self.l = pairs[:, 0], pairs[:, 1]

    def objective(self, x):
        q, U = x[: self.n], x[self.n:]
        return -float(self.p @ (self.d.at(self.d.s, self.theta, q) - U))

    def gradient(self, x):
        q = x[: self.n]
        return np.concatenate([-self.p * self.d.at(self.d.s_q, self.theta, q), self.p])

    def constraints(self, x):
        q, U = x[: self.n], x[self.n:]
        ql = q[self.l]
        return U[self.k] - U[self.l] - (self.d.at(self.d.u, self.theta[self.k], ql) - self.d.at(self.d.u, self.theta[self.l], ql))

    def jacobianstructure(self):  # row i: U_k, U_l, q_l of pair i
        return np.repeat(np.arange(self.k.size), 3), np.column_stack([self.n + self.k, self.n + self.l, self.l]).ravel()

    def jacobian(self, x):
        q = x[: self.n]
        ql = q[self.l]
        dq = -(self.d.at(self.d.u_q, self.theta[self.k], ql) - self.d.at(self.d.u_q, self.theta[self.l], ql))
        return np.column_stack([np.ones_like(dq), -np.ones_like(dq), dq]).ravel()

    def hessianstructure(self):  # diagonal in q
        return np.arange(self.n), np.arange(self.n)

    def hessian(self, x, lagrange, obj_factor):
        q = x[: self.n]
        ql = q[self.l]
        diag = -obj_factor * self.p * self.d.at(self.d.s_qq, self.theta, q)
        cons = -(self.d.at(self.d.u_qq, self.theta[self.k], ql) - self.d.at(self.d.u_qq, self.theta[self.l], ql))
        return diag + np.bincount(self.l, weights=lagrange * cons, minlength=self.n)


def _ipopt(problem, d, pairs, x0, bounds, mult=None, verbose=False, **options):
    """One Ipopt solve of the program with the given pairs, from x0 (warm-started with `mult`)."""
    from ..backends import cyipopt_problem, stdout_to_stderr

    prog = _Program(problem, d, pairs)
    lb, ub = bounds
    opts = dict(IPOPT_OPTIONS)
    if mult is not None:
        opts.update(warm_start_init_point="yes", warm_start_bound_push=1e-9, warm_start_slack_bound_push=1e-9,
                    warm_start_mult_bound_push=1e-9, mu_init=1e-7)
    opts.update(options)
    nlp = cyipopt_problem(n=x0.size, m=len(pairs), problem_obj=prog, lb=lb, ub=ub, cl=np.zeros(len(pairs)),
                          cu=np.full(len(pairs), BIG), verbose=verbose, rung="warm" if mult is not None else None, **opts)
    with stdout_to_stderr():
        x, info = nlp.solve(x0, lagrange=mult if mult is not None else [])
    return x, info


class NonSeparable(Formulation):
    """Ipopt (cyipopt) with exact sparse derivatives and all-pairs IC by constraint generation."""

    name = "ipopt"
    solvers = ("ipopt",)
    options = frozenset({"max_rounds", "per_type"})  # any other keyword is an Ipopt option

    def applies(self, problem) -> str | None:
        if problem.multi or problem.m != 1:
            return "needs one-dimensional types and allocations"
        if problem.split is not None:
            return "the agent utility separates: the convex formulations apply (cvxpy, cvxpy-local)"
        return None

    def build(self, problem, pairs=None, **options):
        """The callbacks object (objective, gradient, constraints, jacobian, hessian and their
        structures) of the program with the IC `pairs` ((k, l) rows; default: adjacent pairs), in
        x = (q, U): what ``cyipopt.Problem(problem_obj=...)`` takes."""
        return _Program(problem, _Derivatives(problem), self._adjacent(problem.n) if pairs is None else pairs)

    @staticmethod
    def _adjacent(n):
        k = np.arange(n - 1)
        return np.concatenate([np.column_stack([k, k + 1]), np.column_stack([k + 1, k])])

    def run(self, problem, solver=None, verbose=False, max_rounds: int = 30, per_type: int = 3, **options) -> Result:
        d = _Derivatives(problem)
        n, theta = problem.n, problem.theta
        lo, hi = problem.q_bounds[0]
        q0 = _pointwise_start(problem, d, lo, hi)
        U0 = _chain_utilities(problem, d, q0)
        bounds = (np.concatenate([np.full(n, lo if math.isfinite(lo) else -BIG), problem.outside]),
                  np.concatenate([np.full(n, hi if math.isfinite(hi) else BIG), np.full(n, BIG)]))
        pairs = self._adjacent(n)
        x = np.concatenate([q0, U0])
        mult = None
        rounds, status = 0, "not_solved"
        message = ""
        for rounds in range(1, max_rounds + 1):
            x, info = _ipopt(problem, d, pairs, x, bounds, mult, verbose, **options)
            if info["status"] not in (0, 1):
                message = f"Ipopt: {info['status_msg'].decode() if isinstance(info['status_msg'], bytes) else info['status_msg']}"
                break
            q, U = x[:n], x[n:]
            D = _deviation_matrix(d, theta, q)
            gain = U[None, :] + D - U[:, None]  # gain[k, l]: type k's gain from report l
            np.fill_diagonal(gain, -np.inf)
            if np.max(gain) <= CG_TOL:
                status = "optimal"
                break
            # each type's most violated reports join the program
            have = set(map(tuple, pairs.tolist()))
            top = np.argsort(-gain, axis=1)[:, :per_type]
            new = [(k, int(l)) for k in range(n) for l in top[k] if gain[k, l] > CG_TOL and (k, int(l)) not in have]
            if not new:
                status = "optimal"
                break
            old = len(pairs)
            pairs = np.concatenate([pairs, np.array(new, dtype=int)])
            mult = np.concatenate([np.asarray(info["mult_g"], float)[:old], np.zeros(len(new))])
        else:
            message = f"IC still violated after {max_rounds} rounds of constraint generation"
        method = "ipopt/cg" if rounds > 1 else "ipopt"
        if status != "optimal":
            return Result(status="not_solved", method=method, message=message, local=True)
        q = x[:n]
        U = _least_utilities(_deviation_matrix(d, theta, q), x[n:], problem.outside)
        t = U - d.at(d.u, theta, q)
        res = problem.result_from_qt(q[:, None], t, method, ic_pairs=int(len(pairs)), rounds=int(rounds))
        res.local = True
        res.message = (f"local optimum (Ipopt; the program is not known to be convex); all-pairs IC by constraint "
                       f"generation: {len(pairs)} of {n * (n - 1)} pairs in {rounds} round(s)")
        return res
