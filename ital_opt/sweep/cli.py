"""The ``sweep``, ``plot`` and ``report`` commands (wired into :mod:`ital_opt.cli`).

    ital-opt sweep SPEC --vary NAME=START:STOP:COUNT [--vary ...] [--derive NAME=EXPR]
                        [--out FILE] [--method M] [--executor local|dask] [--scheduler ADDRESS]
                        [--workers N] [--chunk-size N] [--resume] [--quiet]
    ital-opt plot TABLE --x NAME --y FIELD [--y FIELD ...] [--by FIELD] -o FILE.png|svg
    ital-opt plot book --out-dir DIR
    ital-opt report SPEC_OR_SWEEP -o report.html [--vary ...]

Exit codes as for ``solve``: 2 bad input (nothing written), 1 some grid point not optimal,
0 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..backends import stdout_to_stderr
from ..errors import SpecError


# -- sweep -----------------------------------------------------------------------------------------
def add_sweep_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="comparative statics over a grid of spec fields",
        description="Solve SPEC at every point of a grid of spec fields and write one tidy table "
        "(one line per grid point and result row).",
    )
    p.add_argument("spec")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=START:STOP:COUNT",
                   help="a field (NAME, NAME[i] or params.k) and its values: START:STOP:COUNT (linspace) or "
                   "V1,V2,...; several --vary give their product")
    p.add_argument("--derive", action="append", default=[], metavar="NAME=EXPR",
                   help="a field computed from the varied ones, e.g. 'prob[0]=1-prob_1' (NAME[i] is written NAME_i)")
    p.add_argument("--out", "-o", help="output table: CSV, or Parquet when it ends in .parquet (default: CSV on stdout)")
    p.add_argument("--method", default="auto", help="auto (default), closed-form, cvxpy, pyomo, ...")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing dask scheduler (with --executor dask)")
    p.add_argument("--workers", type=int, help="processes (default: the CPU count, at most 8)")
    p.add_argument("--chunk-size", type=int, help="points per task (default: automatic, at most 50)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep into --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def grid_from_args(vary: list[str], derive: list[str]):
    from . import make_grid, parse_derive, parse_vary

    if not vary:
        raise SpecError("--vary", "give at least one --vary NAME=START:STOP:COUNT")
    axes = dict(parse_vary(v) for v in vary)
    if len(axes) != len(vary):
        raise SpecError("--vary", "a field is given twice")
    return make_grid(axes, dict(parse_derive(d) for d in derive))


def cmd_sweep(args) -> int:
    from ..spec import load
    from . import sweep

    problem = load(args.spec)
    grid = grid_from_args(args.vary, args.derive)
    if args.scheduler and args.executor != "dask":
        raise SpecError("--scheduler", "needs --executor dask")
    if args.out is None and args.resume:
        raise SpecError("--resume", "needs --out FILE")
    with stdout_to_stderr():
        table = sweep(
            problem, grid, args.executor, method=args.method, out=args.out, resume=args.resume,
            workers=args.workers, chunk_size=args.chunk_size, scheduler=args.scheduler,
            progress=False if args.quiet else None,
        )
    if args.out is None:
        from .tidy import encode_lists

        encode_lists(table).to_csv(sys.stdout, index=False, lineterminator="\n")
    points = table.drop_duplicates(subset=grid.names)
    bad = int((points["status"] != "optimal").sum()) if len(points) else 0
    if bad:
        print(f"ital-opt sweep: {bad} of {len(points)} grid points not optimal", file=sys.stderr)
    elif not args.quiet and args.out:
        print(f"ital-opt sweep: {len(points)} points -> {args.out}", file=sys.stderr)
    return 1 if bad else 0


# -- plot --------------------------------------------------------------------------------------------
def add_plot_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "plot",
        help="line plots from a sweep table, or the book's figures ('plot book')",
        description="Line plot of a sweep table (CSV/Parquet): FIELD against NAME, one line per value of "
        "--by (and per row of the result when rows differ). 'ital-opt plot book --out-dir DIR' "
        "regenerates every bundled Chapter 3 and Chapter 4 figure.",
    )
    p.add_argument("table", help="a sweep table (.csv or .parquet), or 'book'")
    p.add_argument("--x", help="column on the horizontal axis (a varied field)")
    p.add_argument("--y", action="append", default=[], help="column(s) on the vertical axis")
    p.add_argument("--by", help="one line per value of this column (default: per result row when rows differ)")
    p.add_argument("--row", type=int, help="only this result row (e.g. one type or member)")
    p.add_argument("--title")
    p.add_argument("-o", "--output", help="FILE.png or FILE.svg")
    p.add_argument("--out-dir", default="figures", help="for 'plot book': the directory (default: figures)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="for 'plot book' (default png)")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    from .. import plot

    if args.table == "book":
        paths = plot.book_figures(args.out_dir, fmt=args.format)
        for path in paths:
            print(path)
        return 0
    if not args.x or not args.y:
        raise SpecError("--x/--y", "give the columns to plot: --x NAME --y FIELD")
    if not args.output:
        raise SpecError("-o", "give the output file: -o FILE.png or FILE.svg")
    table = plot.read_table(args.table)
    fig = plot.line_plot(table, args.x, args.y, by=args.by, row=args.row, title=args.title, source=args.table)
    plot.save(fig, args.output)
    return 0


# -- report ------------------------------------------------------------------------------------------
def add_report_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="one self-contained HTML page: problem, solution, checks, figures",
        description="Write one static HTML page (figures embedded) for a spec (solved here; with --vary also "
        "swept) or for a sweep table (.csv/.parquet).",
    )
    p.add_argument("source", help="a spec (.toml) or a sweep table (.csv/.parquet)")
    p.add_argument("-o", "--output", required=True, help="the HTML file")
    p.add_argument("--method", default="auto")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=START:STOP:COUNT",
                   help="for a spec: also sweep these fields and plot the sweep")
    p.add_argument("--derive", action="append", default=[], metavar="NAME=EXPR")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from .. import report

    source = Path(args.source)
    if source.suffix in (".csv", ".parquet"):
        html, ok = report.sweep_report(source)
    else:
        grid = grid_from_args(args.vary, args.derive) if args.vary else None
        with stdout_to_stderr():
            html, ok = report.spec_report(source, method=args.method, grid=grid)
    out = Path(args.output)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return 0 if ok else 1
