"""Grids of comparative statics: which spec fields vary, and over which values.

A grid is a table of points, one line per point and one column per varied field.  Fields are
named as :meth:`ital_opt.problem.Problem.replace` takes them: ``NAME``, ``NAME[i]`` (entry i of a
list field) or ``params.k``.  A grid is built from

* ``--vary NAME=START:STOP:COUNT`` (``numpy.linspace``) or ``--vary NAME=V1,V2,...`` (explicit
  values); several ``--vary`` give their Cartesian product, the first varying slowest;
* a dict ``{name: values}`` (the same product) or a :class:`pandas.DataFrame` of explicit points;
* ``derive``: fields computed from the varied ones by an expression of the spec language, e.g.
  ``prob[0] = 1 - prob[1]`` so that a two-type prior still sums to one.  In expressions, a
  name ``NAME[i]`` is written ``NAME_i`` and ``params.k`` is written ``params_k``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import SpecError

MAX_POINTS = 10_000_000
"""A grid has at most this many points (the product of the --vary counts): ten million points
are minutes of closed form and far beyond any numerical sweep; more is a typo."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$|^params\.[A-Za-z_][A-Za-z0-9_]*$"
                   r"|^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?$")
"""NAME, NAME[i], params.k, or TABLE.NAME[i] for a kind whose ``replace`` takes nested fields
(a policy's ``lower.omega``)."""


def check_name(name: str, source: str = "--vary") -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise SpecError(name, "expected a field name NAME, NAME[i], params.NAME or TABLE.NAME", source)
    return name


def identifier(name: str) -> str:
    """The name of a field inside a derive expression: ``prob[1]`` -> ``prob_1``, ``params.k`` -> ``params_k``."""
    return name.replace("[", "_").replace("]", "").replace(".", "_")


def parse_vary(text: str) -> tuple[str, np.ndarray]:
    """``NAME=START:STOP:COUNT`` or ``NAME=V1,V2,...`` -> (name, values)."""
    if "=" not in text:
        raise SpecError(None, f"expected NAME=START:STOP:COUNT or NAME=V1,V2,..., got {text!r}", "--vary")
    name, _, rhs = text.partition("=")
    name = check_name(name)
    rhs = rhs.strip()
    try:
        if ":" in rhs:
            text_start, text_stop, text_count = rhs.split(":")  # not three parts: ValueError
            start, stop, count = float(text_start), float(text_stop), int(text_count)
        else:
            values = np.array([float(v) for v in rhs.split(",") if v.strip()], dtype=float)
    except ValueError:
        raise SpecError(
            name, f"expected START:STOP:COUNT (numbers, integer COUNT) or V1,V2,..., got {rhs!r}", "--vary"
        ) from None
    if ":" in rhs:
        if count < 1:
            raise SpecError(name, f"COUNT must be at least 1, got {count}", "--vary")
        if count > MAX_POINTS:
            raise SpecError(name, f"COUNT is at most {MAX_POINTS:,}, got {count:,}", "--vary")
        values = np.linspace(start, stop, count)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise SpecError(name, f"needs at least one finite value, got {rhs!r}", "--vary")
    return name, values


def parse_derive(text: str) -> tuple[str, str]:
    """``NAME=EXPR`` -> (name, expression text)."""
    if "=" not in text:
        raise SpecError(None, f"expected NAME=EXPRESSION, got {text!r}", "--derive")
    name, _, expr = text.partition("=")
    return check_name(name, "--derive"), expr.strip()


@dataclass
class Grid:
    """The points of a sweep: ``points`` has one line per point (index 0..n-1), one column per field.

    ``varied`` are the fields given by the user, ``derived`` those computed from them; the output
    table has the varied columns first, then the derived ones.
    """

    points: pd.DataFrame
    varied: list[str]
    derived: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.points.columns)

    def __len__(self) -> int:
        return len(self.points)

    def changes(self, i: int) -> dict[str, float]:
        """The ``replace`` keyword arguments of point `i`."""
        row = self.points.iloc[i]
        return {name: float(row[name]) for name in self.points.columns}

    def fingerprint(self) -> dict:
        """The fields and a hash of every value of every point (``--resume`` compares it)."""
        values = np.ascontiguousarray(self.points.to_numpy(dtype=np.float64))
        digest = hashlib.sha256(json.dumps(list(self.points.columns)).encode())
        digest.update(values.tobytes())
        return {"varied": self.varied, "derived": self.derived, "n": len(self.points), "sha256": digest.hexdigest()}


def make_grid(grid, derive: Mapping[str, str] | None = None) -> Grid:
    """A :class:`Grid` from a dict of value lists (Cartesian product), a DataFrame of points, or a Grid."""
    if isinstance(grid, Grid):
        points, varied, derived = grid.points.copy(), list(grid.varied), dict(grid.derived)
    elif isinstance(grid, pd.DataFrame):
        varied = [check_name(str(c), "grid") for c in grid.columns]
        if len(grid) > MAX_POINTS:
            raise SpecError(None, f"the grid has {len(grid):,} points; at most {MAX_POINTS:,} are allowed", "grid")
        points = grid.reset_index(drop=True).astype(float)
        points.columns = varied
        derived = {}
    elif isinstance(grid, Mapping):
        varied, axes = [], []
        for name, values in grid.items():
            varied.append(check_name(str(name), "grid"))
            arr = np.atleast_1d(np.asarray(values, dtype=float))
            if arr.ndim != 1 or arr.size == 0:
                raise SpecError(name, "needs a non-empty list of numbers", "grid")
            axes.append(arr)
        if not varied:
            raise SpecError(None, "a sweep needs at least one varied field", "grid")
        size = int(np.prod([float(a.size) for a in axes]))
        if size > MAX_POINTS:
            raise SpecError(None, f"the grid has {size:,} points; at most {MAX_POINTS:,} are allowed", "--vary")
        mesh = np.meshgrid(*axes, indexing="ij")
        points = pd.DataFrame({n: m.ravel() for n, m in zip(varied, mesh, strict=True)})
        derived = {}
    else:
        raise SpecError(None, f"a grid is a dict of value lists or a DataFrame, got {type(grid).__name__}", "grid")
    if len(set(varied)) != len(varied):
        raise SpecError(None, f"a field is varied twice: {varied}", "--vary")
    for name, text in (derive or {}).items():
        name = check_name(name, "--derive")
        if name in points.columns:
            raise SpecError(name, "is already varied; it cannot also be derived", "--derive")
        points[name] = _evaluate(name, text, points)
        derived[name] = text
    return Grid(points=points, varied=varied, derived=derived)


def _evaluate(name: str, text: str, points: pd.DataFrame) -> np.ndarray:
    from ..expr import parse

    env = {identifier(c): points[c].to_numpy(dtype=float) for c in points.columns}
    expr = parse(text, frozenset(env), field=name)
    with np.errstate(all="ignore"):
        values = np.broadcast_to(np.asarray(expr.numpy(**env), dtype=float), (len(points),)).copy()
    if not np.all(np.isfinite(values)):
        raise SpecError(name, f"expression {text!r} is not finite at every grid point", "--derive")
    return values

