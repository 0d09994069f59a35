"""Benchmark of the Chapter 3 admission menu (docs/theory/admission.md): every method against the number of types.

For K types (random LEN instances, common outside option; the closed form irons where needed) it
times each method (median of repeated solves) and records the largest difference in shares from
the closed form. Writes benchmarks/results/admission.md (or --out).

    python benchmarks/bench_admission.py [--repeat 5] [--sizes 2,5,10,20,50] [--out FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import arguments, machine, timed, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ital_opt.admission import Admission  # noqa: E402

METHODS = ("closed-form", "cvxpy-direct", "cvxpy-direct/no-polish", "screening", "pyomo-direct")


def instance(k: int, seed: int = 0) -> Admission:
    rng = np.random.default_rng(seed)
    theta = np.cumsum(rng.uniform(0.02, 0.5, k)) + 0.5
    prob = rng.dirichlet(np.full(k, 2.0))
    return Admission(theta=theta.tolist(), prob=prob.tolist(), c=1.0, rho=2.0, sigma2=0.4)


def main(argv=None) -> int:
    parser = arguments("admission", repeat=5)
    parser.add_argument("--sizes", default="2,5,10,20,50")
    parser.add_argument("--pyomo-max", type=int, default=10, help="largest K for the NLP (it is local and slow)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        "# Admission menu (Chapter 3): methods against the number of types",
        "",
        "Machine:",
        *machine(),
        "",
        f"Median of {args.repeat} solves (after one warm-up), seconds (a shared machine: other jobs were running); `max abs share diff` is the largest share "
        "difference from the closed form; `ironed` says whether the closed form pooled types.",
        "",
        "| K | ironed | method | median time [s] | max abs share diff | max IC violation |",
        "|---|---|---|---|---|---|",
    ]
    for k in sizes:
        p = instance(k)
        ref = p.solve("closed-form")
        for name in METHODS:
            if name == "pyomo-direct" and k > args.pyomo_max:
                continue
            method, opts = name, {}
            if name.endswith("/no-polish"):  # the interior-point answer without the KKT polish
                method, opts = name.split("/")[0], {"polish_kkt": False}
            t = timed(lambda: p.solve(method, **opts), args.repeat, warmup=1)  # warm-up: imports, compilation
            res = t.value
            diff = float(np.max(np.abs(res.rows["share"].to_numpy() - ref.rows["share"].to_numpy())))
            label = res.method + (" (no polish)" if opts else "")
            lines.append(f"| {k} | {ref.extras.get('ironed', False)} | {label} | {t.median:.4f} "
                         f"| {diff:.1e} | {res.checks['max_ic_violation']:.1e} |")
            print(lines[-1], flush=True)
    write(args.out, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
