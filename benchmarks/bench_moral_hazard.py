"""Benchmarks of the moral-hazard formulations (ital_opt.moral_hazard); writes results/moral_hazard.md.

    python benchmarks/bench_moral_hazard.py [--repeat 3] [--out FILE]

For random instances (Dirichlet outcome rows, costs uniform on [0, 2], values uniform on [0, 20])
of m actions and n outcomes: the time of each method (all m cost-minimising contracts plus the
choice of action), the largest IC/IR violation of its answer and its gap to the cvxpy objective.
Then the continuous-effort examples (first-order approach, global grid program).  Times are
medians of repeated runs (wall clock, one process).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import arguments, machine, timed, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ital_opt  # noqa: E402
from ital_opt.moral_hazard.model import MoralHazard  # noqa: E402

FORMULATIONS = Path(__file__).resolve().parents[1] / "formulations"


def instance(m, n, utility, seed):
    rng = np.random.default_rng(seed)
    prob = rng.dirichlet(np.ones(n) * 2, size=m)
    prob[:, -1] = 1 - prob[:, :-1].sum(axis=1)
    spec = dict(actions=[f"a{i}" for i in range(m)], cost=np.sort(rng.uniform(0, 2, m)).tolist(),
                outcomes=np.sort(rng.uniform(0, 20, n)).tolist(), prob=prob.tolist(), utility=utility,
                reservation=1.0)
    if utility == "linear":
        spec["min_pay"] = 0.0
    return MoralHazard(**spec)


def main(argv=None):
    parser = arguments("moral_hazard", repeat=3)
    args = parser.parse_args(argv)
    lines = ["# Moral hazard benchmarks", "", "Machine:", *machine(), "",
             f"medians of {args.repeat} runs; command: `python benchmarks/bench_moral_hazard.py --repeat {args.repeat}`",
             "", "## Discrete actions (Grossman–Hart, every action's cheapest contract)", "",
             "| utility | m x n | method | time [s] | worst IC/IR violation | objective gap to cvxpy |",
             "|---|---|---|---|---|---|"]
    for utility in ("linear", "sqrt", "log"):
        for m, n in ((3, 3), (10, 5), (30, 10)):
            mh = instance(m, n, utility, seed=m * 100 + n)
            base = None
            for method in ("cvxpy", "scipy", "pyomo"):
                if method == "pyomo" and m > 10:
                    continue
                t, _, _, r = timed(lambda: mh.solve(method), args.repeat if method != "pyomo" else 1)
                base = r.objective if base is None else base
                worst = max(r.checks.get("max_ic_violation", np.inf), r.checks.get("max_ir_violation", np.inf))
                lines.append(f"| {utility} | {m} x {n} | {r.method} | {t:.3f} | {worst:.1e} | "
                             f"{abs(r.objective - base):.1e} |")
                print(lines[-1], flush=True)
    lines += ["", "## Continuous effort", "", "| example | method | time [s] | objective | FOA valid |", "|---|---|---|---|---|"]
    for name in ("mh_foa_valid", "mh_foa_fails"):
        mh = ital_opt.load(FORMULATIONS / f"{name}.toml")
        for method in ("first-order", "grid"):
            t, _, _, r = timed(lambda: mh.solve(method), 1)
            lines.append(f"| {name} | {r.method} | {t:.2f} | {r.objective:.8f} | {r.extras.get('foa_valid', '')} |")
            print(lines[-1], flush=True)
    write(args.out, lines)


if __name__ == "__main__":
    main()
