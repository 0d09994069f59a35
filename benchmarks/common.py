"""What every benchmark script shares: the machine it ran on, median timing, the results file.

The scripts are run as ``python benchmarks/bench_<area>.py``, so benchmarks/ is ``sys.path[0]``
and they import from here with ``from common import ...``.  Each writes
benchmarks/results/<area>.md (or ``--out``), with the machine block from `machine` near the top.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

RESULTS = Path(__file__).resolve().parent / "results"

# what the benchmarks import, directly or through ital_opt's backends
PACKAGES = ("numpy", "scipy", "pandas", "sympy", "cvxpy", "clarabel", "highspy", "pyomo", "pyomo-ripopt",
            "cyipopt-wheels", "dask", "pyarrow")


def machine(packages: Iterable[str] = PACKAGES) -> list[str]:
    """Markdown bullet lines describing this machine; call it before timing (load average, date)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        load = "n/a"
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    return [
        f"- platform: {platform.platform()}",
        f"- processor: {platform.processor() or platform.machine()}",
        f"- CPUs available: {cpus}" + ("" if cpus == os.cpu_count() else f" (of {os.cpu_count()})"),
        f"- Python: {platform.python_version()}",
        f"- packages: {', '.join(versions)}",
        f"- load average at the start (1, 5, 15 min): {load}",
        f"- date (UTC): {time.strftime('%Y-%m-%d %H:%M', time.gmtime())}",
    ]


class Timing(NamedTuple):
    median: float  # seconds
    best: float  # seconds
    times: list[float]  # seconds, in the order run
    value: Any  # what the last timed call returned


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 0) -> Timing:
    """Call `fn` `warmup` times untimed, then `repeat` times by the wall clock."""
    if repeat < 1:
        raise ValueError(f"timed: repeat must be at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), min(times), times, value)


class TaskTable:
    """Timed tasks, each against an optional target, as a markdown table (median, min, target, met, note)."""

    def __init__(self, repeat: int, warmup: int = 0, digits: int = 4):
        self.repeat, self.warmup, self.digits = repeat, warmup, digits
        self.rows: list[list] = []

    def record(self, task: str, n: int, fn: Callable[[], Any], target: float | None = None, note: str = "") -> Any:
        """Time `fn`, add its row and return what it returned."""
        t = timed(fn, self.repeat, self.warmup)
        ok = "" if target is None else ("yes" if t.median < target else "NO")
        self.rows.append([task, n, t.median, t.best, "" if target is None else f"< {target:g} s", ok, note])
        d = self.digits
        print(f"{task:<60} n={n:<6} median {t.median:.{d}f} s  min {t.best:.{d}f} s {ok} {note}", flush=True)
        return t.value

    def note(self, text: str) -> None:
        """Set the note of the last recorded task."""
        self.rows[-1][-1] = text

    def lines(self, size: str) -> list[str]:
        """The markdown table; `size` heads the column of n (players, members)."""
        d = self.digits
        out = [f"| task | {size} | median [s] | min [s] | target | met | note |", "|---|---|---|---|---|---|---|"]
        for task, n, med, best, target, ok, note in self.rows:
            out.append(f"| {task} | {n} | {med:.{d}f} | {best:.{d}f} | {target} | {ok} | {note} |")
        return out


def arguments(name: str, description: str | None = None, repeat: int | None = None) -> argparse.ArgumentParser:
    """The script's argument parser, with ``--out`` (default benchmarks/results/<name>.md) and,
    given a default `repeat`, ``--repeat`` (how many timed runs a median is taken over)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=RESULTS / f"{name}.md",
                        help="the markdown file to write (default: %(default)s)")
    if repeat is not None:
        parser.add_argument("--repeat", type=int, default=repeat, help="timed runs per task (default: %(default)s)")
    return parser


def write(name_or_path: str | Path, lines: list[str]) -> Path:
    """Write `lines` as a markdown file and say where.

    A bare name ("team") goes to benchmarks/results/team.md; a path (a Path, or text with a
    directory or ending in .md) is used as given.  Missing directories are created.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or os.sep in text or "/" in text or text.endswith(".md"):
        path = Path(name_or_path)
    else:
        path = RESULTS / f"{text}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return path
