"""Problem specifications: TOML files or dicts, validated field by field.

A spec is one problem: ``kind`` selects the problem class, ``title`` is free text,
``[params]`` declares named numbers usable in expressions, ``[expected]`` holds values a
bundled example must reproduce (checked by ``verify``).  Each kind reads its own fields through
a :class:`SpecReader`, which turns every defect into a :class:`SpecError` naming the file and
the field; unknown fields are rejected so that a typo never passes silently.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import SpecError
from .expr import FUNCTIONS, Expr, parse

REQUIRED = object()
MAX_MAGNITUDE = 1e15
"""Numbers in a spec are at most this in absolute value: beyond it sums and products overflow or
lose every digit of the solvers' accuracy (tolerances about 1e-8), so an answer would mean nothing."""
MAX_ENTRIES = 100_000
"""Lists and tables of numbers (``vector``, ``matrix``) hold at most this many entries."""
COMMON_FIELDS = ("kind", "title", "params", "expected")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SpecReader:
    """Validating access to the fields of one spec."""

    def __init__(self, data: Mapping[str, Any], source: str = "<dict>"):
        if not isinstance(data, Mapping):
            raise SpecError(None, f"a spec must be a table of fields, got {type(data).__name__}", source)
        self.data = dict(data)
        self.source = source
        self.used: set[str] = set(COMMON_FIELDS)
        self.params = self._read_params()

    # -- errors -----------------------------------------------------------------------------
    def error(self, name: str | None, message: str) -> SpecError:
        return SpecError(name, message, self.source)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = REQUIRED) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is REQUIRED:
                raise self.error(name, "is required but missing")
            return default
        return self.data[name]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise self.error(unknown[0], f"unknown field (known fields: {known})")

    # -- scalars ----------------------------------------------------------------------------
    def _as_number(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self.error(name, f"expected a number, got {_describe(value)}")
        try:
            value = float(value)
        except OverflowError:
            raise self.error(name, f"expected a number of at most {MAX_MAGNITUDE:g} in absolute value") from None
        if not math.isfinite(value):
            raise self.error(name, f"expected a finite number, got {value}")
        if abs(value) > MAX_MAGNITUDE:
            raise self.error(name, f"expected a number of at most {MAX_MAGNITUDE:g} in absolute value, got {value:g}")
        return value

    def _numbers(self, name: str, value) -> np.ndarray:
        """A flat list (or array) of numbers as a float array: checked at once when every entry is
        a finite int or float, entry by entry (naming the first bad one) otherwise."""
        kinds = set(map(type, value)) if not isinstance(value, np.ndarray) else {value.dtype.type}
        if kinds <= {float, int, np.float64, np.int64}:
            try:
                arr = np.array(value, dtype=float)
            except OverflowError:
                arr = None
            if arr is not None and arr.ndim == 1 and np.all(np.isfinite(arr)) and np.all(np.abs(arr) <= MAX_MAGNITUDE):
                return arr
        return np.array([self._as_number(f"{name}[{i}]", v) for i, v in enumerate(value)], dtype=float)

    def _bounds(self, name, values, lo, hi, positive, nonneg):
        arr = np.atleast_1d(values)
        for violated, rule in ((positive and np.any(arr <= 0), "positive"),
                               (nonneg and np.any(arr < 0), "non-negative"),
                               (lo is not None and np.any(arr < lo), f"at least {lo}"),
                               (hi is not None and np.any(arr > hi), f"at most {hi}")):
            if violated:
                raise self.error(name, f"must be {rule}, got {_describe(values)}")

    def _size(self, name: str, n: int) -> None:
        if n > MAX_ENTRIES:
            raise self.error(name, f"has {n:,} entries; at most {MAX_ENTRIES:,} are allowed")

    def number(self, name, default=REQUIRED, *, lo=None, hi=None, positive=False, nonneg=False) -> float:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        value = self._as_number(name, value)
        self._bounds(name, value, lo, hi, positive, nonneg)
        return value

    def integer(self, name, default=REQUIRED, *, lo=None, hi=None) -> int:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise self.error(name, f"expected a whole number, got {_describe(value)}")
        self._bounds(name, value, lo, hi, False, False)
        return int(value)

    def boolean(self, name, default=REQUIRED) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_describe(value)}")
        return value

    def string(self, name, default=REQUIRED, choices: Iterable[str] | None = None) -> str:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_describe(value)}")
        if choices is not None and value not in choices:
            raise self.error(name, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def strings(self, name, default=REQUIRED, *, n=None, unique=True) -> list[str]:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, f"expected a list of non-empty strings, got {_describe(value)}")
        if n is not None and len(value) != n:
            raise self.error(name, f"expected {n} entries, got {len(value)}")
        if unique and len(set(value)) != len(value):
            raise self.error(name, "entries must be distinct")
        return list(value)

    def table(self, name, default=REQUIRED) -> dict:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        if not isinstance(value, Mapping):
            raise self.error(name, f"expected a table, got {_describe(value)}")
        return dict(value)

    def expected(self) -> dict | None:
        """The ``[expected]`` table, checked for shape: ``tol`` a positive number, ``method`` a
        string, ``cases`` a list of tables each with an optional ``set`` table of field changes;
        every other entry a number, a string, a boolean or a (nested) list of numbers."""
        value = self.table("expected", None)
        if value is None:
            return None

        def check_values(where: str, table: Mapping) -> None:
            for key, want in table.items():
                name = f"{where}.{key}"
                if key == "tol":
                    self._bounds(name, self._as_number(name, want), None, None, True, False)
                elif key == "method":
                    if not isinstance(want, str):
                        raise self.error(name, f"expected a method name, got {_describe(want)}")
                elif key == "set":
                    if where == "expected":
                        raise self.error(name, "belongs in a case: [[expected.cases]] set = {...}")
                    if not isinstance(want, Mapping):
                        raise self.error(name, f"expected a table of field changes, got {_describe(want)}")
                    for field, v in want.items():
                        if not isinstance(field, str) or isinstance(v, Mapping):
                            raise self.error(f"{name}.{field}", f"expected a value for a field, got {_describe(v)}")
                elif key == "cases":
                    if where != "expected":
                        raise self.error(name, "cases do not nest")
                    if not isinstance(want, list) or not all(isinstance(c, Mapping) for c in want):
                        raise self.error(name, f"expected a list of tables ([[expected.cases]]), got {_describe(want)}")
                    for i, case in enumerate(want):
                        check_values(f"{name}[{i}]", case)
                elif not _plain_value(want):
                    raise self.error(name, f"expected a number, a string, true/false or a list of numbers, got "
                                           f"{_describe(want)}")

        check_values("expected", value)
        return value

    # -- arrays -----------------------------------------------------------------------------
    def vector(
        self,
        name,
        n=None,
        default=REQUIRED,
        *,
        positive=False,
        nonneg=False,
        lo=None,
        hi=None,
        broadcast=False,
        increasing=False,
    ) -> np.ndarray | None:
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if broadcast and not isinstance(value, (list, tuple, np.ndarray)):
            scalar = self._as_number(name, value)
            if n is None:
                raise self.error(name, "a single number is given but the length is unknown")
            arr = np.full(n, scalar)
        else:
            if not isinstance(value, (list, tuple, np.ndarray)):
                raise self.error(name, f"expected a list of numbers, got {_describe(value)}")
            self._size(name, len(value))
            arr = self._numbers(name, value)
            if arr.size == 0:
                raise self.error(name, "must not be empty")
            if n is not None and arr.size != n:
                raise self.error(name, f"expected {n} entries, got {arr.size}")
        self._bounds(name, arr, lo, hi, positive, nonneg)
        if increasing and np.any(np.diff(arr) <= 0):
            raise self.error(name, "must be strictly increasing")
        return arr

    def matrix(self, name, shape=None, default=REQUIRED, *, positive=False, nonneg=False) -> np.ndarray:
        value = self.raw(name, default)
        if value is default and default is not REQUIRED:
            return value
        if isinstance(value, (list, tuple, np.ndarray)):
            self._size(name, len(value))
        if not isinstance(value, (list, tuple, np.ndarray)) or not all(
            isinstance(row, (list, tuple, np.ndarray)) for row in value
        ):
            raise self.error(name, f"expected a list of lists of numbers, got {_describe(value)}")
        self._size(name, sum(len(row) for row in value))
        rows = [
            [self._as_number(f"{name}[{i}][{j}]", v) for j, v in enumerate(row)] for i, row in enumerate(value)
        ]
        if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise self.error(name, "rows must be non-empty and of equal length")
        arr = np.array(rows, dtype=float)
        for want, got, what in zip(shape or (), arr.shape, ("rows", "columns"), strict=False):
            if want is not None and want != got:
                raise self.error(name, f"expected {want} {what}, got {got}")
        self._bounds(name, arr, None, None, positive, nonneg)
        return arr

    def probabilities(self, name, n=None, default=REQUIRED) -> np.ndarray | None:
        arr = self.vector(name, n, default)
        if arr is None:
            return None
        if np.any(arr <= 0):
            raise self.error(name, "probabilities must be positive")
        if abs(arr.sum() - 1.0) > 1e-9:
            raise self.error(name, f"probabilities must sum to 1 (within 1e-9), they sum to {arr.sum():.12g}")
        return arr

    # -- expressions ------------------------------------------------------------------------
    def expression(self, name, variables, default=REQUIRED) -> Expr | None:
        value = self.raw(name, default)
        if value is None:
            return None
        if isinstance(value, Expr):
            value = value.text
        try:
            return parse(value, set(variables), field=name, constants=self.params)
        except SpecError as exc:
            raise exc.located(self.source) from None

    def _read_params(self) -> dict[str, float]:
        params = self.data.get("params", {})
        if not isinstance(params, Mapping):
            raise self.error("params", f"expected a table of named numbers, got {_describe(params)}")
        out = {}
        for key, value in params.items():
            field = f"params.{key}"
            if not isinstance(key, str) or not _IDENT.match(key) or key in FUNCTIONS:
                raise self.error(field, "parameter names must be identifiers other than function names")
            out[key] = self._as_number(field, value)
        return out


def _plain_value(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (bool, str, int, float)):
        return True
    if isinstance(value, list) and depth < 3:
        return all(_plain_value(v, depth + 1) for v in value)
    return False


# -- loading ---------------------------------------------------------------------------------
FORMULATIONS = Path(__file__).resolve().parent.parent / "formulations"
"""The bundled specs in a checkout (``ital-opt examples``); a wheel ships them as package data."""


def bundled_specs() -> list[Path]:
    """The bundled spec files, sorted by name: the package data ``ital_opt/formulations`` of an
    installed wheel, else the checkout's ``formulations/`` (a source tree or an editable install)."""
    from importlib.resources import files

    for folder in (Path(str(files("ital_opt") / "formulations")), FORMULATIONS):
        found = sorted(folder.glob("*.toml"))
        if found:
            return found
    return []


def read_toml(path: str | Path) -> dict:
    """The table in a TOML file, or a SpecError naming the file (see :mod:`ital_opt.files`)."""
    from .files import read_spec_bytes

    data = read_spec_bytes(path)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(None, "is not a UTF-8 text file", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(None, f"invalid TOML: {exc}", str(path)) from None
    except RecursionError:
        raise SpecError(None, "invalid TOML: tables or arrays nested too deeply", str(path)) from None


def load(spec: str | Path | Mapping[str, Any], *, source: str | None = None):
    """Read a spec (a TOML path or a dict) and return its problem object.

    Parameters
    ----------
    spec : str, pathlib.Path or mapping
        A TOML file, or a dict with the same fields (``kind`` selects the problem class).
    source : str, optional
        The name errors cite (default: the path, or ``"<dict>"``).

    Returns
    -------
    Problem
        The problem of the spec's kind, its fields read and validated.

    Raises
    ------
    SpecError
        Naming the file and the field, for any defect of the spec.
    """
    from .kinds import problem_class

    if isinstance(spec, (str, Path)):
        source = source or str(spec)
        data = read_toml(spec)
        base_dir = Path(spec).resolve().parent
    elif isinstance(spec, Mapping):
        source = source or "<dict>"
        data = dict(spec)
        base_dir = Path.cwd()
    else:
        raise SpecError(None, f"load() takes a path or a dict, got {type(spec).__name__}", source)
    kind = data.get("kind")
    if kind is None:
        raise SpecError("kind", "is required but missing", source)
    cls = problem_class(kind, source)
    fields = {k: v for k, v in data.items() if k != "kind"}
    for name in fields:
        if name in ("self", "_source", "_base_dir"):  # the constructor's own arguments: never a field
            raise SpecError(name, "unknown field", source)
    return cls(_source=source, _base_dir=base_dir, **fields)


# a field's name, NAME, or one entry of a list field, NAME[i]
ENTRY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?$")


def set_field(spec: Mapping[str, Any], name: str, value: Any) -> dict:
    """A copy of `spec` with field `name` set: ``NAME``, ``NAME[i]`` or ``params.k``.

    Parameters
    ----------
    spec : mapping
        The spec's fields.
    name : str
        ``NAME``, ``NAME[i]`` (an entry of a list field), ``params.k`` or ``TABLE.NAME``.
    value : object
        The new value.

    Returns
    -------
    dict
        A deep copy of `spec` with the field set.
    """
    out = copy.deepcopy(dict(spec))
    if name.startswith("params."):
        key = name.split(".", 1)[1]
        params = out.get("params", {})  # the copy's own table
        if key not in params:
            raise SpecError(name, f"no parameter '{key}' is declared in [params]")
        params[key] = value
        return out
    match = ENTRY.match(name)
    if not match:
        raise SpecError(name, "expected NAME, NAME[i] or params.NAME")
    field, index = match["name"], match["index"]
    if field in ("kind", "title", "expected"):
        raise SpecError(name, "cannot be varied")
    if index is None:
        out[field] = value
        return out
    current = out.get(field)
    if not isinstance(current, list):
        raise SpecError(name, f"'{field}' is not a list in the spec, so it has no entry [{index}]")
    i = int(index)
    if i >= len(current):
        raise SpecError(name, f"index {i} is out of range: '{field}' has {len(current)} entries")
    current[i] = value  # the copy's own list
    return out
