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
from typing import Any

import numpy as np
import pandas as pd

from ..batch import POINT
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
        columns = (np.asarray(rows[k]).tolist() for k in keys)
        rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]
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
    first = [POINT, *names, *FIXED]
    cols = [c for c in first if c in df.columns] + [c for c in df.columns if c not in first]
    return df[cols]


def encode_lists(df: pd.DataFrame) -> pd.DataFrame:
    """Vector-valued cells (multidimensional types) as JSON text, for CSV and Parquet."""
    lists = [col for col in df.columns if df[col].dtype == object and df[col].map(_is_list).any()]
    if not lists:
        return df
    out = df.copy()
    out[lists] = df[lists].map(_json_cell)
    return out


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _json_cell(value):
    return json.dumps(np.asarray(value).tolist()) if _is_list(value) else value


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
