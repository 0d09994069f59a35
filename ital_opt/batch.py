"""Records of many parameter points at once, for the kinds' vectorised closed forms.

A kind's ``Problem.closed_form_batch(points)`` hook (see :mod:`ital_opt.problem`) receives the
points of a sweep as a DataFrame (one line per point, one column per varied field, named as
``Problem.replace`` takes them) and returns tidy records: ``_point``, the varied fields,
``status``, ``objective``, ``row``, the row fields, scalar extras and ``method``.  These helpers
read a field's values at every point (:func:`field_values`) and build the records from arrays
(:func:`batch_records`), so that a closed form written over a leading batch axis serves sweeps
directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .spec import ENTRY

POINT = "_point"


def split_name(name: str) -> tuple[str | None, int | None]:
    """``"outside[1]"`` -> ``("outside", 1)``; ``"c"`` -> ``("c", None)``; else ``(None, None)``."""
    m = ENTRY.match(name)
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
    if isinstance(base, (list, tuple)) and (n is None or len(base) != n or any(isinstance(v, (list, tuple)) for v in base)):
        return None
    out = np.broadcast_to(np.asarray(base, dtype=float), (N,) if n is None else (N, n)).copy()
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
            out[:, idx] = values
    return out


def _column(values: np.ndarray):
    """A column of records; text as categoricals: building 10^5 Python strings would dominate a sweep."""
    return pd.Categorical(values) if values.dtype == object else values


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
        data[key] = _column(np.asarray(arr)[idx].ravel())
    for key, value in (extras or {}).items():
        data[key] = _column(rep(value)) if isinstance(value, np.ndarray) else _constant(value, n)
    data["method"] = _constant(method, n)
    return pd.DataFrame(data)
