"""Where the grid points are solved.

Points are solved in chunks (one task per chunk: a Dask task costs about 3 ms of overhead,
more than many solves).  A task receives the base problem's spec and a list of
``(point, changes)``; it rebuilds the base problem once per process and solves each point as
``problem.replace(**changes).solve(method)`` — or, when the kind offers the protocol hook
``problem.parametric(names, method)``, by the solver it returns: a formulation built once per
process and re-solved with the changed numbers (cvxpy Parameters, warm starts).

* ``local``: in the calling process for one chunk, else a process pool (``workers`` processes,
  default: the CPU count, at most 8).  The workers end when the sweep's process dies, even by
  ``kill -9`` (:func:`die_with_parent`), so no orphan keeps solving.
* ``dask``: ``dask.distributed``; a ``LocalCluster`` started and stopped for the sweep, or the
  existing cluster at ``scheduler`` (``tcp://host:port``).  Chunks are submitted as tasks and
  gathered as they complete.

:func:`map_chunks` is the executor itself, for any picklable function of a chunk (the evolution
kind sends its basins of attraction through it).
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from typing import Callable, Iterable, Iterator

import pandas as pd

from .._optional import MissingExtra, require
from ..errors import MethodNotApplicable, SolverUnavailable
from .tidy import failed, frame, records

# per process: the base problem rebuilt from its spec (so each task does not rebuild it)
_BASE: dict[str, object] = {}


def default_workers() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def base_problem(payload: dict):
    key = payload["key"]
    problem = _BASE.get(key)
    if problem is None:
        from ..kinds import problem_class

        cls = problem_class(payload["kind"])
        fields = {k: v for k, v in payload["spec"].items() if k != "kind"}
        problem = cls(_source=payload["source"], _base_dir=payload["base_dir"], **fields)
        _BASE.clear()
        _BASE[key] = problem
    return problem


_SOLVERS: dict[tuple, object] = {}


def _point_solver(payload: dict, problem):
    """A formulation built once per process for the varied fields (the kind's ``parametric`` hook), or None."""
    if payload.get("options"):
        return None
    key = (payload["key"], tuple(payload["names"]), payload["method"])
    if key not in _SOLVERS:
        _SOLVERS.clear()
        try:
            _SOLVERS[key] = problem.parametric(payload["names"], payload["method"])
        except (MethodNotApplicable, SolverUnavailable, MissingExtra, NotImplementedError):
            _SOLVERS[key] = None  # not offered here: each point is solved by the kind's own solve
    return _SOLVERS[key]


def solve_chunk(payload: dict, chunk: list[tuple[int, dict]]) -> pd.DataFrame:
    """Solve the points of one chunk; never raises for a point (it is recorded as not_solved)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problem = base_problem(payload)

        def replace_and_solve(changes):
            return problem.replace(**changes).solve(payload["method"], **payload["options"])

        solve = _point_solver(payload, problem) or replace_and_solve
        recs: list[dict] = []
        for point, changes in chunk:
            try:
                recs += records(solve(changes), point, changes)
            except Exception as exc:  # a failed point is a result (its record names the error)
                recs += failed(point, changes, exc)
        return frame(recs, payload["names"])


def map_chunks(fn: Callable, chunks: list, executor: str = "local", workers: int = 1,
               scheduler: str | None = None) -> Iterator[tuple[int, object]]:
    """``(i, fn(chunks[i]))`` for every chunk, as each finishes, on the executor named.

    ``fn`` and the chunks must pickle (a module-level function, or a ``functools.partial`` of one).
    The sweep's points and the evolution kind's basins of attraction are both run through here.
    """
    if executor == "local":
        return _map_local(fn, chunks, workers)
    if executor == "dask":
        return _map_dask(fn, chunks, workers, scheduler)
    from ..errors import SpecError

    raise SpecError("--executor", f"expected 'local' or 'dask', got {executor!r}")


def _map_local(fn: Callable, chunks: list, workers: int) -> Iterator[tuple[int, object]]:
    if workers <= 1 or len(chunks) <= 1:
        for i, chunk in enumerate(chunks):
            yield i, fn(chunk)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # the first chunk in this process: its imports and caches are then inherited by the forked workers
    yield 0, fn(chunks[0])
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks) - 1), mp_context=ctx,
                               initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(fn, chunk): i for i, chunk in enumerate(chunks) if i}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker when the sweep's process dies, even by ``kill -9``.

    On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``); elsewhere a daemon thread
    checks every second whether the parent is still this process's parent."""
    import signal

    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        import threading
        import time

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _map_dask(fn: Callable, chunks: list, workers: int, scheduler: str | None) -> Iterator[tuple[int, object]]:
    require("distributed", extra="sweep")
    from distributed import Client, LocalCluster, as_completed

    cluster = None if scheduler else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    client = Client(scheduler or cluster)
    try:
        futures = {client.submit(fn, chunk, pure=False): i for i, chunk in enumerate(chunks)}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run(executor: str, payload: dict, chunks: list, workers: int, scheduler: str | None = None) -> Iterable[pd.DataFrame]:
    """The tables of the sweep's chunks of points, as they finish."""
    return (table for _, table in map_chunks(partial(solve_chunk, payload), chunks, executor, workers, scheduler))
