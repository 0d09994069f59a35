"""The applicant's effort choice behind the admission menu (docs/theory/admission.md).

Given a contract (β, t) an applicant of capability θ chooses effort e to maximise
β·y(θ, e) − C(e) − rβ² + t, where y is the expected output (default θ·e) and C the effort cost
(default c·e²/2). The value of that choice, v(θ, β) = max_e β·y(θ, e) − C(e), is the agent's
gross utility of the share β in screening terms; the alliance keeps (1 − β)·y(θ, e*).

The LEN case (y linear in e with capability a(θ) = ∂y/∂e, C quadratic with curvature K) gives
e* = β·a/K and v = β²·a²/(2K) = β²φ: the closed forms apply. Any other output or cost is solved
symbolically (sympy) for e*(θ, β) from the first-order condition β·∂y/∂e = C'(e); the resulting
expressions feed the general numerical formulations.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

SYMPY_FAILURES = (NotImplementedError, ValueError, TypeError, ArithmeticError, AttributeError, RecursionError)
DEFAULT_OUTPUT = "theta*e"
DEFAULT_COST = "c*e**2/2"
_LEN_CACHE: dict = {}


class Technology:
    """Output y(θ, e) and cost C(e) of an admission problem, with the effort choice solved."""

    def __init__(self, output, cost, c: float):
        self.output = output  # Expr in theta, e
        self.cost = cost  # Expr in e, c
        self.c = float(c)
        self.notes: list[str] = []  # why a symbolic step gave up (shown in the spec error that follows)

    # -- symbolic -----------------------------------------------------------------------------
    @cached_property
    def _symbols(self):
        import sympy as sp

        return sp.symbols("theta q e", positive=True)

    @cached_property
    def _y(self):
        theta, _, e = self._symbols
        return self.output.sympy(theta=theta, e=e)

    @cached_property
    def _C(self):
        _, _, e = self._symbols
        return self.cost.sympy(e=e, c=self.c)

    @property
    def is_default(self) -> bool:
        return (self.output.text.replace(" ", "") == DEFAULT_OUTPUT and not self.output.constants
                and self.cost.text.replace(" ", "") == DEFAULT_COST and not self.cost.constants)

    @cached_property
    def len_form(self):
        """(capability a(θ) as sympy expression, K) when y is linear in e and C = K e²/2; else None."""
        key = (self.output.text, tuple(sorted(self.output.constants.items())), self.cost.text,
               tuple(sorted(self.cost.constants.items())), self.c)
        if key not in _LEN_CACHE:
            _LEN_CACHE[key] = self._len_form()
        return _LEN_CACHE[key]

    def _len_form(self):
        import sympy as sp

        theta, _, e = self._symbols
        if self.is_default:
            return theta, self.c
        y, C = self._y, self._C
        try:
            ye = sp.diff(y, e)
            linear = sp.simplify(sp.diff(ye, e)) == 0 and sp.simplify(y.subs(e, 0)) == 0
            C2 = sp.simplify(sp.diff(C, e, 2))
            quadratic = (
                sp.simplify(sp.diff(C2, e)) == 0
                and sp.simplify(C.subs(e, 0)) == 0
                and sp.simplify(sp.diff(C, e).subs(e, 0)) == 0
            )
        except SYMPY_FAILURES as exc:  # sympy cannot decide: treated as not LEN (the NLP methods remain)
            self.notes.append(f"sympy could not test the LEN form ({type(exc).__name__}: {exc})")
            return None
        if not (linear and quadratic) or not C2.is_number or float(C2) <= 0:
            return None
        return sp.simplify(ye), float(C2)

    def capability(self, theta) -> np.ndarray | None:
        """a(θ_k) in the LEN case, else None."""
        if self.is_default:
            return np.array(theta, dtype=float)
        form = self.len_form
        if form is None:
            return None
        from ..expr import from_sympy

        return from_sympy(form[0], ("theta",)).numpy(shape=np.shape(theta), theta=np.asarray(theta, dtype=float))

    @cached_property
    def effort_sympy(self):
        """e*(θ, β) as a sympy expression (first-order condition), or None when sympy cannot solve it."""
        import sympy as sp

        theta, q, e = self._symbols
        form = self.len_form
        if form is not None:
            return q * form[0] / form[1]
        try:
            candidates = sp.solve(sp.Eq(q * sp.diff(self._y, e), sp.diff(self._C, e)), e)
        except SYMPY_FAILURES as exc:
            self.notes.append(f"sympy could not solve the first-order condition ({type(exc).__name__}: {exc})")
            return None
        good = []
        for cand in candidates:
            try:  # a root is kept if it is real and positive at a sample point
                val = complex(cand.subs({theta: 1.3, q: 0.5}).evalf())
            except SYMPY_FAILURES as exc:
                self.notes.append(f"a root {cand} could not be evaluated ({type(exc).__name__})")
                continue
            if abs(val.imag) < 1e-12 and val.real > 0:
                good.append(cand)
        if len(good) != 1:
            self.notes.append(f"the first-order condition has {len(good)} real positive roots, not one")
        return good[0] if len(good) == 1 else None

    @cached_property
    def _indirect(self) -> tuple[str | None, str | None]:
        import sympy as sp

        e_star = self.effort_sympy
        if e_star is None:
            return None, None
        theta, q, e = self._symbols
        v = sp.expand_log(q * self._y.subs(e, e_star) - self._C.subs(e, e_star), force=True)
        keep = sp.expand_log((1 - q) * self._y.subs(e, e_star), force=True)
        return _text(v), _text(keep)

    @property
    def agent_text(self) -> str | None:
        """v(θ, q) as an expression string in theta and q (the screening kind's `agent`, before risk)."""
        return self._indirect[0]

    @property
    def alliance_text(self) -> str | None:
        """(1 − q)·y(θ, e*) as an expression string in theta and q."""
        return self._indirect[1]

    @cached_property
    def effort_text(self) -> str | None:
        e_star = self.effort_sympy
        return None if e_star is None else _text(e_star)

    # -- numeric ------------------------------------------------------------------------------
    def _evaluate(self, text, theta, share):
        from ..expr import parse

        theta, share = np.asarray(theta, float), np.asarray(share, float)
        return parse(text, {"theta", "q"}).numpy(shape=np.broadcast(theta, share).shape, theta=theta, q=share)

    def value(self, theta, share):
        """v(θ, β) = max_e β·y(θ, e) − C(e), elementwise (broadcasting)."""
        return self._evaluate(self.agent_text, theta, share)

    def effort(self, theta, share):
        return self._evaluate(self.effort_text, theta, share)

    def kept(self, theta, share):
        """The alliance's expected output share (1 − β)·y(θ, e*)."""
        return self._evaluate(self.alliance_text, theta, share)


def _text(expr) -> str:
    import sympy as sp

    return sp.sstr(expr, full_prec=True)
