"""Exact rest points with sympy, and the ESS conditions as inequalities in the parameters.

For each face of the cube (:func:`.closed_form.faces`) the equations ΔF_i = 0 of the free
coordinates are polynomial once the payoffs are rational functions of the shares (always so
with constant payoff tables: ΔF_i is then multilinear).  A lex Gröbner basis triangularises
such a system, so every isolated solution is found (real roots isolated exactly, then
back-substitution at 50 digits: :func:`_solve_face`); a system with a continuum of solutions is
parametrised by ``sympy.solve`` and reported as a continuum of rest points.  Coefficients are
made exact (``nsimplify``: 2.1 -> 21/10) before solving.

The Jacobian is differentiated exactly and its eigenvalues are computed with mpmath at 40 digits,
so a zero real part is a true zero (below 1e-25), not a rounding accident.  A planar rest point
with purely imaginary eigenvalues is

* a **centre** when the field has the Dulac density B = 1/Π x_i(1 − x_i) with div(B·ẋ) ≡ 0:
  the flow then preserves the area B dx dy, so no orbit spirals (for the bimatrix replicator
  dynamics this is the first integral of Hofbauer & Sigmund 1998, §10.5; E2's static policy);
* otherwise a weak **stable** / **unstable focus** by the sign of the first Lyapunov coefficient
  (Guckenheimer & Holmes 1983, eq. 3.4.11; Kuznetsov 2004, §3.5); when that coefficient vanishes
  too, the Poincaré return map (:func:`.flows.return_map`) decides, or the point is
  **degenerate** when it cannot (a reversible system such as ΔA = a + bz + e(x − ½)² with
  c + d/2 = 0 has l1 = 0 and is a centre).

ESS conditions: at a corner c the Jacobian is diagonal, (1 − 2c_i)ΔF_i(c); with the spec's
[params] as symbols each entry is an expression in the parameters and the corner is an ESS iff
every one is negative — docs/theory/evolution.md: (1, 1) is an ESS iff S + M > max(...), (0, 0) iff
S + P < min(C_F, C_U).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from ..expr import Expr
from .closed_form import Analysis, RestPoint, classify, face_name, faces, mixed_weight
from .flows import return_map

DIGITS = 40
ZERO = mpmath.mpf("1e-25")


def share_symbols(n: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"x_{j + 1}", real=True) for j in range(n)]


def _exact(value):
    """Decimals as exact fractions (2.1 -> 21/10): a float by its shortest decimal form, as
    ``nsimplify(rational=True)`` would write it, but without its search."""
    if isinstance(value, (int, float)):
        return sp.Rational(repr(float(value))) if isinstance(value, float) else sp.Integer(value)
    return value.xreplace({f: sp.Rational(repr(float(f))) for f in value.atoms(sp.Float)})


def _entry(entry, env):
    """A payoff entry in sympy, with exact (rational) coefficients."""
    return _exact(entry.evaluate("sympy", env) if isinstance(entry, Expr) else entry)


def differences(problem, xs, params: dict | None = None) -> list[sp.Expr]:
    """ΔF_i as sympy expressions in the share symbols `xs` (and the parameter symbols `params`)."""
    env = dict(zip(problem.populations, xs))
    env.update(params or {})
    out = []
    n = len(xs)
    for i in range(n):
        total = sp.Integer(0)
        for others in itertools.product((0, 1), repeat=n - 1):
            full0 = (*others[:i], 0, *others[i:])
            full1 = (*others[:i], 1, *others[i:])
            a0, a1 = (_entry(problem.payoff_entry(i, s), env) for s in (full0, full1))
            total += (a0 - a1) * mixed_weight(xs, full0, skip=i)
        out.append(sp.expand(total))
    return out


def not_rational(problem) -> str | None:
    """Why the symbolic method does not apply (payoffs not rational in the shares), or None."""
    xs = share_symbols(len(problem.populations))
    for name, d in zip(problem.populations, differences(problem, xs)):
        if not sp.together(d).is_rational_function(*xs):
            return f"the payoff difference of '{name}' is not a rational function of the shares"
    return None


def ess_conditions(problem) -> dict[tuple[int, ...], list[sp.Expr]]:
    """{corner: [e_1, ..., e_n]}: the corner is an ESS iff every e_i < 0 (parameters as symbols)."""
    n = len(problem.populations)
    xs = share_symbols(n)
    params = {k: sp.Symbol(k, real=True) for k in problem.params}
    d = differences(problem, xs, params)
    out = {}
    for corner in itertools.product((0, 1), repeat=n):
        at = dict(zip(xs, corner))
        out[corner] = [sp.expand((1 - 2 * c) * di.subs(at)) for c, di in zip(corner, d)]
    return out


def condition_text(expr: sp.Expr) -> str:
    """``expr < 0`` as readable text: decimals instead of fractions, the positive side first."""
    expr = sp.expand(expr)
    terms = sp.Add.make_args(expr)
    negative = sum(1 for t in terms if t.could_extract_minus_sign() and t.free_symbols)
    positive = sum(1 for t in terms if not t.could_extract_minus_sign() and t.free_symbols)
    text, rel = (-expr, ">") if negative > positive else (expr, "<")
    floats = text.xreplace({r: sp.Float(r, 12) for r in text.atoms(sp.Rational) if not r.is_Integer})
    return f"{sp.sstr(floats, full_prec=False)} {rel} 0"


def _real_in_open_unit(value) -> float | None:
    """The value as a float when it is real and strictly inside (0, 1), else None."""
    if value.is_Rational:
        return float(value) if 0 < value < 1 else None
    z = sp.N(value, DIGITS)
    re, im = sp.re(z), sp.im(z)
    if abs(im) > ZERO or not (ZERO < re < 1 - ZERO):
        return None
    return float(re)


def _solve_face(eqs, unknowns, dens):
    """Isolated solutions in the open unit box as {symbol: value}; and whether a continuum meets it.

    A zero-dimensional system is triangularised by a lex Gröbner basis (Buchberger; Cox, Little &
    O'Shea, *Ideals, Varieties, and Algorithms*, ch. 3): the last polynomial is univariate with
    rational coefficients, its real roots are isolated exactly (``Poly.real_roots``), and the other
    unknowns follow by back-substitution, each root to 50 digits.  Other systems (a continuum of
    solutions) go to ``sympy.solve``, which parametrises them.
    """
    if not unknowns:  # a corner
        return [{}], False
    eqs = [e for e in eqs if e != 0]
    if eqs:
        basis = sp.groebner(eqs, *unknowns, order="lex")
        if basis.exprs == [1]:
            return [], False
        if basis.is_zero_dimensional:
            return [v for v in _triangular(basis.exprs, unknowns) if _admissible(v, dens)], False
    sols = sp.solve(eqs, unknowns, dict=True) if eqs else [{}]
    points, continuum = [], False
    for sol in sols:
        if any(u not in sol for u in unknowns) or any(v.free_symbols for v in sol.values()):
            continuum = continuum or _meets_box(sol, unknowns, eqs)
            continue
        vals = {u: sol[u] for u in unknowns}
        if _admissible(vals, dens):
            points.append(vals)
    return points, continuum


def _admissible(vals, dens) -> bool:
    """Real, strictly inside the box, and no payoff denominator vanishes there."""
    if any(_real_in_open_unit(v) is None for v in vals.values()):
        return False
    return all(abs(sp.N(den.subs(vals), DIGITS)) > ZERO for den in dens)


def _triangular(basis, unknowns) -> list[dict]:
    """The real solutions of a zero-dimensional lex Gröbner basis by back-substitution."""
    sols = [{}]
    for var in reversed(unknowns):
        found = []
        for partial in sols:
            polys = [sp.Poly(g.subs(partial), var) for g in basis
                     if var in g.free_symbols and g.free_symbols <= set(partial) | {var}]
            polys = [q for q in polys if q.degree() > 0]
            if not polys:
                continue
            first = min(polys, key=lambda q: q.degree())
            if not partial:  # rational coefficients: exact isolation of the real roots
                roots = [sp.N(r, DIGITS + 10) for r in first.real_roots()]
            else:
                roots = [r for r in first.nroots(n=DIGITS + 10, maxsteps=500) if abs(sp.im(r)) <= ZERO]
            for r in roots:
                r = sp.re(r)
                if all(abs(q.eval(r)) <= ZERO * max(1, *(abs(c) for c in q.coeffs())) for q in polys):
                    found.append({**partial, var: r})
        sols = found
    return sols


def _meets_box(sol, unknowns, eqs) -> bool:
    """Whether a parametric solution has points inside the open box (free unknowns sampled)."""
    free = [u for u in unknowns if u not in sol or any(u in v.free_symbols for v in sol.values())]
    for values in itertools.product(np.linspace(0.05, 0.95, 7), repeat=len(free)):
        at = dict(zip(free, (sp.Float(v) for v in values)))
        full = {u: (sol[u].subs(at) if u in sol else at[u]) for u in unknowns}
        try:
            if all(0 < complex(sp.N(v)).real < 1 and abs(complex(sp.N(v)).imag) < 1e-12 for v in full.values()):
                return True
        except TypeError:
            continue
    return False


def _eigen(matrix: sp.Matrix):
    with mpmath.workdps(DIGITS):
        m = mpmath.matrix([[sp.N(v, DIGITS) for v in row] for row in matrix.tolist()])
        values, vectors = mpmath.eig(m)
    return values, vectors


@dataclass
class System:
    """The replicator system in sympy: share symbols, payoff differences, field, Jacobian, and per
    face of the cube the polynomial equations its rest points solve."""

    xs: list
    differences: list
    flow: sp.Matrix
    jacobian: sp.Matrix
    faces: list = field(default_factory=list)  # (free, fixed, {fixed symbol: 0|1}, equations, denominators)


def system(problem) -> System:
    """Build the system (exact coefficients); :func:`analyse` solves it."""
    n = len(problem.populations)
    xs = share_symbols(n)
    d = differences(problem, xs)
    flow = sp.Matrix([x * (1 - x) * di for x, di in zip(xs, d)])
    together = [sp.together(di) for di in d]
    numer = [sp.numer(t) for t in together]
    denom = [sp.denom(t) for t in together]
    out = System(xs, d, flow, flow.jacobian(xs))
    for free, fixed in faces(n):
        at = {xs[j]: sp.Integer(v) for j, v in fixed.items()}
        eqs = [sp.expand(numer[i].subs(at)) for i in free]
        out.faces.append((free, fixed, at, eqs, [den.subs(at) for den in denom]))
    return out


def analyse(problem, built: System | None = None) -> Analysis:
    """Every rest point, exactly; see the module docstring."""
    built = built or system(problem)
    xs = built.xs
    points, continua = [], []
    for free, fixed, at, eqs, dens in built.faces:
        sols, continuum = _solve_face(eqs, [xs[i] for i in free], dens)
        if continuum:
            continua.append(face_name(problem.populations, free, fixed))
        for sol in sols:
            exact = {**at, **sol}
            point = np.array([float(exact[x]) if exact[x].is_Rational else float(sp.re(sp.N(exact[x], DIGITS)))
                              for x in xs])
            points.append(_rest_point(problem, xs, built.differences, built.flow, built.jacobian.subs(exact), exact,
                                      point, free))
    return Analysis(points, continua, {})


def _rest_point(problem, xs, d, field, jac_at, exact, point, free) -> RestPoint:
    values, vectors = _eigen(jac_at)
    eig = np.array([complex(v) for v in values])
    with mpmath.workdps(DIGITS):
        scale = max(mpmath.mpf(1), max(abs(complex(v)) for v in values))
        zero = float(ZERO * scale)
    stability = classify(eig, zero)
    note = ""
    if stability == "neutral":
        planar = len(xs) == 2 and len(free) == 2 and np.all(np.abs(eig.imag) > zero)
        if planar:
            jac = np.array(jac_at.evalf(DIGITS).tolist(), dtype=float)
            stability, note = _planar_neutral(problem, xs, d, field, exact, values, vectors, point, jac)
        else:
            stability, note = "degenerate", "a zero real part (non-hyperbolic; not a planar centre problem)"
    return RestPoint(point, eig, stability, note)


def _planar_neutral(problem, xs, d, field, exact, values, vectors, point, jac):
    """Centre or weak focus of a planar rest point with eigenvalues ±iω (see the module docstring)."""
    x, y = xs
    div = sp.diff(d[0], x) / (y * (1 - y)) + sp.diff(d[1], y) / (x * (1 - x))
    if sp.simplify(div) == 0:
        return "centre", "first integral: div(B·field) = 0 with B = 1/(x(1-x)y(1-y))"
    with mpmath.workdps(DIGITS):
        k = 0 if mpmath.im(values[0]) > 0 else 1
        omega = mpmath.im(values[k])
        a = [mpmath.re(vectors[r, k]) for r in range(2)]
        b = [mpmath.im(vectors[r, k]) for r in range(2)]
    P = sp.Matrix([[sp.Float(b[0], DIGITS), sp.Float(a[0], DIGITS)], [sp.Float(b[1], DIGITS), sp.Float(a[1], DIGITS)]])
    u, w = sp.symbols("u w", real=True)
    shift = P * sp.Matrix([u, w])
    sub = {x: exact[x] + shift[0], y: exact[y] + shift[1]}
    fg = P.inv() * field.subs(sub)
    f, g = fg[0], fg[1]
    at0 = {u: 0, w: 0}

    def der(h, *vs):
        return sp.N(sp.diff(h, *vs).subs(at0), DIGITS)

    om = sp.Float(omega, DIGITS)
    l1 = (der(f, u, u, u) + der(f, u, w, w) + der(g, u, u, w) + der(g, w, w, w)
          + (der(f, u, w) * (der(f, u, u) + der(f, w, w)) - der(g, u, w) * (der(g, u, u) + der(g, w, w))
             - der(f, u, u) * der(g, u, u) + der(f, w, w) * der(g, w, w)) / om) / 16
    l1 = float(l1)
    if abs(l1) <= 1e-20:  # higher order: decided by integration (the return map)
        kind, how = return_map(problem.payoffs, point, jac)
        return kind, f"first Lyapunov coefficient 0; {how}"
    kind = "stable focus" if l1 < 0 else "unstable focus"
    return kind, f"weak focus: first Lyapunov coefficient {l1:.6g}"


def affine_ess_conditions(problem, levers: list[str], values: dict | None = None) -> dict[tuple[int, ...], tuple]:
    """Every corner's ESS conditions as affine functions of the parameters `levers`.

    ``{corner: (A, b)}`` with e = A·z + b (A of shape (n, len(levers))): the corner is an ESS iff
    every e_i < 0.  The other parameters take their spec values, overridden by `values`.  Raises
    ValueError naming the condition that is not affine in the levers (a lever multiplying another,
    or a share-dependent entry that does not vanish at the corners in a linear way).
    """
    symbols = [sp.Symbol(name, real=True) for name in levers]
    given = {**problem.params, **(values or {})}
    fixed = {sp.Symbol(k, real=True): _exact(float(v)) for k, v in given.items() if k not in levers}
    out = {}
    for corner, conditions in ess_conditions(problem).items():
        A = np.zeros((len(conditions), len(levers)))
        b = np.zeros(len(conditions))
        for i, e in enumerate(conditions):
            e = sp.expand(e.xreplace(fixed))
            extra = e.free_symbols - set(symbols)
            if extra:
                raise ValueError(f"the ESS condition of {problem.populations[i]} at corner {corner} involves "
                                 f"{', '.join(sorted(map(str, extra)))}, not only the levers")
            poly = sp.Poly(e, *symbols) if symbols else None
            if poly is not None and poly.total_degree() > 1:
                raise ValueError(f"the ESS condition of {problem.populations[i]} at corner {corner} is not affine "
                                 f"in the levers: {condition_text(e)}")
            for k, s in enumerate(symbols):
                A[i, k] = float(e.coeff(s))
            b[i] = float(e.xreplace({s: 0 for s in symbols}))
        out[corner] = (A, b)
    return out
