"""General adverse selection: the screening problem (docs/theory/screening.md).

A principal offers a menu {(q_k, t_k)} to an agent of private type θ_k with prior p_k.  Type k's
utility from item l is u(θ_k, q_l) + t_l (`agent` + transfer); the principal earns
w(θ_k, q_k) − t_k (`principal` − transfer).  The principal maximises Σ_k p_k [w(θ_k,q_k) − t_k]
subject to

    IC_kl: u(θ_k,q_k) + t_k ≥ u(θ_k,q_l) + t_l  (all k ≠ l),   IR_k: u(θ_k,q_k) + t_k ≥ ū_k,
    q_k ∈ q_bounds.

Methods, in the order ``method="auto"`` tries them:

* ``closed-form`` — virtual values with ironing (two types included), when its assumptions hold
  (:mod:`.closed_form`);
* ``cvxpy-local`` — adjacent IC + monotone allocation, when single crossing holds (one-dimensional
  types, a(θ) strictly increasing) and ``ic`` is not ``"all-pairs"``;
* ``cvxpy`` — all-pairs IC, the reference; constraint generation for multidimensional types;
* ``pyomo`` — a local NLP (Ipopt / ripopt) when the change of variables of :mod:`.symbolic` does not
  give a concave objective (results marked ``local``), or the LP through HiGHS.

Rows: ``theta, prob, q, t, agent_utility, principal_payoff, rent``; the objective is the principal's
expected payoff.  Checks (:mod:`.checks`): ``max_ic_violation`` over all pairs and ``max_ir_violation``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cached_property

import numpy as np
import pandas as pd

from ..kinds import register
from ..problem import Field, Method, Problem
from ..result import Result
from .checks import best_deviation_generic, best_deviation_split
from .nonseparable import NonSeparable

# sympy, cvxpy and the algorithm modules are imported on first use, so that reading (and
# rejecting) a spec stays fast


# an object Index: pandas builds (and looks up in) it far faster than a string-dtype one, which
# matters when a closed-form menu of 200 types takes a fraction of a millisecond
_MENU_COLUMNS = pd.Index(["theta", "prob", "q", "t", "agent_utility", "principal_payoff", "rent"], dtype=object)


MAX_DIM = 9
_SPLITS: dict = {}  # sympy work per (expressions, bounds), shared by problems that differ in numbers only


def _bounds_pair(r, name, value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise r.error(name, f"expected [low, high], got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise r.error(name, f"expected numbers (or inf), got {v!r}")
        if math.isnan(v):
            raise r.error(name, "NaN is not a bound")
        out.append(float(v))
    if not out[0] < out[1]:
        raise r.error(name, f"low must be below high, got {value!r}")
    if out[0] == math.inf or out[1] == -math.inf:
        raise r.error(name, f"bounds {value!r} leave no room for the allocation")
    return tuple(out)


@register
class Screening(Problem):
    """Screening: the principal's best menu of (allocation, transfer) pairs, one per type.

    Each type of agent picks the item it prefers (incentive compatibility) and must do at least
    as well as its outside option (individual rationality); the principal maximises its expected
    payoff.  The model, its methods and their sources are on the theory page
    (docs/theory/screening.md).
    """

    kind = "screening"
    compare = ("q", "t")
    fields = {
        "theta": Field(list, doc="the types: numbers, strictly increasing; or equal-length lists, one per type, "
                                 "for multidimensional types"),
        "prob": Field(list, doc="prior probability of each type: positive, summing to 1 (within 1e-9)"),
        "agent": Field(str, doc="the agent's gross utility u(theta, q) from allocation q, an expression in theta "
                                "and q (multidimensional: theta1, theta2, ..., q1, q2, ...); the agent also "
                                "receives the transfer t"),
        "principal": Field(str, doc="the principal's gross payoff w(theta, q) from giving allocation q to type "
                                    "theta, an expression like agent; the principal pays t"),
        "outside": Field(float | list, 0.0, "the agent's reservation utility: one number for every type, or one "
                                            "per type"),
        "q_bounds": Field(list, [0.0, math.inf], "[low, high] bounds of the allocation; a multidimensional "
                                                  "allocation takes one [low, high] per component"),
        "ic": Field(str, "auto", "which incentive constraints the programs impose: 'all-pairs' (every type "
                                 "against every other), 'local' (adjacent types with a monotone allocation, "
                                 "valid under single crossing) or 'auto' (the local program where single "
                                 "crossing holds, all pairs otherwise)"),
        "rent_weight": Field(float, 0.0, "weight α in [0, 1) of the agent's utility in the principal's "
                                         "objective (Baron and Myerson 1982); 0: the principal's payoff alone"),
        "fixed_cost": Field(float, 0.0, "the principal's cost of serving a type with q > 0, so that shutting "
                                        "a type out (q = 0) is a choice"),
    }

    def _read(self, r) -> None:
        raw = r.raw("theta")
        if isinstance(raw, np.ndarray):
            self.multi = raw.ndim == 2
        else:
            self.multi = (
                isinstance(raw, (list, tuple)) and len(raw) > 0 and all(isinstance(x, (list, tuple, np.ndarray)) for x in raw)
            )
        if self.multi:
            theta = r.matrix("theta")
            if len({tuple(row) for row in theta.tolist()}) != len(theta):
                raise r.error("theta", "types must be distinct")
            self.d = theta.shape[1]
            if self.d > MAX_DIM:
                raise r.error("theta", f"at most {MAX_DIM} type dimensions are supported")
        else:
            theta = r.vector("theta", increasing=True)
            self.d = 1
        self.theta = theta
        self.n = len(theta)
        self.prob = r.probabilities("prob", self.n)
        qb = r.raw("q_bounds", [0.0, math.inf])
        if isinstance(qb, (list, tuple)) and qb and all(isinstance(x, (list, tuple)) for x in qb):
            bounds = [_bounds_pair(r, f"q_bounds[{i}]", x) for i, x in enumerate(qb)]
            if not self.multi and len(bounds) != 1:
                raise r.error("q_bounds", "one-dimensional types take one allocation: give [low, high]")
        else:
            pair = _bounds_pair(r, "q_bounds", qb)
            bounds = [pair] * (self.d if self.multi else 1)
        if len(bounds) > MAX_DIM:
            raise r.error("q_bounds", f"at most {MAX_DIM} allocation components are supported")
        self.q_bounds = bounds
        self.m = len(bounds)
        if self.multi:
            self.theta_names = [f"theta{i + 1}" for i in range(self.d)]
            self.q_names = [f"q{j + 1}" for j in range(self.m)]
        else:
            self.theta_names, self.q_names = ["theta"], ["q"]
        names = [*self.theta_names, *self.q_names]
        self.agent = r.expression("agent", names)
        self.principal = r.expression("principal", names)
        self.outside = r.vector("outside", self.n, 0.0, broadcast=True)
        self.ic = r.string("ic", "auto", choices=("auto", "all-pairs", "local"))
        if self.ic == "local" and self.multi:
            raise r.error("ic", "local IC needs one-dimensional types (use 'auto' or 'all-pairs')")
        self.rent_weight = r.number("rent_weight", 0.0, lo=0.0)
        if not self.rent_weight < 1.0:
            raise r.error("rent_weight", f"expected a weight in [0, 1), got {self.rent_weight!r}")
        self.fixed_cost = r.number("fixed_cost", 0.0, nonneg=True)
        if self.fixed_cost > 0 and any(lo < 0 for lo, _ in self.q_bounds):
            raise r.error("fixed_cost", "a fixed cost of serving (q > 0) needs allocations bounded below by 0")

    @property
    def excludable(self) -> bool:
        """Whether excluding types (q = 0) is a choice: a fixed cost and q = 0 allowed."""
        return self.fixed_cost > 0 and all(lo == 0 for lo, _ in self.q_bounds)

    # -- derived quantities (lazy: sympy work only when a method needs it) -----------------------
    @property
    def theta_columns(self):
        th = self.theta.reshape(self.n, -1)
        return [th[:, i] for i in range(th.shape[1])]

    @cached_property
    def symbols(self):
        import sympy as sp

        th = [sp.Symbol(nm, real=True) for nm in self.theta_names]
        q = [sp.Symbol(nm, real=True) for nm in self.q_names]
        return th, q

    def _key(self):
        return (
            self.agent.text, tuple(sorted(self.agent.constants.items())),
            self.principal.text, tuple(sorted(self.principal.constants.items())),
            tuple(self.q_bounds), tuple(self.theta_names),
        )

    @cached_property
    def _split(self):
        key = self._key()
        if key in _SPLITS:
            return _SPLITS[key]
        out = self._find_split()
        if out[0] is None or not getattr(out[0], "used_ref", False):
            if len(_SPLITS) > 256:
                _SPLITS.clear()
            _SPLITS[key] = out
        return out

    def _find_split(self):
        import sympy as sp

        from .symbolic import attach_surplus, find_split

        th, q = self.symbols
        env = {**dict(zip(self.theta_names, th)), **dict(zip(self.q_names, q))}
        try:
            agent = sp.sympify(self.agent.sympy(**env))
            principal = sp.sympify(self.principal.sympy(**env))
        except Exception as exc:  # pragma: no cover - sympy failure
            return None, f"sympy cannot read the expressions ({exc})"
        ref = self.theta.reshape(self.n, -1)[0]
        try:
            split, reason = find_split(agent, th, q, ref, self.q_bounds)
        except Exception as exc:  # sympy gave up
            return None, f"sympy could not split the agent utility ({type(exc).__name__})"
        if split is None:
            return None, reason
        reason = attach_surplus(split, principal)
        if reason:
            split.terms = None
            split.terms_reason = reason
        return split, ""

    @property
    def split(self):
        return self._split[0]

    @property
    def split_reason(self):
        return self._split[1]

    def per_type(self, expr) -> np.ndarray:
        """A sympy expression in the types, evaluated for every type: shape (N,)."""
        from .symbolic import compiled

        env = {str(s): c for s, c in zip(self.split.theta, self.theta_columns)}
        return compiled(expr, self.split.theta).numpy(shape=(self.n,), **env)

    @cached_property
    def a(self) -> np.ndarray:
        """a(θ_k) per type (N, m); values equal up to rounding (relative 1e-12) are made equal, so
        that types the agent's preferences cannot tell apart are treated as one (pooled)."""
        a = np.column_stack([self.per_type(aj) for aj in self.split.a])
        if self.m == 1 and self.n > 1:
            a[:, 0] = _snap(a[:, 0])
        return a

    @cached_property
    def b(self) -> np.ndarray:
        b = self.per_type(self.split.b)
        if self.m == 1 and self.n > 1:  # within a group of equal a, nearly equal b are equal too
            _, inverse, counts = np.unique(self.a[:, 0], return_inverse=True, return_counts=True)
            if np.any(counts > 1):  # one pass over the groups (not one scan of all types per value)
                members = np.argsort(inverse, kind="stable")
                starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
                for g in np.flatnonzero(counts > 1):
                    group = members[starts[g]:starts[g] + counts[g]]
                    b[group] = _snap(b[group])
        return b

    @cached_property
    def finite_reason(self) -> str | None:
        """None when the agent's and the principal's payoffs are finite numbers inside q_bounds,
        else where they are not (a NaN or infinite payoff never makes an optimum)."""
        samples = []
        for lo, hi in self.q_bounds:
            if math.isfinite(lo) and math.isfinite(hi):
                samples.append(lo + (hi - lo) * np.array([0.25, 0.5, 0.75]))
            elif math.isfinite(lo):
                samples.append(lo + np.array([0.5, 1.0, 2.0]))
            elif math.isfinite(hi):
                samples.append(hi - np.array([0.5, 1.0, 2.0]))
            else:
                samples.append(np.array([-1.0, 0.5, 1.0]))
        for name, expr in (("agent", self.agent), ("principal", self.principal)):
            finite = np.zeros(self.n, dtype=bool)
            for i in range(3):
                env = self.env(np.tile([s[i] for s in samples], (self.n, 1)))
                values = expr.numpy(shape=(self.n,), **env)
                finite |= np.isfinite(values)
            if not finite.all():  # not finite anywhere inside q_bounds for some type
                k = int(np.flatnonzero(~finite)[0])
                at = ", ".join(f"{nm} = {env[nm][k]:.4g}" for nm in [*self.theta_names, *self.q_names])
                return f"{name} {expr.text!r} is not a finite number (at {at}: {values[k]})"
        return None

    @cached_property
    def concavity_proof(self) -> str | None:
        """None when the principal's surplus S(V) is proven concave on the valuation's domain: by
        cvxpy's DCP rules, or exactly for a polynomial (S'' ≤ 0 at its critical points and ends);
        else why not.  Sampling is never a proof."""
        from .symbolic import proven_concave

        if self.split is not None and self.m == 1 and self.split.terms is not None:
            if proven_concave(self.split.surplus, self.split.V[0], *self.split.v_bounds[0]):
                return None
        return self.convexity_reason

    @cached_property
    def surplus_const(self) -> np.ndarray:
        import sympy as sp

        const = getattr(self.split, "const", 0)
        return self.per_type(sp.sympify(const))

    @cached_property
    def closed_form_reason(self) -> str | None:
        """None when the closed form's assumptions hold (:func:`.closed_form.applies`), else why not."""
        from . import closed_form as cf

        return cf.applies(self)

    @cached_property
    def convexity_reason(self) -> str | None:
        from . import formulations as fm

        return fm.concavity_reason(self)

    @cached_property
    def _marginal(self):
        if self.split is None or self.multi or self.m != 1:
            return None, "no one-dimensional change of variables"
        from . import closed_form as cf

        cache = self.split.__dict__.setdefault("_marginal_cache", [])
        if cache:
            return cache[0]
        try:
            out = cf.marginal_inverse(self.split)
        except Exception as exc:  # sympy gave up
            out = None, f"cannot form the marginal surplus ({type(exc).__name__})"
        cache.append(out)
        return out

    @property
    def marginal(self):
        return self._marginal[0]

    @property
    def marginal_reason(self):
        return self._marginal[1]

    # -- methods -------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        """The closed form, then one method per formulation (a new route is one more entry)."""
        closed = Method("closed-form", _run_closed_form, lambda problem: problem.closed_form_reason,
                        closed_form=True, options=frozenset())
        routes = [(closed, frozenset(EXTENSIONS))]
        routes += [(f.method(), getattr(f, "handles", frozenset())) for f in (NonSeparable(), *self.formulations())]
        return [dataclasses.replace(m, applies=_guarded(m.applies, handles)) for m, handles in routes]

    # -- hooks of the generic services -------------------------------------------------------------
    def parametric(self, names, method):
        from .parametric import point_solver

        return point_solver(self, list(names), method)

    # -- results -------------------------------------------------------------------------------
    def q_from_V(self, V: np.ndarray) -> np.ndarray:
        from .symbolic import compiled

        split = self.split
        q = np.empty_like(V)
        for j in range(self.m):
            lo, hi = split.v_bounds[j]
            Vj = np.clip(V[:, j], lo, hi)
            qj = compiled(split.g[j], [split.V[j]]).numpy(shape=(self.n,), **{str(split.V[j]): Vj})
            q[:, j] = np.clip(qj, *self.q_bounds[j])
        return q

    def env(self, q: np.ndarray, theta: np.ndarray | None = None) -> dict:
        th = (self.theta if theta is None else theta).reshape(len(q), -1)
        out = {nm: th[:, i] for i, nm in enumerate(self.theta_names)}
        out.update({nm: q[:, j] for j, nm in enumerate(self.q_names)})
        return out

    def agent_values(self, q: np.ndarray) -> np.ndarray:
        return self.agent.numpy(shape=(self.n,), **self.env(q))

    def result_from_V(self, V, U, method, **extras) -> Result:
        q = self.q_from_V(V)
        u = self.agent_values(q)
        return self.result_from_qt(q, U - u, method, _u=u, **extras)

    def split_env(self, V, idx=slice(None)) -> dict:
        """The values of the split's symbols by name: θ of the types `idx`, and V (a column per V_j)."""
        env = {str(s): c[idx] for s, c in zip(self.split.theta, self.theta_columns)}
        env.update({str(v): V[:, j] for j, v in enumerate(self.split.V)})
        return env

    def menu_value(self, idx, V, U, p) -> float:
        """The objective of a one-dimensional menu in the variables (V, U) for the types `idx`
        with weights `p`: Σ p [S(V) + a V + b − (1 − α) U] − F Σ p [V > v(0)]."""
        from .symbolic import compiled

        split = self.split
        S = compiled(split.surplus, [*split.theta, *split.V]).numpy(shape=V.shape, **self.split_env(V[:, None], idx))
        value = p @ (S + self.a[idx, 0] * V + self.b[idx] - (1.0 - self.rent_weight) * U)
        if self.fixed_cost > 0:
            value -= self.fixed_cost * float(p @ (V > split.v_bounds[0][0]))
        return float(value)

    def result_from_qt(self, q, t, method, _u=None, **extras) -> Result:
        q = np.asarray(q, dtype=float).reshape(self.n, self.m)
        U = (self.agent_values(q) if _u is None else _u) + t
        w = self.principal.numpy(shape=(self.n,), **self.env(q))
        payoff = w - t
        served = np.any(q > 0, axis=1) if self.fixed_cost > 0 else None
        if not self.multi and self.m == 1:  # one float block: much faster to build
            block = np.column_stack([self.theta, self.prob, q[:, 0], t, U, payoff, U - self.outside])
            frame = pd.DataFrame(block, columns=_MENU_COLUMNS, copy=False)
        else:  # a vector type or allocation per row: lists in those columns
            theta = list(self.theta.tolist()) if self.multi else self.theta
            columns = [theta, self.prob, q[:, 0] if self.m == 1 else list(q.tolist()), t, U, payoff, U - self.outside]
            frame = pd.DataFrame(dict(zip(_MENU_COLUMNS, columns, strict=True)))
        objective = float(self.prob @ payoff)
        if self.rent_weight:
            objective += self.rent_weight * float(self.prob @ U)
        if served is not None:
            frame["served"] = served
            objective -= self.fixed_cost * float(self.prob @ served)
        status, message = "optimal", ""
        if not np.all(np.isfinite(frame.select_dtypes("number").to_numpy(dtype=float))):
            status, message = "not_solved", "the menu has payoffs that are not finite numbers"
        return Result(status=status, method=method, objective=objective, rows=frame, extras=dict(extras),
                      message=message)

    @cached_property
    def valuations(self):
        """v_j(q_j) of the split as expressions (for the checks and the slacks of binding constraints)."""
        from .symbolic import compiled

        return [compiled(self.split.v[j], [self.split.q[j]]) for j in range(self.m)]

    def valuation(self, j: int, qj: np.ndarray) -> np.ndarray:
        """V_j = v_j(q_j) for every type."""
        return self.valuations[j].numpy(shape=(self.n,), **{str(self.split.q[j]): qj})

    def check(self, result: Result) -> dict[str, float]:
        rows = result.rows
        if not self.multi and self.m == 1:  # one float block: read it as one array
            block = rows.to_numpy(dtype=float, copy=False)
            q = block[:, rows.columns.get_loc("q")].reshape(self.n, 1)
            t = block[:, rows.columns.get_loc("t")]
        else:
            q = np.array(rows["q"].tolist(), dtype=float).reshape(self.n, self.m)
            t = rows["t"].to_numpy(dtype=float)
        U = self.agent_values(q) + t
        ir = float(np.max(np.maximum(self.outside - U, 0.0)))
        if self.split is not None:
            V = np.column_stack([self.valuation(j, q[:, j]) for j in range(self.m)])
            best = best_deviation_split(self.a, self.b, V, U)
        else:
            best = best_deviation_generic(
                lambda env: self.agent.numpy(**env),
                {nm: c for nm, c in zip(self.theta_names, self.theta_columns)},
                {nm: q[:, j] for j, nm in enumerate(self.q_names)},
                t,
            )
        ic = float(np.max(np.maximum(best - U, 0.0)))
        # a NaN anywhere (a payoff that is not a number) is a failed check, never a silent pass
        ic = ic if math.isfinite(ic) else math.inf
        ir = ir if math.isfinite(ir) else math.inf
        return {"max_ic_violation": ic, "max_ir_violation": ir}


# -- method glue -----------------------------------------------------------------------------------
# fields beyond the basic model: a route is used only when it declares (``handles``) those in use
EXTENSIONS = {"rent_weight": lambda problem: problem.rent_weight > 0,
              "fixed_cost": lambda problem: problem.fixed_cost > 0}


def _guarded(applies, handles):
    """A method applies only where the payoffs are finite numbers and it models every field in
    use (then its own assumptions decide)."""

    def check(problem):
        if problem.finite_reason:
            return problem.finite_reason
        for name, used in EXTENSIONS.items():
            if used(problem) and name not in handles:
                return f"does not model {name} (the closed form and the cvxpy and pyomo formulations do)"
        return applies(problem)

    return check


def _snap(values: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """Values equal up to `rtol` (relative to the largest) set equal to the first of their run."""
    out = np.asarray(values, dtype=float).copy()
    order = np.argsort(out, kind="stable")
    v = out[order]
    tol = rtol * max(1.0, float(np.max(np.abs(v))))
    new_run = np.concatenate([[True], np.diff(v) > tol])
    starts = np.flatnonzero(new_run)
    out[order] = np.repeat(v[starts], np.diff(np.append(starts, v.size)))
    return out


def _run_closed_form(problem, **options) -> Result:
    from . import closed_form as cf

    V, U, pooled, status = cf.solve_menu(problem)
    if status != "optimal":
        return Result(status=status, method="closed-form",
                      message="the principal's payoff grows without bound in the allocation")
    res = problem.result_from_V(V[:, None], U, "closed-form")
    res.extras = {"pooling": pooled}
    return res
