"""Chapter 3: the alliance's admission menu against adverse selection (BOOK.md §2).

An applicant of private capability θ_k (prior p_k) chooses a contract (β_k, t_k) from the menu:
β ∈ [0, 1] its share of output π = θ·e + ε (ε ~ N(0, σ²)), t a fixed transfer to it (t < 0: an
admission fee). It works e* = βθ/c and gets the certainty equivalent U_kj = t_j + β_j²(φ_k − r),
φ_k = θ_k²/(2c), r = ρσ²/2. The alliance maximises Σ_k p_k [S_k(β_k) − u_k],
S_k(β) = 2φ_kβ − (φ_k + r)β², subject to IR_k (u_k ≥ ū_k) and all-pairs IC.

Methods (``Admission.methods``), all compared by ``ital-opt verify``:

* ``closed-form``: first best; K types with IR_1 and local downward IC binding (ironed by pool
  adjacent violators when the shares are not monotone; declines when some IR_k fails); two types
  with type-dependent outside options: regimes I–IV (see :mod:`.closed_form`).
* ``cvxpy-direct``: the book's convex form in x = β² (all-pairs IC, linear; S concave), CLARABEL.
* ``screening``: compiled to the general screening kind with agent (φ − r)q² and principal
  2φq(1 − q) (or the indirect utilities of a variant), its menu mapped back (share = q, transfer = t).
* ``pyomo-direct``: a nonlinear program in (β, t) with all-pairs IC for any output/cost (local).

Extension fields (no closed form unless they reduce to LEN): ``output`` (expression in theta, e,
default ``"theta*e"``, e.g. ``"theta**gamma*e"`` or ``"theta*sqrt(e)"``), ``cost`` (expression in
e, c, default ``"c*e**2/2"``), and ``rho = 0`` (risk-neutral applicants).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from ..errors import MethodNotApplicable
from ..problem import Method, Problem, register
from ..result import Result
from . import closed_form as cf
from .technology import DEFAULT_COST, DEFAULT_OUTPUT, Technology

BIND_TOL = 1e-7
BATCH_FIELDS = {"theta", "prob", "c", "rho", "sigma2", "outside"}


@register
class Admission(Problem):
    """The Chapter 3 admission menu; fields theta, prob, c, rho, sigma2, outside [, output, cost]."""

    kind = "admission"
    compare = ("share", "transfer", "agent_utility")

    # -- fields ---------------------------------------------------------------------------------
    def _read(self, r) -> None:
        self.theta = r.vector("theta", positive=True, increasing=True)
        n = self.theta.size
        self.prob = r.probabilities("prob", n)
        self.c = r.number("c", positive=True)
        self.rho = r.number("rho", nonneg=True)
        self.sigma2 = r.number("sigma2", nonneg=True)
        self.outside = r.vector("outside", n, 0.0, broadcast=True)
        if np.ndim(self.outside) == 0:
            self.outside = np.full(n, float(self.outside))
        self.output = r.expression("output", {"theta", "e"}, DEFAULT_OUTPUT)
        self.cost = r.expression("cost", {"e", "c"}, DEFAULT_COST)
        self.r = self.rho * self.sigma2 / 2.0
        self.tech = Technology(self.output, self.cost, self.c)
        self.cap = self.tech.capability(self.theta)
        if self.cap is None and self.tech.effort_sympy is None:
            raise r.error("cost" if r.has("cost") else "output",
                          "cannot solve the applicant's effort choice β·∂y/∂e = C'(e) for a unique "
                          "positive effort; give an output concave and a cost convex in e"
                          + (f" ({'; '.join(self.tech.notes)})" if self.tech.notes else ""))
        if self.cap is not None:
            self.K = self.c if self.tech.is_default else self.tech.len_form[1]
            self.phi = self.cap**2 / (2.0 * self.K)
        else:
            self.K = None
            self.phi = None

    @property
    def n(self) -> int:
        return self.theta.size

    @property
    def is_len(self) -> bool:
        """Linear output, quadratic cost and capability increasing in θ: the closed forms' world."""
        return self.phi is not None and bool(np.all(self.cap > 0)) and bool(np.all(np.diff(self.phi) > 0))

    # -- methods ----------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        return [
            Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True),
            Method("cvxpy-direct", _run_cvxpy_direct, _len_applies),
            Method("screening", _run_screening, _screening_applies),
            Method("pyomo-direct", _run_pyomo_direct),
        ]

    # -- hooks --------------------------------------------------------------------------------------
    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The LEN closed forms (:func:`.closed_form.menu_batch`) at every sweep point at once.

        Covers the default technology (output θ·e, cost c·e²/2) with any of theta, prob, c, rho,
        sigma2, outside varied; two types in every regime, K types where the relaxed second best
        is monotone and meets every IR_k (the other points are solved one by one)."""
        from ..sweep.tidy import batch_records, field_values, varies_only

        spec = self.spec
        if not varies_only(points, BATCH_FIELDS):
            return None
        if (spec.get("output", DEFAULT_OUTPUT).replace(" ", "") != DEFAULT_OUTPUT
                or spec.get("cost", DEFAULT_COST).replace(" ", "") != DEFAULT_COST):
            return None
        K = self.n
        theta = field_values(spec, points, "theta", K)
        prob = field_values(spec, points, "prob", K)
        outside = field_values(spec, points, "outside", K, 0.0)
        c, rho, sigma2 = (field_values(spec, points, name, None) for name in ("c", "rho", "sigma2"))
        if any(x is None for x in (theta, prob, outside, c, rho, sigma2)):
            return None
        ok, objective, rows, extras = cf.menu_batch(theta, prob, c, rho, sigma2, outside)
        return batch_records(points, objective, rows, extras=extras, keep=ok)

    def figures(self, result: Result | None = None) -> list[tuple[str, object]]:
        """The book's comparative-statics figures of this problem (:mod:`.figures`)."""
        from . import figures

        return figures.figures(self, result)

    def sweep_figures(self, table: pd.DataFrame, varied) -> list[tuple[str, object]]:
        from . import figures

        return figures.sweep_figures(self, table, list(varied))

    # -- economics from the returned numbers ------------------------------------------------------
    def agent_value(self, theta, share):
        """v(θ, β) − rβ²: the applicant's utility from the share, before the transfer."""
        theta = np.asarray(theta, float)
        share = np.asarray(share, float)
        if self.is_len:
            phi = self._phi_of(theta)
            return share**2 * (phi - self.r)
        return self.tech.value(theta, share) - self.r * share**2

    def _phi_of(self, theta):
        a = self.tech.capability(theta)
        return a**2 / (2.0 * self.K)

    def effort(self, theta, share):
        if self.is_len:
            return share * self.tech.capability(theta) / self.K
        return self.tech.effort(theta, share)

    def alliance_gross(self, theta, share):
        """The alliance's expected payoff from a type before the transfer: (1 − β)·y(θ, e*)."""
        if self.is_len:
            phi = self._phi_of(theta)
            return 2.0 * phi * share * (1.0 - share)
        return self.tech.kept(theta, share)

    def first_best(self) -> np.ndarray:
        if self.is_len:
            return cf.first_best(self.phi, self.r)
        from scipy.optimize import minimize_scalar

        out = []
        for th in self.theta:
            def neg(b, th=th):
                return -float(self.agent_value(th, b) + self.alliance_gross(th, b))
            grid = np.linspace(0.0, 1.0, 201)
            vals = [neg(b) for b in grid]
            i = int(np.argmin(vals))
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, 200)]
            res = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
            out.append(res.x if res.fun <= vals[i] else grid[i])
        return np.array(out)

    def regime(self) -> str | None:
        if self.n != 2 or not self.is_len:
            return None
        return cf.two_type(self.prob, self.phi, self.r, self.outside).regime

    def menu_result(self, share, utility, *, method, status="optimal", binding=None, extras=None,
                    local=False, message="") -> Result:
        """A Result from a menu (β_k, u_k): rows, objective and the top-level fields."""
        share = np.asarray(share, float)
        utility = np.asarray(utility, float)
        transfer = utility - self.agent_value(self.theta, share)
        payoff = self.alliance_gross(self.theta, share) - transfer
        rows = pd.DataFrame(
            {
                "theta": self.theta,
                "prob": self.prob,
                "share": share,
                "transfer": transfer,
                "effort": self.effort(self.theta, share),
                "agent_utility": utility,
                "rent": utility - self.outside,
                "first_best_share": self.first_best(),
                "alliance_payoff": payoff,
            }
        )
        more = {}
        reg = self.regime()
        if reg is not None:
            more["regime"] = reg
        if binding is None:
            binding = self.binding_from(share, utility)
        more.update(extras or {})
        return Result(
            kind=self.kind,
            status=status,
            method=method,
            objective=float(np.dot(self.prob, payoff)),
            rows=rows,
            extras=more,
            binding=list(binding),
            local=local,
            message=message,
        )

    def _names(self):
        if self.n == 2:
            return ["L", "H"]
        return [str(k + 1) for k in range(self.n)]

    def _utility_matrix(self, share, transfer):
        """U[k, j]: type k's utility from contract j."""
        theta = self.theta[:, None]
        return transfer[None, :] + self.agent_value(theta, share[None, :])

    def binding_from(self, share, utility, tol=BIND_TOL) -> list[str]:
        """The IR and IC constraints that hold with equality (within tol) in a menu."""
        share = np.asarray(share, float)
        utility = np.asarray(utility, float)
        transfer = utility - self.agent_value(self.theta, share)
        U = self._utility_matrix(share, transfer)
        names = self._names()
        sep = "" if self.n == 2 else ","
        out = [f"IR_{names[k]}" for k in range(self.n) if utility[k] - self.outside[k] <= tol * (1 + abs(utility[k]))]
        for k in range(self.n):
            for j in range(self.n):
                if j != k and U[k, k] - U[k, j] <= tol * (1 + abs(U[k, k])):
                    out.append(f"IC_{names[k]}{sep}{names[j]}")
        return out

    def check(self, result: Result) -> dict[str, float]:
        rows = result.rows
        share = rows["share"].to_numpy(float)
        transfer = rows["transfer"].to_numpy(float)
        utility = rows["agent_utility"].to_numpy(float)
        U = self._utility_matrix(share, transfer)
        own = np.diag(U)
        ic = float(np.max(np.maximum(U - own[:, None], 0.0))) if self.n > 1 else 0.0
        ir = float(np.max(np.maximum(self.outside - own, 0.0)))
        bounds = float(np.max(np.maximum(np.maximum(-share, share - 1.0), 0.0)))
        payoff = self.alliance_gross(self.theta, share) - transfer
        return {
            "max_ic_violation": ic,
            "max_ir_violation": ir,
            "max_share_bound_violation": bounds,
            "utility_mismatch": float(np.max(np.abs(own - utility))),
            "objective_mismatch": abs(float(np.dot(self.prob, payoff)) - float(result.objective)),
        }


# -- closed form -----------------------------------------------------------------------------------
def _closed_form_applies(problem: Admission) -> str | None:
    if not problem.is_len:
        return ("output must be linear in e with capability increasing in theta and the cost quadratic "
                "in e (the LEN model of BOOK.md §2)")
    if problem.n == 2:
        return None
    menu = cf.second_best(problem.prob, problem.phi, problem.r, problem.outside)
    if menu is None:
        return ("with more than two types the closed form needs IR_1 and the local downward IC to bind; "
                "here the outside options rise too fast with capability (some IR_k fails)")
    return None


def _run_closed_form(problem: Admission, **options) -> Result:
    reason = _closed_form_applies(problem)
    if reason:
        raise MethodNotApplicable("closed-form", reason)
    names = problem._names()
    if problem.n == 2:
        menu = cf.two_type(problem.prob, problem.phi, problem.r, problem.outside)
        extras = {"ironed": False}
    else:
        menu = cf.second_best(problem.prob, problem.phi, problem.r, problem.outside)
        extras = {"ironed": menu.ironed}
        if menu.ironed:
            extras["pools"] = [[names[k] for k in g] for g in menu.pools if len(g) > 1]
        binding = ["IR_1"] + [f"IC_{k + 2},{k + 1}" for k in range(problem.n - 1)]
        menu.binding = binding
    return problem.menu_result(menu.share, menu.utility, method="closed-form", binding=menu.binding,
                               extras=extras)


def _len_applies(problem: Admission) -> str | None:
    if not problem.is_len:
        return "the convex form in x = β² needs the LEN model (linear output, quadratic cost)"
    return None


# -- cvxpy: the convex form in x = β² ---------------------------------------------------------------
def _solve_cvxpy(prob, solver=None):
    try:
        from ..backends import solve_cvxpy
    except ImportError:  # pragma: no cover - before the lead's backends module exists
        solve_cvxpy = None
    if solve_cvxpy is not None:
        return solve_cvxpy(prob, solver=solver)
    import cvxpy as cp

    prob.solve(solver=solver or cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    status = "optimal" if prob.status == cp.OPTIMAL else "not_solved"
    return status, f"cvxpy/{solver or 'CLARABEL'}"


def _run_cvxpy_direct(problem: Admission, solver=None, polish_kkt=True, **options) -> Result:
    import cvxpy as cp

    reason = _len_applies(problem)
    if reason:
        raise MethodNotApplicable("cvxpy-direct", reason)
    n, phi, r, p = problem.n, problem.phi, problem.r, problem.prob
    z = cp.Variable(2 * n, name="x_u")  # x = β² (first n), u (last n)
    x, u = z[:n], z[n:]
    surplus = cp.multiply(2.0 * phi, cp.sqrt(x)) - cp.multiply(phi + r, x)
    constraints = [x >= 0, x <= 1, u >= problem.outside]
    if n > 1:
        import scipy.sparse as sps

        A, _ = _convex_constraints(problem)
        ic = sps.csr_matrix(A[: n * (n - 1)])  # all-pairs IC: u_k − u_j − (φ_k − φ_j) x_j >= 0
        constraints.append(ic @ z >= 0)
    prob = cp.Problem(cp.Maximize(p @ (surplus - u)), constraints)
    status, name = _solve_cvxpy(prob, solver)
    if status != "optimal":
        return Result(kind=problem.kind, status=status, method=name, message=f"cvxpy status {prob.status}")
    xs, us = np.asarray(x.value, float), np.asarray(u.value, float)
    if polish_kkt:
        xs, us = polish(problem, xs, us)
    share = np.sqrt(np.clip(xs, 0.0, 1.0))
    return problem.menu_result(share, us, method=name)


def _convex_constraints(problem: Admission):
    """Rows (A, b) of A·[x; u] >= b: all-pairs IC, IR, x <= 1, x >= 0."""
    n, phi = problem.n, problem.phi
    rows, rhs = [], []
    for k in range(n):
        for j in range(n):
            if j != k:
                a = np.zeros(2 * n)
                a[n + k], a[n + j], a[j] = 1.0, -1.0, -(phi[k] - phi[j])
                rows.append(a)
                rhs.append(0.0)
    for k in range(n):
        a = np.zeros(2 * n)
        a[n + k] = 1.0
        rows.append(a)
        rhs.append(problem.outside[k])
        a = np.zeros(2 * n)
        a[k] = -1.0
        rows.append(a)
        rhs.append(-1.0)
        a = np.zeros(2 * n)
        a[k] = 1.0
        rows.append(a)
        rhs.append(0.0)
    return np.array(rows), np.array(rhs)


def polish(problem: Admission, x, u, active_tol=1e-7, iters=12):
    """Newton steps on the KKT system of the convex form with the solver's active set.

    Interior-point answers of the sqrt-cone form are accurate to ~1e-6 in β; the optimum is the
    maximiser of the strictly concave objective on the face where the active constraints hold
    with equality, which Newton's method finds to machine precision. The polished point is kept
    only if it is feasible and not worse; otherwise the solver's point is returned.
    """
    n, phi, r, p = problem.n, problem.phi, problem.r, problem.prob
    if np.any(x < 1e-8):
        return x, u
    A, b = _convex_constraints(problem)
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
    act = (slack <= active_tol * (1 + np.abs(b))) & local
    Aa, ba = A[act], b[act]
    z = z0.copy()
    m = Aa.shape[0]
    for _ in range(iters):
        xx = z[:n]
        if np.any(xx <= 0):
            return x, u
        grad = np.concatenate([p * (phi / np.sqrt(xx) - (phi + r)), -p])
        hess = np.zeros((2 * n, 2 * n))
        hess[np.arange(n), np.arange(n)] = -p * phi / (2 * xx**1.5)
        kkt = np.block([[hess, Aa.T], [Aa, np.zeros((m, m))]])
        rhs = np.concatenate([-grad, ba - Aa @ z])
        step = np.linalg.lstsq(kkt, rhs, rcond=None)[0][: 2 * n]
        z = z + step
        if np.max(np.abs(step)) < 1e-13 * (1.0 + np.max(np.abs(z))):
            break
    viol = np.max(np.maximum(b - A @ z, 0.0))
    worse = objective(z) < objective(z0) - 1e-9 * (1 + abs(objective(z0)))
    if not np.all(np.isfinite(z)) or viol > 1e-9 or worse or np.max(np.abs(z - z0)) > 1e-3:
        return x, u
    return z[:n], z[n:]


# -- the general screening engine -----------------------------------------------------------------
def screening_spec(problem: Admission) -> dict:
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


def _screening_applies(problem: Admission) -> str | None:
    if importlib.util.find_spec("ital_opt.screening.model") is None:
        return "the general screening kind (ital_opt.screening) is not installed"
    return None


def _run_screening(problem: Admission, method="auto", **options) -> Result:
    from ..spec import load

    screening = load(screening_spec(problem), source=f"{problem.source} (as screening)")
    res = screening.solve(method=method, **options)
    name = f"screening/{res.method}"
    if res.status != "optimal" or not len(res.rows):
        return Result(kind=problem.kind, status=res.status, method=name, message=res.message)
    rows = res.rows
    share = np.asarray(rows["q"].tolist(), float).reshape(-1)
    transfer = np.asarray(rows["t"].tolist(), float).reshape(-1)
    utility = transfer + problem.agent_value(problem.theta, share)
    if problem.is_len and not res.get("local", False):
        # interior-point answers of the sqrt-cone form are accurate to ~1e-6 in the share: refine
        # them by Newton steps on the KKT system of the convex form (kept only if feasible, not worse)
        xs, us = polish(problem, share**2, utility)
        if not np.array_equal(xs, share**2):
            share, utility, name = np.sqrt(np.clip(xs, 0.0, 1.0)), us, name + "+polish"
    return problem.menu_result(share, utility, method=name, local=bool(res.get("local", False)),
                               message=res.get("message", ""))


# -- pyomo: nonlinear program in (β, t) for any technology -----------------------------------------
def _run_pyomo_direct(problem: Admission, multistart: int = 3, **options) -> Result:
    import pyomo.environ as pyo

    from ..backends import solve_pyomo
    from ..expr import parse

    n = problem.n
    if problem.is_len:
        agent = parse("(a**2/(2*K) - r)*q**2", {"a", "q", "r", "K"})
        keep = parse("a**2/K*q*(1 - q)", {"a", "q", "K"})
        cap = problem.cap

        def v(k, q):
            return agent.pyomo(a=float(cap[k]), q=q, r=problem.r, K=problem.K)

        def g(k, q):
            return keep.pyomo(a=float(cap[k]), q=q, K=problem.K)
    else:
        agent = parse(problem.tech.agent_text, {"theta", "q"})
        keep = parse(problem.tech.alliance_text, {"theta", "q"})

        def v(k, q):
            return agent.pyomo(theta=float(problem.theta[k]), q=q) - problem.r * q**2

        def g(k, q):
            return keep.pyomo(theta=float(problem.theta[k]), q=q)

    best = None
    starts = [problem.first_best()]
    rng = np.random.default_rng(0)
    for _ in range(max(multistart - 1, 0)):
        starts.append(np.sort(rng.uniform(0.05, 1.0, n)))
    for start in starts:
        m = pyo.ConcreteModel()
        m.K = pyo.RangeSet(0, n - 1)
        m.beta = pyo.Var(m.K, bounds=(1e-9, 1.0), initialize=lambda m, k: float(start[k]))
        m.t = pyo.Var(m.K, initialize=0.0)
        m.obj = pyo.Objective(expr=sum(float(problem.prob[k]) * (g(k, m.beta[k]) - m.t[k]) for k in m.K),
                              sense=pyo.maximize)
        m.ir = pyo.Constraint(m.K, rule=lambda m, k: m.t[k] + v(k, m.beta[k]) >= float(problem.outside[k]))
        m.ic = pyo.Constraint(
            m.K, m.K,
            rule=lambda m, k, j: pyo.Constraint.Skip if j == k
            else m.t[k] + v(k, m.beta[k]) >= m.t[j] + v(k, m.beta[j]))
        status, name, local = solve_pyomo(m, solver="nlp")
        if status != "optimal":
            continue
        share = np.array([pyo.value(m.beta[k]) for k in m.K])
        share = np.where(share <= 1e-8, 0.0, share)
        transfer = np.array([pyo.value(m.t[k]) for k in m.K])
        utility = transfer + problem.agent_value(problem.theta, share)
        res = problem.menu_result(share, utility, method=name, local=local,
                                  message="local optimum of a nonlinear program (multistart)" if local else "")
        if best is None or res.objective > best.objective:
            best = res
    if best is None:
        return Result(kind=problem.kind, status="not_solved", method="pyomo", message="the NLP solver failed")
    return best
