"""Results as tidy records: one record per grid point and result row.

Columns, in order: the varied fields (named as given), the derived fields, ``status``,
``objective``, ``row`` (the row's index), the row's fields, then the scalar top-level extras of
the result (``regime``, ``expected_output``, ...) and ``method``.  A point without rows (an
infeasible problem, a failed solve) gives one record with ``row`` empty.  In memory every record
also carries ``_point``, the point's index in the grid; the files keep it in their journal.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

POINT = "_point"
FIXED = ("status", "objective", "row")


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float, np.integer, np.floating, np.bool_)) or value is None


def records(result, point: int, values: dict[str, float]) -> list[dict]:
    """The tidy records of one solved grid point."""
    head = {POINT: point, **values, "status": result.status, "objective": float(result.objective)}
    tail = {k: v for k, v in result.extras.items() if _scalar(v)}
    tail["method"] = result.method
    if result.status != "optimal" and getattr(result, "message", ""):
        tail["message"] = result.message
    rows = result.rows
    if rows is None or len(rows) == 0:
        return [{**head, "row": None, **tail}]
    if isinstance(rows, dict):  # columns as arrays (the parametric solvers)
        keys = list(rows)
        rows = [dict(zip(keys, values)) for values in zip(*(np.asarray(rows[k]).tolist() for k in keys))]
    else:
        rows = rows.to_dict(orient="records")
    out = []
    for i, row in enumerate(rows):
        rec = {**head, "row": i}
        for k, v in row.items():
            rec.setdefault(str(k), v)
        for k, v in tail.items():
            rec.setdefault(k, v)
        out.append(rec)
    return out


def failed(point: int, values: dict[str, float], exc: BaseException) -> list[dict]:
    """The record of a point whose solve raised: status ``not_solved``."""
    return [{POINT: point, **values, "status": "not_solved", "objective": math.nan, "row": None,
             "method": None, "message": f"{type(exc).__name__}: {exc}"}]


def frame(recs: list[dict], names: list[str]) -> pd.DataFrame:
    """Records -> DataFrame with the standard column order."""
    df = pd.DataFrame.from_records(recs)
    return order(df, names)


def order(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    first = [POINT, *names, *FIXED]
    cols = [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]
    return df[cols]


def encode_lists(df: pd.DataFrame) -> pd.DataFrame:
    """Vector-valued cells (multidimensional types) as JSON text, for CSV and Parquet."""
    out = df
    for col in df.columns:
        if df[col].dtype == object and df[col].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            if out is df:
                out = df.copy()
            out[col] = df[col].map(
                lambda v: json.dumps(np.asarray(v).tolist()) if isinstance(v, (list, tuple, np.ndarray)) else v
            )
    return out


def decode_lists(df: pd.DataFrame) -> pd.DataFrame:
    """Inverse of :func:`encode_lists` for columns whose every non-empty cell is a JSON list."""
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype).startswith("str"):
            cells = df[col].dropna()
            if len(cells) and cells.map(lambda v: isinstance(v, str) and v.startswith("[") and v.endswith("]")).all():
                try:
                    df[col] = df[col].map(lambda v: json.loads(v) if isinstance(v, str) else v)
                except ValueError:
                    pass
    return df


# -- records from arrays (the kinds' vectorised closed forms, ``Problem.closed_form_batch``) ----------
_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def split_name(name: str) -> tuple[str | None, int | None]:
    """``"outside[1]"`` -> ``("outside", 1)``; ``"c"`` -> ``("c", None)``; else ``(None, None)``."""
    m = _ENTRY.match(name)
    if not m:
        return None, None
    return m[1], (int(m[2]) if m[2] is not None else None)


def varies_only(points: pd.DataFrame, allowed) -> bool:
    """Whether every varied column of `points` is an entry of one of the fields in `allowed`."""
    return all(split_name(c)[0] in allowed for c in points.columns)


def field_values(spec: dict, points: pd.DataFrame, name: str, n: int | None, default=None) -> np.ndarray | None:
    """The values of spec field `name` at every point: shape (N,) for a scalar (``n=None``), (N, n)
    for a vector of n entries (a number in the spec applies to every entry).  None when the field
    is absent without a default or its shape does not fit."""
    N = len(points)
    base = spec.get(name, default)
    if base is None:
        return None
    if n is None:
        if isinstance(base, (list, tuple)):
            return None
        out = np.full(N, float(base))
    else:
        if isinstance(base, (list, tuple)):
            if len(base) != n or any(isinstance(v, (list, tuple)) for v in base):
                return None
            out = np.tile(np.asarray(base, dtype=float), (N, 1))
        else:
            out = np.full((N, n), float(base))
    for col in points.columns:
        fname, idx = split_name(col)
        if fname != name:
            continue
        values = points[col].to_numpy(dtype=float)
        if idx is None:
            out = values.copy() if n is None else np.repeat(values[:, None], n, axis=1)
        else:
            if n is None or idx >= n:
                return None
            out = out.copy()
            out[:, idx] = values
    return out


def _categorical(values) -> pd.Categorical:
    """Text columns as categoricals: building 10^5 Python strings would dominate a sweep."""
    return pd.Categorical(values)


def _constant(value, n: int):
    if isinstance(value, str):
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [value])
    return np.full(n, value)


def batch_records(points: pd.DataFrame, objective, rows: dict[str, np.ndarray],
                  extras: dict[str, object] | None = None, keep=None, method: str = "closed-form") -> pd.DataFrame:
    """Tidy records of many solved points at once: `rows` values have shape (N, K) (K result rows
    per point), `objective` shape (N,), `extras` arrays of shape (N,) or one value for all; only
    the points where `keep` is true are returned (all when None)."""
    if keep is None:
        keep = np.ones(len(points), dtype=bool)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return pd.DataFrame()
    K = next(iter(rows.values())).shape[1]
    n = idx.size * K

    def rep(a):
        return np.repeat(np.asarray(a)[idx], K)

    data = {POINT: rep(points.index.to_numpy())}
    for col in points.columns:
        data[col] = rep(points[col].to_numpy(dtype=float))
    data["status"] = _constant("optimal", n)
    data["objective"] = rep(objective)
    data["row"] = np.tile(np.arange(K), idx.size)
    for key, arr in rows.items():
        arr = np.asarray(arr)[idx].ravel()
        data[key] = _categorical(arr) if arr.dtype == object else arr
    for key, value in (extras or {}).items():
        if isinstance(value, np.ndarray):
            value = rep(value)
            data[key] = _categorical(value) if value.dtype == object else value
        else:
            data[key] = _constant(value, n)
    data["method"] = _constant(method, n)
    return pd.DataFrame(data)
