"""Precision benchmark: every numerical method against the closed form on the bundled specs.

For every spec in formulations/*.toml whose kind offers a closed-form method that applies, the
closed form is solved, then every other applicable method, and the script reports the largest
difference of the objective and of every numeric row value the two results share (same column,
same number of rows), absolute and relative (``|a − b| / max(|a|, |b|)``, over the entries whose
magnitude is at least 1e-9; smaller entries count only in the absolute column).  A second table
gives, for every spec (with or without a closed form), the largest difference between any two
methods that ended optimal over what ``verify`` compares (the objective and the kind's compared
row fields).  Those numbers are what ``verify``'s
default tolerances (ital_opt/tolerances.py) are chosen against.

    python benchmarks/bench_precision.py [--kinds screening,admission] [--out FILE]

writes benchmarks/results/precision.md (or --out).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from common import arguments, machine, write

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ital_opt  # noqa: E402
from ital_opt.tolerances import VERIFY_ATOL, VERIFY_RTOL  # noqa: E402

TINY = 1e-9  # entries smaller than this in both results count only in the absolute column


def differences(a, b, columns=None) -> tuple[float, float, str]:
    """Largest absolute and relative difference between two results (the objective and the numeric
    row values both carry, or only the row `columns` given), and where the relative one is."""
    pairs = [("objective", np.array([a.objective], float), np.array([b.objective], float))]
    ra, rb = a.rows, b.rows
    if len(ra) == len(rb):
        for col in ra.columns:
            if col not in rb.columns or (columns is not None and col not in columns):
                continue
            try:
                x, y = ra[col].to_numpy(dtype=float), rb[col].to_numpy(dtype=float)
            except (TypeError, ValueError):
                continue
            pairs.append((col, x, y))
    worst_abs, worst_rel, where = 0.0, 0.0, ""
    for name, x, y in pairs:
        both = ~(np.isnan(x) & np.isnan(y))
        x, y = x[both], y[both]
        if not x.size:
            continue
        d = np.abs(x - y)
        d = np.where(np.isnan(d), np.inf, d)
        worst_abs = max(worst_abs, float(d.max()))
        big = np.maximum(np.abs(x), np.abs(y))
        mask = big >= TINY
        if mask.any():
            rel = float((d[mask] / big[mask]).max())
            if rel > worst_rel:
                worst_rel, where = rel, name
    return worst_abs, worst_rel, where


def main() -> None:
    parser = arguments("precision", __doc__.splitlines()[0])
    parser.add_argument("--kinds", default="", help="comma-separated kinds to measure (default: all)")
    parser.add_argument("--specs", nargs="*", type=Path, default=None,
                        help="spec files (default: formulations/*.toml)")
    args = parser.parse_args()
    kinds = {k for k in args.kinds.split(",") if k}
    head = machine()
    specs = args.specs or sorted((ROOT / "formulations").glob("*.toml"))
    rows, pairs, started = [], [], time.perf_counter()
    for path in specs:
        problem = ital_opt.load(path)
        if kinds and problem.kind not in kinds:
            continue
        applicable = [m for m, reason in problem.applicable() if reason is None]
        solved = {}
        for m in applicable:
            try:
                solved[m.name] = problem.solve(m.name)
            except Exception as exc:  # a missing solver: say so, measure the rest
                solved[m.name] = exc
        optimal = [(n, r) for n, r in solved.items() if not isinstance(r, Exception) and r.status == "optimal"]
        worst = (0.0, 0.0, "", "")
        for i, (n1, r1) in enumerate(optimal):
            for n2, r2 in optimal[i + 1:]:
                d_abs, d_rel, where = differences(r1, r2, problem.compare)
                if d_rel >= worst[1]:
                    worst = (d_abs, d_rel, f"{r1.method} vs {r2.method}", where)
        if len(optimal) > 1:
            pairs.append((path.name, problem.kind, len(optimal), *worst))
        closed = [m for m in applicable if m.closed_form]
        if not closed or isinstance(solved[closed[0].name], Exception):
            continue
        ref = solved[closed[0].name]
        if ref.status != "optimal":
            continue
        for m in applicable:
            if m.closed_form:
                continue
            res = solved[m.name]
            if isinstance(res, Exception):
                rows.append((path.name, problem.kind, m.name, "error", None, None, "", type(res).__name__))
                continue
            if res.status != "optimal":
                rows.append((path.name, problem.kind, m.name, res.status, None, None, "", ""))
                continue
            d_abs, d_rel, where = differences(ref, res)
            note = ("local; " if res.local else "") + str(res.get("solver", {}).get("polish", "") or "")
            rows.append((path.name, problem.kind, str(res.method), res.status, d_abs, d_rel, where, note))
            print(f"{path.name:<40} {str(res.method):<34} abs {d_abs:9.2e}  rel {d_rel:9.2e} ({where}) {note}",
                  flush=True)
    total = time.perf_counter() - started
    lines = ["# Precision: numerical methods against the closed form on the bundled specs", "",
             f"Command: `python benchmarks/bench_precision.py{' --kinds ' + args.kinds if kinds else ''}` "
             f"(total {total:.0f} s).", "", "## Machine", "", *head, "",
             "For each bundled spec with an applicable closed form: the largest difference between the closed",
             "form and each other applicable method, over the objective and every numeric row value both results",
             "carry. Relative: `|a − b| / max(|a|, |b|)` over entries of magnitude ≥ 1e-9.",
             f"`verify`'s default tolerance: `|a − b| ≤ {VERIFY_ATOL:g} + {VERIFY_RTOL:g}·max(|a|, |b|)`.", "",
             "| spec | kind | method | status | max abs diff | max rel diff | where | note |",
             "|---|---|---|---|---:|---:|---|---|"]
    for spec, kind, method, status, d_abs, d_rel, where, note in rows:
        fa = "—" if d_abs is None else f"{d_abs:.1e}"
        fr = "—" if d_rel is None else f"{d_rel:.1e}"
        lines.append(f"| {spec} | {kind} | {method} | {status} | {fa} | {fr} | {where} | {note} |")
    measured = [r for r in rows if r[5] is not None]
    if measured:
        worst = max(measured, key=lambda r: r[5])
        lines += ["", f"Largest relative difference: {worst[5]:.1e} ({worst[2]} on {worst[0]}, {worst[6]})."]
    lines += ["", "## Between methods, every spec", "",
              "The largest relative difference between two methods that ended optimal over what `verify`",
              "compares (the objective and the kind's compared row fields), and the pair.", "",
              "| spec | kind | optimal methods | max abs diff | max rel diff | pair | where |",
              "|---|---|---:|---:|---:|---|---|"]
    for spec, kind, count, d_abs, d_rel, pair, where in pairs:
        lines.append(f"| {spec} | {kind} | {count} | {d_abs:.1e} | {d_rel:.1e} | {pair} | {where} |")
    for label, keep in (("every kind", lambda r: True), ("every kind but policy", lambda r: r[1] != "policy")):
        chosen = [r for r in pairs if keep(r)]
        if chosen:
            top = max(chosen, key=lambda r: r[4])
            lines.append(f"\nLargest between methods, {label}: {top[4]:.1e} ({top[5]} on {top[0]}, {top[6]}).")
    write(args.out, lines)


if __name__ == "__main__":
    main()
