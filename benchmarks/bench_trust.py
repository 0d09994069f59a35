"""Trust audit at scale; writes results/trust.md.

    python benchmarks/bench_trust.py [--count 1000] [--workers 2] [--start 0] [--out FILE]

The target: no result marked optimal (and not local) whose objective another method beats with
passing checks, over the bundled specs and seeded random instances of each kind.  Every bundled
spec in formulations/ and ``--count`` random instances per kind (the generators of
tests/test_trust_random.py, indices ``start .. start + count - 1``) are run through
``ital_opt.verify``; the counts per kind and outcome are written with the instances behind every
finding (reproduce one with ``spec(kind, index)`` from that test module).
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from common import arguments, machine, write

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import ital_opt  # noqa: E402
from test_trust_random import BEATEN_MARK, KINDS, OUTCOMES, bugs_of, known_failure, run, tally  # noqa: E402

SHOWN = 15  # findings listed per kind and outcome


def bundled() -> list[list[str]]:
    """One row per bundled spec: name, kind, methods run, beaten global claims, verify verdict."""
    rows = []
    for path in sorted((ROOT / "formulations").glob("*.toml")):
        try:
            problem = ital_opt.load(path)
            report = ital_opt.verify(problem)
        except Exception as exc:  # any traceback is a finding
            rows.append([path.name, "?", "", "", f"exception: {type(exc).__name__}: {exc}"])
            traceback.print_exc()
            continue
        beaten = [d for d in report.disagreements if BEATEN_MARK in d]
        rows.append([path.name, problem.kind, str(len(report.results)), str(len(beaten)),
                     "OK" if report.ok else "FAILED" + (f": {report.disagreements[0]}" if report.disagreements else "")])
        print(f"{path.name:<45} {rows[-1][3]} beaten  {rows[-1][4][:90]}", flush=True)
    return rows


def main(argv=None):
    parser = arguments("trust")
    parser.add_argument("--count", type=int, default=1000, help="random instances per kind")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--start", type=int, default=0, help="index of the first instance")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=KINDS)
    parser.add_argument("--no-bundled", action="store_true", help="skip the bundled specs")
    args = parser.parse_args(argv)
    info = machine()

    lines = ["# Trust audit: no beaten global optimum claims", "", *info, "",
             "`python benchmarks/bench_trust.py "
             + " ".join(argv if argv is not None else sys.argv[1:]) + "`", ""]
    if not args.no_bundled:
        start = time.perf_counter()
        rows = bundled()
        beaten = sum(int(r[3] or 0) for r in rows if r[3])
        lines += [f"## Bundled specs ({len(rows)} files, {time.perf_counter() - start:.0f} s): "
                  f"{beaten} beaten global claims", "",
                  "| spec | kind | methods | beaten | verify |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")

    start = time.perf_counter()
    outcomes = run({kind: args.count for kind in args.kinds}, workers=args.workers, start=args.start)
    elapsed = time.perf_counter() - start
    table = tally(outcomes)
    lines += [f"## Random instances: {args.count} per kind, indices {args.start}–{args.start + args.count - 1} "
              f"({elapsed:.0f} s on {args.workers} process(es))", "",
              "An instance counts under every outcome that applies (a method not optimal and another "
              "disagreeing, say), so rows need not add up.  `beaten`, `checks` and `exception` are failures "
              "and so is `disagree` for evolution (the exact and the numeric rest points and stabilities differ) "
              "(`known`: those listed as known failures in tests/test_trust_random.py, `new`: the others); "
              "`refused` draws are not instances (SpecError).", "",
              "| kind | instances | " + " | ".join(OUTCOMES) + " | known | new |", "|---" * (len(OUTCOMES) + 4) + "|"]
    failing = [o for o in outcomes if bugs_of(o)]
    new = [o for o in failing if not known_failure(o)]
    for kind, counts in table.items():
        known_here = sum(o.kind == kind and known_failure(o) for o in failing)
        new_here = sum(o.kind == kind for o in new)
        lines.append(f"| {kind} | {counts['instances']} | " + " | ".join(str(counts[o]) for o in OUTCOMES)
                     + f" | {known_here} | {new_here} |")
    lines.append("")
    for kind in table:
        for outcome in ("exception", "beaten", "refuted", "checks", "disagree", "not_optimal"):
            found = [o for o in outcomes if o.kind == kind and outcome in o.outcomes]
            if not found:
                continue
            lines += [f"### {kind}: {outcome} ({len(found)}; the first {min(SHOWN, len(found))})", ""]
            for o in found[:SHOWN]:
                note = next((n for n in o.notes if outcome != "beaten" or BEATEN_MARK in n), "")
                note = " ".join(note.split())[:400]
                lines.append(f"- #{o.index}: {note}  \n  `{o.spec}`")
            lines.append("")
    for kind, counts in table.items():
        print(kind, dict(counts))
    write(args.out, lines)
    return 0 if not new else 1


if __name__ == "__main__":
    sys.exit(main())
