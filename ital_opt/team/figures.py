"""Figures of the team (docs/theory/team.md), reached through ``Team.figures(result)`` and
``Team.sweep_figures(table, varied)``.

* :func:`sharing_ratio` — two budget-balanced members: efforts, certainty equivalents and total
  welfare against the sharing ratio β_1 (β_2 = 1 − β_1), the welfare maximum marked (docs/theory/team.md,
  "trends": each member's effort rises with its own share, welfare is single-peaked).
* :func:`omega` — total welfare at the welfare-maximising shares and those shares against the
  weighting factor ω of mutual concern, with the first best (reached at ω = 1).
* :func:`weights` — two members, reading B: total welfare and the chosen shares against the
  welfare weight λ_1 (λ_2 = 1 − λ_1): an inverted U.
* :func:`sweep_free_riding` — a sweep table: total welfare against the first varied field beside
  the first best, the gap being the free-riding loss.

Every curve is the kind's own answer at each point (``problem.replace(...).solve()``).
Matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

import numpy as np


def _figure(panels=2, width=None, height=3.9):
    from .._optional import pyplot

    fig = pyplot("matplotlib.figure").Figure(figsize=(width or 5.25 * panels, height), layout="constrained")
    return fig, fig.subplots(1, panels)


def _finish(fig, axes, xlabel, ylabels, title=None):
    """Label the axes (x: `xlabel`, y: one of `ylabels` each), add grids and legends, and the
    figure's title (if any)."""
    for ax, ylabel in zip(axes, ylabels, strict=True):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title is not None:
        fig.suptitle(title)
    return fig


def _column(results, name):
    return np.array([r.rows[name].to_numpy(float) for r in results])


def sharing_ratio(problem, ratios=None):
    """Efforts, certainty equivalents and total welfare against β_1 (two members)."""
    ratios = np.linspace(0.0, 1.0, 51) if ratios is None else np.asarray(ratios, float)
    results = [problem.replace(shares=[float(b), 1.0 - float(b)]).solve() for b in ratios]
    welfare = np.array([r.objective for r in results])
    fig, axes = _figure(3)
    for i, name in enumerate(problem.members):
        axes[0].plot(ratios, _column(results, "effort")[:, i], lw=2, label=name)
        ce = _column(results, "ce")[:, i]
        axes[1].plot(ratios, ce, lw=2, label=name)
        best = int(np.nanargmax(ce))
        axes[1].plot(ratios[best], ce[best], "o", color="k", ms=4)
    axes[2].plot(ratios, welfare, lw=2, color="k", label="total welfare")
    axes[2].axvline(ratios[int(np.nanargmax(welfare))], color="grey", ls=":", lw=1)
    return _finish(fig, axes, "output-sharing ratio β_1 (β_2 = 1 − β_1)",
                   ("effort e_i", "certainty equivalent CE_i", "total welfare TW"),
                   f"{problem.title or 'Team'}: against the sharing ratio (ω = {problem.omega:g})")


def _welfare_and_shares(problem, x, results, xlabel, welfare_label, share_label, share_axis, title, first_best=None):
    """Two panels against x: total welfare (beside the `first_best` level if given), and each member's share."""
    fig, (ax1, ax2) = _figure()
    ax1.plot(x, [r.objective for r in results], lw=2, color="k", label=welfare_label)
    if first_best is not None:
        ax1.axhline(first_best, ls="--", color="grey", label="first best TW_FB")
    shares = _column(results, "share")
    for i, name in enumerate(problem.members):
        ax2.plot(x, shares[:, i], lw=2, label=f"{share_label} {name}")
    return _finish(fig, (ax1, ax2), xlabel, ("total welfare", share_axis), f"{problem.title or 'Team'}: {title}")


def omega(problem, omegas=None):
    """Total welfare and the welfare-maximising shares against the weighting factor ω."""
    omegas = np.linspace(0.0, 1.0, 41) if omegas is None else np.asarray(omegas, float)
    results = [problem.replace(omega=float(w), shares="welfare").solve() for w in omegas]
    return _welfare_and_shares(problem, omegas, results, "weighting factor ω (mutual concern)", "TW*(ω)", "β*",
                               "welfare-maximising share", "against the weighting factor ω",
                               first_best=float(results[-1].extras["first_best_welfare"]))


def weights(problem, lambdas=None):
    """Total welfare and the shares chosen by weighted welfare against λ_1 (two members)."""
    lambdas = np.linspace(0.0, 1.0, 21) if lambdas is None else np.asarray(lambdas, float)
    results = [problem.replace(shares="weighted", **{"lambda": [float(v), 1.0 - float(v)]}).solve() for v in lambdas]
    return _welfare_and_shares(problem, lambdas, results, "welfare weight λ_1 (λ_2 = 1 − λ_1)", "total welfare ΣCE_i",
                               "β", "share chosen by the weighted objective", "against the welfare weight λ (reading B)")


def figures(problem, result=None) -> list[tuple[str, object]]:
    """The book's comparative statics (docs/theory/team.md) for budget-balanced LEN teams of two members."""
    if not problem.is_len or problem.budget_breaker or problem.n != 2:
        return []
    if problem.mode == "weighted":
        return [("total welfare and shares against the welfare weight λ (reading B, docs/theory/team.md)", weights(problem))]
    return [
        ("effort, member utility and total welfare against the sharing ratio β_1 (docs/theory/team.md)", sharing_ratio(problem)),
        ("total welfare and the welfare-maximising shares against the weighting factor ω (docs/theory/team.md)", omega(problem)),
    ]


def sweep_free_riding(table, varied):
    x = varied[0]
    points = table.drop_duplicates(subset=[x]).sort_values(x)
    fig, ax = _figure(1, width=6.0)
    ax.plot(points[x].to_numpy(float), points["objective"].to_numpy(float), lw=2, color="k", label="total welfare")
    ax.plot(points[x].to_numpy(float), points["first_best_welfare"].to_numpy(float), ls="--", color="grey",
            label="first best")
    return _finish(fig, [ax], x, ["welfare (gap: the free-riding loss)"])


def sweep_figures(problem, table, varied) -> list[tuple[str, object]]:
    if not len(table) or not varied or "first_best_welfare" not in table or "objective" not in table:
        return []
    if len(varied) > 1 and table[varied[1]].nunique() > 1:
        return []  # one curve per point of the first field only
    return [(f"total welfare and first best against {varied[0]}", sweep_free_riding(table, varied))]
