"""The ``ital-opt`` command line (also ``python -m ital_opt``).

Exit codes (INTERFACE.md): 0 solved to optimality (for ``verify``: every method agrees and every
check passes); 1 the problem was read but is infeasible, unbounded, not solved to optimality,
fails its checks, or methods disagree; 2 bad input, with a message naming the file and the field,
and nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._optional import MissingExtra
from .backends import stdout_to_stderr
from .errors import MethodNotApplicable, SolverUnavailable, SpecError
from .files import check_output, write_text
from .tolerances import VERIFY_RTOL


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 without a traceback, as argparse does, but through one path
        self.print_usage(sys.stderr)
        raise UsageError(message)


def write_output(text: str, out: str | None) -> None:
    """`text` to the file `out` (see :mod:`ital_opt.files`), or to standard output."""
    text = text if text.endswith("\n") else text + "\n"
    if out:
        write_text(out, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def cmd_solve(args) -> int:
    from .spec import load

    if args.output:
        check_output(args.output)
    problem = load(args.spec)
    with stdout_to_stderr():
        result = problem.solve(args.method, solver=args.solver, verbose=args.verbose, **dict(args.option))
    formats = {"json": result.to_json, "csv": result.to_csv, "table": lambda: result.to_table(problem.title or None)}
    write_output(formats[args.format](), args.output)
    if not result.success:
        print(f"ital-opt: {args.spec}: status {result.status}; checks {'passed' if result.checks_ok else 'FAILED'}",
              file=sys.stderr)
    return 0 if result.success else 1


def cmd_verify(args) -> int:
    """Verify each spec in turn (one process: the solvers are imported once).  Exit code: the
    worst over the specs; with several specs, ``--format json`` gives ``{spec: report}``."""
    import json

    from .problem import verify
    from .spec import load

    if args.output:
        check_output(args.output)
    problems = [load(spec) for spec in args.spec]  # every spec is read before anything is solved
    reports = {}
    for spec, problem in zip(args.spec, problems, strict=True):
        with stdout_to_stderr():
            reports[spec] = verify(problem, rtol=args.rtol)
    if args.format == "json":
        data = {spec: r.to_dict() for spec, r in reports.items()}
        text = json.dumps(data[args.spec[0]] if len(args.spec) == 1 else data, indent=2)
    else:
        text = "\n\n".join(r.to_table() for r in reports.values())
    write_output(text, args.output)
    failed = [spec for spec, r in reports.items() if not r.ok]
    if failed and len(args.spec) > 1:
        print(f"ital-opt verify: FAILED for {len(failed)} of {len(args.spec)} specs: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_sweep(args) -> int:
    from .spec import load
    from .sweep import grid_from_args, sweep
    from .sweep.tidy import encode_lists

    if args.scheduler and args.executor != "dask":
        raise SpecError("--scheduler", "needs --executor dask")
    if args.out is None and args.resume:
        raise SpecError("--resume", "needs --out FILE")
    if args.out is not None:
        check_output(args.out, "--out", regular=True)
    problem = load(args.spec)
    grid = grid_from_args(args.vary, args.derive)
    with stdout_to_stderr():
        table = sweep(
            problem, grid, args.executor, method=args.method, out=args.out, resume=args.resume,
            workers=args.workers, chunk_size=args.chunk_size, scheduler=args.scheduler,
            progress=False if args.quiet else None,
        )
    if args.out is None:
        encode_lists(table).to_csv(sys.stdout, index=False, lineterminator="\n")
    points = table.drop_duplicates(subset=grid.names) if len(table) else table
    bad = int((points["status"] != "optimal").sum()) if len(points) else 0
    if bad:
        print(f"ital-opt sweep: {bad} of {len(points)} grid points not optimal", file=sys.stderr)
    elif not args.quiet and args.out:
        print(f"ital-opt sweep: {len(points)} points -> {args.out}", file=sys.stderr)
    return 1 if bad else 0


def cmd_plot(args) -> int:
    from . import plot

    if args.table == "book" or Path(args.table).suffix == ".toml":
        if args.table == "book":
            check_output(args.out_dir, "--out-dir", directory=True)
            with stdout_to_stderr():
                written, ok = plot.book_figures(args.out_dir, fmt=args.format), True
        else:
            if not args.output:
                raise SpecError("-o", "give the output: -o DIR (every figure) or -o FILE.png|svg (the first)")
            check_output(args.output, "-o", directory=Path(args.output).suffix.lower() not in plot.FORMATS)
            with stdout_to_stderr():
                written, ok = plot.spec_figures(args.table, args.output, fmt=args.format, method=args.method)
        for path, caption in written:
            print(f"{path}  {caption}")
        return 0 if ok else 1
    if not args.x or not args.y:
        raise SpecError("--x/--y", "give the columns to plot: --x NAME --y FIELD")
    if not args.output:
        raise SpecError("-o", "give the output file: -o FILE.png or FILE.svg")
    plot.check_figure_name(args.output)
    check_output(args.output, "-o")
    table = plot.read_table(args.table)
    fig = plot.line_plot(table, args.x, args.y, by=args.by, row=args.row, title=args.title, source=args.table)
    plot.save(fig, args.output)
    return 0


def cmd_report(args) -> int:
    from . import report
    from .sweep import grid_from_args

    check_output(args.output, "-o")
    source = Path(args.source)
    if source.suffix in (".csv", ".parquet"):
        html, ok = report.sweep_report(source)
    else:
        grid = grid_from_args(args.vary, args.derive) if args.vary else None
        with stdout_to_stderr():
            html, ok = report.spec_report(source, method=args.method, grid=grid)
    write_output(html, args.output)
    return 0 if ok else 1


def _shown(path: Path) -> str:
    """A path to type back: relative to the working directory where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_examples(args) -> int:
    from .spec import bundled_specs, read_toml

    specs = bundled_specs()
    if not specs:
        print("ital-opt: no bundled specs found (neither the package data ital_opt/formulations "
              "nor a checkout's formulations/)", file=sys.stderr)
        return 1
    folder = None
    if args.copy:
        folder = Path(args.copy)
        check_output(str(folder), "--copy", directory=True)
        folder.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            (folder / spec.name).write_bytes(spec.read_bytes())
        print(f"ital-opt: copied {len(specs)} specs to {folder}", file=sys.stderr)
    rows = []
    for path in specs:
        shown = _shown(folder / path.name if folder else path)
        try:
            data = read_toml(path)
        except SpecError as exc:
            rows.append((shown, "?", str(exc)))
            continue
        rows.append((shown, str(data.get("kind", "?")), str(data.get("title", ""))))
    width = max(len(r[0]) for r in rows)
    kwidth = max(len(r[1]) for r in rows)
    for name, kind, title in rows:
        print(f"{name:<{width}}  {kind:<{kwidth}}  {title}")
    return 0


def _positive(name: str):
    """An argparse type: a whole number >= 1 (``--workers``, ``--chunk-size``)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
        return value

    convert.__name__ = name
    return convert


def _option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` for ``--option``: the value read as a TOML value (``samples=2000``,
    ``tol_feas=1e-9``, ``warm_start="mpec"``), else kept as text (``warm_start=mpec``)."""
    import tomllib

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a name, got {text!r}")
    try:
        return key, tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected 0 < rtol < 1, got {text}")
    return value


def _grid_arguments(p: argparse.ArgumentParser, note: str) -> None:
    p.add_argument("--vary", action="append", default=[], metavar="NAME=START:STOP:COUNT",
                   help=f"{note}a field (NAME, NAME[i] or params.k) and its values: START:STOP:COUNT (linspace) "
                   "or V1,V2,...; several --vary give their product")
    p.add_argument("--derive", action="append", default=[], metavar="NAME=EXPR",
                   help="a field computed from the varied ones, e.g. 'prob[0]=1-prob_1' (NAME[i] is written NAME_i)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="ital-opt", description="Incentive contracts: declare once, solve, check.")
    parser.add_argument("--version", action="version", version=f"ital-opt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("solve", help="solve one problem")
    p.add_argument("spec")
    p.add_argument("--method", default="auto", help="auto (default), closed-form, cvxpy, pyomo, ...")
    p.add_argument("--solver", help="one of the method's solvers (e.g. SCS for cvxpy; see installed_solvers())")
    p.add_argument("--option", action="append", default=[], type=_option, metavar="KEY=VALUE",
                   help="a method or solver option (samples=2000, seed=1, tol_feas=1e-9, ...); repeatable")
    p.add_argument("--verbose", action="store_true", help="the solver's log, on standard error")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("verify", help="solve with every applicable method and compare")
    p.add_argument("spec", nargs="+", help="one or more specs (all are read before any is solved)")
    p.add_argument("--rtol", type=_tolerance, default=VERIFY_RTOL,
                   help=f"relative tolerance of agreement, 0 < rtol < 1 (default {VERIFY_RTOL:g})")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "sweep",
        help="comparative statics over a grid of spec fields",
        description="Solve SPEC at every point of a grid of spec fields and write one tidy table "
        "(one line per grid point and result row).",
    )
    p.add_argument("spec")
    _grid_arguments(p, "")
    p.add_argument("--out", "-o", help="output table: CSV, or Parquet when it ends in .parquet (default: CSV on stdout)")
    p.add_argument("--method", default="auto", help="auto (default), closed-form, cvxpy, pyomo, ...")
    p.add_argument("--executor", choices=("local", "dask"), default="local")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing dask scheduler (with --executor dask)")
    p.add_argument("--workers", type=_positive("workers"), help="processes (default: the CPU count, at most 8)")
    p.add_argument("--chunk-size", type=_positive("chunk-size"), help="points per task (default: automatic, at most 50)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep into --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser(
        "plot",
        help="line plots of a sweep table, a spec's figures, or every bundled spec's figures ('plot book')",
        description="TABLE (.csv/.parquet): FIELD against NAME, one line per value of --by (and per row of "
        "the result when rows differ). SPEC (.toml): solve it and save the figures of its kind "
        "(-o a directory, or a file name for the first figure). 'book': solve every bundled spec and "
        "save each figure of its kind into --out-dir.",
    )
    p.add_argument("table", help="a sweep table (.csv or .parquet), a spec (.toml), or 'book'")
    p.add_argument("--x", help="column on the horizontal axis (a varied field)")
    p.add_argument("--y", action="append", default=[], help="column(s) on the vertical axis")
    p.add_argument("--by", help="one line per value of this column (default: per result row when rows differ)")
    p.add_argument("--row", type=int, help="only this result row (e.g. one type or member)")
    p.add_argument("--title")
    p.add_argument("--method", default="auto", help="for a spec: the method to solve it with")
    p.add_argument("-o", "--output", help="FILE.png or FILE.svg (a spec: also a directory)")
    p.add_argument("--out-dir", default="figures", help="for 'plot book': the directory (default: figures)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="for 'plot book' and a spec (default png)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser(
        "report",
        help="one self-contained HTML page: problem, solution, checks, figures",
        description="Write one static HTML page (figures embedded) for a spec (solved here; with --vary also "
        "swept) or for a sweep table (.csv/.parquet).",
    )
    p.add_argument("source", help="a spec (.toml) or a sweep table (.csv/.parquet)")
    p.add_argument("-o", "--output", required=True, help="the HTML file")
    p.add_argument("--method", default="auto")
    _grid_arguments(p, "for a spec: also sweep and plot; ")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("examples", help="list the bundled specs (or copy them with --copy DIR)")
    p.add_argument("--copy", metavar="DIR", help="write editable copies of the bundled specs into DIR")
    p.set_defaults(func=cmd_examples)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"ital-opt: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line per warning, without the library's source line
        return _main(argv)


def _main(argv=None) -> int:
    args = None
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (UsageError, SpecError) as exc:
        spec = getattr(args, "spec", None)
        if isinstance(exc, SpecError) and isinstance(spec, str):
            exc = exc.located(spec)  # an error raised far from the file (a solver option) names it too
        print(f"ital-opt: error: {exc}", file=sys.stderr)
        return 2
    except MethodNotApplicable as exc:
        # under "auto" the user chose no method: the problem itself fits none
        detail = exc.reason if exc.method == "auto" else f"field 'method': {exc}"
        print(f"ital-opt: error: {getattr(args, 'spec', '')}: {detail}", file=sys.stderr)
        return 2
    except (SolverUnavailable, MissingExtra) as exc:
        print(f"ital-opt: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ital-opt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of standard output went away (`ital-opt examples | head`): stop without a
        # traceback, and keep the interpreter's final flush from failing on the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
