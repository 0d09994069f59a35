"""The numerical formulations of the admission menu (docs/theory/admission.md), one object each.

* :class:`CvxpyDirect` (``cvxpy-direct``) — the book's convex form in x_k = β_k² and the
  utilities u_k (LEN only): maximise Σ_k p_k [2φ_k √x_k − (φ_k + r) x_k − u_k] subject to IR
  u_k ≥ ū_k, all-pairs IC u_k − u_j ≥ (φ_k − φ_j) x_j (linear in (x, u): type k's utility from
  contract j is t_j + x_j(φ_k − r) = u_j + x_j(φ_k − φ_j)), 0 ≤ x ≤ 1; the objective is concave
  (√x), a second-order cone program.  Interior-point answers are polished by Newton steps on the
  optimality conditions of the active face (:func:`polish`).
* :class:`ScreeningReduction` (``screening``) — the reduction to the general screening kind
  through its public model: types θ, allocation q = β ∈ [0, 1], agent v(θ, q) − rq² (φq² − rq²
  in LEN), principal (1 − q)·y(θ, e*(θ, q)) (2φq(1 − q) in LEN); the menu maps back as share = q,
  transfer = t.  ``build()`` returns the screening problem.
* :class:`PyomoDirect` (``pyomo-direct``) — a nonlinear program in (β, t) with all-pairs IC for
  any output and cost (the applicant's effort choice solved symbolically by
  :class:`.technology.Technology`), from several starting points: a local optimum.  The NLP
  solver's answer (accurate to about 1e-8) is polished by :func:`polish_menu`: Newton's method on
  the optimality conditions of the constraints it found binding (:func:`ital_opt.kkt.newton_kkt`),
  kept when the certificates find it feasible and it is not worse (``solver["polish"]`` says which).

Solver objects come from :mod:`ital_opt.backends` only.
"""

from __future__ import annotations

import numpy as np

from .. import backends
from ..errors import OptionError
from ..kkt import ACTIVE
from ..problem import Formulation
from ..result import Result
from .technology import DEFAULT_COST, DEFAULT_OUTPUT

MAX_STARTS = 1_000  # local NLP starting points
# the all-pairs programs write n(n − 1) IC constraints: cvxpy's rows are built dense (250 types take
# 250 MB, 3,000 would take 400 GB) and the NLP is slow (100 types: 17 s for three starts, 200: minutes)
CVXPY_MAX_TYPES = 250
PYOMO_MAX_TYPES = 100


# -- cvxpy: the convex form in x = β² ---------------------------------------------------------------
class CvxpyDirect(Formulation):
    name = "cvxpy-direct"
    solvers = ("CLARABEL", "SCS", "ECOS")  # √x needs a conic solver
    options = frozenset({"polish_kkt"})

    def applies(self, problem) -> str | None:
        if not problem.is_len:
            return "the convex form in x = β² needs the LEN model (linear output, quadratic cost)"
        return _all_pairs_reason(problem, CVXPY_MAX_TYPES)

    def build(self, problem, **options):
        """The cvxpy.Problem in the stacked variable ``x_u`` = (x_1..x_K, u_1..u_K)."""
        import cvxpy as cp

        n, phi, r, p = problem.n, problem.phi, problem.r, problem.prob
        z = cp.Variable(2 * n, name="x_u")
        x, u = z[:n], z[n:]
        surplus = cp.multiply(2.0 * phi, cp.sqrt(x)) - cp.multiply(phi + r, x)
        constraints = [x >= 0, x <= 1, u >= problem.outside]
        if n > 1:
            A, _ = convex_constraints(problem)
            constraints.append(A[: n * (n - 1)] @ z >= 0)  # all-pairs IC
        return cp.Problem(cp.Maximize(p @ (surplus - u)), constraints)

    def recover(self, problem, model, polish_kkt: bool = True) -> Result:
        status = backends.status_from_cvxpy(model.status)
        name = f"cvxpy/{model.solver_stats.solver_name}" if model.solver_stats else "cvxpy"
        z = model.variables()[0].value
        if status != "optimal" or z is None:
            return Result(kind=problem.kind, status=status, method=name, message=f"cvxpy status {model.status}")
        n = problem.n
        xs, us = np.asarray(z[:n], float), np.asarray(z[n:], float)
        if polish_kkt:
            xs, us = polish(problem, xs, us)
        return problem.menu_result(np.sqrt(np.clip(xs, 0.0, 1.0)), us, method=name)

    def run(self, problem, solver=None, verbose=False, polish_kkt: bool = True, **options) -> Result:
        model = self.build(problem)
        status, name = backends.solve_cvxpy(model, solver=solver, verbose=verbose, **options)
        if status != "optimal":
            return Result(kind=problem.kind, status=status, method=name, message=f"cvxpy status {model.status}")
        return self.recover(problem, model, polish_kkt=polish_kkt)


def _all_pairs_reason(problem, most: int) -> str | None:
    if problem.n > most:
        return (f"it imposes IC for all {problem.n * (problem.n - 1):,} ordered pairs of {problem.n:,} types, for at "
                f"most {most} types (the 'screening' method adds IC pairs as they are needed)")
    return None


def convex_constraints(problem):
    """Rows (A, b) of A·[x; u] >= b, A sparse (CSR): all-pairs IC (k, j) in row-major order, then
    IR, x <= 1, x >= 0 of each type."""
    import scipy.sparse as sps

    n, phi = problem.n, problem.phi
    k_idx, j_idx = np.nonzero(~np.eye(n, dtype=bool))
    m, types = k_idx.size, np.arange(n)
    own = m + 3 * types  # type k's IR, x_k <= 1 and x_k >= 0
    rows = np.concatenate([np.tile(np.arange(m), 3), own, own + 1, own + 2])
    cols = np.concatenate([n + k_idx, n + j_idx, j_idx, n + types, types, types])
    values = np.concatenate([np.ones(m), -np.ones(m), -(phi[k_idx] - phi[j_idx]), np.ones(n), -np.ones(n), np.ones(n)])
    rhs = np.column_stack([problem.outside, -np.ones(n), np.zeros(n)]).ravel()
    return sps.csr_matrix((values, (rows, cols)), shape=(m + 3 * n, 2 * n)), np.concatenate([np.zeros(m), rhs])


def polish(problem, x, u, iters=12):
    """Newton steps on the KKT system of the convex form with the solver's active set.

    Interior-point answers of the sqrt-cone form are accurate to ~1e-6 in β; the optimum is the
    maximiser of the strictly concave objective on the face where the active constraints hold
    with equality, which Newton's method finds to machine precision.  The constraints whose slack
    is within each tolerance of :data:`ital_opt.kkt.ACTIVE` are tried as the active set in turn
    (a bound the solver stopped ~1e-6 short of is active only at the wider ones); the first
    polished point that is feasible, not worse and near the solver's is kept, else the solver's
    point is returned.
    """
    n, phi, r, p = problem.n, problem.phi, problem.r, problem.prob
    if np.any(x < 1e-8):
        return x, u
    A, b = convex_constraints(problem)
    z0 = np.concatenate([x, u])

    def objective(z):
        xx = np.clip(z[:n], 0.0, None)
        return float(p @ (2 * phi * np.sqrt(xx) - (phi + r) * xx - z[n:]))

    slack = A @ z0 - b
    # single crossing: the local ICs (k, k±1) with IR and the bounds carry the binding structure
    # (non-local ICs bind only inside pools, where the local ones imply them); the polished point
    # is checked against every constraint below
    k_idx, j_idx = np.nonzero(~np.eye(n, dtype=bool))
    local = np.concatenate([np.abs(k_idx - j_idx) == 1, np.ones(3 * n, dtype=bool)])
    for tol in ACTIVE:
        act = (slack <= tol * (1 + np.abs(b))) & local
        z = _newton_on_face(z0, A[act].toarray(), b[act], p, phi, r, n, iters)
        if z is None or not np.all(np.isfinite(z)):
            continue
        viol = np.max(np.maximum(b - A @ z, 0.0))
        worse = objective(z) < objective(z0) - 1e-9 * (1 + abs(objective(z0)))
        if not (viol > 1e-9 or worse or np.max(np.abs(z - z0)) > 1e-3):
            return z[:n], z[n:]
    return x, u


def _newton_on_face(z0, Aa, ba, p, phi, r, n, iters):
    """Newton's method for the maximiser of the convex form's objective on {z: Aa z = ba}, or None."""
    z = z0.copy()
    m = Aa.shape[0]
    for _ in range(iters):
        xx = z[:n]
        if np.any(xx <= 0):
            return None
        grad = np.concatenate([p * (phi / np.sqrt(xx) - (phi + r)), -p])
        hess = np.zeros((2 * n, 2 * n))
        hess[np.arange(n), np.arange(n)] = -p * phi / (2 * xx**1.5)
        kkt = np.block([[hess, Aa.T], [Aa, np.zeros((m, m))]])
        rhs = np.concatenate([-grad, ba - Aa @ z])
        step = np.linalg.lstsq(kkt, rhs, rcond=None)[0][: 2 * n]
        z = z + step
        if np.max(np.abs(step)) < 1e-13 * (1.0 + np.max(np.abs(z))):
            break
    return z


# -- the general screening kind ---------------------------------------------------------------------
def screening_spec(problem) -> dict:
    """The admission problem as a ``kind = "screening"`` spec (dict): q = β, t = transfer."""
    r = repr(float(problem.r))
    if problem.is_len and problem.output.text == DEFAULT_OUTPUT and problem.cost.text == DEFAULT_COST:
        agent = "(theta**2/(2*c) - r)*q**2"
        principal = "theta**2/c*q*(1 - q)"
        params = {"c": float(problem.c), "r": float(problem.r)}
    else:
        agent = f"({problem.tech.agent_text}) - {r}*q**2"
        principal = problem.tech.alliance_text
        params = {}
    spec = {
        "kind": "screening",
        "theta": problem.theta.tolist(),
        "prob": problem.prob.tolist(),
        "agent": agent,
        "principal": principal,
        "outside": problem.outside.tolist(),
        "q_bounds": [0.0, 1.0],
    }
    if params:
        spec["params"] = params
    if problem.title:
        spec["title"] = f"{problem.title} (as screening)"
    return spec


class ScreeningReduction(Formulation):
    name = "screening"
    solvers = ()
    options = frozenset({"method"})  # the screening kind's method (default auto)

    def build(self, problem, **options):
        """The reduced problem: a :class:`ital_opt.screening.Screening` (solve, verify, formulations)."""
        from ..spec import load

        return load(screening_spec(problem), source=f"{problem.source} (as screening)")

    def recover(self, problem, model, result: Result | None = None) -> Result:
        """The admission menu from the screening result (`model` is the screening problem)."""
        res = result if result is not None else model.solve()
        name = f"screening/{res.method}"
        if res.status != "optimal" or not len(res.rows):
            return Result(kind=problem.kind, status=res.status, method=name, message=res.message)
        share = np.asarray(res.rows["q"].tolist(), float).reshape(-1)
        transfer = np.asarray(res.rows["t"].tolist(), float).reshape(-1)
        utility = transfer + problem.agent_value(problem.theta, share)
        local = bool(res.get("local", False))
        if problem.is_len and not local:
            # interior-point answers of the sqrt-cone form are accurate to ~1e-6 in the share: refine
            # them by Newton steps on the KKT system of the convex form (kept only if feasible, not worse)
            xs, us = polish(problem, share**2, utility)
            if not np.array_equal(xs, share**2):
                share, utility, name = np.sqrt(np.clip(xs, 0.0, 1.0)), us, name + "+polish"
        return problem.menu_result(share, utility, method=name, local=local, message=res.get("message", ""))

    def run(self, problem, method: str = "auto", **options) -> Result:
        screening = self.build(problem)
        return self.recover(problem, screening, screening.solve(method=method, **options))


# -- pyomo: a nonlinear program in (β, t) for any technology -----------------------------------------
class PyomoDirect(Formulation):
    name = "pyomo-direct"
    solvers = ("nlp",)  # Ipopt when installed, else the bundled ripopt
    options = frozenset({"multistart"})

    def applies(self, problem) -> str | None:
        return _all_pairs_reason(problem, PYOMO_MAX_TYPES)

    def build(self, problem, start=None, **options):
        """The pyomo model from the starting shares `start` (default: first best)."""
        import pyomo.environ as pyo

        n = problem.n
        start = problem.first_best() if start is None else np.asarray(start, float)
        agent, keep = _indirect(problem, agent=True), _indirect(problem, agent=False)
        m = pyo.ConcreteModel()
        m.K = pyo.RangeSet(0, n - 1)
        m.beta = pyo.Var(m.K, bounds=(1e-9, 1.0), initialize=dict(enumerate(map(float, start))))
        m.t = pyo.Var(m.K, initialize=0.0)
        m.obj = pyo.Objective(expr=sum(float(problem.prob[k]) * (keep(k, m.beta[k]) - m.t[k]) for k in m.K),
                              sense=pyo.maximize)
        m.ir = pyo.Constraint(m.K, rule=lambda m, k: m.t[k] + agent(k, m.beta[k]) >= float(problem.outside[k]))
        m.ic = pyo.Constraint(m.K, m.K, rule=lambda m, k, j: pyo.Constraint.Skip if j == k
                              else m.t[k] + agent(k, m.beta[k]) >= m.t[j] + agent(k, m.beta[j]))
        return m

    def recover(self, problem, model, method: str = "pyomo", local: bool = True) -> Result:
        import pyomo.environ as pyo

        share = np.array([pyo.value(model.beta[k]) for k in model.K])
        share = np.where(share <= 1e-8, 0.0, share)
        transfer = np.array([pyo.value(model.t[k]) for k in model.K])
        utility = transfer + problem.agent_value(problem.theta, share)
        return problem.menu_result(share, utility, method=method, local=local,
                                   message="local optimum of a nonlinear program (multistart)" if local else "")

    def run(self, problem, solver=None, verbose=False, multistart: int = 3, **options) -> Result:
        if isinstance(multistart, bool) or not isinstance(multistart, (int, np.integer)) or not 1 <= multistart <= MAX_STARTS:
            raise OptionError("multistart", f"expected a whole number of starting points from 1 to {MAX_STARTS:,}, "
                              f"got {multistart!r}", problem.source)
        rng = np.random.default_rng(0)
        starts = [problem.first_best(), *(np.sort(rng.uniform(0.05, 1.0, problem.n)) for _ in range(multistart - 1))]
        best = None
        for start in starts:
            model = self.build(problem, start)
            status, name, local = backends.solve_pyomo(model, solver="nlp", verbose=verbose, **options)
            if status != "optimal":
                continue
            res = self.recover(problem, model, name, local)
            if best is None or res.objective > best.objective:
                best = res
        if best is None:
            return Result(kind=problem.kind, status="not_solved", method="pyomo", message="the NLP solver failed")
        rows = best.rows
        polished = polish_menu(problem, rows["share"].to_numpy(float), rows["agent_utility"].to_numpy(float))
        if polished is not None:
            better = problem.menu_result(*polished, method=best.method + "+polish", local=True, message=best.message)
            better.solver = {**best.get("solver", {}), "polish": "newton-kkt"}
            return better
        return best


# -- polishing a menu in (β, u) for any technology --------------------------------------------------
def _share_derivatives(problem):
    """(v', v'', S', S'') as functions of (θ, β): v(θ, β) the applicant's value before the transfer
    (:meth:`Admission.agent_value`), S = v + (1 − β)·y the surplus (derivatives in β)."""
    r = float(problem.r)
    if problem.is_len:
        def v1(theta, b):
            return 2.0 * (problem._phi_of(theta) - r) * b

        def v2(theta, b):
            return 2.0 * (problem._phi_of(theta) - r) + 0.0 * b

        def s1(theta, b):
            return 2.0 * problem._phi_of(theta) * (1.0 - b) - 2.0 * r * b

        def s2(theta, b):
            return -2.0 * (problem._phi_of(theta) + r) + 0.0 * b

        return v1, v2, s1, s2
    import sympy as sp

    from ..expr import parse

    theta, q = sp.symbols("theta q")
    names = {"theta", "q"}
    v = parse(problem.tech.agent_text, names).sympy(theta=theta, q=q) - r * q**2
    s = v + parse(problem.tech.alliance_text, names).sympy(theta=theta, q=q)
    funcs = [sp.lambdify((theta, q), sp.diff(f, q, order), modules="numpy") for f in (v, s) for order in (1, 2)]

    def wrap(f):
        def call(theta_, b):
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(f(theta_, b), dtype=float), np.broadcast(theta_, b).shape)
        return call

    return tuple(wrap(f) for f in funcs)


def polish_menu(problem, share, utility):
    """The exact optimum on the active set of a solver's menu (β, u), or None.

    Unknowns z = (β, u); the alliance maximises Σ p_k [S_k(β_k) − u_k] subject to IR_k
    u_k ≥ ū_k, IC_kj u_k − u_j ≥ v(θ_k, β_j) − v(θ_j, β_j) and 0 ≤ β ≤ 1.  The constraints whose
    slack at the solver's menu is within a tolerance are held as equalities and the optimality
    conditions solved by :func:`ital_opt.kkt.newton_kkt`; several tolerances are tried.  A
    candidate is kept when the certificates (:mod:`.checks`) pass to 1e-12, it is a
    Karush–Kuhn–Tucker point (non-negative multipliers, :func:`ital_opt.kkt.stationarity`), it lies
    within 1e-3 of the solver's menu and its payoff is not below the solver's by more than the
    solver's own infeasibility could have bought (10·(1 + Σλ)·its largest violation) plus 1e-9.
    The first kept one is returned: a feasible KKT point next to the solver's local optimum.
    """
    from ..kkt import polish_active_set

    n, p, theta, outside = problem.n, problem.prob, problem.theta, problem.outside
    share, utility = np.asarray(share, float), np.asarray(utility, float)
    if n < 1 or not (np.all(np.isfinite(share)) and np.all(np.isfinite(utility))):
        return None
    v1, v2, s1, s2 = _share_derivatives(problem)
    k_idx, j_idx = np.nonzero(~np.eye(n, dtype=bool))
    rows = np.arange(n)

    def value(z):
        b, u = z[:n], z[n:]
        return float(p @ (problem.alliance_gross(theta, b) + problem.agent_value(theta, b) - u))

    def slack(z):
        b, u = z[:n], z[n:]
        ic = u[k_idx] - u[j_idx] - problem.agent_value(theta[k_idx], b[j_idx]) + problem.agent_value(theta[j_idx], b[j_idx])
        return np.concatenate([u - outside, ic, b, 1.0 - b])

    def jac_all(z):
        b = z[:n]
        J = np.zeros((n + k_idx.size + 2 * n, 2 * n))
        J[rows, n + rows] = 1.0
        r_ic = n + np.arange(k_idx.size)
        J[r_ic, n + k_idx] += 1.0
        J[r_ic, n + j_idx] -= 1.0
        J[r_ic, j_idx] += -v1(theta[k_idx], b[j_idx]) + v1(theta[j_idx], b[j_idx])
        base = n + k_idx.size
        J[base + rows, rows] = 1.0
        J[base + n + rows, rows] = -1.0
        return J

    def gradient(z):
        return np.concatenate([p * s1(theta, z[:n]), -p])

    def hessian(z):
        H = np.zeros((2 * n, 2 * n))
        H[rows, rows] = p * s2(theta, z[:n])
        return H

    def system(act):
        ic_act = act[(act >= n) & (act < n + k_idx.size)] - n

        def curvature(z, lam):
            b = z[:n]
            w = np.zeros(2 * n)
            weights = lam[np.isin(act, ic_act + n)]
            jj = j_idx[ic_act]
            np.add.at(w, jj, weights * (-v2(theta[k_idx[ic_act]], b[jj]) + v2(theta[jj], b[jj])))
            return np.diag(w)

        return lambda z: slack(z)[act], lambda z: jac_all(z)[act], curvature

    def project(z):
        z[:n] = np.clip(z[:n], 0.0, 1.0)
        return z

    def violation(z):
        return max(problem.check(problem.menu_result(z[:n], z[n:], method="polish")).values())

    z = polish_active_set(np.concatenate([share, utility]), slack, value, gradient, hessian, system, violation, project)
    return None if z is None else (z[:n], z[n:])


def _indirect(problem, agent: bool):
    """Type k's v(θ_k, q) − r q² (``agent``) or (1 − q)·y(θ_k, e*) as a pyomo expression of (k, q)."""
    from ..expr import parse

    if problem.is_len:
        expr = parse("(a**2/(2*K) - r)*q**2" if agent else "a**2/K*q*(1 - q)", {"a", "q", "r", "K"})
        return lambda k, q: expr.pyomo(a=float(problem.cap[k]), q=q, K=problem.K, r=problem.r)
    expr = parse(problem.tech.agent_text if agent else problem.tech.alliance_text, {"theta", "q"})
    if agent:
        return lambda k, q: expr.pyomo(theta=float(problem.theta[k]), q=q) - problem.r * q**2
    return lambda k, q: expr.pyomo(theta=float(problem.theta[k]), q=q)


FORMULATIONS = (CvxpyDirect(), ScreeningReduction(), PyomoDirect())
