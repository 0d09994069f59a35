"""Figures of a cooperative game's solution: the allocations side by side (one bar group per player)."""

from __future__ import annotations

import numpy as np

COLUMNS = ("shapley", "banzhaf", "nucleolus", "allocation", "team_allocation")


def figures(problem, result=None) -> list[tuple[str, object]]:
    """[(caption, Figure)]: Shapley, Banzhaf, nucleolus (and given/team allocations) per player."""
    if result is None:
        return []
    from .._optional import pyplot

    plt = pyplot()

    rows = result.rows
    present = [c for c in COLUMNS if c in rows]
    if not present:
        return []
    players = list(rows["player"])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(players) * len(present) / 2 + 2), 3.6))
    width = 0.8 / len(present)
    at = np.arange(len(players))
    for k, column in enumerate(present):
        ax.bar(at + (k - (len(present) - 1) / 2) * width, rows[column].to_numpy(float), width, label=column)
    ax.set_xticks(at, players, rotation=45 if len(players) > 8 else 0, ha="right" if len(players) > 8 else "center")
    what = "cost share" if problem.sign < 0 else "payoff"
    ax.set_ylabel(what)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.legend(frameon=False)
    fig.tight_layout()
    return [(f"Allocations of the {problem.describe()} ({what} per player)", fig)]
