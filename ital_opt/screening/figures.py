"""Figures of a screening menu: the allocation, and the transfers and utilities, per type.

The allocation schedule q(θ) shows the distortions of the second-best menu (no distortion at the
top, downward distortion below, flat stretches where types are pooled; Mussa and Rosen 1978), the
transfers and utilities show the information rents (Laffont and Martimort 2002, ch. 2–3).
"""

from __future__ import annotations

import numpy as np


def _labels(problem) -> list[str]:
    if problem.multi:
        return ["(" + ", ".join(f"{x:.3g}" for x in row) + ")" for row in problem.theta.tolist()]
    return [f"{x:.4g}" for x in problem.theta.tolist()]


def figures(problem, result) -> list[tuple[str, object]]:
    """(caption, Figure) pairs: the allocation per type, and transfers and utilities per type."""
    if result is None or result.rows is None or not len(result.rows):
        return []
    from ..plot import _plt

    plt = _plt()
    rows = result.rows
    q = np.array(rows["q"].tolist(), dtype=float).reshape(problem.n, problem.m)
    x = np.arange(problem.n)
    fig, axes = plt.subplots(1, 2, figsize=(10.8, 3.6), squeeze=False)
    alloc, money = axes[0]
    width = 0.8 / problem.m
    for j, label in enumerate(problem.q_names):
        alloc.bar(x + (j - (problem.m - 1) / 2) * width, q[:, j], width, label=label)
    for j, col in enumerate(("t", "agent_utility")):
        money.bar(x + (j - 0.5) * 0.4, rows[col].to_numpy(float), 0.4, label=col)
    for axis in (alloc, money):
        axis.set_xticks(x, _labels(problem))
        axis.set_xlabel("theta")
        axis.axhline(0, color="k", lw=0.6)
        axis.grid(True, axis="y", alpha=0.3)
        axis.legend(fontsize=8)
    alloc.set_title("allocation")
    money.set_title("transfer and utility")
    fig.suptitle(f"screening: the menu ({result.method})")
    fig.tight_layout()
    return [("the menu: allocation, transfer and utility per type", fig)]
