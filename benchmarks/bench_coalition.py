"""Benchmarks of the cooperative-game solutions (ital_opt.coalition); writes results/coalition.md.

    python benchmarks/bench_coalition.py [--repeat 5] [--out FILE]

Targets (issue 5): exact Shapley value with 20 players under 5 s; nucleolus with 12 players
under 10 s.  Times are medians of repeated runs (wall clock, one process).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import TaskTable, arguments, machine, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ital_opt.coalition import games as G  # noqa: E402
from ital_opt.coalition import solutions as S  # noqa: E402
from ital_opt.team.closed_form import coalition_welfare  # noqa: E402


def random_game(n, seed):
    """Superadditive-ish random game: v(S) = (Σ_{i∈S} w_i)^1.2 + noise, worths ≥ 0."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(1, 10, n)
    v = G.coalition_sums(w) ** 1.2 + rng.uniform(0, 1, 2**n)
    v[0] = 0.0
    return v


def main(argv=None):
    parser = arguments("coalition")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    info = machine()
    tasks = TaskTable(args.repeat, digits=4)
    record = tasks.record

    v20 = random_game(20, 0)
    phi = record("Shapley value, exact (random game)", 20, lambda: S.shapley(v20), 5.0)
    assert abs(phi.sum() - v20[-1]) < 1e-6 * v20[-1]
    claims = np.arange(1, 21) * 10.0
    bank = G.bankruptcy_game([f"p{i}" for i in range(20)], claims.sum() / 2, claims)
    record("bankruptcy game, worth vector (2^20 coalitions)", 20, lambda: G.Game(bank.players, bank.worth).values)
    record("Shapley value, exact (bankruptcy game)", 20, lambda: S.shapley(bank.values), 5.0)
    record("Banzhaf value, exact (random game)", 20, lambda: S.banzhaf(v20))
    rng = np.random.default_rng(1)
    a, rho = rng.uniform(0.5, 1.5, 20), rng.uniform(0.5, 2.0, 20)
    members = G.membership(20)
    record("team-derived game, LEN closed form, 2^20 coalitions", 20,
           lambda: coalition_welfare(a, 1.0, rho, 0.5, 0.2, members))
    est = record("Shapley value, 2000 sampled orderings (bankruptcy)", 20,
                 lambda: S.shapley_sample(bank.worth, 20, 2000, seed=0))
    tasks.note(f"max CI half-width {est.halfwidth.max():.3g} (95%)")

    for n in (8, 10, 12):
        v = random_game(n, n)
        x = record("nucleolus, LP sequence with HiGHS (random game)", n, lambda: S.nucleolus(v).x,
                   10.0 if n == 12 else None)
        assert S.kohlberg_violation(v, x, imputations=True) == 0
    v12 = random_game(12, 12)
    record("least core (epsilon + prenucleolus), HiGHS", 12, lambda: S.least_core(v12))
    record("least core, dual LP only (balanced weights)", 12, lambda: S.least_core_dual(v12))
    bank12 = G.bankruptcy_game([f"p{i}" for i in range(12)], 300.0, np.arange(1, 13) * 10.0).values
    x = record("nucleolus, LP sequence with HiGHS (bankruptcy)", 12, lambda: S.nucleolus(bank12).x, 10.0)
    assert np.allclose(x, S.talmud(300.0, np.arange(1, 13) * 10.0), atol=1e-6)
    record("Talmud rule, closed form (bankruptcy)", 12, lambda: S.talmud(300.0, np.arange(1, 13) * 10.0))
    maj = np.array([1.0 if bin(s).count("1") >= 7 else 0.0 for s in range(2**12)])
    record("nucleolus, 12-player majority game (empty core)", 12, lambda: S.nucleolus(maj).x, 10.0)

    import ital_opt

    names12 = [f"p{i}" for i in range(12)]
    table12 = {G.coalition_name(m, names12): float(x) for m, x in enumerate(v12) if m}
    spec12 = {"kind": "coalition", "players": names12, "values": table12}
    record("kind solve: 12-player table game, highs + all checks", 12,
           lambda: ital_opt.load(spec12).solve("highs"), 10.0)
    spec60 = {"kind": "coalition", "players": [f"p{i}" for i in range(60)], "game": "bankruptcy",
              "estate": 9000.0, "claims": (np.arange(1, 61) * 10.0).tolist()}
    record("kind solve: 60-player bankruptcy, Talmud + 4000 samples", 60,
           lambda: ital_opt.load(spec60).solve())
    record("kind solve: Chapter 4 team-derived game (3 members)", 3,
           lambda: ital_opt.load("formulations/coalition_team_ch4.toml").solve())

    lines = [
        "# Benchmarks: cooperative games (`ital_opt.coalition`)",
        "",
        f"Command: `python benchmarks/bench_coalition.py --repeat {args.repeat}` "
        f"(medians of {args.repeat} runs, wall clock).",
        "",
        "Machine:",
        *info,
        "",
        *tasks.lines("players"),
        "",
        "The team-derived row times `ital_opt.team.closed_form.coalition_welfare` (the team",
        "engine's vectorised water filling) on all 2^20 coalitions at once.",
        "",
        "Random games: v(S) = (Σ_{i∈S} w_i)^1.2 + U(0, 1) noise with w_i ~ U(1, 10) (seeded).",
        "Every benchmarked nucleolus passes Kohlberg's balancedness criterion; the bankruptcy",
        "nucleolus equals the Talmud rule.",
    ]
    write(args.out, lines)


if __name__ == "__main__":
    main()
