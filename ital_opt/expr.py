"""The safe expression language of spec files.

An expression is a string such as ``"theta*sqrt(q)"`` or ``"-q**2/2"``.  It is parsed by
Python's :mod:`ast` and every node is checked against a whitelist: numbers, the names the
problem kind defines (plus the spec's ``[params]``), ``+ - * / **``, unary minus, parentheses
and the functions ``sqrt log exp abs square``.  Attribute access, subscripts, other calls,
lambdas, comparisons and unknown names are rejected before anything runs.

Limits (a spec is untrusted input; each is a :class:`~ital_opt.errors.SpecError`, raised in
microseconds): at most :data:`MAX_CHARS` characters and operations nested at most
:data:`MAX_DEPTH` deep (a sum of n terms nests n deep), so that no backend recurses without
bound.  Every constant part (a subexpression without names) is evaluated once at parse time in
floating point and must be a finite real number: ``1/0``, ``10**400``, ``(-8)**(1/3)``,
``log(0)`` are refused.  A constant exponent is at most :data:`MAX_EXPONENT` in absolute value,
so ``q**(9**9**9)`` is refused instead of asking a backend for a number with billions of
digits.  Nothing is ever
passed to ``eval``: the checked tree is walked by a small interpreter that builds the same
expression for each backend (numpy arrays, cvxpy atoms, pyomo expressions, sympy).
"""

from __future__ import annotations

import ast
import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import SpecError

FUNCTIONS = ("sqrt", "log", "exp", "abs", "square")
MAX_CHARS = 10_000
MAX_DEPTH = 200
MAX_EXPONENT = 1_000

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: lambda a: -a,
    ast.UAdd: lambda a: a,
}


_MODULES = {"numpy": "numpy", "cvxpy": "cvxpy", "pyomo": "pyomo.environ", "sympy": "sympy"}


def _functions(backend: str) -> dict[str, Callable]:
    """The backend's own sqrt, log, exp, abs and square (pyomo and sympy: x**2; pyomo: Python's abs)."""
    import importlib

    module = importlib.import_module(_MODULES[backend])
    out = {name: getattr(module, name) for name in ("sqrt", "log", "exp")}
    out["abs"] = abs if backend == "pyomo" else getattr(module, "Abs" if backend == "sympy" else "abs")
    out["square"] = (lambda x: x**2) if backend in ("pyomo", "sympy") else module.square
    if backend == "numpy":  # numbers as numpy floats, so that 1/0 is inf and (-8)**(1/3) NaN, as for arrays
        out["__number__"] = module.float64
    return out


@dataclass(frozen=True)
class Expr:
    """A checked expression; evaluate it with :meth:`numpy`, :meth:`cvxpy`, :meth:`pyomo` or :meth:`sympy`."""

    text: str
    tree: ast.expr = field(repr=False, compare=False)
    names: frozenset[str] = frozenset()
    constants: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)

    def evaluate(self, backend: str, env: Mapping[str, Any]) -> Any:
        functions = _functions(backend)
        scope = {**self.constants, **env}
        if backend == "numpy":  # numpy scalars: (-2.0)**0.5 is NaN, not a Python complex number
            import numpy as np

            scope = {k: np.float64(v) if type(v) in (int, float) else v for k, v in scope.items()}
        missing = self.names - scope.keys()
        if missing:
            raise KeyError(f"expression {self.text!r} needs values for {sorted(missing)}")
        return _walk(self.tree, scope, functions)

    def numpy(self, shape=None, **env):
        """The value with numpy; with `shape`, a float array of that shape (a constant or a
        lower-dimensional result is broadcast, invalid operations give NaN without warnings)."""
        if shape is None:
            return self.evaluate("numpy", env)
        import numpy as np

        with np.errstate(all="ignore"):
            value = np.asarray(self.evaluate("numpy", env), dtype=float)
        return np.broadcast_to(value, shape).copy()

    def cvxpy(self, **env):
        return self.evaluate("cvxpy", env)

    def pyomo(self, **env):
        return self.evaluate("pyomo", env)

    def sympy(self, **env):
        return self.evaluate("sympy", env)

    def substitute(self, mapping: Mapping[str, str | float]) -> str:
        """The text with names replaced at once by other names or numbers, then constant parts
        folded (a product with a factor 0 is 0: an absent member's input contributes nothing).
        ``{"e2": "e1", "e1": 0}`` renames from the original names.  Re-parse the text to use it."""
        tree = copy.deepcopy(self.tree)

        class _Substitute(ast.NodeTransformer):
            def visit_Name(self, node):
                if node.id not in mapping:
                    return node
                new = mapping[node.id]
                return ast.Name(id=new, ctx=ast.Load()) if isinstance(new, str) else _number(float(new))

            def generic_visit(self, node):
                node = super().generic_visit(node)
                return _fold(node) if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)) else node

        return ast.unparse(ast.fix_missing_locations(_Substitute().visit(tree)))

    def __str__(self) -> str:
        return self.text


def _number(value: float) -> ast.expr:
    """A number as a node; a negative one as a unary minus, which ast.unparse brackets where needed."""
    return ast.Constant(value=value) if value >= 0 else ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))


def _zero(node) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def _fold(node: ast.expr) -> ast.expr:
    """Fold a node whose operands are numbers; drop terms and factors that a 0 makes vanish."""
    functions = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    if not any(isinstance(n, ast.Name) and id(n) not in functions for n in ast.walk(node)):
        import numpy as np

        with np.errstate(all="ignore"):
            value = float(_walk(node, {}, _functions("numpy")))
        return _number(value) if math.isfinite(value) else node
    if isinstance(node, ast.BinOp):
        left, right = node.left, node.right
        if isinstance(node.op, ast.Mult) and (_zero(left) or _zero(right)):
            return ast.Constant(value=0.0)
        if isinstance(node.op, ast.Div) and _zero(left):
            return ast.Constant(value=0.0)
        if isinstance(node.op, (ast.Add, ast.Sub)) and _zero(right):
            return left
        if isinstance(node.op, ast.Add) and _zero(left):
            return right
        if isinstance(node.op, ast.Sub) and _zero(left):
            return ast.UnaryOp(op=ast.USub(), operand=right)
    return node


def _walk(node: ast.expr, scope: Mapping[str, Any], functions: Mapping[str, Callable]) -> Any:
    if isinstance(node, ast.Constant):
        number = functions.get("__number__")
        return number(node.value) if number is not None else node.value
    if isinstance(node, ast.Name):
        return scope[node.id]
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_walk(node.left, scope, functions), _walk(node.right, scope, functions))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_walk(node.operand, scope, functions))
    if isinstance(node, ast.Call):
        return functions[node.func.id](_walk(node.args[0], scope, functions))  # type: ignore[attr-defined]  # parse(): names only
    raise AssertionError(f"unchecked node {type(node).__name__}")  # parse() admits no other node


def parse(
    text: Any,
    names: set[str] | frozenset[str] | tuple[str, ...],
    *,
    field: str | None = None,
    constants: Mapping[str, float] | None = None,
) -> Expr:
    """Parse `text` under the whitelist; `names` are the free names allowed.

    `constants` (the spec's ``[params]``) are allowed names too and are substituted by value.
    Raises :class:`SpecError` naming `field` on any violation.
    """
    constants = dict(constants or {})
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise SpecError(field, f"expected an expression string, got {type(text).__name__}")
    text = str(text)
    if len(text) > MAX_CHARS:
        raise SpecError(field, f"expression is longer than {MAX_CHARS:,} characters")
    shadowed = sorted(set(names) & set(constants))
    if shadowed:
        raise SpecError(f"params.{shadowed[0]}", f"shadows the variable '{shadowed[0]}' of expression field "
                        f"'{field}'; rename the parameter")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(field, f"cannot parse expression {_short(text)!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise SpecError(field, f"expression nests too deeply (at most {MAX_DEPTH} operations)") from None
    depth = _depth(tree.body)
    if depth > MAX_DEPTH:
        raise SpecError(field, f"expression nests {depth} operations deep, more than {MAX_DEPTH} "
                        f"(a sum or product of n terms nests n deep)")
    text_short = _short(text)
    allowed = set(names) | set(constants)
    used: set[str] = set()

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise SpecError(field, f"only numbers are allowed as constants in {text_short!r}, got {node.value!r}")
            if isinstance(node.value, float) and not math.isfinite(node.value):
                raise SpecError(field, f"non-finite constant in {text_short!r}")
        elif isinstance(node, ast.Name):
            if node.id not in allowed:
                hint = ", ".join(sorted(allowed)) or "none"
                raise SpecError(field, f"unknown name '{node.id}' in expression {text_short!r} (allowed names: {hint})")
            used.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise SpecError(field, f"operator {type(node.op).__name__} is not allowed in {text_short!r} (use + - * / **)")
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise SpecError(field, f"operator {type(node.op).__name__} is not allowed in {text_short!r}")
            check(node.operand)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
                raise SpecError(
                    field, f"function '{what}' is not allowed in {text_short!r} (allowed: {', '.join(FUNCTIONS)})"
                )
            if len(node.args) != 1 or node.keywords:
                raise SpecError(field, f"{node.func.id}() takes exactly one argument in {text_short!r}")
            check(node.args[0])
        else:
            raise SpecError(field, f"forbidden syntax ({type(node).__name__}) in expression {text_short!r}")

    check(tree.body)
    _constant(tree.body, field, text_short)
    return _expr(text, tree.body, used, constants)


def _expr(text: str, tree: ast.expr, used: set[str], constants: Mapping[str, float]) -> Expr:
    """The checked expression: its free names are the `used` names that are not `constants`, and it
    keeps the values of the constants it uses."""
    return Expr(text, tree, frozenset(used - set(constants)), {k: v for k, v in constants.items() if k in used})


# -- from sympy ----------------------------------------------------------------------------------
def from_sympy(sym: Any, names, *, constants: Mapping[str, float] | None = None) -> Expr:
    """The :class:`Expr` of a sympy expression, converted node by node through the whitelist.

    Numbers, the symbols named in `names` (matched by name), sums, products, powers and the
    functions ``sqrt log exp abs`` (sympy's ``Abs``) are admitted; anything else (``sign``,
    ``Piecewise``, ``I``, infinities, unknown symbols, ...) raises ValueError naming the node.
    The expression is then evaluated like any parsed one, by every back end.
    """
    import sympy

    allowed = {str(n) for n in names}
    used: set[str] = set()

    def number(value) -> ast.expr:
        if value.is_Integer:
            return _number(int(value))
        if value.is_Rational:
            p, q = int(value.p), int(value.q)
            node = ast.BinOp(left=ast.Constant(value=abs(p)), op=ast.Div(), right=ast.Constant(value=q))
            return ast.UnaryOp(op=ast.USub(), operand=node) if p < 0 else node
        out = float(value)
        if not math.isfinite(out):
            raise ValueError(f"the number {value} is not finite")
        return _number(out)

    def call(name: str, arg: ast.expr) -> ast.expr:
        return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=[arg], keywords=[])

    def conv(e) -> ast.expr:
        if e.is_Symbol:
            if e.name not in allowed:
                raise ValueError(f"unknown symbol {e.name!r} (allowed: {', '.join(sorted(allowed)) or 'none'})")
            used.add(e.name)
            return ast.Name(id=e.name, ctx=ast.Load())
        if e.is_Number:
            if e.is_real is not True or e in (sympy.oo, -sympy.oo, sympy.zoo, sympy.nan):
                raise ValueError(f"the number {e} is not a finite real number")
            return number(e)
        if e is sympy.pi or e is sympy.E:
            return _number(float(e))
        if e.is_Add or e.is_Mul:
            op = ast.Add() if e.is_Add else ast.Mult()
            args = list(e.args)
            if e.is_Mul and args[0] == -1:  # -x rather than -1*x
                rest = sympy.Mul(*args[1:], evaluate=False) if len(args) > 2 else args[1]
                return ast.UnaryOp(op=ast.USub(), operand=conv(rest))
            node = conv(args[0])
            for arg in args[1:]:
                node = ast.BinOp(left=node, op=op, right=conv(arg))
            return node
        if e.is_Pow:
            base, ex = e.args
            if ex == sympy.Rational(1, 2):
                return call("sqrt", conv(base))
            if ex.is_Number and ex.is_negative:
                inverse = conv(base ** (-ex)) if ex != -1 else conv(base)
                return ast.BinOp(left=ast.Constant(value=1), op=ast.Div(), right=inverse)
            return ast.BinOp(left=conv(base), op=ast.Pow(), right=conv(ex))
        function = {sympy.exp: "exp", sympy.log: "log", sympy.Abs: "abs"}.get(type(e))
        if function is not None and len(e.args) == 1:  # log(x, base) has two
            return call(function, conv(e.args[0]))
        raise ValueError(f"{e} ({type(e).__name__}) is outside the expression language "
                         f"(numbers, names, + - * / **, {', '.join(FUNCTIONS)})")

    tree = ast.fix_missing_locations(conv(sympy.sympify(sym)))
    return _expr(ast.unparse(tree), tree, used, constants or {})


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _depth(root: ast.AST) -> int:
    """The nesting depth of a tree, without recursion."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            return d
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _constant(node: ast.expr, field: str | None, text: str) -> float | None:
    """The value of a constant subtree (None where a name occurs), checked to be a finite real.

    Evaluated in floating point with bounded exponents, so no constant can take long to compute."""
    def refuse(why: str):
        raise SpecError(field, f"{why} in expression {text!r}")

    if isinstance(node, ast.Constant):
        try:
            return float(node.value)  # type: ignore[arg-type]  # parse() admits numeric constants only
        except OverflowError:
            refuse(f"the number {str(node.value)[:20]}... is too large")
    if isinstance(node, ast.Name):
        return None
    if isinstance(node, ast.UnaryOp):
        value = _constant(node.operand, field, text)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.Call):
        value = _constant(node.args[0], field, text)
        if value is None:
            return None
        assert isinstance(node.func, ast.Name)  # parse() admits calls of names only
        name = node.func.id
        if name == "sqrt" and value < 0:
            refuse(f"sqrt of the negative constant {value:g}")
        if name == "log" and value <= 0:
            refuse(f"log of the constant {value:g}, which is not positive")
        try:
            functions: dict[str, Callable[[float], float]] = {
                "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "abs": abs, "square": lambda v: v * v}
            out = functions[name](value)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            refuse(f"the constant {name}({value:g}) overflows")
        return out
    if isinstance(node, ast.BinOp):
        left = _constant(node.left, field, text)
        right = _constant(node.right, field, text)
        if isinstance(node.op, ast.Pow) and right is not None and abs(right) > MAX_EXPONENT:
            refuse(f"the exponent {right:g} exceeds {MAX_EXPONENT} in absolute value")
        if isinstance(node.op, ast.Div) and right == 0:
            refuse("division by zero")
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            if left < 0 and right != int(right):
                refuse(f"({left:g})**{right:g} is not a real number")
            if left == 0 and right < 0:
                refuse("division by zero (0 to a negative power)")
        try:
            out = math.pow(left, right) if isinstance(node.op, ast.Pow) else _BINOPS[type(node.op)](left, right)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            refuse("a constant overflows")
        return out
    return None
