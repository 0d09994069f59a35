"""Figures of a moral-hazard solution (reached through ``MoralHazard.figures(result)``).

* the pay schedule: pay per outcome next to the outcome's value, with the first-best flat wage
  (discrete actions) — how far the contract departs from full insurance;
* discrete actions: the principal's net value of implementing each action (expected value minus
  the cheapest contract's expected pay), the chosen one marked;
* continuous effort: the agent's expected payoff against effort under the contract, the target
  marked — global incentive compatibility (or the deviation the first-order approach missed) at a
  glance.

Matplotlib with the Agg backend.
"""

from __future__ import annotations

import functools

import numpy as np

from .._optional import pyplot as _plt


def _figure(draw):
    """A figure function from `draw(problem, result, ax)`: the 6 x 3.5 figure, then its legend and layout."""

    @functools.wraps(draw)
    def figure(problem, result):
        fig, ax = _plt().subplots(figsize=(6, 3.5))
        draw(problem, result, ax)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    return figure


def _bar_pairs(ax, names, left, right, labels):
    """Two bars per name, `left` solid and `right` light; returns the left bars."""
    x = np.arange(len(names))
    bars = ax.bar(x - 0.2, left, width=0.4, label=labels[0])
    ax.bar(x + 0.2, right, width=0.4, label=labels[1], alpha=0.6)
    ax.set_xticks(x, names)
    return bars


@_figure
def pay_schedule(problem, result, ax):
    """Bars of pay and value per outcome; the first-best flat wage as a line where known."""
    rows = result.rows
    _bar_pairs(ax, [str(o) for o in rows["outcome"]], rows["pay"], rows["value"], ("pay w_j", "value x_j"))
    if "first_best_pay" in result.extras and np.isfinite(result.extras["first_best_pay"]):
        ax.axhline(result.extras["first_best_pay"], color="k", ls="--", lw=1, label="first-best flat wage")
    ax.set_xlabel("outcome")
    ax.set_title(f"pay schedule implementing {result.extras.get('action', '')}")


@_figure
def action_values(problem, result, ax):
    """The principal's net value of implementing each action (second best) and its first-best value."""
    table = result.extras["implementation"]
    names = [row["action"] for row in table]
    net = [row["net_value"] if row["net_value"] is not None else np.nan for row in table]
    first = [row["expected_value"] - row["first_best_pay"] for row in table]
    bars = _bar_pairs(ax, names, net, first, ("second best (hidden action)", "first best (observable)"))
    if result.extras.get("action") in names:
        bars[names.index(result.extras["action"])].set_edgecolor("k")
        bars[names.index(result.extras["action"])].set_linewidth(2)
    ax.set_ylabel("principal's net value")
    ax.set_title("net value of implementing each action")


@_figure
def agent_payoff_curve(problem, result, ax):
    """The agent's expected payoff against effort under the returned contract, the target marked."""
    pay = np.asarray(result.rows["pay"].tolist(), float)
    grid = np.linspace(*problem.effort_bounds, 401)
    ax.plot(grid, problem.agent_payoffs(pay, grid), label="agent's payoff")
    e = float(result.extras["effort"])
    ax.axvline(e, color="k", ls="--", lw=1, label=f"target e = {e:.4g}")
    ax.set_xlabel("effort e")
    ax.set_ylabel("Σ p_j(e) u(w_j) − c(e)")
    ax.set_title("incentive compatibility of the contract")


def figures(problem, result=None) -> list[tuple[str, object]]:
    """(caption, Figure) pairs for a solved problem (none without a solution)."""
    if result is None or result.rows is None or not len(result.rows) or "pay" not in result.rows:
        return []
    out = [("pay per outcome", pay_schedule(problem, result))]
    if problem.continuous:
        out.append(("agent's payoff against effort", agent_payoff_curve(problem, result)))
    elif result.extras.get("implementation"):
        out.append(("net value of each action", action_values(problem, result)))
    return out
