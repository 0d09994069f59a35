"""Chapter 3: the alliance's admission menu against adverse selection (docs/theory/admission.md).

An applicant of private capability θ_k (prior p_k) chooses a contract (β_k, t_k) from the menu:
β ∈ [0, 1] its share of output π = θ·e + ε (ε ~ N(0, σ²)), t a fixed transfer to it (t < 0: an
admission fee). It works e* = βθ/c and gets the certainty equivalent U_kj = t_j + β_j²(φ_k − r),
φ_k = θ_k²/(2c), r = ρσ²/2. The alliance maximises Σ_k p_k [S_k(β_k) − u_k],
S_k(β) = 2φ_kβ − (φ_k + r)β², subject to IR_k (u_k ≥ ū_k) and all-pairs IC.

Methods (``Admission.methods``), all compared by ``ital-opt verify``:

* ``closed-form``: first best; K types with IR_1 and local downward IC binding (ironed by pool
  adjacent violators when the shares are not monotone; declines when some IR_k fails); two types
  with type-dependent outside options: regimes I–IV (see :mod:`.closed_form`).
* ``cvxpy-direct``, ``screening``, ``pyomo-direct``: the formulations of :mod:`.formulations`
  (the convex form in x = β²; the reduction to the screening kind; a local NLP in (β, t)).

Every answer is certified by :mod:`.checks` (all-pairs IC and IR recomputed from the menu).

Extension fields (no closed form unless they reduce to LEN): ``output`` (expression in theta, e,
default ``"theta*e"``, e.g. ``"theta**gamma*e"`` or ``"theta*sqrt(e)"``), ``cost`` (expression in
e, c, default ``"c*e**2/2"``), and ``rho = 0`` (risk-neutral applicants).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import MethodNotApplicable
from ..problem import Field, Method, Problem, register
from ..result import Result
from . import closed_form as cf
from .technology import DEFAULT_COST, DEFAULT_OUTPUT, Technology

BIND_TOL = 1e-7
BATCH_FIELDS = {"theta", "prob", "c", "rho", "sigma2", "outside"}


@register
class Admission(Problem):
    """The alliance's admission menu: output shares and transfers that screen applicants' capability.

    An applicant of private capability θ picks a (share, transfer) contract from the menu, then
    chooses effort; the alliance maximises its expected payoff subject to incentive compatibility
    and each type's reservation utility.  The model, its regimes and sources are on the theory
    page (docs/theory/admission.md).
    """

    kind = "admission"
    compare = ("share", "transfer", "agent_utility")
    fields = {
        "theta": Field(list, doc="the applicants' capabilities θ_k, one per type: positive, strictly "
                                 "increasing"),
        "prob": Field(list, doc="prior probability p_k of each type: positive, summing to 1 (within 1e-9)"),
        "c": Field(float, doc="effort cost curvature c > 0 (the default cost of effort e is c·e²/2)"),
        "rho": Field(float, doc="the applicants' CARA risk aversion ρ ≥ 0 (0: risk neutral)"),
        "sigma2": Field(float, doc="variance σ² ≥ 0 of the noise on output"),
        "outside": Field(float | list, 0.0, "reservation utility ū_k: one number for every type, or one per "
                                            "type"),
        "output": Field(str, DEFAULT_OUTPUT, "expected output y(theta, e), an expression in theta and e "
                                             "(default linear, θ·e)"),
        "cost": Field(str, DEFAULT_COST, "effort cost C(e, c), an expression in e and c (default quadratic, "
                                         "c·e²/2)"),
    }

    # -- fields ---------------------------------------------------------------------------------
    def _read(self, r) -> None:
        self.theta = r.vector("theta", positive=True, increasing=True)
        n = self.theta.size
        self.prob = r.probabilities("prob", n)
        self.c = r.number("c", positive=True)
        self.rho = r.number("rho", nonneg=True)
        self.sigma2 = r.number("sigma2", nonneg=True)
        self.outside = r.vector("outside", n, 0.0, broadcast=True)  # a single number: one per type
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
        self.K = self.phi = None
        if self.cap is not None:
            self.K = self.c if self.tech.is_default else self.tech.len_form[1]
            self.phi = self.cap**2 / (2.0 * self.K)

    @property
    def n(self) -> int:
        return self.theta.size

    @property
    def is_len(self) -> bool:
        """Linear output, quadratic cost and capability increasing in θ: the closed forms' world."""
        return self.phi is not None and bool(np.all(self.cap > 0)) and bool(np.all(np.diff(self.phi) > 0))

    # -- methods ----------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        return [Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True),
                *(f.method() for f in self.formulations())]

    # -- hooks --------------------------------------------------------------------------------------
    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The LEN closed forms (:func:`.closed_form.menu_batch`) at every sweep point at once.

        Covers the default technology (output θ·e, cost c·e²/2) with any of theta, prob, c, rho,
        sigma2, outside varied; two types in every regime, K types where the relaxed second best
        is monotone and meets every IR_k (the other points are solved one by one)."""
        from ..batch import batch_records, field_values, varies_only

        spec = self.spec
        if not varies_only(points, BATCH_FIELDS) or not self.tech.is_default:
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
        return ["L", "H"] if self.n == 2 else [str(k + 1) for k in range(self.n)]

    def utility_matrix(self, share, transfer):
        """U[k, j]: type k's utility from contract j."""
        theta = self.theta[:, None]
        return transfer[None, :] + self.agent_value(theta, share[None, :])

    def binding_from(self, share, utility, tol=BIND_TOL) -> list[str]:
        """The IR and IC constraints that hold with equality (within tol) in a menu."""
        share = np.asarray(share, float)
        utility = np.asarray(utility, float)
        transfer = utility - self.agent_value(self.theta, share)
        U = self.utility_matrix(share, transfer)
        names = self._names()
        sep = "" if self.n == 2 else ","
        out = [f"IR_{names[k]}" for k in range(self.n) if utility[k] - self.outside[k] <= tol * (1 + abs(utility[k]))]
        for k in range(self.n):
            for j in range(self.n):
                if j != k and U[k, k] - U[k, j] <= tol * (1 + abs(U[k, k])):
                    out.append(f"IC_{names[k]}{sep}{names[j]}")
        return out


# -- closed form -----------------------------------------------------------------------------------
def _closed_form_applies(problem: Admission) -> str | None:
    if not problem.is_len:
        return ("output must be linear in e with capability increasing in theta and the cost quadratic "
                "in e (the LEN model of docs/theory/admission.md)")
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
    return problem.menu_result(menu.share, menu.utility, method="closed-form", binding=menu.binding,
                               extras=extras)
