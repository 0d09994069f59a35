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

import numpy as np

from .._optional import pyplot as _plt


def pay_schedule(problem, result):
    """Bars of pay and value per outcome; the first-best flat wage as a line where known."""
    plt = _plt()
    rows = result.rows
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, rows["pay"], width=0.4, label="pay w_j")
    ax.bar(x + 0.2, rows["value"], width=0.4, label="value x_j", alpha=0.6)
    if "first_best_pay" in result.extras and np.isfinite(result.extras["first_best_pay"]):
        ax.axhline(result.extras["first_best_pay"], color="k", ls="--", lw=1, label="first-best flat wage")
    ax.set_xticks(x, [str(o) for o in rows["outcome"]])
    ax.set_xlabel("outcome")
    ax.set_title(f"pay schedule implementing {result.extras.get('action', '')}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def action_values(problem, result):
    """The principal's net value of implementing each action (second best) and its first-best value."""
    table = result.extras.get("implementation") or []
    if not table:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [row["action"] for row in table]
    net = [row["net_value"] if row["net_value"] is not None else np.nan for row in table]
    first = [row["expected_value"] - row["first_best_pay"] for row in table]
    x = np.arange(len(names))
    bars = ax.bar(x - 0.2, net, width=0.4, label="second best (hidden action)")
    ax.bar(x + 0.2, first, width=0.4, alpha=0.6, label="first best (observable)")
    if result.extras.get("action") in names:
        bars[names.index(result.extras["action"])].set_edgecolor("k")
        bars[names.index(result.extras["action"])].set_linewidth(2)
    ax.set_xticks(x, names)
    ax.set_ylabel("principal's net value")
    ax.set_title("net value of implementing each action")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def agent_payoff_curve(problem, result):
    """The agent's expected payoff against effort under the returned contract, the target marked."""
    plt = _plt()
    pay = np.asarray(result.rows["pay"].tolist(), float)
    grid = np.linspace(*problem.effort_bounds, 401)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(grid, problem.agent_payoffs(pay, grid), label="agent's payoff")
    e = float(result.extras["effort"])
    ax.axvline(e, color="k", ls="--", lw=1, label=f"target e = {e:.4g}")
    ax.set_xlabel("effort e")
    ax.set_ylabel("Σ p_j(e) u(w_j) − c(e)")
    ax.set_title("incentive compatibility of the contract")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figures(problem, result=None) -> list[tuple[str, object]]:
    """(caption, Figure) pairs for a solved problem (none without a solution)."""
    if result is None or result.rows is None or not len(result.rows) or "pay" not in result.rows:
        return []
    out = [("pay per outcome", pay_schedule(problem, result))]
    if problem.continuous:
        out.append(("agent's payoff against effort", agent_payoff_curve(problem, result)))
    else:
        fig = action_values(problem, result)
        if fig is not None:
            out.append(("net value of each action", fig))
    return out
