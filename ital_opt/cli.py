"""The ``ital-opt`` command line (also ``python -m ital_opt``).

Exit codes (INTERFACE.md): 0 solved to optimality (for ``verify``: every method agrees and every
check passes); 1 the problem was read but is infeasible, unbounded, not solved to optimality,
fails its checks, or methods disagree; 2 bad input, with a message naming the file and the field,
and nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backends import stdout_to_stderr
from .errors import MethodNotApplicable, SolverUnavailable, SpecError

FORMULATIONS = Path(__file__).resolve().parent.parent / "formulations"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit 2 without a traceback, as argparse does, but through one path
        self.print_usage(sys.stderr)
        raise UsageError(message)


def write_output(text: str, out: str | None) -> None:
    if out:
        path = Path(out)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text if text.endswith("\n") else text + "\n")
        tmp.replace(path)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def cmd_solve(args) -> int:
    from .spec import load

    problem = load(args.spec)
    with stdout_to_stderr():
        result = problem.solve(args.method)
    if args.format == "json":
        text = result.to_json()
    elif args.format == "csv":
        text = result.to_csv()
    else:
        text = result.to_table(problem.title or None)
    write_output(text, args.output)
    if not result.success:
        print(f"ital-opt: {args.spec}: status {result.status}; checks {'passed' if result.checks_ok else 'FAILED'}",
              file=sys.stderr)
    return 0 if result.success else 1


def cmd_verify(args) -> int:
    import json

    from .problem import verify
    from .spec import load

    problem = load(args.spec)
    with stdout_to_stderr():
        report = verify(problem, rtol=args.rtol)
    text = json.dumps(report.to_dict(), indent=2) if args.format == "json" else report.to_table()
    write_output(text, args.output)
    return 0 if report.ok else 1


def cmd_examples(args) -> int:
    from .spec import read_toml

    rows = []
    for path in sorted(FORMULATIONS.glob("*.toml")):
        try:
            data = read_toml(path)
        except SpecError as exc:
            rows.append((path.name, "?", str(exc)))
            continue
        rows.append((str(path.relative_to(FORMULATIONS.parent)), str(data.get("kind", "?")), str(data.get("title", ""))))
    if not rows:
        print(f"no bundled specs found in {FORMULATIONS}")
        return 0
    width = max(len(r[0]) for r in rows)
    kwidth = max(len(r[1]) for r in rows)
    for name, kind, title in rows:
        print(f"{name:<{width}}  {kind:<{kwidth}}  {title}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ital-opt", description="Incentive contracts: declare once, solve, check.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("solve", help="solve one problem")
    p.add_argument("spec")
    p.add_argument("--method", default="auto", help="auto (default), closed-form, cvxpy, pyomo, ...")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("verify", help="solve with every applicable method and compare")
    p.add_argument("spec")
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance of agreement (default 1e-6)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("examples", help="list the bundled specs")
    p.set_defaults(func=cmd_examples)

    try:
        from .sweep import cli as sweep_cli
    except ImportError:
        sweep_cli = None
    if sweep_cli is not None:
        for name in ("add_sweep_parser", "add_plot_parser", "add_report_parser"):
            if hasattr(sweep_cli, name):
                getattr(sweep_cli, name)(sub)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"ital-opt: error: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:
        print(f"ital-opt: error: {exc}", file=sys.stderr)
        return 2
    except MethodNotApplicable as exc:
        spec = getattr(args, "spec", "")
        print(f"ital-opt: error: {spec}: field 'method': {exc}", file=sys.stderr)
        return 2
    except SolverUnavailable as exc:
        print(f"ital-opt: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ital-opt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
