"""Benchmarks of the policy kind (ital_opt.policy); writes results/policy.md.

    python benchmarks/bench_policy.py [--repeat 5] [--out FILE]

Targets: the closed-form policy (member-specific rates with the sharing rule fixed, docs/theory/policy.md)
for a 10^4-member team under 50 ms end to end in ``solve`` (the follower re-solved by the team kind
with its checks, the vectorised neighbourhood scan, the welfare decomposition; the baseline line
scans point by point); member-specific subsidies with the sharing rule re-optimised
for 20 members under 30 s, the nested search agreeing with the MPEC to 1e-6 in SW (cold, and
warm-started from the MPEC's instruments: a cold global phase is sparse in 20 dimensions); Model C with
a budget (three instruments and formation) under 10 s, confirmed by a global search
(differential evolution).  A sweep of the
A1 spec over 10^4 points by the vectorised closed form under 1 s, compared with the same grid
solved point by point.  Times are medians (wall clock, one process, after a warm-up run) for
the fast tasks and single runs for the searches.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import TaskTable, arguments, machine, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import ital_opt
from ital_opt.policy import closed_form as cf
from ital_opt.sweep import sweep
from ital_opt.team.model import Team

SPECS = Path(__file__).resolve().parents[1] / "formulations"


def team_policy(team: Team, **fields) -> dict:
    spec = dict(kind="policy", lower={k: v for k, v in team.spec.items()}, gamma=0.5,
                instruments=[dict(name="s", type="cost_subsidy", members="each", bounds=[0.0, 0.95])])
    spec["lambda"] = 0.3
    spec.update(fields)
    return spec


def precision() -> list[str]:
    """Markdown rows: nested and mpec against the closed form (or nested against the MPEC)."""
    import time
    import warnings

    out = ["| spec | method | reference | SW rel. difference | rows max difference | time [s] |",
           "|---|---|---|---|---|---|"]
    for path in sorted(SPECS.glob("policy_*.toml")):
        p = ital_opt.load(path)
        found = {}
        for name in ("closed-form", "nested", "mpec"):
            if name != "nested" and p.methods() and not any(
                    m.name == name and m.applies(p) is None for m in p.methods()):
                continue
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = p.solve(name)
            if r.status == "optimal":
                found[name] = (r, time.perf_counter() - start)
        ref = next((k for k in ("closed-form", "mpec") if k in found), None)
        if ref is None:  # nothing independent to compare with here (verify runs the other methods)
            out += [f"| {path.name} | {r.method} | none here (no closed form, no MPEC; verify compares the kind's other methods) | — | — | {t:.2f} |"
                    for r, t in found.values()]
        for name, (r, seconds) in found.items():
            if ref is None or name == ref or (ref == "mpec" and name != "nested"):
                continue
            c = found[ref][0]
            sw = abs(r.objective - c.objective) / max(1.0, abs(c.objective))
            rows = float(np.max(np.abs(r.rows["value"].to_numpy(float) - c.rows["value"].to_numpy(float)),
                                initial=0.0))
            out.append(f"| {path.name} | {r.method} | {ref} | {sw:.1e} | {rows:.1e} | {seconds:.2f} |")
    return out


def table_time(table) -> float:
    """The median time of the last task recorded in `table`."""
    return table.rows[-1][2]


def main(argv=None):
    parser = arguments("policy", repeat=5)
    args = parser.parse_args(argv)
    info = machine()
    fast = TaskTable(args.repeat, warmup=1, digits=5)
    slow = TaskTable(1, warmup=0, digits=3)

    big = Team.random(10_000, 0, omega=0.2)
    beta = big.solve("closed-form").rows["share"].to_numpy(float)

    def kernel():
        m = cf.concern(beta, big.omega)
        s = cf.member_rates(m, 0.5, 0.3)
        return s, cf.team_outcome(big.a, big.c, big.rho, big.sigma2, beta, big.omega, s, gamma=0.5, lam=0.3)

    s, out = fast.record("closed-form rates and SW (vectorised, sharing rule fixed)", 10_000, kernel, 0.050)
    spec = team_policy(big, response="fixed")
    policy = fast.record("reading the policy spec (the 10^4-member follower solved once)", 10_000,
                         lambda: ital_opt.load(spec))
    res = fast.record("the same via Policy.solve('closed-form'), incl. follower re-solve and certificate",
                      10_000, lambda: policy.solve("closed-form"), 0.050)
    fast.note(f"SW {res.objective:.10g} vs kernel {float(out['social_welfare']):.10g}; checks ok: {res.checks_ok}; "
              f"checks: {', '.join(sorted(res.checks))}")
    # baseline in the same run: the certificate's neighbourhood scan point by point (each point a
    # follower built and solved by the team kind) instead of one vectorised evaluation
    unbatched = ital_opt.load(spec)
    unbatched.evaluate_batch = lambda X: None
    base = fast.record("baseline: the same with the neighbourhood scan point by point", 10_000,
                       lambda: unbatched.solve("closed-form"))
    fast.note(f"SW {base.objective:.10g}; checks ok: {base.checks_ok}")

    # sweeps: the vectorised closed form (Policy.closed_form_batch) against point-by-point solves
    a1 = ital_opt.load(SPECS / "policy_A1_member_rates.toml")
    grid = {"gamma": np.linspace(0, 1, 20).tolist(), "lambda": np.linspace(0, 0.5, 20).tolist(),
            "lower.omega": np.linspace(0, 0.9, 25).tolist()}
    table = fast.record("sweep of A1 over gamma × lambda × lower.omega, vectorised closed form", 10_000,
                        lambda: sweep(a1, grid, workers=1, progress=False), 1.0)
    small = {k: v[::5] for k, v in grid.items()}  # 4 × 4 × 5 points of the same grid
    one = slow.record("the same sweep point by point (80 points of it, each solved and certified)", 80,
                      lambda: sweep(a1, small, workers=1, progress=False, vectorise=False))
    keys = ["gamma", "lambda", "lower.omega", "row"]
    both = one.merge(table, on=keys, suffixes=("", "_batch"))
    gap = max(float(np.max(np.abs(both[c] - both[c + "_batch"]))) for c in ("value", "objective", "outlay"))
    slow.note(f"{len(one) // 2} points: {table_time(slow) / (len(one) // 2) * 1e3:.1f} ms per point; "
              f"largest difference from the vectorised table {gap:.2g} (rates, SW, outlay)")

    twenty = ital_opt.load(team_policy(Team.random(20, 3)))
    mpec = slow.record("20 members, β re-optimised: mpec (KKT, ripopt)", 20, lambda: twenty.solve("mpec"), 30.0)
    slow.note(f"SW {mpec.objective:.10g}, checks ok: {mpec.checks_ok}")
    nested = slow.record("20 members, β re-optimised: nested (Sobol 512 + SLSQP + Nelder–Mead)", 20,
                         lambda: twenty.solve("nested", warm_start=None), 30.0)
    gap = mpec.objective - nested.objective
    slow.note(f"SW {nested.objective:.10g}; mpec − nested = {gap:.3g} (target abs(gap) ≤ 1e-6: "
              f"{'met' if abs(gap) <= 1e-6 else 'NOT met'}; the nested search is local in 20 dimensions)")

    warm = slow.record("20 members, β re-optimised: nested warm-started from the MPEC's instruments", 20,
                       lambda: twenty.solve("nested", warm_start="mpec"), 30.0)
    gap = mpec.objective - warm.objective
    slow.note(f"SW {warm.objective:.10g}; mpec − nested = {gap:.2g} (target abs(gap) ≤ 1e-6: "
              f"{'met' if abs(gap) <= 1e-6 else 'NOT met'}; the time includes the MPEC solve)")

    c = ital_opt.load(SPECS / "policy_C_three_stages.toml").replace(budget=1.0)
    local = slow.record("Model C with budget 1.0: nested (s1, s2, d; grant profiled)", 3, lambda: c.solve("nested"), 10.0)
    slow.note(f"SW {local.objective:.10g}, budget outlay {local.extras['budget_outlay']:.6g}")
    glob = slow.record("Model C with budget 1.0: differential evolution global phase + SLSQP", 3,
                       lambda: c.solve("nested", global_phase="de", samples=40, seed=7))
    slow.note(f"SW {glob.objective:.10g}; nested − global = {local.objective - glob.objective:.2g}")

    lines = ["# Policy benchmarks", "", "Machine:", "", *info, "",
             "Command: `python benchmarks/bench_policy.py`", "",
             "## Closed form (medians of repeated runs)", "", *fast.lines("members"), "",
             "## Searches (single runs)", "", *slow.lines("members / instruments"), "",
             "## Precision: every bundled policy spec", "",
             "Each numerical method against the closed form where one applies (else against the MPEC): the",
             "relative difference of SW, the largest absolute difference of the instruments (rows), its time.",
             "", *precision(), ""]
    write(args.out, lines)


if __name__ == "__main__":
    main()
