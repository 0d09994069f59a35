"""The sharing stage of the team (docs/theory/team.md, stage 1): choosing β given the effort stage.

With LEN forms each CE_i is a quadratic in β (A_i = a_i²/c_i + g_i²/d_i with knowledge inputs,
see :mod:`closed_form`).  Writing m = Mβ + m0 (budget balance:
M = (1 − ω)I, m0 = ω1; budget breaker: M = (1 − ω)I + ω11ᵀ, m0 = 0) and g = MᵀA,
E[π] = gᵀβ + Aᵀm0, so
    CE_i(β) = ½ βᵀH_iβ + h_iᵀβ + k_i + α_i,
    H_i = e_i gᵀ + g e_iᵀ − A_i M_iᵀM_i − R_i e_i e_iᵀ,  h_i = (Aᵀm0) e_i − A_i m0_i M_iᵀ,
    k_i = −A_i m0_i²/2.
Under budget balance β = e_n + Zy with Z = [I; −1ᵀ] parametrises Σβ = 1, and concavity is
judged on y (ZᵀH Z negative semidefinite).

* ``welfare``: maximise TW(β) = Σ_j [A_j(m_j − m_j²/2) − R_jβ_j²/2] — always a concave QP
  (cvxpy/CLARABEL); the water-filling closed form is in :mod:`closed_form`.
* ``weighted`` (reading B): maximise Σλ_i CE_i.  Concave for n = 2 and often otherwise; cvxpy
  is used when ZᵀH_λZ ⪯ 0, else only the local pyomo multistart applies.
* ``bargaining``: maximise Σλ_i log(CE_i − d_i) (asymmetric Nash); a DCP problem when every
  ZᵀH_iZ ⪯ 0.
* Outside levels (IR, CE_i ≥ u_i with α fixed; :func:`ir_constraints`).  CE_i is seldom concave
  in β (β_i E[π] is bilinear), but with v_i = u_i − α_i > 0 the level forces β_i > 0, and
  dividing by β_i gives the equivalent convex constraint (a perspective)
      E[π] − A_i m_i²/(2β_i) − R_iβ_i/2 − v_i/β_i ≥ 0,
  E[π] and m_i affine in β, m²/β and 1/β convex on β > 0 (Boyd & Vandenberghe 2004, §3.2.6):
  the shares meeting the level form a convex set.  With v_i ≤ 0 the quadratic form
  ½yᵀP_iy + q_iᵀy + r_i ≥ v_i is used where it is concave; a level neither form makes convex is
  left out of the convex program, which is then a relaxation: its answer stands when it meets
  that level too, and its infeasibility proves the levels infeasible.  The pyomo model carries
  every CE_i ≥ u_i; with a concave objective and convex level sets its KKT points are global.
* General production/cost forms: :func:`solve_pyomo` — efforts and their KKT conditions
  (equilibrium.add_effort_stage) as constraints, the sharing objective on top; a local NLP run
  from several starting points, reporting the best and the number of distinct local optima.
"""

from __future__ import annotations

import numpy as np

from . import closed_form, equilibrium

EIG_TOL = 1e-10
# the members' certainty equivalents as quadratics in the shares (ce_quadratics) hold n³ numbers:
# 216 MB at 300 members, 64 GB at 2,000; larger teams are not written in these forms
QUADRATIC_MAX_MEMBERS = 300
SNAP = 1e-6  # shares below this are treated as zero by the pyomo polish
SOLVER_OPTIONS = {"tol": 1e-10, "bound_relax_factor": 0.0, "constr_viol_tol": 1e-12}
# With knowledge inputs the KKT model has a second block of stationarity conditions, and ripopt's
# default (monotone) barrier update stalled from the LEN starting point on 5 of 120 random
# corner-share teams ("search direction becomes too small", reported as converged, far from
# optimal), where the adaptive update solved all 120 — but failed on a binding knowledge bound
# that the default solves.  So knowledge teams run both from each starting point: the better
# answer is kept when shares are optimised, the first that converges when they are given.
KNOWLEDGE_STRATEGIES = (SOLVER_OPTIONS, {**SOLVER_OPTIONS, "mu_strategy": "adaptive"})


# -- quadratic form of the certainty equivalents (LEN) ---------------------------------------------
def ce_quadratics(team):
    """(H, h, k): CE_i(β) = ½βᵀH[i]β + h[i]ᵀβ + k[i] + α_i."""
    n = team.n
    A, R = closed_form.shorthands(**team.primitives)
    w = team.omega
    if team.budget_breaker:
        M, m0 = (1 - w) * np.eye(n) + w * np.ones((n, n)), np.zeros(n)
    else:
        M, m0 = (1 - w) * np.eye(n), np.full(n, w)
    g = M.T @ A
    g0 = A @ m0
    eye = np.eye(n)
    H = (
        eye[:, :, None] * g[None, None, :]
        + g[None, :, None] * eye[:, None, :]
        - A[:, None, None] * M[:, :, None] * M[:, None, :]
        - R[:, None, None] * eye[:, :, None] * eye[:, None, :]
    )
    h = g0 * eye - (A * m0)[:, None] * M
    k = -A * m0**2 / 2
    return H, h, k


def affine_map(team):
    """(β0, Z): β = β0 + Z y covers the feasible share plane (Σβ = 1, or all of Rⁿ with a breaker)."""
    n = team.n
    if team.budget_breaker:
        return np.zeros(n), np.eye(n)
    beta0 = np.zeros(n)
    beta0[-1] = 1.0
    return beta0, np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])


def reduced(H, h, k, beta0, Z):
    """The quadratic in y: ½yᵀPy + qᵀy + r with P = ZᵀHZ."""
    P = Z.T @ H @ Z
    q = Z.T @ (H @ beta0 + h)
    r = 0.5 * beta0 @ H @ beta0 + h @ beta0 + k
    return (P + P.T) / 2, q, r


def concavity_gap(P) -> float:
    """Largest eigenvalue of P relative to its scale (≤ 0 means concave)."""
    if P.size == 0:
        return 0.0
    eig = np.linalg.eigvalsh(P)
    return float(eig[-1] / max(1.0, np.abs(eig).max()))


def member_forms(team, shift=0.0):
    """(β0, Z, forms): each member's CE_i − α_i + shift_i on the share plane β = β0 + Zy as the
    quadratic (P_i, q_i, r_i) of :func:`reduced`."""
    H, h, k = ce_quadratics(team)
    beta0, Z = affine_map(team)
    k = k + shift
    return beta0, Z, [reduced(H[i], h[i], k[i], beta0, Z) for i in range(team.n)]


def weighted_hessian(team, weights):
    H, h, k = ce_quadratics(team)
    beta0, Z = affine_map(team)
    return reduced(np.tensordot(weights, H, 1), weights @ h, weights @ k, beta0, Z)


def nonconcave_members(team) -> list[int]:
    """Members whose CE is not concave on the share plane (blocks the DCP bargaining form)."""
    return [i for i, (P, _, _) in enumerate(member_forms(team)[2]) if concavity_gap(P) > EIG_TOL]


def nonconvex_levels(team) -> list[int]:
    """Members whose outside level is not a convex constraint on the shares (LEN forms): a net
    level u_i − α_i ≤ 0 and a CE that is not concave in the shares."""
    if team.outside is None or team.fixed_shares:
        return []
    # beyond QUADRATIC_MAX_MEMBERS concavity is not tested: such a level is not known to be convex
    tested = nonconcave_members(team) if team.n <= QUADRATIC_MAX_MEMBERS else range(team.n)
    return [i for i in tested if team.outside[i] - team.alpha[i] <= 0]


def ir_constraints(team, shares):
    """The cvxpy constraints CE_i ≥ u_i: the perspective form where u_i − α_i > 0, else the
    quadratic form where it is concave (module docstring), the levels of :func:`nonconvex_levels`
    left out; `shares` is the cvxpy expression of β."""
    import cvxpy as cp

    if team.outside is None:
        return []
    A, R = closed_form.shorthands(**team.primitives)
    _, _, forms = member_forms(team)
    y = shares if team.budget_breaker else shares[:-1]  # β = β0 + Zy on the share plane
    w = team.omega
    total = cp.sum(shares) if team.budget_breaker else 1.0
    m = (1 - w) * shares + w * total
    output = A @ m
    constraints, skipped = [], nonconvex_levels(team)
    for i, (P, q, r) in enumerate(forms):
        v = float(team.outside[i] - team.alpha[i])
        if v > 0:
            constraints.append(output - A[i] / 2 * cp.quad_over_lin(m[i], shares[i]) - R[i] / 2 * shares[i]
                               - v * cp.inv_pos(shares[i]) >= 0)
        elif i not in skipped:
            constraints.append(_concave_quadratic(P, q, r, y) >= v)
    return constraints


# -- cvxpy formulations (LEN) ----------------------------------------------------------------------
def welfare_cvxpy(team):
    """The welfare QP; returns (cvxpy problem, β variable)."""
    import cvxpy as cp

    A, R = closed_form.shorthands(**team.primitives)
    beta = cp.Variable(team.n, nonneg=True)
    w = team.omega
    total = cp.sum(beta)
    if team.budget_breaker:
        m = (1 - w) * beta + w * total
        welfare = A @ m - 0.5 * cp.sum(cp.multiply(A, cp.square(m))) - 0.5 * cp.sum(cp.multiply(R, cp.square(beta)))
        return cp.Problem(cp.Maximize(welfare), [total <= 1]), beta
    # m = ω + (1 − ω)β: TW = Σ A_j(1 − ω²)/2 + Σ kA_j β_j − ½ Σ D_j β_j², k = (1 − ω)², D = kA + R
    k = (1 - w) ** 2
    const = float(np.sum(A) * (1 - w * w) / 2)
    welfare = (k * A) @ beta - 0.5 * cp.sum_squares(cp.multiply(np.sqrt(k * A + R), beta)) + const
    return cp.Problem(cp.Maximize(welfare), [total == 1]), beta


def _concave_quadratic(P, q, r, y):
    """½yᵀPy + qᵀy + r as a concave cvxpy expression, ½yᵀPy = −½‖Ly‖² for a negative semidefinite P
    (tiny positive eigenvalues clipped)."""
    import cvxpy as cp

    eig, V = np.linalg.eigh(-P)
    L = (np.sqrt(np.clip(eig, 0, None)) * V).T
    return cp.sum(-0.5 * cp.sum_squares(L @ y) + q @ y + r)


def _share_plane(team):
    """(y, β, constraints): the cvxpy variable y of the share plane, β = β0 + Zy, β ≥ 0 (and Σβ ≤ 1)."""
    import cvxpy as cp

    beta0, Z = affine_map(team)
    y = cp.Variable(Z.shape[1])
    beta = beta0 + Z @ y
    return y, beta, [beta >= 0] + ([cp.sum(beta) <= 1] if team.budget_breaker else [])


def weighted_cvxpy(team):
    """Σλ_i CE_i as a concave QP over y (caller checks concavity)."""
    import cvxpy as cp

    P, q, r = weighted_hessian(team, team.lam)
    y, beta, cons = _share_plane(team)
    return cp.Problem(cp.Maximize(_concave_quadratic(P, q, r + team.lam @ team.alpha, y)), cons), beta


def bargaining_cvxpy(team):
    """Σλ_i log(CE_i − d_i) with each CE_i a concave quadratic in y (caller checks)."""
    import cvxpy as cp

    y, beta, cons = _share_plane(team)
    terms = [lam * cp.log(_concave_quadratic(P, q, r, y))
             for lam, (P, q, r) in zip(team.lam, member_forms(team, team.alpha - team.disagreement)[2], strict=True)]
    return cp.Problem(cp.Maximize(cp.sum(cp.hstack(terms))), cons), beta


# -- pyomo (any forms) -----------------------------------------------------------------------------
def build_pyomo(team, objective: str):
    """Shares, efforts with their KKT conditions, and the sharing objective as a pyomo model."""
    import pyomo.environ as pyo

    n = team.n
    model = pyo.ConcreteModel()
    if team.mode == "given":
        model.beta = pyo.Param(range(n), initialize=dict(enumerate(map(float, team.beta))))
    else:
        model.beta = pyo.Var(range(n), bounds=(0, 1), initialize=1.0 / n)
        total = sum(model.beta[i] for i in range(n))
        model.budget = pyo.Constraint(expr=total <= 1 if team.budget_breaker else total == 1)
    total = sum(model.beta[i] for i in range(n)) if team.budget_breaker else 1.0
    w = team.omega
    inputs, f = equilibrium.add_effort_stage(model, team, lambda i: (1 - w) * model.beta[i] + w * total)
    risk = [float(team.rho[i] * team.sigma2) * model.beta[i] ** 2 / 2 for i in range(n)]
    cost = [sum(equilibrium.cost_pyomo(team, i, var[i], kind) for kind, var in inputs.items()) for i in range(n)]
    ce = [float(team.alpha[i]) + model.beta[i] * f - cost[i] - risk[i] for i in range(n)]
    if objective == "welfare" or team.mode == "given":
        obj = f - sum(cost) - sum(risk)
    elif objective == "weighted":
        obj = sum(float(team.lam[i]) * ce[i] for i in range(n))
    else:  # bargaining
        model.gap = pyo.Var(range(n), bounds=(1e-12, None), initialize=1.0)
        model.surplus = pyo.Constraint(range(n), rule=lambda m, i: m.gap[i] == ce[i] - float(team.disagreement[i]))
        obj = sum(float(team.lam[i]) * pyo.log(model.gap[i]) for i in range(n))
    if team.outside is not None and team.mode != "given":
        model.participation = pyo.Constraint(range(n), rule=lambda m, i: ce[i] >= float(team.outside[i]))
    model.objective = pyo.Objective(expr=obj, sense=pyo.maximize)
    return model


def starting_points(team, starts, seed=0):
    """Equal split, each member's corner-leaning point, then Dirichlet draws (`starts` in all, at
    least one; only the corners used are made, so a large team costs no n × n array)."""
    n, starts = team.n, max(1, starts)
    corners = np.full((min(n, starts - 1), n), 0.1 / max(n - 1, 1))
    np.fill_diagonal(corners, 0.9 if n > 1 else 1.0)
    points = [np.full(n, 1.0 / n), *corners]
    rng = np.random.default_rng(seed)
    points.extend(rng.dirichlet(np.ones(n), max(0, starts - len(points))))
    return points


def solution(model, team):
    """(β, e, k) of a solved model of :func:`build_pyomo` (k None without knowledge inputs), the
    solver's rounding below 0 clipped."""
    import pyomo.environ as pyo

    def values(var):
        return np.maximum(np.array([pyo.value(var[i]) for i in range(team.n)]), 0.0)

    return values(model.beta), values(model.e), values(model.k) if team.knowledge else None


def solve_pyomo(team, objective: str, starts: int = 1, seed: int = 0, verbose: bool = False, **solver_options):
    """Local NLP from `starts` starting points; returns (status, method, β, e, k, n_local_optima)
    (status ``infeasible`` when every start ended locally infeasible)
    (k is None for a team without knowledge inputs).  `solver_options` go to the NLP solver (over
    the defaults of each solving strategy)."""
    import pyomo.environ as pyo

    from ..backends import solve_pyomo as run

    model = build_pyomo(team, objective)
    kinds = equilibrium.inputs(team)
    strategies = [{**o, **solver_options} for o in (KNOWLEDGE_STRATEGIES if team.knowledge else (SOLVER_OPTIONS,))]
    best = None
    statuses: set[str] = set()
    optima: list[np.ndarray] = []
    method = "pyomo"
    points = [None] if team.mode == "given" else starting_points(team, starts, seed)
    for point, options in ((p, o) for p in points for o in strategies):
        if team.mode == "given" and best is not None:
            break
        for kind in kinds:  # LEN responses at the starting shares where output is linear, else 1
            x0 = np.ones(team.n)
            if point is not None and team.production is None:
                x0 = np.maximum(equilibrium.len_response(team, point, kind), 0.1)
            _set(getattr(model, kind.var), x0)
            for nu in getattr(model, "nu" + kind.suffix).values():
                nu.set_value(0.0)
        if point is not None:
            _set(model.beta, point)
        if objective == "bargaining" and team.mode != "given":
            _set(model.gap, np.ones(team.n))
        status, method, _ = run(model, verbose=verbose, **options)
        statuses.add(status)
        if status != "optimal":
            continue
        beta, e, k = solution(model, team)
        value = pyo.value(model.objective)
        if not any(np.max(np.abs(beta - o)) < 1e-5 for o in optima):
            optima.append(beta)
        if best is None or value > best[0] + 1e-12:
            best = (value, beta, e, k, options)
    if best is None:
        return ("infeasible" if statuses == {"infeasible"} else "not_solved"), method, None, None, None, 0
    value, beta, e, k, options = best
    corner = beta < SNAP
    if team.mode != "given" and corner.any() and not corner.all():
        # an interior-point solver leaves a zero share at about its barrier parameter; fix the
        # shares below SNAP at 0 and re-solve the rest from the best point (changes β by < SNAP)
        _set(model.beta, beta)
        _set(model.e, e)
        if k is not None:
            _set(model.k, k)
        for i in np.flatnonzero(corner):
            model.beta[int(i)].fix(0.0)
        status, method, _ = run(model, verbose=verbose, **options)
        # the first solve may sit outside the bounds by the solver's bound relaxation (~1e-8 per
        # share) and so look slightly better than any feasible point: allow for that
        if status == "optimal" and pyo.value(model.objective) >= value - 1e-6 * max(1.0, abs(value)):
            beta, e, k = solution(model, team)
        model.beta.unfix()
    return "optimal", method, beta, e, k, len(optima)


def _set(var, values):
    var.set_values(dict(enumerate(map(float, values))))


def polish_bargaining(team, beta, steps=20):
    """Newton steps on Σλ_i log(CE_i − d_i) from an interior conic solution.

    The Nash product is flat at its maximum, so a conic solver's small objective gap leaves β
    off by about its square root; where no share bound binds, Newton's method on the smooth
    reduced objective restores full accuracy.  Returns the polished β (or `beta` unchanged).
    """
    beta = np.asarray(beta, float)
    if np.any(beta <= 1e-7) or (team.budget_breaker and beta.sum() >= 1 - 1e-7):
        return beta
    beta0, Z, parts = member_forms(team, team.alpha - team.disagreement)
    y = np.linalg.lstsq(Z, beta - beta0, rcond=None)[0]
    for _ in range(steps):
        grad = np.zeros_like(y)
        hess = np.zeros((y.size, y.size))
        for lam, (P, q, r) in zip(team.lam, parts):
            s = 0.5 * y @ P @ y + q @ y + r
            d = P @ y + q
            grad += lam * d / s
            hess += lam * (P / s - np.outer(d, d) / s**2)
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            return beta
        y = y + step
        if np.max(np.abs(step)) < 1e-15:
            break
    polished = beta0 + Z @ y
    if np.any(polished < 0) or not np.all(np.isfinite(polished)):
        return beta
    return polished


def polish_shares(team, beta):
    """The exact welfare-maximising (``welfare``) or weighted-welfare (``weighted``) shares on the
    active set of a solver's `beta` (LEN teams), or None.

    The certainty equivalents are quadratics in the shares (:func:`ce_quadratics`), so the sharing
    program is max Σ w_i CE_i(β) subject to the budget (Σβ = 1, or Σβ ≤ 1 with a budget breaker),
    β ≥ 0 and the outside levels CE_i(β) ≥ u_i.  The constraints the solver's answer holds with
    (near) zero slack are held as equalities and Newton's method solves the optimality conditions
    (:func:`ital_opt.kkt.polish_active_set`), kept only when the certificates pass, the multipliers
    are non-negative and welfare is not lower.  Interior-point and NLP shares are accurate to about
    1e-10 where welfare is flat at its maximum; the polished ones to rounding.  Teams of more than
    :data:`QUADRATIC_MAX_MEMBERS` members are not polished (None).
    """
    from ..kkt import polish_active_set

    if beta is None or not team.is_len or team.mode not in ("welfare", "weighted") or team.fixed_shares:
        return None
    if team.n > QUADRATIC_MAX_MEMBERS:
        return None
    n = team.n
    beta = np.asarray(beta, float)
    H, h, k = ce_quadratics(team)
    H = (H + np.transpose(H, (0, 2, 1))) / 2
    w = np.ones(n) if team.mode == "welfare" else np.asarray(team.lam, float)
    Hw, hw = np.tensordot(w, H, 1), w @ h
    outside = np.full(n, -np.inf) if team.outside is None else np.asarray(team.outside, float)
    levels = np.flatnonzero(np.isfinite(outside))
    ones = np.ones(n)
    budget = [(-ones, 1.0)] if team.budget_breaker else [(-ones, 1.0), (ones, -1.0)]  # rows r·β + c ≥ 0
    nb = len(budget)

    def ce(b):
        return 0.5 * np.einsum("j,ijk,k->i", b, H, b) + h @ b + k + team.alpha

    def slack(b):
        return np.concatenate([[float(r @ b) + c for r, c in budget], b, ce(b)[levels] - outside[levels]])

    def rows(b):
        """The Jacobian of every constraint (budget, β ≥ 0, the outside levels)."""
        J_budget = np.vstack([r for r, _ in budget])
        J_levels = np.einsum("ijk,k->ij", H[levels], b) + h[levels]
        return np.vstack([J_budget, np.eye(n), J_levels])

    def system(act):
        lev = act[act >= nb + n] - nb - n

        def curvature(b, lam):
            weights = lam[act >= nb + n]
            return np.tensordot(weights, H[levels[lev]], 1) if lev.size else np.zeros((n, n))

        return (lambda b: slack(b)[act]), (lambda b: rows(b)[act]), curvature

    def violation(b):
        return max(team.check(team.result(b, None, "optimal", "polish")).values())

    return polish_active_set(beta, slack, lambda b: float(w @ ce(b)), lambda b: Hw @ b + hw, lambda b: Hw, system,
                             violation, lambda b: np.clip(b, 0.0, None))
