"""Comparative statics at scale: ``sweep(problem, grid) -> pandas.DataFrame``.

>>> import ital_opt
>>> from ital_opt.sweep import sweep
>>> problem = ital_opt.load("formulations/ch3_example_3_1.toml")      # doctest: +SKIP
>>> table = sweep(problem, {"outside[1]": [0.0, 0.1, 0.2, 0.4, 0.8]})  # doctest: +SKIP

The table has one line per grid point and result row: the varied fields (named as given), the
derived fields, ``status``, ``objective``, ``row``, the row's fields, then the result's scalar
extras (``regime``, ...) and ``method`` (INTERFACE.md, "Sweeps").

How the points are solved, fastest first:

1. **Vectorised closed form.**  A kind may offer the hook ``problem.closed_form_batch(points)
   -> DataFrame | None`` (:meth:`ital_opt.Problem.closed_form_batch`).  ``points`` is the grid
   (one line per point, index = point number, one column per field as ``replace`` names it).  It
   returns the tidy records (column ``_point`` plus the columns above) of the points where its
   assumptions hold — possibly only some of them — or None.  It is used with ``method="auto"``
   or ``"closed-form"`` and runs in the calling process (10^5 points in a fraction of a second).
2. **Chunks of numerical solves** on the executor (``local``: a process pool; ``dask``): each
   point is ``problem.replace(**changes).solve(method)``, or the solver a kind's
   ``parametric(names, method)`` hook returns: one formulation built once per process and
   re-solved with each point's numbers.

With ``out``, results are committed to the file chunk by chunk as they finish, and
``resume=True`` continues an interrupted sweep without solving finished points again
(:mod:`ital_opt.sweep.store`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._optional import require
from ..errors import SpecError
from ..spec import load
from .grid import Grid, make_grid, parse_derive, parse_vary
from .store import open_store
from .tidy import POINT

__all__ = ["sweep", "SweepWarning", "make_grid", "parse_vary", "parse_derive", "grid_from_args", "Grid"]


def grid_from_args(vary: list[str], derive: list[str]) -> Grid:
    """The grid of the command line's ``--vary`` and ``--derive`` options."""
    if not vary:
        raise SpecError("--vary", "give at least one --vary NAME=START:STOP:COUNT")
    axes = dict(parse_vary(v) for v in vary)
    if len(axes) != len(vary):
        raise SpecError("--vary", "a field is given twice")
    return make_grid(axes, dict(parse_derive(d) for d in derive))


def _fingerprint(problem, grid: Grid, method: str, options: dict) -> dict:
    spec = json.dumps(problem.spec, sort_keys=True, default=str)
    return {
        "kind": problem.kind,
        "spec_sha256": hashlib.sha256(spec.encode()).hexdigest(),
        "input_files": sorted(getattr(problem, "input_files", {}).values()),  # contents, not paths
        "method": method,
        "options": json.loads(json.dumps(options, sort_keys=True, default=str)),
        "grid": grid.fingerprint(),
    }


def sweep(
    problem,
    grid,
    executor: str = "local",
    *,
    method: str = "auto",
    derive: dict[str, str] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    workers: int | None = None,
    chunk_size: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    validate: bool = True,
    vectorise: bool = True,
    **options,
) -> pd.DataFrame:
    """Solve `problem` at every point of `grid`; return the tidy table (see the module docstring).

    Parameters
    ----------
    problem : Problem, str, pathlib.Path or dict
        The problem, or a spec to load.
    grid : dict, pandas.DataFrame or Grid
        ``{field: values}`` (their Cartesian product), a DataFrame of points, or a :class:`Grid`;
        fields are named ``NAME``, ``NAME[i]`` or ``params.k``.
    executor : {"local", "dask"}
        A process pool on this machine, or a Dask cluster (``scheduler``: its address).
    method : str
        The method at every point (``"auto"`` uses the vectorised closed form where it applies).
    derive : dict, optional
        ``{field: expression}`` of fields computed from the varied ones
        (``{"prob[0]": "1 - prob_1"}``).
    out : str or pathlib.Path, optional
        The output file (CSV, or Parquet for ``.parquet``), written chunk by chunk.
    resume : bool
        Continue an interrupted sweep into `out` without solving finished points again.
    workers, chunk_size : int, optional
        Processes and points per task.
    scheduler : str, optional
        The address of an existing Dask scheduler.
    progress : bool, optional
        A tqdm bar on standard error (default: when it is a terminal).
    validate : bool
        Read the first and last point's problems before solving anything.
    vectorise : bool
        ``False`` skips the vectorised closed form (every point solved by the kind's methods).
    **options
        Passed to ``solve`` at every point.

    Returns
    -------
    pandas.DataFrame
        One line per grid point and result row.
    """
    if isinstance(problem, (str, Path, dict)):
        problem = load(problem)
    grid = make_grid(grid, derive)
    if executor not in ("local", "dask"):
        raise SpecError("--executor", f"expected 'local' or 'dask', got {executor!r}")
    n = len(grid)
    if validate:  # bad fields or values fail before anything is solved (exit code 2 on the command line)
        for i in sorted({0, n - 1}):
            try:
                problem.replace(**grid.changes(i))
            except SpecError as exc:
                raise exc.located(str(problem.source)) from None
    for name, value in (("--workers", workers), ("--chunk-size", chunk_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise SpecError(name, f"must be a whole number of at least 1, got {value!r}")
    store = open_store(out, _fingerprint(problem, grid, method, options), resume)
    try:
        if store.complete_file:  # --resume of a finished sweep (the same one): nothing to solve
            return store.finish().drop(columns=[POINT], errors="ignore")
        _solve_into(store, problem, grid, method, options, executor, workers, chunk_size, scheduler,
                    progress, vectorise)
        table = store.finish()
    finally:
        store.close()
    _warn_failures(table)
    return table.drop(columns=[POINT], errors="ignore")


def _solve_into(store, problem, grid: Grid, method, options, executor, workers, chunk_size, scheduler,
                progress, vectorise) -> None:
    """Solve the grid points the store does not hold yet and append them to it."""
    names, n = grid.names, len(grid)
    todo = sorted(set(range(n)) - store.done())
    bar = _progress(n, len(store.done()), progress)
    try:
        if todo and vectorise and method in ("auto", "closed-form"):
            covered = problem.closed_form_batch(grid.points.loc[todo])
            if covered is not None and len(covered):
                covered = covered.sort_values(POINT, kind="stable").reset_index(drop=True)
                ids = covered[POINT].to_numpy()
                starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # first line of each point
                bounds = np.r_[starts, len(ids)]
                for first in range(0, len(starts), 20000):  # commit blocks of 20,000 points
                    last = min(first + 20000, len(starts))
                    store.append(covered.iloc[bounds[first]:bounds[last]])
                    bar.update(last - first)
                solved = set(ids[starts].tolist())
                todo = [p for p in todo if p not in solved]
        if todo:
            from .executors import default_workers, run

            workers = workers or default_workers()
            size = chunk_size or max(1, min(50, len(todo) // (workers * 8) or 1))
            payload = {
                "key": hashlib.sha256(json.dumps([problem.spec, str(problem.source)], default=str).encode()).hexdigest(),
                "kind": problem.kind,
                "spec": problem.spec,
                "source": problem.source,
                "base_dir": str(problem.base_dir),
                "method": method,
                "options": options,
                "names": names,
            }
            points = [(p, grid.changes(p)) for p in todo]
            chunks = [points[i : i + size] for i in range(0, len(points), size)]
            for df in run(executor, payload, chunks, workers, scheduler):
                store.append(df)
                bar.update(int(df[POINT].nunique()))
    finally:
        bar.close()


def _progress(total: int, initial: int, enabled: bool | None):
    tqdm = require("tqdm.auto", extra="sweep").tqdm

    if enabled is None:
        enabled = sys.stderr.isatty() and total > 1
    return tqdm(total=total, initial=initial, disable=not enabled, file=sys.stderr, unit="pt", desc="sweep",
                dynamic_ncols=True, mininterval=0.2)


def _warn_failures(table: pd.DataFrame) -> None:
    if "message" in table.columns and len(table):
        bad = table[table["status"].eq("not_solved") & table["message"].notna()]
        if len(bad):
            warnings.warn(f"sweep: {len(bad)} point(s) failed; first: {bad['message'].iloc[0]}", SweepWarning,
                          stacklevel=3)


class SweepWarning(UserWarning):
    """Some grid points of a sweep failed (their lines say why, in ``message``)."""
