"""The change of variables of screening problems (docs/theory/screening.md, "Solving it as a convex program").

An agent's gross utility u(θ, q) that splits as

    u(θ, q) = b(θ) + Σ_j [ a_j(θ) v_j(q_j) + c_j(q_j) ]

makes incentive compatibility *linear* in the agent's valuation V_j = v_j(q_j) and the
agent's utility U = u + t:

    IC_kl:  U_k ≥ U_l + Σ_j (a_j(θ_k) − a_j(θ_l)) V_lj + b(θ_k) − b(θ_l),

and c_j(q_j) is absorbed into the transfer.  The principal's expected payoff becomes
Σ_k p_k [ S_k(V_k) + Σ_j a_j(θ_k) V_kj + b(θ_k) − U_k ] with the *surplus*
S_k(V) = principal(θ_k, g(V)) + Σ_j c_j(g_j(V_j)), g_j = v_j⁻¹.  The program is convex when
every S_k is concave; :func:`surplus_terms` writes S as Σ_i coef_i(θ) h_i(V) so that cvxpy can
establish concavity term by term (DCP) over all types at once.

The split is found with sympy: the double difference
u(θ,q) − u(θ,q⁰) − u(θ⁰,q) + u(θ⁰,q⁰) must separate into a product a(θ)·v(q)
(``sympy.separatevars``); v is inverted on the allocation's domain with ``sympy.solve``.
Sympy results become :class:`ital_opt.expr.Expr` objects (:func:`ital_opt.expr.from_sympy`),
evaluated like the spec's own expressions; nothing is passed to ``eval``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..expr import Expr, from_sympy


@dataclass
class Split:
    """u(θ, q) = b(θ) + Σ_j a_j(θ) v_j(q_j) + c_j(q_j), with V_j = v_j(q_j) increasing in q_j."""

    theta: list  # sympy symbols θ_1..θ_d
    q: list  # sympy symbols q_1..q_m
    V: list  # sympy symbols V_1..V_m
    a: list  # a_j(θ)
    b: object  # b(θ)
    v: list  # v_j(q_j)
    c: list  # c_j(q_j)
    g: list  # g_j(V_j) = v_j^{-1}
    v_bounds: list  # [(lo, hi)] of V_j
    surplus: object = None  # S(θ, V) = principal(θ, g(V)) + Σ c_j(g_j(V_j))
    terms: list = field(default_factory=list)  # [(coef(θ), h(V))] with S = Σ coef·h


def _finite(x) -> bool:
    try:
        return bool(x.is_finite) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _base_point(u_q, q, lo, hi):
    """A point q⁰ of the domain where u(·, q⁰) is finite (prefer the lower bound)."""
    candidates = []
    if math.isfinite(lo):
        candidates.append(lo)
    if math.isfinite(lo) and math.isfinite(hi):
        candidates.append((lo + hi) / 2)
    candidates += [1.0, lo + 1.0 if math.isfinite(lo) else 0.0, 0.5]
    for c in candidates:
        if not (lo <= c <= hi):
            continue
        val = u_q.subs(q, sp.nsimplify(c))
        if _finite(sp.N(val)):
            return sp.nsimplify(c)
    return None


def _is_zero(expr, symbols, rng) -> bool:
    """expr ≡ 0? (sympy simplification, then numerical spot checks at random points)."""
    try:
        if sp.simplify(expr) == 0:
            return True
    except Exception:  # pragma: no cover - sympy internals; the numeric test below decides
        pass
    pts = rng.uniform(0.3, 2.0, size=(20, len(symbols)))
    try:
        vals = values(expr, symbols, *[pts[:, i] for i in range(len(symbols))], shape=(20,))
    except ValueError:  # outside the expression language
        return False
    ok = np.isfinite(vals)
    return bool(ok.sum() >= 10 and np.all(np.abs(vals[ok]) < 1e-9))


def find_split(agent_sym, theta_syms, q_syms, theta_ref, q_bounds) -> tuple[Split | None, str]:
    """Split the agent utility; returns (Split, "") or (None, reason)."""
    rng = np.random.default_rng(0)
    m = len(q_syms)
    theta0 = {t: sp.Integer(0) for t in theta_syms}
    used_ref = False
    if not _finite(sp.N(agent_sym.subs(theta0).subs({qq: sp.Rational(1, 2) for qq in q_syms}))):
        theta0 = {t: sp.nsimplify(float(x)) for t, x in zip(theta_syms, theta_ref)}
        used_ref = True
    q0 = {}
    for j, qj in enumerate(q_syms):
        lo, hi = q_bounds[j]
        others = {qq: 1 for qq in q_syms if qq is not qj}
        base = _base_point(agent_sym.subs(theta0).subs(others), qj, lo, hi)
        if base is None:
            return None, f"no point of q_bounds where the agent utility is finite for {qj}"
        q0[qj] = base
    u0 = agent_sym.subs(theta0).subs(q0)  # u(θ⁰, q⁰)
    b = sp.simplify(agent_sym.subs(q0) - u0)
    a_list, v_list, c_list = [], [], []
    total = b + u0
    for qj in q_syms:
        rest = {qq: q0[qq] for qq in q_syms if qq is not qj}
        u_j = agent_sym.subs(rest)  # u(θ, q_j, q⁰_{-j})
        D = sp.expand(u_j - u_j.subs({qj: q0[qj]}) - u_j.subs(theta0) + u0)  # the double difference
        c_j = sp.simplify(u_j.subs(theta0) - u0)
        if D == 0:
            a_j, v_j = sp.Integer(0), qj
        else:
            parts = sp.separatevars(sp.factor(D), symbols=[*theta_syms, qj], dict=True)
            if parts is None:
                return None, f"the agent utility does not separate as a(theta)*v({qj}) + c({qj}) + b(theta)"
            v_j = parts.get(qj, sp.Integer(1))
            a_j = parts.get("coeff", sp.Integer(1))
            for t in theta_syms:
                a_j = a_j * parts.get(t, sp.Integer(1))
            if not v_j.free_symbols or not (v_j.free_symbols <= {qj}) or not (a_j.free_symbols <= set(theta_syms)):
                return None, f"the agent utility does not separate in {qj}"
        a_list.append(sp.simplify(a_j))
        v_list.append(sp.simplify(v_j))
        c_list.append(c_j)
        total = total + a_j * v_j + c_j
    if not _is_zero(sp.expand(agent_sym - total), [*theta_syms, *q_syms], rng):
        return None, "the agent utility is not additively separable across allocation components"
    # orient every v_j increasing on its domain, find its range and inverse
    V_syms, g_list, bounds = [], [], []
    for j, qj in enumerate(q_syms):
        lo, hi = q_bounds[j]
        name = f"V{j + 1}" if m > 1 else "V"
        v_j = v_list[j]
        if v_j == qj:
            V_j = sp.Symbol(name, real=True, nonnegative=True) if lo >= 0 else sp.Symbol(name, real=True)
            V_syms.append(V_j)
            g_list.append(V_j)
            bounds.append((lo, hi))
            continue
        grid = _grid(lo, hi)
        try:
            vals = values(v_j, [qj], grid)
        except ValueError as exc:
            return None, f"v({qj}) = {v_j}: {exc}"
        ok = np.isfinite(vals)
        if ok.sum() < 3:
            return None, f"v({qj}) = {v_j} is not finite on q_bounds"
        dv = np.diff(vals[ok])
        if np.all(dv < 0):
            v_j = -v_j
            a_list[j] = -a_list[j]
            v_list[j] = v_j
        elif not np.all(dv > 0):
            return None, f"v({qj}) = {v_j} is not monotone on q_bounds"
        vlo, vhi = _end_value(v_j, qj, lo, -sp.oo), _end_value(v_j, qj, hi, sp.oo)
        if math.isnan(vlo) or math.isnan(vhi):
            return None, f"v({qj}) = {v_j} is undefined at the ends of q_bounds"
        V_j = sp.Symbol(name, real=True, nonnegative=True) if vlo >= 0 else sp.Symbol(name, real=True)
        V_syms.append(V_j)
        qpos = sp.Symbol(str(qj), nonnegative=True, real=True) if lo >= 0 else sp.Symbol(str(qj), real=True)
        try:
            sols = sp.solve(sp.Eq(v_j.subs(qj, qpos), V_j), qpos)
        except Exception:  # sympy raises many kinds when it cannot solve: the reason says so
            sols = []
        chosen = None
        test = grid[ok][1:-1][:5]
        for sol in sols:
            try:
                back = values(sol, [V_j], values(v_j, [qj], test))
            except (ValueError, TypeError):
                continue
            if np.all(np.abs(back - test) < 1e-8 * (1 + np.abs(test))):
                chosen = sol
                break
        if chosen is None:
            return None, f"cannot invert v({qj}) = {v_j} symbolically"
        g_list.append(chosen)
        bounds.append((vlo, vhi))
    split = Split(theta_syms, q_syms, V_syms, a_list, b, v_list, c_list, g_list, bounds)
    split.used_ref = used_ref
    return split, ""


def _end_value(v, q, x, where) -> float:
    """v at the end x of q_bounds; at an infinite end (x = where = ±oo) its limit there, or ±inf."""
    if math.isfinite(x):
        return float(values(v, [q], np.array([x]))[0])
    lim = sp.limit(v, q, where)
    return float(lim) if _finite(lim) else float(where)


def _grid(lo, hi):
    lo_ = lo if math.isfinite(lo) else (min(-10.0, hi - 10) if math.isfinite(hi) else -10.0)
    hi_ = hi if math.isfinite(hi) else max(10.0, lo_ + 10)
    return np.linspace(lo_, hi_, 41)


def attach_surplus(split: Split, principal_sym) -> str:
    """Set split.surplus and split.terms; returns "" or the reason the terms cannot be formed."""
    sub = {qj: gj for qj, gj in zip(split.q, split.g)}
    S = principal_sym.subs(sub) + sum(cj.subs(sub) for cj in split.c)
    S = sp.expand(S)
    split.surplus = S
    terms: dict = {}
    theta_set = set(split.theta)
    for term in sp.Add.make_args(S):
        coef, rest = sp.Integer(1), sp.Integer(1)
        for factor in sp.Mul.make_args(term):
            if factor.free_symbols <= theta_set:
                coef = coef * factor
            elif factor.free_symbols & theta_set:
                return f"the term {term} mixes the type and the allocation inseparably"
            else:
                rest = rest * factor
        if rest == 1:
            continue  # depends on θ only: a constant per type
        terms[rest] = terms.get(rest, 0) + coef
    split.terms = [(sp.simplify(c), h) for h, c in terms.items()]
    split.const = sp.expand(S - sum(c * h for h, c in terms.items()))
    names = [*split.theta, *split.V]
    try:  # every piece must be a real, finite expression of the language (no I, zoo, nan)
        for piece in (S, split.const, *[c for c, _ in split.terms], *[h for _, h in split.terms]):
            compiled(piece, names)
    except ValueError as exc:
        return f"the principal's surplus {S} is not a finite real expression: {exc}"
    return ""


def proven_concave(S, V, lo: float, hi: float) -> bool:
    """True when sympy proves S'' ≤ 0 on [lo, hi]: from the sign assumptions of V on that interval
    (e.g. S = 2√V on V ≥ 0), or exactly for a polynomial.  False means "not proven"."""
    try:
        d2 = sp.simplify(sp.diff(S, V, 2))
        if d2.is_nonpositive:
            return True
        if lo >= 0:
            W = sp.Symbol("W", positive=True)
            if sp.simplify(d2.subs(V, W + lo)).is_nonpositive:
                return True
    except (TypeError, ValueError, AttributeError):
        pass
    return polynomial_concave(S, V, lo, hi)


def polynomial_concave(S, V, lo: float, hi: float) -> bool:
    """True when S is a polynomial in V whose second derivative is ≤ 0 on [lo, hi] (proven: at the
    ends and at the real roots of S''', exactly; an unbounded end by the leading term)."""
    try:
        poly = sp.Poly(sp.expand(S), V)
    except (sp.PolynomialError, sp.GeneratorsNeeded):
        return False
    if any(c.free_symbols for c in poly.all_coeffs()):
        return False
    d2 = poly.diff(V).diff(V)
    if d2.is_zero:
        return True
    roots = sp.Poly(d2.diff(V), V).real_roots() if d2.degree() > 1 else []
    points = [r for r in roots if lo <= float(sp.N(r, 30)) <= hi]
    points += [sp.nsimplify(x) for x in (lo, hi) if math.isfinite(x)]
    if any(float(sp.N(d2.eval(x), 30)) > 0 for x in points):
        return False
    if d2.degree() > 0:
        lead = d2.LC()
        if math.isinf(hi) and lead > 0:
            return False
        if math.isinf(lo) and lead * (-1) ** d2.degree() > 0:
            return False
    return bool(points) or d2.degree() == 0 and d2.LC() <= 0


# -- numbers from sympy trees: through the one expression language ----------------------------------
def compiled(expr, symbols) -> Expr:
    """`expr` (sympy) as an :class:`ital_opt.expr.Expr` in the names of `symbols`."""
    return from_sympy(expr, [str(s) for s in symbols])


def values(expr, symbols, *args, shape=None):
    """`expr` evaluated with numpy at `args` (one per symbol); broadcast to `shape` when given."""
    env = {str(s): v for s, v in zip(symbols, args)}
    return compiled(expr, symbols).numpy(shape=shape if shape is not None else np.broadcast(*args).shape, **env)
