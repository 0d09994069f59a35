"""The result of a solve, shaped like :class:`scipy.optimize.OptimizeResult`.

A :class:`Result` is a dict with attribute access; its fields (``kind``, ``status``, ``method``,
``objective``, ``rows``, ``checks``, ``extras``, ``binding``, ``multipliers``, ``solver``,
``message``, ``local``, ``solve_time``) are documented once, in the class's "Attributes".
``to_dict`` gives the JSON object of the external interface.
"""

from __future__ import annotations

import io
import json
import math
import sys
from typing import Any

import numpy as np

from .tolerances import CHECK_TOL  # re-exported: the tolerance policy is in tolerances.py

STATUSES = ("optimal", "infeasible", "unbounded", "not_solved")


def jsonable(value: Any) -> Any:
    """Plain Python data for JSON: numpy scalars and arrays unpacked, NaN and inf as null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    pd = sys.modules.get("pandas")  # a DataFrame exists only once pandas is imported
    if pd is not None and isinstance(value, pd.DataFrame):
        return _records(value)
    return value


def _records(frame) -> list[dict]:
    """A DataFrame's rows as JSON records, column by column: a numeric column is unpacked at once
    (non-finite values as null), any other one entry by entry."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        arr = col.to_numpy()
        if arr.dtype.kind in "iub" or (arr.dtype.kind == "f" and np.all(np.isfinite(arr))):
            columns.append(arr.tolist())
        else:
            values = col.tolist()
            plain = set(map(type, values)) <= {str, int, bool}  # nothing to unpack (names, labels)
            columns.append(values if plain else [jsonable(v) for v in values])
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if names else \
        [{} for _ in range(len(frame))]


class Result(dict):
    """A solve's outcome: a dict with attribute access (``result.status``, ``result["status"]``).

    Methods build it with the fields they know; the others take the defaults below.
    :meth:`Problem.solve` then sets ``kind``, ``method``, ``solve_time`` and ``solver`` and adds
    the kind's ``checks``.

    Parameters
    ----------
    **fields
        Any of the attributes below; ``rows`` may be given as a list of dicts (it becomes a
        DataFrame).  A ``status`` other than the four listed raises ValueError.

    Attributes
    ----------
    kind : str or None
        The problem kind.
    status : str
        ``"optimal"``, ``"infeasible"``, ``"unbounded"`` or ``"not_solved"`` (the default).
    method : str or None
        The method that produced it: ``"closed-form"``, ``"cvxpy/CLARABEL"``,
        ``"pyomo/ripopt"``, ...
    objective : float
        The objective value (the principal's expected payoff, total welfare, ...); NaN when
        not solved.
    rows : pandas.DataFrame
        One row per type, member, player or outcome: the menu, the shares, the allocation.
    checks : dict of str to float
        Violations computed from the returned numbers alone, by code that does not trust the
        solver (``max_ic_violation``, ``max_ir_violation``, ``max_deviation_gain``, ...).
    extras : dict
        Further top-level fields of the JSON result (``regime``, ``expected_output``, ...).
    binding : list of str
        Names of the constraints that bind, where the method knows them.
    multipliers : dict
        Their multipliers (dual values), where the method provides them.
    solver : dict
        What solved it, where a solver did: ``{"name": ..., "options": {...}, "rung": ...}``
        (the options include the tolerances; ``rung`` names the fallback step that succeeded).
    message : str
        A human-readable remark (why a status is not optimal, a local optimum, a fallback).
    local : bool
        True when only a local optimum is claimed.
    solve_time : float
        Wall-clock seconds of the method.

    See Also
    --------
    scipy.optimize.OptimizeResult : The same shape.
    """

    def __init__(self, **fields):
        defaults = dict(
            kind=None,
            status="not_solved",
            method=None,
            objective=float("nan"),
            rows=None,
            checks={},
            extras={},
            binding=[],
            multipliers={},
            solver={},
            message="",
            local=False,
            solve_time=float("nan"),
        )
        defaults.update(fields)
        if defaults["status"] not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {defaults['status']!r}")
        import pandas as pd  # imported on first use: `import ital_opt` stays fast

        if not isinstance(defaults["rows"], pd.DataFrame):  # None: no rows
            defaults["rows"] = pd.DataFrame(defaults["rows"])
        super().__init__(defaults)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def __dir__(self):
        return list(self.keys())

    @property
    def checks_ok(self) -> bool:
        """True when every check is a finite number within its tolerance.

        The tolerance is the result's ``check_tol`` if it sets one, else the project's
        ``CHECK_TOL``.
        """
        tol = self.get("check_tol", CHECK_TOL)
        return all(v is not None and np.isfinite(v) and v <= tol for v in self.checks.values())

    @property
    def success(self) -> bool:
        """True when the status is ``"optimal"`` and the checks pass (:attr:`checks_ok`)."""
        return self.status == "optimal" and self.checks_ok

    def to_dict(self) -> dict:
        """The result as the JSON object of the external interface (``--format json``).

        Returns
        -------
        dict
            ``kind``, ``status``, ``method``, ``objective``, ``rows`` (a list of records),
            ``checks`` and ``success``, then the extras and, where present, ``binding``,
            ``multipliers``, ``solver``, ``local`` and ``message``; plain Python data, NaN and
            infinities as None.
        """
        out = {
            "kind": self.kind,
            "status": self.status,
            "method": self.method,
            "objective": self.objective,
            "rows": self.rows,
            "checks": self.checks,
            "success": self.success,
        }
        for key, value in self.extras.items():
            out.setdefault(key, value)
        for key in ("binding", "multipliers", "solver", "local", "message"):
            if self.get(key):
                out.setdefault(key, self[key])
        return jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text.

        Parameters
        ----------
        indent : int or None, default 2
            As for :func:`json.dumps`; None writes one line.

        Returns
        -------
        str
            Strict JSON (no NaN).
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self) -> str:
        """The rows as CSV text.

        Returns
        -------
        str
            A header line with the row fields, then one line per row.
        """
        buffer = io.StringIO()
        self.rows.to_csv(buffer, index=False)
        return buffer.getvalue()

    def to_table(self, title: str | None = None) -> str:
        """The result as text, as ``ital-opt solve`` prints it.

        Parameters
        ----------
        title : str, optional
            A first line (the problem's title).

        Returns
        -------
        str
            The summary, the rows, the binding constraints and the checks.
        """
        import pandas as pd

        lines = [title] if title else []
        lines += [f"{key + ':':<10} {value}" for key, value in self._summary()]
        if len(self.rows):
            with pd.option_context("display.width", 120, "display.max_columns", 30, "display.max_rows", 60):
                lines.append("")
                lines.append(self.rows.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        if self.binding:
            shown = list(self.binding[:10])  # JSON keeps them all; all-pairs IC can bind N times and more
            more = len(self.binding) - len(shown)
            lines.append("")
            lines.append("binding:   " + ", ".join(shown) + (f" ... and {more} more" if more else ""))
        lines.append("")
        ok = "ok" if self.checks_ok else "FAILED"
        lines.append(f"checks ({ok}, computed from the returned numbers):")
        for key, value in self.checks.items():
            lines.append(f"  {key:<24} {_fmt(value)}")
        return "\n".join(lines)

    def _summary(self) -> list[tuple[str, str]]:
        """(name, text) of the summary lines: kind, status, method, objective, the plain extras, message."""
        import pandas as pd

        head = [("kind", self.kind), ("status", self.status + ("  (local optimum)" if self.local else "")),
                ("method", self.method), ("objective", _fmt(self.objective))]
        head += [(k, _fmt(v)) for k, v in self.extras.items() if not isinstance(v, (dict, list, pd.DataFrame))]
        return head + ([("message", self.message)] if self.message else [])

    def __repr__(self) -> str:
        return self.to_table()

    def _repr_html_(self) -> str:
        """The result in a notebook: the summary, the rows and the checks as HTML tables."""
        from html import escape

        summary = "".join(f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                          for k, v in self._summary())
        checks = "".join(f"<tr><td>{escape(k)}</td><td>{escape(_fmt(v))}</td></tr>" for k, v in self.checks.items())
        ok = "ok" if self.checks_ok else "FAILED"
        rows = self.rows.to_html(index=False, float_format=lambda v: f"{v:.6g}") if len(self.rows) else ""
        return (f"<div><table>{summary}</table>{rows}"
                f"<p>checks ({ok}, computed from the returned numbers):</p><table>{checks}</table></div>")


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.10g}"
    return str(value)
