"""The leader's problem solved numerically: nested search, the single-level MPEC, and the ESS
linear program over an evolutionary game (:class:`EssLp`, described there).

**Nested** (``method="nested"``).  The follower is solved by its own best method at every point
the leader tries, so the lower level may be anything its kind solves (re-optimised sharing rules,
menus with exclusion, a duopoly).  The upper level can be discontinuous (formation, exclusion
thresholds, zero shares), so a local search alone is never trusted:

1. a global phase over the instruments' box — a grid in one dimension, Sobol points
   (``scipy.stats.qmc``), a grid or ``scipy.optimize.differential_evolution`` in more — seeded with
   the closed forms (the fixed-rule rates are good warm starts where the rule is re-optimised);
2. in one dimension, every change of the follower's regime between neighbouring grid points is
   located by bisection (the leader may want to sit exactly on it, e.g. the subsidy that just
   admits a type), and each regime's cell is searched by bounded Brent;
3. in more dimensions, the best points are refined by Nelder–Mead (bounded) and SLSQP, which
   takes the budget as a constraint.

A formation grant is profiled out exactly (see :class:`~ital_opt.policy.instruments.FormationGrant`).

**MPEC** (``method="mpec"``).  For a LEN team follower, one pyomo NLP in the instruments, the
shares and the efforts: the effort stage's first-order conditions ((1 − s_i)c_i e_i = y a_i m_i,
the members' problems being strictly concave) and the sharing stage's KKT conditions on the
simplex (∂TW/∂β_j − μ + ν_j = 0, ν_j ≥ 0, β_j ≥ 0, ν_jβ_j ≤ ε), the complementarity relaxed by ε
and tightened in steps (Scholtes 2001), then the piece it picked (β_j = 0 or ν_j = 0 for each j)
solved exactly as a smooth NLP.  The team's welfare is concave in β, so these conditions
characterise the follower's answer and the program is equivalent to the bilevel one; it is solved
by a local NLP solver (:func:`ital_opt.backends.solve_pyomo`) from the nested answer and from the
closed form, as a cross-check.

For an admission follower (Model B) with admission subsidies, the MPEC writes, for every admitted
set {k ≥ m}, the KKT conditions of that set's menu (the Chapter 3 convex program in x = β²,
docs/theory/admission.md) and the alliance's discrete choice of set as value constraints (its
payoff from the chosen set at least every other's); one program per chosen set, the best kept
(:func:`_build_admission`).
"""

from __future__ import annotations

import numpy as np

from ..problem import Formulation
from ..result import Result


def _warm_starts(p) -> list[np.ndarray]:
    """Closed-form rates (with the unsubsidised sharing rule) as starting points, clipped."""
    from . import closed_form as cf
    from .model import _NoClosedForm, _closed_form

    starts = []
    try:
        values, _, _ = _closed_form(p)
        starts.append(p.search_point(values))
    except _NoClosedForm:
        pass
    if p.follower.kind == "team" and p.dim:
        t = p.follower.problem
        m = cf.concern(p.follower.base_shares, t.omega)
        values = p.values(p.lo)
        for j, inst in enumerate(p.instruments):
            if inst.optimised and inst.type == "cost_subsidy":
                mode = inst.entry.get("members", "each")
                if mode == "each":
                    values[j] = cf.member_rates(m, p.gamma, p.lam)
                elif mode == "all":
                    values[j] = np.atleast_1d(cf.uniform_rate(t.a**2 / t.c, m, p.gamma, p.lam))
        starts.append(np.clip(p.search_point(values), p.lo, p.hi))
    starts.append(p.lo.copy())
    return starts


class _Cache:
    def __init__(self, p):
        self.p = p
        self.store: dict = {}

    def __call__(self, x) -> dict:
        key = tuple(np.round(np.asarray(x, float), 14))
        if key not in self.store:
            self.store[key] = self.p.evaluate(np.asarray(key), certified=False)
        return self.store[key]

    def value(self, x) -> float:
        ev = self(x)
        return ev["social_welfare"] if ev["feasible"] else -np.inf

    def regime(self, x):
        ev = self(x)
        return (ev["outcome"].regime, ev["formed"], ev["feasible"])

    @property
    def evaluations(self) -> int:
        return len(self.store)


def _slack_size(ev) -> int:
    slack = ev.get("slack")
    return 0 if slack is None else len(slack)


def _slack(ev, size) -> np.ndarray:
    """The follower's constraint slacks at a point (≥ 0 when met; very negative where it failed)."""
    slack = ev.get("slack")
    return np.full(size, -1e6) if slack is None or len(slack) != size else np.asarray(slack, float)


POLISH_STEPS = (2e-4, 1e-4)  # finite-difference steps (gradient, Hessian), relative to each range
POLISH_MAX_DIM = 8  # the Hessian costs 2d² follower solves


def _newton_polish(p, f, x) -> tuple[np.ndarray, str]:
    """Newton's method on the leader's first-order conditions around the local phase's answer x.

    Where the follower is smooth around x (every point of the finite-difference stencils in x's
    regime: the same admitted set, zero shares, formation) and SW is strictly concave there, the
    gradient of SW over the instruments strictly inside their bounds is taken by fourth-order
    central differences (step 2·10⁻⁴ of each range, where truncation and rounding errors balance
    on the bundled cases: the rates then agree with the closed forms to ~10⁻¹²), the Hessian once
    by second-order ones (step 10⁻⁴), and x moves by −H⁻¹∇SW while SW does not fall.
    The local phase leaves x where SW is flat to rounding (an error δ in x costs only ~δ² in SW);
    the gradient's zero pins x down to the accuracy of the gradient instead.  Returns (x, a note,
    empty when not applied)."""
    d = p.dim
    if p.follower.kind == "evolution" or d > POLISH_MAX_DIM:
        return x, ""  # the basin of an evolutionary game is a step function of the levers
    lo, hi = p.lo, p.hi
    width = np.where(hi > lo, hi - lo, 0.0)
    regime = f.regime(x)

    def at(z):
        if f.regime(z) != regime:
            raise _NotSmooth
        return f.value(z)

    def moved(*moves):
        z = x.copy()
        for i, step in moves:
            z[i] += step
        return at(z)

    gstep, hstep = (c * width for c in POLISH_STEPS)
    free = np.flatnonzero((x - lo > 2.5 * gstep) & (hi - x > 2.5 * gstep) & (width > 0))
    if not free.size:
        return x, ""
    k, steps = free.size, 0
    hess = np.zeros((k, k))
    try:
        f0 = at(x)
        for a, i in enumerate(free):
            hess[a, a] = (moved((i, hstep[i])) - 2 * f0 + moved((i, -hstep[i]))) / hstep[i] ** 2
            for b in range(a):
                j = free[b]
                hess[a, b] = hess[b, a] = (moved((i, hstep[i]), (j, hstep[j])) - moved((i, hstep[i]), (j, -hstep[j]))
                                           - moved((i, -hstep[i]), (j, hstep[j]))
                                           + moved((i, -hstep[i]), (j, -hstep[j]))) / (4 * hstep[i] * hstep[j])
    except _NotSmooth:
        return x, ""
    if not np.all(np.isfinite(hess)) or np.any(np.linalg.eigvalsh(hess) >= 0):
        return x, ""  # not strictly concave here: Newton's step would not be an ascent
    for _ in range(8):
        f0 = f.value(x)
        grad = np.zeros(k)
        try:
            for a, i in enumerate(free):
                g = gstep[i]
                grad[a] = (-moved((i, 2 * g)) + 8 * moved((i, g)) - 8 * moved((i, -g)) + moved((i, -2 * g))) / (12 * g)
        except _NotSmooth:
            break
        step = np.linalg.solve(hess, -grad)
        z = x.copy()
        z[free] = np.clip(x[free] + step, lo[free], hi[free])
        if f.regime(z) != regime or not f.value(z) >= f0 - 1e-12 * max(1.0, abs(f0)):  # SW flat to rounding
            break
        x, steps = z, steps + 1
        if np.max(np.abs(step) / width[free]) < 1e-14:
            break
    return x, (f"Newton polish on the first-order conditions ({steps} step{'s' if steps != 1 else ''})"
               if steps else "")


class _NotSmooth(Exception):
    pass


class Nested(Formulation):
    name = "nested"
    options = frozenset({"global_phase", "samples", "seed", "starts", "xtol", "warm_start"})

    def applies(self, problem) -> str | None:
        return None

    def run(self, p, global_phase: str = "auto", samples: int | None = None, seed: int = 0, starts: int = 3,
            xtol: float = 1e-10, warm_start: str | None = "auto", **options) -> Result:
        """``warm_start="mpec"`` adds the MPEC's instruments to the starting points: the nested
        search then re-solves the follower there and refines the point on the true bilevel
        objective.  ``"auto"`` (default) does so where the MPEC applies and more than three
        instruments are optimised (the global phase is sparse there: from the closed-form starts
        alone a 20-member search stopped at SW 13.87 where the MPEC's point refines to 20.49);
        ``None`` never does."""
        f = _Cache(p)
        extra = []
        if warm_start not in (None, "auto", "mpec"):
            from ..errors import OptionError

            raise OptionError("warm_start", f"expected 'auto', 'mpec' or nothing, got {warm_start!r}", p.source)
        if warm_start == "auto":
            warm_start = "mpec" if p.dim > 3 else None
        if warm_start == "mpec" and Mpec().applies(p) is None:
            res = Mpec().run(p)
            if res.status == "optimal":
                from .checks import _values

                extra.append(p.search_point(_values(p, res)))
        if p.dim == 0:
            return p.result_at(p.evaluate(np.zeros(0)), "nested", message="no instrument is optimised: one follower solve")
        # a follower whose solves are costly (an evolutionary game integrates orbits) may ask for a
        # sparser global phase; regime boundaries are still located by bisection
        samples = samples or getattr(p.follower, "search_samples", None)
        if p.dim == 1:
            best, note = self._line(p, f, samples or 201, xtol)
        else:
            best, note = self._box(p, f, global_phase, samples, seed, starts, xtol, extra)
            if extra:
                note += "; warm-started from the MPEC's instruments"
        best, polished = _newton_polish(p, f, np.asarray(best, float))
        if polished:
            note += f"; {polished}"
        ev = p.evaluate(best)
        if not (ev["ok"] and ev["feasible"] and np.isfinite(ev["social_welfare"])):
            return Result(status="infeasible" if ev["ok"] else "not_solved", method="nested",
                          message="no instruments in the box meet the budget" if ev["ok"] else ev["message"])
        if p.ties == "pessimistic" and any(f.regime(k) != f.regime(best) for k in f.store
                                           if np.max(np.abs(np.asarray(k) - best)) <= 1e-7):
            note += ("; the best point borders a regime boundary: under pessimistic ties the supremum there "
                     "is approached, not attained")
        local = p.dim > 3
        if local:
            note += f"; in {p.dim} dimensions the search is local (kinks where the follower's active set changes)"
        result = p.result_at(ev, "nested", local=local, message=f"{note}; {f.evaluations} follower solves")
        if getattr(p.follower, "kind", None) == "evolution":
            # over an evolutionary game the search approaches the target-ESS boundary from a step-function
            # objective without a Newton step on it: its levers are accurate to about 1e-9, so verify
            # compares them at 1e-8 (ital_opt/tolerances.py)
            result["verify_rtol"] = 1e-8
        return result

    # -- one dimension ----------------------------------------------------------------------------
    def _line(self, p, f, samples, xtol):
        from scipy.optimize import minimize_scalar

        lo, hi = float(p.lo[0]), float(p.hi[0])
        if hi <= lo:
            return np.array([lo]), "a fixed point"
        grid = sorted(set(np.linspace(lo, hi, samples).tolist()) | {float(np.clip(s[0], lo, hi)) for s in _warm_starts(p)})
        for x in grid:
            f.value([x])
        cells, thresholds = [], 0
        start = grid[0]
        for a, b in zip(grid[:-1], grid[1:], strict=False):
            if f.regime([a]) != f.regime([b]):
                ra = f.regime([a])
                for _ in range(60):  # locate the regime boundary
                    mid = 0.5 * (a + b)
                    if mid in (a, b):
                        break
                    if f.regime([mid]) == ra:
                        a = mid
                    else:
                        b = mid
                f.value([a]), f.value([b])
                cells.append((start, a))
                start = b
                thresholds += 1
        cells.append((start, grid[-1]))
        for a, b in cells:
            if b - a <= xtol:
                continue
            inside = [x for x in grid if a <= x <= b]
            if not inside:
                continue
            k = int(np.argmax([f.value([x]) for x in inside]))
            la, lb = inside[max(k - 1, 0)], inside[min(k + 1, len(inside) - 1)]
            la, lb = max(a, la), min(b, lb)
            if lb - la > xtol:
                res = minimize_scalar(lambda x: -f.value([x]), bounds=(la, lb), method="bounded",
                                      options={"xatol": xtol, "maxiter": 500})
                f.value([float(res.x)])
        best = max(f.store, key=lambda k: f.value(k))
        return np.asarray(best), (f"grid of {samples} points, {thresholds} regime boundaries located by bisection, "
                                  f"bounded Brent in each regime")

    # -- several dimensions -----------------------------------------------------------------------
    def _box(self, p, f, phase, samples, seed, starts, xtol, extra=()):
        from scipy.optimize import differential_evolution, minimize
        from scipy.stats import qmc

        lo, hi = p.lo, p.hi
        d = p.dim
        width = np.where(hi > lo, hi - lo, 1.0)
        if phase == "auto":
            phase = "sobol"
        if phase == "sobol":
            m = int(np.ceil(np.log2(samples or min(64 * d, 512))))
            pts = qmc.scale(qmc.Sobol(d, seed=seed).random_base2(m), lo, np.where(hi > lo, hi, lo + 1e-300)) \
                if np.all(hi > lo) else lo + qmc.Sobol(d, seed=seed).random_base2(m) * (hi - lo)
            for x in pts:
                f.value(x)
            note = f"{len(pts)} Sobol points"
        elif phase == "grid":
            k = samples or 11
            axes = [np.linspace(a, b, k) for a, b in zip(lo, hi, strict=False)]
            pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
            for x in pts:
                f.value(x)
            note = f"grid of {len(pts)} points"
        elif phase == "de":
            res = differential_evolution(lambda x: -f.value(x) if np.isfinite(f.value(x)) else 1e30,
                                         list(zip(lo, hi, strict=True)), seed=seed, maxiter=samples or 60,
                                         polish=False, tol=1e-8)
            note = f"differential evolution ({res.nfev} evaluations)"
        else:
            from ..errors import OptionError

            raise OptionError("global_phase", f"expected 'auto', 'sobol', 'grid' or 'de', got {phase!r}", p.source)
        for x in [*_warm_starts(p), *extra]:
            f.value(x)
        ranked = sorted(f.store, key=lambda k: -f.value(k))
        chosen = []
        for k in ranked:
            if not np.isfinite(f.value(k)):
                break
            if all(np.max(np.abs((np.asarray(k) - np.asarray(c)) / width)) > 0.05 for c in chosen):
                chosen.append(k)
            if len(chosen) >= starts:
                break
        for x0 in chosen:
            self._slsqp(p, f, np.asarray(x0, float), xtol)
        if p.budget is None:  # a derivative-free polish of the best point (kinks: zero shares, formation)
            x = np.asarray(max(f.store, key=lambda k: f.value(k)), float)
            minimize(lambda z: -f.value(np.clip(z, lo, hi)), x, method="Nelder-Mead", bounds=list(zip(lo, hi, strict=False)),
                     options={"xatol": xtol, "fatol": 1e-13, "maxfev": 150 * d, "adaptive": d > 2,
                              "initial_simplex": x + np.vstack([np.zeros(d), np.diag(1e-4 * width)])})
        best = max(f.store, key=lambda k: f.value(k))
        return np.asarray(best), f"{note}, then local refinement from {len(chosen)} points (Nelder-Mead, SLSQP)"

    @staticmethod
    def _slsqp(p, f, x, xtol):
        from scipy.optimize import minimize

        lo, hi = p.lo, p.hi

        def obj(z):
            ev = f(np.clip(z, lo, hi))
            return -ev["social_welfare"] if ev["ok"] and np.isfinite(ev["social_welfare"]) else 1e6

        cons = []
        if p.budget is not None:
            cons.append({"type": "ineq", "fun": lambda z: p.budget - f(np.clip(z, lo, hi)).get("budget_outlay", np.inf)})
        size = _slack_size(f(x))
        if size:  # the follower's own constraints (an evolutionary game's target ESS), as the follower computes them
            cons.append({"type": "ineq", "fun": lambda z: _slack(f(np.clip(z, lo, hi)), size)})
        try:
            res = minimize(obj, x, method="SLSQP", bounds=list(zip(lo, hi, strict=False)), constraints=cons,
                           options={"ftol": 1e-14, "maxiter": 300, "eps": 1e-8})
            f.value(np.clip(res.x, lo, hi))
        except (ValueError, FloatingPointError):
            pass


# the final, smooth solve of an MPEC: the solver's default bound relaxation (10⁻⁸) and constraint
# violation tolerance (10⁻⁴) would leave the instruments off by ~10⁻⁸ where the optimum sits on a
# constraint; the smooth piece is small and well posed, so it is solved to rounding
TIGHT = {"tol": 1e-12, "constr_viol_tol": 1e-13, "bound_relax_factor": 0.0}


class Mpec(Formulation):
    name = "mpec"
    solvers = ("ipopt", "ripopt")
    options = frozenset({"epsilon", "starts", "admitted_from"})

    def applies(self, p) -> str | None:
        if p.dim == 0:
            return "no instrument is optimised"
        if p.follower.kind == "admission":
            return _admission_applies(p)
        if p.follower.kind != "team":
            return "the MPEC is written for team and admission followers (the follower's KKT conditions)"
        t = p.follower.problem
        if not t.is_len or t.knowledge:
            return "the MPEC needs a LEN team (linear output, quadratic costs) whose optimality conditions it writes"
        if t.mode not in ("welfare", "given"):
            return "the MPEC writes the welfare-maximising sharing stage (or given shares)"
        if t.omega >= 1:
            return "at omega = 1 the sharing stage is pure risk sharing; the nested method covers it"
        bad = [inst.type for inst in p.instruments if inst.type not in ("cost_subsidy", "output_reward", "formation_grant")]
        if bad:
            return f"the MPEC covers cost subsidies, output rewards and formation grants, not {bad[0]}"
        if p.formation_cost is not None:
            return "formation is a discrete choice; the nested method handles it"
        return None

    def build(self, p, start=None, epsilon: float = 1e-6, admitted_from: int | None = None, **options):
        """The pyomo model: for a team follower the program above; for an admission follower the
        program of :func:`_build_admission` for the admitted set {k ≥ ``admitted_from``}
        (default: the follower's answer at `start`)."""
        import pyomo.environ as pyo

        if p.follower.kind == "admission":
            if admitted_from is None:
                admitted_from = int(p.evaluate(p.lo if start is None else start, certified=False)["outcome"].regime[1])
            return _build_admission(p, admitted_from, start, epsilon)
        t = p.follower.problem
        n = t.n
        model = pyo.ConcreteModel()
        N = range(n)
        start = p.values(p.lo if start is None else start)
        # instrument variables: one per free component
        model.z = pyo.Var(range(p.dim), initialize=lambda m, k: float(p.search_point(start)[k]))
        for k in range(p.dim):
            model.z[k].setlb(float(p.lo[k]))
            model.z[k].setub(float(p.hi[k]))
        rate = {i: 0.0 for i in N}
        reward = 0.0
        free = {jk: k for k, jk in enumerate(p.free)}
        for j, inst in enumerate(p.instruments):
            comp = [model.z[free[(j, k)]] if (j, k) in free else float(inst.fixed[k] if inst.fixed is not None else inst.lo[k])
                    for k in range(len(inst.labels))]
            if inst.type == "cost_subsidy":
                for g, s in zip(inst.groups, comp, strict=False):
                    for i in g:
                        rate[i] = rate[i] + s
            elif inst.type == "output_reward":
                reward = reward + comp[0]
        y = 1.0 + reward
        A = t.a
        fixed_shares = p.follower.shares_fixed
        beta0 = p.follower.base_shares
        model.beta = pyo.Var(N, bounds=(0.0, 1.0), initialize=lambda m, i: float(beta0[i]))
        model.e = pyo.Var(N, bounds=(0.0, None), initialize=lambda m, i: float(t.a[i] * beta0[i] / t.c[i]))
        w = t.omega
        m_ = {i: w + (1 - w) * model.beta[i] for i in N}
        # effort stage: (1 − s_i) c_i e_i = y a_i m_i
        model.effort = pyo.Constraint(N, rule=lambda m, i: (1 - rate[i]) * t.c[i] * m.e[i] == y * A[i] * m_[i])
        model.simplex = pyo.Constraint(expr=sum(model.beta[i] for i in N) == 1)
        R = t.rho * t.sigma2
        if fixed_shares:
            model.fix_shares = pyo.Constraint(N, rule=lambda m, i: m.beta[i] == float(beta0[i]))
        else:
            # sharing stage KKT: TW = Σ y² A'_j (m_j − m_j²/2) − y² R_j β_j²/2 with A'_j = a_j²/((1−s_j)c_j)
            model.mu = pyo.Var(initialize=0.0)
            model.nu = pyo.Var(N, bounds=(0.0, None), initialize=0.0)
            model.eps = pyo.Param(initialize=epsilon, mutable=True)

            def stationarity(m, i):
                slope = y * y * A[i] ** 2 / ((1 - rate[i]) * t.c[i]) * (1 - m_[i]) * (1 - w)
                return slope - y * y * R[i] * m.beta[i] - m.mu + m.nu[i] == 0

            model.stationary = pyo.Constraint(N, rule=stationarity)
            model.complementary = pyo.Constraint(N, rule=lambda m, i: m.nu[i] * m.beta[i] <= m.eps)
        output = sum(A[i] * model.e[i] for i in N)
        true_cost = sum(t.c[i] * model.e[i] ** 2 / 2 for i in N)
        risk = sum(R[i] * (y * model.beta[i]) ** 2 / 2 for i in N)
        outlay = sum(rate[i] * t.c[i] * model.e[i] ** 2 / 2 for i in N) + reward * output
        # SW = alliance welfare (y E − Σ(1−s)c e²/2 − risk) + γE − (1+λ)G
        model.sw = pyo.Objective(expr=(1 + p.gamma) * output - true_cost - risk - p.lam * outlay, sense=pyo.maximize)
        if p.budget is not None:
            model.budget = pyo.Constraint(expr=outlay <= p.budget)
        return model

    def run(self, p, epsilon: float = 1e-6, starts=None, solver=None, verbose=False, admitted_from=None,
            **options) -> Result:
        import pyomo.environ as pyo

        from ..backends import solve_pyomo

        if p.follower.kind == "admission":
            return _run_admission(p, epsilon, admitted_from, verbose, **options)
        points = [np.asarray(s) for s in _warm_starts(p)][: starts or 2]
        best, method = None, "mpec"
        for x0 in points:
            model = self.build(p, start=x0, epsilon=1e-2)
            steps = (1e-2, 1e-4, epsilon) if hasattr(model, "eps") else (None,)
            found = None
            options.setdefault("max_iter", 1000)
            for eps in steps:  # tighten the relaxed complementarity; keep the last solved step
                if eps is not None:
                    model.eps = eps
                status, name, _ = solve_pyomo(model, verbose=verbose, **(options if eps is not None else
                                                                           {**options, **TIGHT}))
                method = "mpec/" + name.split("/")[-1]
                if status != "optimal":
                    break
                found = (np.clip(np.array([pyo.value(model.z[k]) for k in range(p.dim)]), p.lo, p.hi),
                         pyo.value(model.sw))
            if found is not None and hasattr(model, "eps"):
                # active-set polish: fix the complementarity pieces the relaxed solution picked
                # (β_j = 0 or ν_j = 0) and solve that smooth piece exactly
                model.complementary.deactivate()
                for i in model.beta:
                    if pyo.value(model.beta[i]) < 1e-4:
                        model.beta[i].fix(0.0)
                    else:
                        model.nu[i].fix(0.0)
                status, name, _ = solve_pyomo(model, verbose=verbose, **{**options, **TIGHT})
                if status == "optimal":
                    found = (np.clip(np.array([pyo.value(model.z[k]) for k in range(p.dim)]), p.lo, p.hi),
                             pyo.value(model.sw))
            if found is not None and (best is None or found[1] > best[1]):
                best = found
        if best is None:
            return Result(status="not_solved", method=method, message="the MPEC was not solved from any start")
        # the instruments found are handed to the follower itself: SW is re-evaluated, not trusted
        ev = p.evaluate(best[0])
        if not ev["feasible"] and p.budget is not None and ev["formed"]:
            ev = _within_budget(p, best[0]) or ev
        if not ev["feasible"]:  # a local solution proves nothing about the problem's feasibility
            return Result(status="not_solved", method=method, message=(
                f"the MPEC's instruments, re-evaluated by the follower, break the budget (outlay "
                f"{ev.get('budget_outlay', float('nan')):.10g} > {p.budget})"))
        return p.result_at(ev, method, local=True,
                           message=f"single-level KKT program (regularised complementarity), MPEC value {best[1]:.10g}; "
                                   "a local NLP solution, re-evaluated by the follower")


class EssLp(Formulation):
    """The cheapest levers that make an evolutionary game's target corner an ESS: one LP per choice.

    At a corner c the Jacobian of the replicator dynamics is diagonal, e_i = (1 − 2c_i)ΔF_i(c),
    and c is an ESS iff every e_i < 0 (Selten 1980; docs/theory/evolution.md).  When the payoffs
    are affine in the levers z (a subsidy S, a fine M, a dynamic penalty's scale M̄: the game's
    [params] set by ``payoff_parameter`` instruments), so is every e_i = A_i·z + b_i
    (:func:`ital_opt.evolution.symbolic.affine_ess_conditions`, exact in sympy).  With the state
    at the target, the leader's SW is affine in z too: (1 + γ)·(output share at the target) −
    λ·Σ_paid z_k·(cooperators at the target) − (1 + λ)·Σ z_k·cost_k.  So "maximise SW at the target
    subject to the target being an ESS" is the LP

        max c·z   s.t.   A_t z + b_t ≤ −margin,   lo ≤ z ≤ hi   (and the budget, if any),

    the strict inequality kept with the stated ``margin`` of the policy's ``[game]`` table.  With
    ``unique = true`` every other corner must fail to be an ESS — some e_i ≥ margin, a union of
    half-spaces — so one LP is solved per choice of the failing eigenvalue at each other corner
    (at most n^(2^n − 1)), each by HiGHS (:func:`ital_opt.backends.highs_lp`), and the best is
    kept.  In a two-population game with state-independent payoffs (a bimatrix game) no rest point
    off the corners is asymptotically stable (interior ones are saddles or centres), so the corner
    conditions make the target the unique attractor; elsewhere ``unique`` is not offered here.
    The answer is handed to the follower, which re-solves the game and re-checks the conditions.
    """

    name = "ess-lp"
    solvers = ("highs",)
    options = frozenset()

    def applies(self, p) -> str | None:
        f = p.follower
        if f.kind != "evolution":
            return "the ESS linear program is for evolutionary-game followers"
        if f.target is None:
            return "needs a target corner (the [game] table's target) that the levers must make an ESS"
        if p.dim == 0:
            return "no instrument is optimised"
        params = [inst.param for inst in p.instruments]
        if len(set(params)) < len(params):
            return "two instruments set the same parameter"
        if f.unique:
            from ..evolution.closed_form import bimatrix

            if bimatrix(f.problem.payoffs) is None:
                return ("unique = true needs a two-population game with state-independent payoffs (there the "
                        "corner conditions decide every attractor); use nested")
        try:
            self.conditions(p)
        except ValueError as exc:
            return str(exc)
        return None

    @staticmethod
    def levers(p) -> list[str]:
        return [p.instruments[j].param for j, _ in p.free]

    @staticmethod
    def conditions(p):
        """{corner: (A, b)}, cached on the problem (sympy runs once per problem)."""
        cached = p.__dict__.get("_ess_lp_conditions")
        if cached is None:
            from ..evolution.symbolic import affine_ess_conditions

            fixed = {inst.param: float(inst.fixed[0]) for inst in p.instruments if not inst.optimised}
            try:
                cached = affine_ess_conditions(p.follower.problem, EssLp.levers(p), fixed)
            except ValueError as exc:
                cached = exc
            p.__dict__["_ess_lp_conditions"] = cached
        if isinstance(cached, ValueError):
            raise cached
        return cached

    def build(self, p, choice=None, solver=None, verbose=False, **options):
        """The HiGHS LP of one choice (a failing eigenvalue per other corner; None: the first)."""
        import highspy

        from .. import backends

        f = p.follower
        conds = self.conditions(p)
        target = tuple(int(v) for v in f.target)
        cooperators = float(np.sum(f.target))
        free = [p.instruments[j] for j, _ in p.free]
        per_unit = np.array([(cooperators if inst.paid == "cooperators" else 0.0) + inst.cost for inst in free])
        paid = np.array([cooperators if inst.paid == "cooperators" else 0.0 for inst in free])
        gain = -p.lam * paid - (1.0 + p.lam) * np.array([inst.cost for inst in free])
        h = backends.highs_lp(options, verbose)
        inf = highspy.kHighsInf
        k = p.dim
        for j in range(k):
            h.addVar(float(p.lo[j]), float(p.hi[j]))
            h.changeColCost(j, -float(gain[j]))  # HiGHS minimises
        index = np.arange(k, dtype=np.int32)
        A, b = conds[target]
        for row, const in zip(A, b, strict=True):
            h.addRow(-inf, -f.margin - float(const), k, index, row.astype(float))
        if f.unique:
            others = [c for c in sorted(conds) if c != target]
            choice = choice or (0,) * len(others)
            for c, i in zip(others, choice, strict=True):
                A, b = conds[c]
                h.addRow(f.margin - float(b[i]), inf, k, index, A[i].astype(float))
        if p.budget is not None:
            h.addRow(-inf, float(p.budget), k, index, per_unit.astype(float))
        return h

    def run(self, p, solver=None, verbose=False, **options) -> Result:
        import itertools

        import highspy

        from ..backends import stdout_to_stderr

        f = p.follower
        n = f.size
        target = tuple(int(v) for v in f.target)
        others = [c for c in sorted(self.conditions(p)) if c != target] if f.unique else []
        best, solved = None, 0
        for choice in itertools.product(range(n), repeat=len(others)):
            h = self.build(p, choice if others else None, verbose=verbose, **options)
            with stdout_to_stderr():
                h.run()
            solved += 1
            status = h.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                z = np.clip(np.asarray(h.getSolution().col_value[: p.dim], float), p.lo, p.hi)
                value = -float(h.getInfo().objective_function_value)
                if best is None or value > best[1] + 1e-12:
                    best = (z, value)
            elif status not in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
                # (every lever is bounded, so "unbounded or infeasible" is infeasible)
                return Result(status="not_solved", method="ess-lp/highs",
                              message=f"HiGHS ended with {h.modelStatusToString(status)}")
        what = "the only ESS" if f.unique else "an ESS"
        if best is None:
            return Result(status="infeasible", method="ess-lp/highs",
                          message=f"no levers within the bounds make the target {list(target)} {what} "
                                  f"(every eigenvalue ≤ −{f.margin:g}){' within the budget' if p.budget is not None else ''}")
        ev = p.evaluate(best[0])  # the follower re-solves the game at the levers: SW and the conditions re-checked
        return p.result_at(ev, "ess-lp/highs",
                           message=f"{solved} LP{'s' if solved > 1 else ''} (HiGHS): the cheapest levers making "
                                   f"{list(target)} {what} with margin {f.margin:g}",
                           extras={"target": list(target), "margin": f.margin, "unique": f.unique})


# -- admission followers (Model B) -----------------------------------------------------------------
def _admission_applies(p) -> str | None:
    t = p.follower.problem
    if not (t.is_len and t.tech.is_default):
        return ("the MPEC writes the menu's convex program (linear output θ·e, quadratic cost c·e²/2, "
                "docs/theory/admission.md); this follower is not of that form, use nested")
    bad = [inst.type for inst in p.instruments if inst.type != "admission_subsidy"]
    if bad:
        return f"the MPEC for admission followers covers admission subsidies, not {bad[0]} (it moves the menus)"
    if p.ties == "pessimistic":
        return ("under pessimistic ties the leader's supremum sits where the alliance is indifferent about "
                "admitting and is not attained; use nested")
    if p.budget is not None and p.budget <= 0:
        return "a zero budget leaves nothing to optimise"
    return None


def _tier_subsidy(p, model) -> list:
    """Each tier's subsidy per admitted member: pyomo expressions in the free instruments."""
    n = p.follower.size
    free = {jk: k for k, jk in enumerate(p.free)}
    g = [0.0] * n
    for j, inst in enumerate(p.instruments):
        for k, group in enumerate(inst.groups):
            value = model.z[free[(j, k)]] if (j, k) in free else float(inst.fixed[k] if inst.fixed is not None
                                                                         else inst.lo[k])
            for i in group:
                g[i] = g[i] + value
    return g


def _build_admission(p, admitted_from: int, start=None, epsilon: float = 1e-6):
    """The single-level program for an admission follower that admits the types k ≥ `admitted_from`.

    For every candidate admitted set {k ≥ m} (m = 0..K−1) the menu solves the Chapter 3 convex
    program over those types (docs/theory/admission.md; prior q_j = p_j/P_m, P_m = Σ_{j≥m} p_j):
    in x_j = β_j² it maximises Σ q_j [2φ_j√x_j − (φ_j + r)x_j − u_j] subject to IR u_j ≥ ū_j,
    IC u_j ≥ u_i + x_i(φ_j − φ_i) and x_j ≤ 1, a concave objective over linear constraints, so its
    KKT conditions characterise the menu.  They are written in β (the x-stationarity multiplied by
    β_i > 0, which φ_i > 0 forces):

        q_i[φ_i − (φ_i + r)β_i] − β_i Σ_j μ_ji(φ_j − φ_i) − β_i ν_i = 0,
        −q_j + λ_j + Σ_i μ_ji − Σ_i μ_ij = 0,

    with λ, μ, ν ≥ 0 and each product with its constraint's slack ≤ ε (Scholtes 2001).  The
    alliance's payoff from the set is P_m V_m + Σ_{j≥m} p_j(g_j − F) (V_m the menu's value, g_j the
    subsidy per admitted member of tier j) and it admits {k ≥ admitted_from} iff that payoff is at
    least every other set's (admitting nobody pays 0): the follower's discrete choice written
    exactly as value constraints.  The leader maximises SW = Σ_{j≥k*} p_j[S_j(β_j) − F + 2γφ_jβ_j
    − λ g_j], the alliance's welfare plus γE[π] less (1 + λ) times the outlay."""
    import pyomo.environ as pyo

    t = p.follower.problem
    n, prob, phi, r = t.n, t.prob, t.phi, t.r
    outside = np.asarray(t.outside, float)
    F = p.fixed_cost
    model = pyo.ConcreteModel()
    x0 = p.search_point(p.values(p.lo if start is None else start))
    model.z = pyo.Var(range(p.dim), initialize=lambda m, k: float(x0[k]))
    for k in range(p.dim):
        model.z[k].setlb(float(p.lo[k]))
        model.z[k].setub(float(p.hi[k]))
    g = _tier_subsidy(p, model)
    model.eps = pyo.Param(initialize=epsilon, mutable=True)
    blocks = {}
    for m in range(n):
        T = list(range(m, n))
        mass = float(prob[m:].sum())
        q = {j: float(prob[j]) / mass for j in T}
        pairs = [(j, i) for j in T for i in T if j != i]
        menu, _ = p.follower._menu(m, outside)  # a starting point only: the KKT block decides
        rows = menu.rows if menu.status == "optimal" else None
        share = {j: float(rows["share"].iloc[j - m]) if rows is not None else 0.5 for j in T}
        rent = {j: float(rows["agent_utility"].iloc[j - m]) if rows is not None else float(outside[j]) for j in T}
        b = pyo.Block()
        model.add_component(f"menu{m}", b)
        b.beta = pyo.Var(T, bounds=(0.0, 1.0), initialize=share)
        b.u = pyo.Var(T, initialize=rent)
        b.lam = pyo.Var(T, bounds=(0.0, None), initialize=0.0)
        b.mu = pyo.Var(pairs, bounds=(0.0, None), initialize=0.0)
        b.nu = pyo.Var(T, bounds=(0.0, None), initialize=0.0)
        b.ir = pyo.Expression(T, rule=lambda b, j: b.u[j] - float(outside[j]))
        b.ic = pyo.Expression(pairs, rule=lambda b, j, i: b.u[j] - b.u[i] - b.beta[i] ** 2 * float(phi[j] - phi[i]))
        b.top = pyo.Expression(T, rule=lambda b, j: 1.0 - b.beta[j])
        b.ir_ok = pyo.Constraint(T, rule=lambda b, j: b.ir[j] >= 0)
        b.ic_ok = pyo.Constraint(pairs, rule=lambda b, j, i: b.ic[j, i] >= 0)
        b.stat_beta = pyo.Constraint(T, rule=lambda b, i: q[i] * (float(phi[i]) - float(phi[i] + r) * b.beta[i])
                                     - b.beta[i] * sum(b.mu[j, i] * float(phi[j] - phi[i]) for j in T if j != i)
                                     - b.beta[i] * b.nu[i] == 0)
        b.stat_u = pyo.Constraint(T, rule=lambda b, j: -q[j] + b.lam[j] + sum(b.mu[j, i] for i in T if i != j)
                                  - sum(b.mu[i, j] for i in T if i != j) == 0)
        b.comp_ir = pyo.Constraint(T, rule=lambda b, j: b.lam[j] * b.ir[j] <= model.eps)
        b.comp_ic = pyo.Constraint(pairs, rule=lambda b, j, i: b.mu[j, i] * b.ic[j, i] <= model.eps)
        b.comp_top = pyo.Constraint(T, rule=lambda b, j: b.nu[j] * b.top[j] <= model.eps)
        surplus = {j: 2 * float(phi[j]) * b.beta[j] - float(phi[j] + r) * b.beta[j] ** 2 for j in T}
        b.value = pyo.Expression(expr=sum(q[j] * (surplus[j] - b.u[j]) for j in T))
        b.payoff = pyo.Expression(expr=mass * b.value + sum(float(prob[j]) * (g[j] - F) for j in T))
        blocks[m] = (b, T, surplus)
    payoff = {m: blocks[m][0].payoff for m in range(n)}
    payoff[n] = 0.0
    k = admitted_from
    model.choice = pyo.ConstraintList()
    for m in range(n + 1):
        if m != k:
            model.choice.add(payoff[k] - payoff[m] >= 0)
    if k == n:
        model.sw = pyo.Objective(expr=0.0 * sum(model.z[i] for i in range(p.dim)), sense=pyo.maximize)
        outlay = 0.0
    else:
        b, T, surplus = blocks[k]
        outlay = sum(float(prob[j]) * g[j] for j in T)
        model.sw = pyo.Objective(expr=sum(float(prob[j]) * (surplus[j] - F + 2 * p.gamma * float(phi[j]) * b.beta[j])
                                          for j in T) - p.lam * outlay, sense=pyo.maximize)
    if p.budget is not None and k != n:  # admitting no one spends nothing
        model.budget = pyo.Constraint(expr=outlay <= p.budget)
    model.admitted_from = k
    return model


def _polish_admission(model) -> None:
    """Fix the complementarity piece the relaxed solution picked (each constraint binding or its
    multiplier zero) and drop the relaxation: the smooth program left is solved exactly."""
    import pyomo.environ as pyo

    for b in model.component_objects(pyo.Block, descend_into=False):
        for comp, ok, slack, mult in ((b.comp_ir, b.ir_ok, b.ir, b.lam), (b.comp_ic, b.ic_ok, b.ic, b.mu),
                                      (b.comp_top, None, b.top, b.nu)):
            comp.deactivate()
            for idx in slack:
                if pyo.value(mult[idx]) > abs(pyo.value(slack[idx])):  # binding: an equality
                    if ok is not None:
                        ok[idx].deactivate()
                    name = f"bind_{comp.local_name}_{'_'.join(map(str, np.atleast_1d(idx)))}"
                    b.add_component(name, pyo.Constraint(expr=slack[idx] == 0))
                else:
                    mult[idx].fix(0.0)


def _run_admission(p, epsilon, admitted_from, verbose, **options) -> Result:
    import pyomo.environ as pyo

    from ..backends import solve_pyomo

    n = p.follower.size
    candidates = range(n + 1) if admitted_from is None else [int(admitted_from)]
    # these programs are small: a solve that has not converged in a few hundred iterations is one
    # whose admitted set the alliance would not choose anywhere in the box (an infeasible program)
    options.setdefault("max_iter", 300)
    best, method, tried = None, "mpec", []
    start = _warm_starts(p)[0]
    for k in candidates:
        model = _build_admission(p, k, start, 1e-2)
        found = None
        for eps in (1e-2, 1e-4, epsilon):  # tighten the relaxed complementarity
            model.eps = eps
            status, name, _ = solve_pyomo(model, verbose=verbose, **options)
            method = "mpec/" + name.split("/")[-1]
            if status != "optimal":
                break
            found = np.array([pyo.value(model.z[i]) for i in range(p.dim)])
        if found is None:
            tried.append(f"admitting from type {k}: no solution (the alliance would not choose that set)")
            continue
        _polish_admission(model)
        # tight (TIGHT): the leader's optimum often sits on a choice constraint (the subsidy that
        # just admits a type)
        status, _, _ = solve_pyomo(model, verbose=verbose, **{**options, **TIGHT})
        if status == "optimal":
            found = np.array([pyo.value(model.z[i]) for i in range(p.dim)])
        x, ev = _onto_admitted_set(p, np.clip(found, p.lo, p.hi), k)
        sw = ev["social_welfare"] if ev["ok"] and ev["feasible"] else -np.inf
        tried.append(f"admitting from type {k}: SW {pyo.value(model.sw):.10g}")
        if best is None or sw > best[1]:
            best = (x, sw)
    if best is None or not np.isfinite(best[1]):
        return Result(status="not_solved", method=method, message="the MPEC was not solved for any admitted set; "
                      + "; ".join(tried))
    x, sw = best
    for i in range(p.dim):  # a subsidy that does not move SW (paid to no admitted tier) is not paid
        z = x.copy()
        z[i] = p.lo[i]
        ev = p.evaluate(z, certified=False)
        if z[i] != x[i] and ev["ok"] and ev["feasible"] and ev["social_welfare"] >= sw - 1e-12 * max(1.0, abs(sw)):
            x, sw = z, ev["social_welfare"]
    ev = p.evaluate(x)
    return p.result_at(ev, method, local=True,
                       message="single-level KKT program of the menus (regularised complementarity, then the "
                               "active piece solved exactly), one per admitted set: " + "; ".join(tried)
                               + "; re-evaluated by the follower")


def _onto_admitted_set(p, x, k):
    """(x, the follower's answer there), x moved onto the admitted set {j ≥ k} the program chose.

    A leader's optimum often sits on an admission threshold, and the program meets its choice
    constraints only to its tolerance (about ε when the exact piece was not solved), which can
    leave the follower just on the other side.  The smallest uniform step of the instruments
    (either sign, 1e-12 to 1e-4) that lands in the set is found, then bisected to the threshold,
    so x is the point of the set nearest the program's answer.  Unchanged if no step lands there."""
    def at(z):
        z = np.clip(z, p.lo, p.hi)
        ev = p.evaluate(z, certified=False)
        return z, ev, bool(ev["ok"] and ev["outcome"].regime[1] == k)

    z, ev, inside = at(x)
    if inside:
        return z, ev
    for step in 10.0 ** np.arange(-12, -3):
        for sign in (1.0, -1.0):
            zs, evs, inside = at(x + sign * step)
            if not inside:
                continue
            lo, hi = 0.0, step  # x + sign*lo is outside the set, x + sign*hi inside
            while hi - lo > 1e-15 * max(1.0, float(np.max(np.abs(x)))):
                mid = 0.5 * (lo + hi)
                zm, evm, inside = at(x + sign * mid)
                if inside:
                    hi, zs, evs = mid, zm, evm
                else:
                    lo = mid
            return zs, evs
    return z, ev


def _within_budget(p, x):
    """The NLP meets the budget only to its constraint tolerance (~1e-9), the follower's
    re-evaluation exactly: pull the instruments towards their lower bounds (outlay falls with
    them) by the smallest step that meets the budget; None if no step of at most 10% does."""
    for shrink in (1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
        ev = p.evaluate(p.lo + (1 - shrink) * (np.asarray(x, float) - p.lo))
        if ev["feasible"]:
            return ev
    return None


FORMULATIONS = [EssLp(), Nested(), Mpec()]  # an exact method first, where it applies
