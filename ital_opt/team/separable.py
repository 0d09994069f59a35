"""Large separable teams by Ipopt through cyipopt (docs/theory/team.md with a general effort cost).

When output is linear (π = Σ a_j e_j + ε) and each member's cost C_i(e_i) is any smooth
expression in e and c, member i's effort condition involves only its own variables:
    (1 − ω)a_i β_i + ω a_i − C'(e_i; c_i) = 0            (budget balance, Σβ = 1)
and total welfare  Σ a_j e_j − Σ C(e_j; c_j) − Σ R_j β_j²/2  is separable too.  The NLP in
(β, e) then has a diagonal Lagrangian Hessian and two Jacobian entries per member, so Ipopt's
sparse factorisation handles thousands of members in well under a second; pyomo's NL route
(through the bundled ripopt, whose linear algebra scales about quadratically here) is kept for
every other case.  C', C'', C''' come from sympy differentiation of the checked expression and
are evaluated vectorised over members.

Applies when: linear output, no knowledge inputs (the knowledge-sharing extension is left to
pyomo), a cost expression (the LEN case has closed forms), budget balance, shares "welfare" or
given, and no member whose effort bound can bind (C'(0) = 0).  Outside levels are not constraints here (each
would be a dense row in every member's effort): an answer at which one binds is reported
``not_solved`` (pyomo imposes them).  Needs the
``cyipopt`` module (``pip install cyipopt-wheels`` bundles Ipopt).
"""

from __future__ import annotations

import numpy as np

from .. import backends
from .._optional import require
from . import equilibrium

SNAP = 1e-6  # shares below this are fixed at 0 and the NLP re-solved (Ipopt stops at ~√tol there)


def applies(team) -> str | None:
    if team.production is not None:
        return "needs linear output (no production expression); use pyomo"
    if team.knowledge:
        return "knowledge inputs (g, k1..kn) are not in this one-input formulation; use pyomo"
    if team.cost is None:
        return "the LEN case is solved by the closed form and cvxpy"
    if team.budget_breaker:
        return "needs budget balance (no budget breaker); use pyomo"
    if team.mode not in ("welfare", "given"):
        return f"shares = {team.mode!r} couples the members; use pyomo"
    if equilibrium.bound_may_bind(team).any():
        return "an effort bound can bind (positive marginal cost at zero effort); use pyomo (complementarity)"
    try:
        require("cyipopt", extra="nlp")
    except ImportError:
        return "the cyipopt module is not installed (pip install 'ital_opt[nlp]', which brings cyipopt-wheels)"
    return None


def _cost_derivatives(team):
    import sympy

    from ..expr import from_sympy

    e, c = sympy.symbols("e c", positive=True)
    C = team.cost.sympy(e=e, c=c)
    exprs = [from_sympy(sympy.diff(C, e, order), ("e", "c")) for order in range(4)]  # C and its 3 derivatives
    n = team.n
    return [lambda x, f=f: f.numpy(shape=(n,), e=x, c=team.c) for f in exprs]


class _Welfare:
    """Ipopt callbacks for x = (β, e): minimise −TW subject to Σβ = 1 and the effort conditions."""

    def __init__(self, team):
        self.n = team.n
        self.a, self.R, self.w = team.a, team.rho * team.sigma2, team.omega
        self.C, self.dC, self.d2C, self.d3C = _cost_derivatives(team)

    def objective(self, x):
        beta, e = x[: self.n], x[self.n :]
        return -(self.a @ e - self.C(e).sum() - self.R @ beta**2 / 2)

    def gradient(self, x):
        beta, e = x[: self.n], x[self.n :]
        return np.r_[self.R * beta, -(self.a - self.dC(e))]

    def constraints(self, x):
        beta, e = x[: self.n], x[self.n :]
        return np.r_[beta.sum(), ((1 - self.w) * beta + self.w) * self.a - self.dC(e)]

    def jacobianstructure(self):  # row 0: Σβ; row 1 + i: member i's effort condition in β_i and e_i
        n = self.n
        rows = np.r_[np.zeros(n, int), 1 + np.arange(n), 1 + np.arange(n)]
        return rows, np.r_[np.arange(n), np.arange(n), n + np.arange(n)]

    def jacobian(self, x):
        e = x[self.n :]
        return np.r_[np.ones(self.n), (1 - self.w) * self.a, -self.d2C(e)]

    def hessianstructure(self):  # diagonal
        return np.arange(2 * self.n), np.arange(2 * self.n)

    def hessian(self, x, lagrange, obj_factor):
        e = x[self.n :]
        return np.r_[obj_factor * self.R, obj_factor * self.d2C(e) - lagrange[1:] * self.d3C(e)]


def build(team, corner=None, tol=1e-10, verbose=False, **options):
    """(cyipopt problem, callbacks): minimise −TW over x = (β, e) subject to Σβ = 1 and the effort
    conditions, β within [0, 1] (the given shares when given; 0 for the members marked in `corner`)."""
    n = team.n
    callbacks = _Welfare(team)
    if team.mode == "given":
        lb_beta = ub_beta = np.asarray(team.beta, float)
    else:
        lb_beta, ub_beta = np.zeros(n), np.ones(n) if corner is None else np.where(corner, 0.0, 1.0)
    problem = backends.cyipopt_problem(
        n=2 * n,
        m=n + 1,
        problem_obj=callbacks,
        lb=np.r_[lb_beta, np.zeros(n)],
        ub=np.r_[ub_beta, np.full(n, 1e20)],
        cl=np.r_[1.0, np.zeros(n)],
        cu=np.r_[1.0, np.zeros(n)],
        verbose=verbose,
        **{"tol": tol, "bound_relax_factor": 0.0, **options},
    )
    return problem, callbacks


def solve(team, tol=1e-10, verbose=False, **options):
    """(status, β, e) for a separable team."""
    n = team.n
    beta0 = np.asarray(team.beta, float) if team.mode == "given" else np.full(n, 1.0 / n)

    def run(x0, corner=None):
        problem, callbacks = build(team, corner, tol, verbose, **options)
        x, info = problem.solve(x0)
        return info["status"] in (0, 1), x, callbacks

    ok, x, callbacks = run(np.r_[beta0, np.ones(n)])
    if not ok:
        return "not_solved", None, None
    beta, e = np.clip(x[:n], 0, None), np.clip(x[n:], 0, None)
    corner = beta < SNAP
    if team.mode != "given" and corner.any() and not corner.all():
        ok2, x2, _ = run(np.r_[np.where(corner, 0.0, beta), e], corner)
        if ok2 and callbacks.objective(x2) <= callbacks.objective(x) + 1e-9 * max(1.0, abs(callbacks.objective(x))):
            beta, e = np.clip(x2[:n], 0, None), np.clip(x2[n:], 0, None)
    return "optimal", beta, e
