"""A problem is declared once; its methods are interchangeable ways to solve it.

This module is the protocol every kind implements (``docs/ARCHITECTURE.md`` has the recipe):

* ``kind`` and ``fields``: the kind's name and its declared schema, ``{name: type}`` or
  ``{name: Field(type, default, doc)}``.  The schema gives the class an explicit constructor
  signature (``help(ital_opt.Team)``) and, unless the kind reads its fields itself in
  ``_read(reader)``, reads and validates them (a ``float`` field with :meth:`SpecReader.number`,
  a ``list`` with :meth:`SpecReader.vector`, ...).  Unknown fields are always refused.
* ``methods()``: the :class:`Method` objects in order of preference; a closed form first, with
  the check of its assumptions as ``applies``.  ``formulations()``: the :class:`Formulation`
  objects behind the numerical methods, so that ``problem.formulation(name).build()`` hands the
  user the built ``cvxpy.Problem`` or pyomo model.
* ``check(result)``: the certificates, computed from the result's numbers alone.
* optional hooks, with empty defaults, through which the generic services (sweep, plot, report)
  reach a kind without naming it: ``closed_form_batch(points)`` (a vectorised closed form over
  many parameter points), ``parametric(names, method)`` (a formulation built once and re-solved
  with changed numbers), ``figures(result)`` and ``sweep_figures(table, varied)``.

The base class does the rest: ``solve(method="auto")`` takes the first method whose assumptions
hold and, when it fails, the next (saying so in the message); it validates the solving options,
times the method and attaches the checks.  :func:`verify` runs every applicable method and
compares their answers with each other and with the spec's ``[expected]`` values; a feasible
answer that beats a method claiming a global optimum proves that method wrong.
"""

from __future__ import annotations

import inspect
import keyword
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from ._optional import MissingExtra
from .errors import MethodNotApplicable, OptionError, SolverUnavailable, SpecError
from .files import recording_reads
from .kinds import register  # noqa: F401  (re-exported for the kinds)
from .result import Result
from .spec import REQUIRED, SpecReader, set_field
from .tolerances import EXPECTED_TOL, VERIFY_ATOL, VERIFY_RTOL

if TYPE_CHECKING:  # pandas is imported where a table is made, so that `import ital_opt` stays fast
    import pandas as pd


def _always(problem) -> str | None:
    return None


@dataclass(frozen=True)
class Field:
    """One declared field of a kind: its type, its default (``REQUIRED`` if none) and a line of doc.

    ``type`` is ``float``, ``int``, ``bool``, ``str``, ``list`` (of numbers), ``dict`` (a table),
    or any other object (the raw value is kept; the kind validates it in ``_read``).
    """

    type: Any = float
    default: Any = REQUIRED
    doc: str = ""


def read_field(r: SpecReader, name: str, spec: Field) -> Any:
    """Read one field by its declared type."""
    readers: dict[Any, Callable[..., Any]] = {float: r.number, int: r.integer, bool: r.boolean, str: r.string,
                                              dict: r.table}
    if spec.type in readers:
        return readers[spec.type](name, spec.default)
    if spec.type is list:
        return r.vector(name, None, spec.default)
    return r.raw(name, spec.default)


@dataclass(frozen=True)
class Method:
    """One way to solve a problem: ``run(problem, **options) -> Result``.

    ``applies(problem)`` returns None when the method fits the problem, else the reason it does
    not (a closed form names the assumption that fails).  ``solvers`` names the solvers the method
    can use (the first is its default; empty: it uses none), ``options`` the method's own option
    names (``starts``, ``samples``, ...).  Any other keyword given to ``solve`` is a solver option,
    refused by a method that uses no solver and checked by the solver's backend otherwise.
    ``options=None`` declares nothing: every keyword is passed through unchecked (a closed form
    then takes no options).
    """

    name: str
    run: Callable[..., Result]
    applies: Callable[[Any], str | None] = _always
    closed_form: bool = False
    solvers: tuple[str, ...] = ()
    options: frozenset[str] | None = None

    def matches(self, wanted: str) -> bool:
        return self.name == wanted or self.name.startswith(wanted + "-")

    def call_options(self, problem, solver: str | None, verbose: bool, options: Mapping[str, Any]) -> dict:
        """The keywords for ``run``, after checking `solver` and `options` against the declaration."""
        where = problem.source
        if solver is not None:
            if not self.solvers:
                raise OptionError("solver", f"method '{self.name}' uses no solver, so solver={solver!r} has no meaning", where)
            known = {s.upper(): s for s in self.solvers}
            if str(solver).upper() not in known:
                raise OptionError("solver", f"unknown solver {solver!r} for method '{self.name}' "
                                  f"(choose from {', '.join(self.solvers)})", where)
            solver = known[str(solver).upper()]
        declared = self.options if self.options is not None else (frozenset() if self.closed_form else None)
        if declared is not None and not self.solvers:
            unknown = sorted(set(options) - set(declared))
            if unknown:
                takes = ", ".join(sorted(declared)) or "none"
                raise OptionError(unknown[0], f"unknown option for method '{self.name}' (its options: {takes})", where)
        out = dict(options)
        if solver is not None:
            out["solver"] = solver
        if verbose:
            out["verbose"] = True
        return out


class Formulation:
    """One way to write a problem as a program: ``applies``, ``build`` and ``recover``.

    ``build(problem, **options)`` returns the model (a ``cvxpy.Problem``, a pyomo
    ``ConcreteModel``, ...), built with solver objects from :mod:`ital_opt.backends` only;
    ``recover(problem, model)`` reads a solved model back into a :class:`Result`.  ``run`` (build,
    solve, recover) is what the formulation's :class:`Method` calls; a formulation whose solve is
    more than one call (constraint generation, polishing) overrides it.
    """

    name: ClassVar[str] = ""
    solvers: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[frozenset[str]] = frozenset()

    def applies(self, problem) -> str | None:
        return None

    def build(self, problem, **options):
        raise NotImplementedError

    def recover(self, problem, model) -> Result:
        raise NotImplementedError

    def run(self, problem, **options) -> Result:
        raise NotImplementedError

    def method(self) -> Method:
        return Method(self.name, self.run, self.applies, solvers=self.solvers, options=self.options)


@dataclass(frozen=True)
class BoundFormulation:
    """A formulation with its problem: ``build()`` the model to inspect, extend or export it."""

    problem: Any
    formulation: Formulation

    @property
    def name(self) -> str:
        return self.formulation.name

    def build(self, **options):
        reason = self.formulation.applies(self.problem)
        if reason is not None:
            raise MethodNotApplicable(self.name, reason)
        return self.formulation.build(self.problem, **options)

    def recover(self, model) -> Result:
        return self.formulation.recover(self.problem, model)

    def solve(self, **options) -> Result:
        return self.problem.solve(self.name, **options)


def _signature(cls) -> inspect.Signature:
    """Keyword-only parameters, one per declared field; a field named by a Python keyword
    (``lambda``) cannot be a parameter and is passed as ``**{"lambda": ...}``."""
    params = []
    spelled_otherwise = False
    for name, spec in cls.schema().items():
        if keyword.iskeyword(name):
            spelled_otherwise = True
            continue
        default = inspect.Parameter.empty if spec.default is REQUIRED else spec.default
        annotation = spec.type if isinstance(spec.type, type) else inspect.Parameter.empty
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    for name, default in (("title", ""), ("params", None), ("expected", None)):
        if name not in cls.schema():
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
    if spelled_otherwise:
        params.append(inspect.Parameter("keyword_fields", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


class Problem:
    """Base class of the problem kinds (the protocol: see the module docstring)."""

    kind: ClassVar[str] = ""
    fields: ClassVar[Mapping[str, Any]] = {}
    compare: ClassVar[tuple[str, ...]] = ()
    sense: ClassVar[str | None] = "max"  # the objective is maximised; None: not an optimum (a count, ...)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__signature__ = _signature(cls)

    def __init__(self, _source: str = "<python>", _base_dir: Path | None = None, **fields):
        self.source = _source
        self.base_dir = Path(_base_dir) if _base_dir is not None else Path.cwd()
        self.spec = {"kind": self.kind, **fields}
        reader = SpecReader(self.spec, _source)
        self.title = reader.string("title", "")
        self.expected = reader.expected()
        self.params = reader.params
        with recording_reads() as reads:
            self._read(reader)
        self.input_files = dict(reads)  # spec files this one refers to: {path: sha256}
        reader.finish()

    @classmethod
    def schema(cls) -> dict[str, Field]:
        """The declared fields, each as a :class:`Field`."""
        return {name: spec if isinstance(spec, Field) else Field(spec) for name, spec in cls.fields.items()}

    # -- provided by each kind ----------------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        """Read the fields; by default each declared field by its type, as an attribute."""
        for name, spec in self.schema().items():
            setattr(self, name, read_field(r, name, spec))

    def methods(self) -> list[Method]:
        raise NotImplementedError(f"kind {self.kind!r} lists no methods")

    def check(self, result: Result) -> dict[str, float]:
        raise NotImplementedError(f"kind {self.kind!r} has no checks")

    # -- optional hooks (generic services call these; the defaults mean "not offered") ---------
    def formulations(self) -> list[Formulation]:
        """The formulations behind the numerical methods."""
        return []

    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The vectorised closed form over many parameter points, for sweeps.

        ``points`` has one line per point (index: the point number) and one column per varied
        field, named as :meth:`replace` takes them.  Returns the tidy records (column ``_point``,
        then ``status``, ``objective``, ``row``, the row fields, scalar extras, ``method``) of the
        points where the closed form's assumptions hold, or None; the other points are solved one
        by one, so an answer never depends on whether this shortcut applied.
        """
        return None

    def parametric(self, names: Sequence[str], method: str) -> Callable[[dict], Result] | None:
        """A solver built once and re-solved at many points where only `names` change, or None.

        The callable takes ``{field: value}`` changes and returns a Result (or an object with its
        ``status, method, objective, rows, extras, message`` fields)."""
        return None

    def figures(self, result: Result | None = None) -> list[tuple[str, Any]]:
        """(caption, matplotlib Figure) pairs for this problem and its solution."""
        return []

    def maximised(self, result: Result) -> float:
        """The value the methods optimise (in the direction of ``sense``), by default the objective.

        A kind whose reported objective is not what its methods optimise (a team whose shares
        maximise weighted welfare reports total welfare) returns the optimised value here, so that
        verify compares like with like when it asks whether one answer beats another."""
        return result.objective

    def sweep_figures(self, table: pd.DataFrame, varied: Sequence[str]) -> list[tuple[str, Any]]:
        """(caption, Figure) pairs for a sweep table of this problem (beyond the generic line plots)."""
        return []

    # -- shared machinery ---------------------------------------------------------------------
    def formulation(self, name: str) -> BoundFormulation:
        """The formulation called `name`, bound to this problem."""
        found = {f.name: f for f in self.formulations()}
        if name not in found:
            raise MethodNotApplicable(name, f"no formulation of that name (known: {', '.join(found) or 'none'})")
        return BoundFormulation(self, found[name])

    def replace(self, **changes) -> Problem:
        """A new problem with fields changed; keys may be ``NAME``, ``NAME[i]`` or ``params.k``."""
        spec = self.spec
        for name, value in changes.items():
            spec = set_field(spec, name, value)
        fields = {k: v for k, v in spec.items() if k != "kind"}
        return type(self)(_source=self.source, _base_dir=self.base_dir, **fields)

    def applicable(self) -> list[tuple[Method, str | None]]:
        """Each method with None or the reason it does not apply."""
        return [(m, m.applies(self)) for m in self.methods()]

    def select(self, method: str = "auto") -> Method:
        """The method to run: ``"auto"`` is the first whose assumptions hold (checked in order, only
        until one applies); otherwise an exact name wins, then the first applicable ``NAME-*``."""
        methods = self.methods()
        if method == "auto":
            reasons = []
            for m in methods:
                reason = m.applies(self)
                if reason is None:
                    return m
                reasons.append(f"{m.name}: {reason}")
            raise MethodNotApplicable("auto", f"no method applies ({'; '.join(reasons)})")
        exact = [m for m in methods if m.name == method]
        matching = exact or [m for m in methods if m.matches(method)]
        if not matching:
            known = ", ".join(["auto", *sorted(m.name for m in methods)])
            raise MethodNotApplicable(method, f"unknown method for kind '{self.kind}' (known: {known})")
        reasons = []
        for m in matching:
            reason = m.applies(self)
            if reason is None:
                return m
            reasons.append(reason)
        raise MethodNotApplicable(method, "; ".join(reasons))

    def solve(self, method: str = "auto", *, solver: str | None = None, verbose: bool = False, **options) -> Result:
        """Solve with `method`; ``"auto"``: the closed form where it applies, else the best formulation.

        ``solver`` picks one of the method's solvers (``ital_opt.installed_solvers()``), ``verbose``
        lets the solver print its log (to standard error), and further keywords are the method's
        own options or the solver's.  An unknown solver or option raises :class:`OptionError`.
        Under ``"auto"``, when the chosen method fails (a status other than optimal, failed checks,
        a missing solver), the next applicable method is tried and the message says so.

        Parameters
        ----------
        method : str
            ``"auto"`` or the name of one of :meth:`methods` (a prefix such as ``"cvxpy"`` picks the
            first applicable ``cvxpy-*``).
        solver : str, optional
            One of the method's ``solvers``.
        verbose : bool
            Let the solver print its log (to standard error).
        **options
            The method's own options (``Method.options``) or the solver's.

        Returns
        -------
        Result
            With the checks computed from its numbers and ``solver`` recording what ran.

        Raises
        ------
        OptionError
            An unknown solver or option.
        MethodNotApplicable
            The method does not fit the problem (its reason says why).
        """
        if method != "auto":
            chosen = self.select(method)
            return self._run(chosen, chosen.call_options(self, solver, verbose, options))
        tried: list[str] = []
        first: Result | None = None
        reasons: list[str] = []
        refused: OptionError | None = None
        for m in self.methods():
            reason = m.applies(self)
            if reason is not None:
                reasons.append(f"{m.name}: {reason}")
                continue
            try:
                kw = m.call_options(self, solver, verbose, options)
            except OptionError as exc:
                refused = refused or exc
                continue
            try:
                result = self._run(m, kw)
            except (SolverUnavailable, MissingExtra) as exc:
                tried.append(f"{m.name} could not run ({exc})")
                continue
            if result.success:
                if tried:
                    result.message = _join(f"auto: {'; '.join(tried)}; {m.name} succeeded", result.message)
                return result
            why = result.status if result.status != "optimal" else "optimal but failed its checks"
            tried.append(f"{m.name} ended {why}" + (f" ({result.message})" if result.message else ""))
            first = first or result
        if first is None:
            if refused is not None:
                raise refused
            if tried:
                raise SolverUnavailable("; ".join(tried))
            raise MethodNotApplicable("auto", f"no method applies ({'; '.join(reasons)})")
        if len(tried) > 1:
            first.message = f"auto: no applicable method succeeded: {'; '.join(tried)}"
        return first

    def _run(self, chosen: Method, kw: dict) -> Result:
        from .backends import solver_notes

        start = time.perf_counter()
        with solver_notes() as (notes, records):
            result = chosen.run(self, **kw)
        result.solve_time = time.perf_counter() - start
        if records and not result.get("solver"):
            result.solver = records[-1]
        if notes:  # the solver doubted a point it returned: say so (the checks judge the point)
            text = "; ".join(t + (f" ({n} times)" if n > 1 else "") for t, n in Counter(notes).items())
            result.message = _join(result.message, text)
        result.kind = self.kind
        if not result.method:
            result.method = chosen.name
        if result.status == "optimal" or len(result.rows):
            result.checks = {**self.check(result), **result.checks}
        if result.status == "optimal" and not _finite(result.objective):
            result.status = "not_solved"
            result.message = _join(result.message, f"the objective is not a finite number ({result.objective})")
        return result

    def __repr__(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return f"<{type(self).__name__}{title} from {self.source}>"


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# -- verify ------------------------------------------------------------------------------------
@dataclass
class Verification:
    """Every applicable method's answer, their agreement, and the comparison with [expected]."""

    problem: Problem
    results: dict[str, Result] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)
    expected_failures: list[str] = field(default_factory=list)
    max_difference: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            bool(self.results)
            and all(r.success for r in self.results.values())
            and not self.disagreements
            and not self.expected_failures
        )

    def to_dict(self) -> dict:
        from .result import jsonable

        return jsonable(
            {
                "ok": self.ok,
                "methods": {
                    name: {
                        "status": r.status,
                        "method": r.method,
                        "objective": r.objective,
                        "local": r.local,
                        "checks": r.checks,
                        "solve_time": r.solve_time,
                    }
                    for name, r in self.results.items()
                },
                "skipped": self.skipped,
                "max_difference": self.max_difference,
                "disagreements": self.disagreements,
                "expected_failures": self.expected_failures,
            }
        )

    def _repr_html_(self) -> str:
        """The verification in a notebook: one line per method, then the verdict."""
        from html import escape

        head = "<tr><th>method</th><th>status</th><th>objective</th><th>time [s]</th><th>checks</th></tr>"
        body = "".join(
            f"<tr><td>{escape(str(r.method))}</td><td>{escape(r.status)}</td><td>{r.objective:.10g}</td>"
            f"<td>{r.solve_time:.4f}</td><td>{'ok' if r.checks_ok else 'FAILED'}</td></tr>"
            for r in self.results.values()
        )
        notes = "".join(f"<li>{escape(item)}</li>" for item in [*self.disagreements, *self.expected_failures])
        verdict = "OK" if self.ok else "FAILED"
        return f"<div><table>{head}{body}</table><ul>{notes}</ul><p>verify: <b>{verdict}</b></p></div>"

    def to_table(self) -> str:
        lines = [f"verify {self.problem.source}" + (f" ({self.problem.title})" if self.problem.title else "")]
        lines.append(f"{'method':<22} {'status':<11} {'objective':>16} {'time [s]':>9}  checks")
        for r in self.results.values():
            worst = max(r.checks.values(), default=0.0)
            mark = "ok" if r.checks_ok else "FAILED"
            local = " (local)" if r.local else ""
            lines.append(
                f"{r.method:<22} {r.status:<11} {r.objective:>16.10g} {r.solve_time:>9.4f}  "
                f"{mark} (worst {worst:.2e}){local}"
            )
        for name, reason in self.skipped.items():
            lines.append(f"{name:<22} {'skipped':<11} {reason}")
        lines.append(f"largest difference between methods: {self.max_difference:.3g}")
        for item in self.disagreements:
            lines.append(f"DISAGREE: {item}")
        if self.problem.expected:
            if self.expected_failures:
                for item in self.expected_failures:
                    lines.append(f"EXPECTED: {item}")
            else:
                lines.append("expected values: reproduced")
        lines.append("verify: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)


def _numeric(values) -> np.ndarray | None:
    try:
        arr = np.asarray(values.tolist() if hasattr(values, "tolist") else values, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def _compare(a, b, rtol, atol) -> float | None:
    """Largest scaled difference between two numeric values/arrays (None if not comparable)."""
    x, y = _numeric(a), _numeric(b)
    if x is None or y is None or x.shape != y.shape:
        return None
    if x.size == 0:
        return 0.0
    scale = atol + rtol * np.maximum(np.abs(x), np.abs(y))
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y) / scale)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))


def result_value(result: Result, key: str):
    """A named value of a result: objective, a top-level extra, or a row field as a list."""
    if key == "objective":
        return result.objective
    if key == "status":
        return result.status
    if key in result.extras:
        return result.extras[key]
    if key in result.rows.columns:
        return result.rows[key].tolist()
    if key in result.checks:
        return result.checks[key]
    raise KeyError(key)


def compare_expected(result: Result, expected: dict, tol: float, label: str = "") -> list[str]:
    """Differences between `result` and the [expected] entries (absolute tolerance `tol`)."""
    failures = []
    for key, want in expected.items():
        if key in ("tol", "cases", "set", "method"):
            continue
        try:
            got = result_value(result, key)
        except KeyError:
            failures.append(f"{label}{key}: not in the result")
            continue
        if isinstance(want, (str, bool)) or (isinstance(want, list) and want and all(isinstance(w, str) for w in want)):
            if got != want:  # words (a status, a regime, the stability of each row) compare exactly
                failures.append(f"{label}{key}: expected {want!r}, got {got!r}")
            continue
        x, y = _numeric(got), _numeric(want)
        if x is None or y is None or x.shape != y.shape:
            failures.append(f"{label}{key}: expected {want!r}, got {got!r}")
            continue
        err = float(np.max(np.abs(x - y))) if x.size else 0.0
        if not err <= tol:
            failures.append(f"{label}{key}: expected {want!r}, got {jsonable_short(got)} (difference {err:.3g} > {tol:g})")
    return failures


def jsonable_short(value):
    from .result import jsonable

    value = jsonable(value)
    if isinstance(value, list):
        return [round(v, 8) if isinstance(v, float) else v for v in value]
    return round(value, 10) if isinstance(value, float) else value


def _beaten(problem: Problem, first: str, a: Result, second: str, b: Result, rtol: float, atol: float) -> list[str]:
    """A feasible answer (checks passing) that beats one claiming a global optimum proves it wrong."""
    if problem.sense not in ("max", "min"):
        return []
    sign = 1.0 if problem.sense == "max" else -1.0
    out = []
    for (n1, r1), (n2, r2) in (((first, a), (second, b)), ((second, b), (first, a))):
        v1, v2 = problem.maximised(r1), problem.maximised(r2)
        if r1.local or not r2.checks_ok or not (_finite(v1) and _finite(v2)):
            continue
        gap = sign * (float(v2) - float(v1))
        if gap > atol + rtol * max(abs(float(v1)), abs(float(v2))):
            out.append(f"{n2} finds a feasible answer (checks pass) worth {float(v2):.10g}, better than "
                       f"{float(v1):.10g} of {n1}, which claims a global optimum: {n1} is wrong")
    return out


def verify(problem: Problem, rtol: float = VERIFY_RTOL, atol: float = VERIFY_ATOL, **options) -> Verification:
    """Solve with every applicable method; compare methods, checks and [expected] values.

    Parameters
    ----------
    problem : Problem
        The problem to verify.
    rtol, atol : float
        Relative and absolute tolerance of agreement between methods (``0 < rtol < 1``).
    **options
        Passed to every method's ``solve``.

    Returns
    -------
    Verification
        Each method's result, their disagreements (including a feasible answer that beats a
        method claiming a global optimum), the failures against ``[expected]``, and ``ok``.
    """
    if not (isinstance(rtol, (int, float)) and 0 < rtol < 1) or not (isinstance(atol, (int, float)) and 0 <= atol < 1):
        raise SpecError("--rtol", f"tolerances must satisfy 0 < rtol < 1 and 0 <= atol < 1, got rtol={rtol!r}, atol={atol!r}",
                        problem.source)
    report = Verification(problem)
    for m, reason in problem.applicable():
        if reason is not None:
            report.skipped[m.name] = reason
            continue
        try:
            report.results[m.name] = problem.solve(m.name, **options)
        except MethodNotApplicable as exc:
            report.skipped[m.name] = exc.reason
    names = list(report.results)
    optimal = [n for n in names if report.results[n].status == "optimal"]
    for i, first in enumerate(optimal):
        for second in optimal[i + 1 :]:
            a, b = report.results[first], report.results[second]
            # a local optimum is compared and reported, but its disagreement is not a failure
            for key in ("objective", *problem.compare):
                try:
                    va, vb = result_value(a, key), result_value(b, key)
                except KeyError:
                    continue
                d = _compare(va, vb, rtol, atol)
                if d is None:
                    continue
                report.max_difference = max(report.max_difference, d * rtol)
                if d > 1.0 and not (a.local or b.local):
                    report.disagreements.append(f"{first} vs {second}: {key} differs")
            report.disagreements += _beaten(problem, first, a, second, b, rtol, atol)
    if problem.expected:
        expected = dict(problem.expected)
        tol = float(expected.get("tol", EXPECTED_TOL))
        base = report.results.get(names[0]) if names else None
        wanted = expected.get("method")
        if wanted:
            base = problem.solve(wanted, **options)
        if base is not None:
            report.expected_failures += compare_expected(base, expected, tol)
        for i, case in enumerate(expected.get("cases", [])):
            changes = case.get("set", {})
            label = f"case {i} {changes}: "
            try:
                variant = problem.replace(**changes)
                res = variant.solve(case.get("method", wanted or "auto"), **options)
            except (SpecError, MethodNotApplicable) as exc:
                report.expected_failures.append(f"{label}{exc}")
                continue
            if not res.success:
                report.expected_failures.append(f"{label}status {res.status}, checks {res.checks}")
            report.expected_failures += compare_expected(res, case, float(case.get("tol", tol)), label)
    return report
