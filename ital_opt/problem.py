"""A problem is declared once; its methods are interchangeable ways to solve it.

Every kind subclasses :class:`Problem`: it reads its fields (``_read``), lists its
:class:`Method` objects in order of preference (a closed form first, with the check of its
assumptions as ``applies``), and computes its checks from a result's numbers alone (``check``).
The base class does the rest: ``solve(method="auto")`` takes the first method whose assumptions
hold, times it and attaches the checks; :func:`verify` runs every applicable method, compares
their answers with each other and with the spec's ``[expected]`` values.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from .errors import MethodNotApplicable, SpecError
from .kinds import register  # noqa: F401  (re-exported for the kinds)
from .result import Result
from .spec import SpecReader, set_field


def _always(problem) -> str | None:
    return None


@dataclass(frozen=True)
class Method:
    """One way to solve a problem: ``run(problem, **options) -> Result``.

    ``applies(problem)`` returns None when the method fits the problem, else the reason it does
    not (a closed form names the assumption that fails).
    """

    name: str
    run: Callable[..., Result]
    applies: Callable[[Any], str | None] = _always
    closed_form: bool = False

    def matches(self, wanted: str) -> bool:
        return self.name == wanted or self.name.startswith(wanted + "-")


class Problem:
    """Base class of the problem kinds."""

    kind: ClassVar[str] = ""
    compare: ClassVar[tuple[str, ...]] = ()

    def __init__(self, _source: str = "<python>", _base_dir: Path | None = None, **fields):
        self.source = _source
        self.base_dir = Path(_base_dir) if _base_dir is not None else Path.cwd()
        self.spec = {"kind": self.kind, **fields}
        reader = SpecReader(self.spec, _source)
        self.title = reader.string("title", "")
        self.expected = reader.table("expected", None)
        self.params = reader.params
        self._read(reader)
        reader.finish()

    # -- to be provided by each kind -----------------------------------------------------------
    def _read(self, r: SpecReader) -> None:
        raise NotImplementedError

    def methods(self) -> list[Method]:
        raise NotImplementedError

    def check(self, result: Result) -> dict[str, float]:
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------------------------
    def replace(self, **changes) -> "Problem":
        """A new problem with fields changed; keys may be ``NAME``, ``NAME[i]`` or ``params.k``."""
        spec = self.spec
        for name, value in changes.items():
            spec = set_field(spec, name, value)
        fields = {k: v for k, v in spec.items() if k != "kind"}
        return type(self)(_source=self.source, _base_dir=self.base_dir, **fields)

    def method_names(self) -> list[str]:
        return [m.name for m in self.methods()]

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

    def solve(self, method: str = "auto", **options) -> Result:
        """Solve with `method` (``"auto"``: the closed form where it applies, else the best formulation)."""
        from .backends import solver_notes

        chosen = self.select(method)
        start = time.perf_counter()
        with solver_notes() as notes:
            result = chosen.run(self, **options)
        result.solve_time = time.perf_counter() - start
        if notes:  # the solver doubted a point it returned: say so (the checks judge the point)
            text = "; ".join(t + (f" ({n} times)" if n > 1 else "") for t, n in Counter(notes).items())
            result.message = f"{result.message}; {text}" if result.message else text
        result.kind = self.kind
        if not result.method:
            result.method = chosen.name
        if result.status == "optimal" or len(result.rows):
            result.checks = {**self.check(result), **result.checks}
        return result

    def __repr__(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return f"<{type(self).__name__}{title} from {self.source}>"


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

    def to_table(self) -> str:
        lines = [f"verify {self.problem.source}" + (f" ({self.problem.title})" if self.problem.title else "")]
        lines.append(f"{'method':<22} {'status':<11} {'objective':>16} {'time [s]':>9}  checks")
        for name, r in self.results.items():
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
        arr = np.asarray(values.tolist() if isinstance(values, pd.Series) else values, dtype=float)
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
        if isinstance(want, str) or isinstance(want, bool):
            if got != want:
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


def verify(problem: Problem, rtol: float = 1e-6, atol: float = 1e-7, **options) -> Verification:
    """Solve with every applicable method; compare methods, checks and [expected] values."""
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
    if problem.expected:
        expected = dict(problem.expected)
        tol = float(expected.get("tol", 1e-6))
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
