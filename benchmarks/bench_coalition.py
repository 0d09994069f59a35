"""Benchmarks of the cooperative-game solutions (ital_opt.coalition); writes results/coalition.md.

    python benchmarks/bench_coalition.py [--repeat 3] [--out FILE]

Side by side, in one run on the same games: ital_opt's nucleolus and Shapley value and those of
the peers coopgame-py and tucoopy where they are installed (benchmark-only packages, never
dependencies of ital_opt: ``pip install coopgame-py tucoopy``; a missing peer is skipped).
Targets: no slower than coopgame-py at n = 10–16; the nucleolus of a 20-player table game under
60 s; exact Shapley of a 25-player table game under 30 s; weighted voting with 200 players under
5 s.  Times are medians of repeated runs (wall clock, one process).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import PACKAGES, TaskTable, arguments, machine, timed, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ital_opt  # noqa: E402
from ital_opt.coalition import checks as CK  # noqa: E402
from ital_opt.coalition import closed_form as CF  # noqa: E402
from ital_opt.coalition import formulations as FM  # noqa: E402
from ital_opt.coalition import games as G  # noqa: E402

try:
    import coopgame
except ImportError:
    coopgame = None
try:
    import tucoopy
except ImportError:
    tucoopy = None

TUCOOPY_MAX = 12  # tucoopy takes its game as a dict of 2^n entries (63 s for its nucleolus at n = 15)


def random_game(n, seed):
    """Superadditive-ish random game: v(S) = (Σ_{i∈S} w_i)^1.2 + noise, worths ≥ 0."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(1, 10, n)
    v = G.coalition_sums(w) ** 1.2 + rng.uniform(0, 1, 2**n)
    v[0] = 0.0
    return v


def unsc():
    return (G.coalition_sums(np.array([7.0] * 5 + [1.0] * 10)) >= 39).astype(float)


def majority(n):
    return (G.coalition_sums(np.ones(n)) > n / 2).astype(float)


def peers_nucleolus(v, n, repeat):
    """{peer: (median seconds, allocation)} for the installed peers."""
    out = {}
    if coopgame is not None:
        game = coopgame.Game(v[1:])
        t = timed(lambda: coopgame.nucleolus(game), repeat)
        out["coopgame-py"] = (t.median, np.asarray(t.value["allocation"], float))
    if tucoopy is not None and n <= TUCOOPY_MAX:
        game = tucoopy.Game(n, {m: float(x) for m, x in enumerate(v)})
        t = timed(lambda: tucoopy.nucleolus(game), 1)
        out["tucoopy"] = (t.median, np.asarray(t.value.x, float))
    return out


def peers_shapley(v, n, repeat):
    out = {}
    if coopgame is not None:
        game = coopgame.Game(v[1:])
        t = timed(lambda: coopgame.shapley(game), repeat)
        out["coopgame-py"] = (t.median, np.asarray(t.value, float))
    if tucoopy is not None and n <= TUCOOPY_MAX:
        game = tucoopy.Game(n, {m: float(x) for m, x in enumerate(v)})
        t = timed(lambda: tucoopy.shapley_value(game), 1)
        out["tucoopy"] = (t.median, np.asarray(t.value, float))
    return out


def main(argv=None):
    parser = arguments("coalition", repeat=3)
    args = parser.parse_args(argv)
    info = machine(PACKAGES + ("coopgame-py", "tucoopy"))
    repeat = args.repeat
    peers = [p for p, mod in (("coopgame-py", coopgame), ("tucoopy", tucoopy)) if mod is not None]

    # -- the nucleolus, side by side ------------------------------------------------------------------
    head = "".join(f" {p} [s] | largest difference | " for p in peers)
    side = [f"| game | players | ital_opt [s] |{head} Kohlberg's criterion holds ({', '.join(['ital_opt', *peers])}) |",
            "|---|---|---|" + "---|---|" * len(peers) + "---|"]
    games = [("UN Security Council [39; 7×5, 1×10]", 15, unsc())]
    games += [(f"random table game (seed {n})", n, random_game(n, n)) for n in (10, 12, 14, 16)]
    games += [("majority game", 17, majority(17)), ("random table game (seed 20)", 20, random_game(20, 20))]
    for name, n, v in games:
        t = timed(lambda: FM.nucleolus_dense(v), repeat if n < 20 else 1)
        x = t.value[0]
        imput = not CK.imputation_set_empty(v)

        def certified(y):
            return CK.kohlberg_certificate(v, y, FM.balancing_weights, imputations=imput)["violation"] == 0

        others = peers_nucleolus(v, n, repeat if n < 20 else 1)
        cells, verdicts = [], ["yes" if certified(x) else "NO"]
        for p in peers:
            if p in others:
                seconds, y = others[p]
                cells.append(f"{seconds:.4f} | {float(np.abs(y - x).max()):.2g}")
                verdicts.append("yes" if certified(y) else "no")
            else:
                cells.append("skipped | ")
                verdicts.append("–")
        side.append(f"| {name} | {n} | {t.median:.4f} | " + " | ".join(cells) + f" | {' / '.join(verdicts)} |")
        print(side[-1], flush=True)

    shap = ["| game | players | ital_opt [s] | " + " | ".join(f"{p} [s]" for p in peers)
            + " | largest difference from ital_opt |", "|---|---|---|" + "---|" * len(peers) + "---|"]
    for name, n, v in [("UN Security Council", 15, unsc()), ("random table game", 20, random_game(20, 1))]:
        t = timed(lambda: CF.shapley(v), repeat)
        others = peers_shapley(v, n, repeat)
        diff = max((float(np.abs(y - t.value).max()) for _, y in others.values()), default=float("nan"))
        cells = [f"{others[p][0]:.4f}" if p in others else "skipped" for p in peers]
        shap.append(f"| {name} | {n} | {t.median:.4f} | " + " | ".join(cells) + f" | {diff:.2g} |")
        print(shap[-1], flush=True)

    # -- targets --------------------------------------------------------------------------------------
    tasks = TaskTable(repeat, digits=4)
    record = tasks.record
    v25 = random_game(25, 25)
    phi = record("Shapley value, exact, table game (2^25 worths, 256 MiB)", 25, lambda: CF.shapley(v25), 30.0)
    assert abs(phi.sum() - v25[-1]) < 1e-6 * v25[-1]
    record("Banzhaf value, exact, table game", 25, lambda: CF.banzhaf(v25))
    del v25
    rng = np.random.default_rng(200)
    weights = rng.integers(1, 11, 200)
    quota = int(weights.sum()) // 2 + 1
    spec200 = {"kind": "coalition", "players": [f"v{i}" for i in range(200)], "game": "weighted_voting",
               "quota": quota, "weights": weights.tolist()}
    res = record("weighted voting, exact Shapley–Shubik + Banzhaf (kind solve)", 200,
                 lambda: ital_opt.load(spec200).solve(), 5.0)
    tasks.note(f"quota {quota}, weights 1–10; indices sum to {res.rows['shapley'].sum():.15f}")
    record("UN Security Council, kind solve (DP values, nucleolus, all checks)", 15,
           lambda: ital_opt.load("formulations/coalition_unsc.toml").solve())
    v20 = random_game(20, 20)
    names20 = [f"p{i}" for i in range(20)]
    spec20 = {"kind": "coalition", "players": names20,
              "values": {G.coalition_name(m, names20): float(x) for m, x in enumerate(v20) if m}}
    problem20 = ital_opt.load(spec20)
    record("random table game, kind solve (values, nucleolus, least core, Kohlberg)", 20,
           lambda: problem20.solve("highs"), 60.0)
    claims = np.arange(1, 61) * 10.0
    spec60 = {"kind": "coalition", "players": [f"p{i}" for i in range(60)], "game": "bankruptcy",
              "estate": 9000.0, "claims": claims.tolist()}
    exact = record("bankruptcy, exact Shapley by counting (kind solve)", 60, lambda: ital_opt.load(spec60).solve())
    est = CF.shapley_sample(ital_opt.load(spec60).game.worth, 60, 4000, seed=0)
    tasks.note(f"the former 4000-sample estimate is off by up to "
               f"{np.abs(est.value - exact.rows['shapley'].to_numpy()).max():.2f}")
    airport = {"kind": "coalition", "players": [f"a{i}" for i in range(1000)], "game": "airport",
               "costs": np.random.default_rng(3).integers(1, 1000, 1000).tolist()}
    record("airport, Littlechild–Owen + Littlechild (kind solve)", 1000, lambda: ital_opt.load(airport).solve())
    market = {"kind": "coalition", "game": "assignment", "buyers": [f"b{i}" for i in range(40)],
              "sellers": [f"s{j}" for j in range(40)],
              "surplus": np.random.default_rng(4).integers(0, 50, (40, 40)).tolist()}
    record("assignment game, nucleolus over essential coalitions (kind solve)", 80,
           lambda: ital_opt.load(market).solve())

    lines = [
        "# Benchmarks: cooperative games (`ital_opt.coalition`)",
        "",
        f"Command: `python benchmarks/bench_coalition.py --repeat {repeat}` (medians of {repeat} runs, wall "
        "clock; the 20-player nucleolus and every tucoopy call once).",
        "",
        "Machine:",
        *info,
        "",
        "## The nucleolus, side by side",
        "",
        "ital_opt: `formulations.nucleolus_dense` (the LP sequence with constraint generation and dual-based",
        "fixing on one warm-started HiGHS model; the prenucleolus, then the nucleolus if they differ).",
        "coopgame-py: `coopgame.nucleolus(game)` (constraint generation, its default); tucoopy:",
        "`tucoopy.nucleolus(game)` (skipped beyond 12 players: its game is a dict of 2^n entries, and its",
        "nucleolus took 63 s at 15 players).  The last column checks every answer with Kohlberg's",
        "criterion (balancing weights found by an LP and verified).  tucoopy's answers fail it: on the",
        "10-player game its point reaches the least-core value but not the nucleolus's later levels.",
        "",
        *side,
        "",
        "## Exact Shapley value, side by side",
        "",
        *shap,
        "",
        "## Targets",
        "",
        *tasks.lines("players"),
        "",
        "Random games: v(S) = (Σ_{i∈S} w_i)^1.2 + U(0, 1) noise with w_i ~ U(1, 10) (seeded).",
        "The machine is shared (see the load average): compare the columns of one table, which ran",
        "back to back, rather than absolute times across runs.",
    ]
    write(args.out, lines)


if __name__ == "__main__":
    main()
