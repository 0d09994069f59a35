"""Figures of the admission menu (docs/theory/admission.md), reached through ``Admission.figures(result)`` and
``Admission.sweep_figures(table, varied)``.

* :func:`prior` — shares (first best dashed) and information rents against p_H, the top type's
  probability (the others rescaled in proportion): the distortion below the top grows with
  p_H/p_L while the top share stays first best (docs/theory/admission.md, P3.2–P3.3).
* :func:`regimes` — two types, LEN: the alliance's payoff and the shares against the
  outside-option gap g = ū_H − ū_L, the boundaries of regimes I | II | III | IV marked (P3.4).
* :func:`sweep_regimes` — a sweep table with a ``regime`` column: the shares per type against
  the first varied field, each regime's stretch shaded.

Every curve is the kind's own answer at each point (``problem.replace(...).solve()``), not a
separate formula.  Matplotlib with the Agg backend (no display needed).
"""

from __future__ import annotations

import numpy as np

from . import closed_form as cf

REGIME_COLOURS = {"I": "#dbe9f6", "II": "#fde0c5", "III": "#d5efd5", "IV": "#f3d6e8"}


def _figure(width=10.5, height=3.9, panels=2):
    from .._optional import pyplot

    fig = pyplot("matplotlib.figure").Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, panels)


def _type_labels(problem) -> list[str]:
    return ["L", "H"] if problem.n == 2 else [f"θ={t:g}" for t in problem.theta]


def _prior_with_top(prob: np.ndarray, p_top: float) -> list[float]:
    rest = prob[:-1] / prob[:-1].sum() * (1.0 - p_top)
    return [*rest.tolist(), float(p_top)]


def prior(problem, p_high=None, *, method: str = "auto"):
    """Shares (with first best, dashed) and rents against p_H, the top type's probability."""
    if p_high is None:  # each point of a non-LEN menu is a numerical solve: fewer of them
        p_high = np.linspace(0.05, 0.95, 37 if problem.is_len else 13)
    p_high = np.asarray(p_high, dtype=float)
    shares, fbs, rents, payoff = [], [], [], []
    for ph in p_high:
        res = problem.replace(prob=_prior_with_top(problem.prob, ph)).solve(method=method)
        shares.append(res.rows["share"].to_numpy(float))
        fbs.append(res.rows["first_best_share"].to_numpy(float))
        rents.append(res.rows["rent"].to_numpy(float))
        payoff.append(res.objective)
    shares, fbs, rents = map(np.array, (shares, fbs, rents))
    fig, (ax1, ax2) = _figure()
    for k, label in enumerate(_type_labels(problem)):
        line, = ax1.plot(p_high, shares[:, k], lw=2, label=f"β {label} (second best)")
        ax1.plot(p_high, fbs[:, k], ls="--", lw=1, color=line.get_color(), label=f"β {label} (first best)")
        ax2.plot(p_high, rents[:, k], lw=2, color=line.get_color(), label=f"rent {label}")
    ax2.plot(p_high, payoff, color="k", lw=1.2, ls=":", label="alliance payoff")
    ax1.set_xlabel("prior of the most capable type p_H")
    ax1.set_ylabel("output share β")
    ax1.set_title("Shares: no distortion at the top")
    ax2.set_xlabel("prior of the most capable type p_H")
    ax2.set_ylabel("rent u − ū / payoff")
    ax2.set_title("Information rent and alliance payoff")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{problem.title or 'Admission menu'}: against the prior")
    return fig


def regimes(problem, g=None, *, method: str = "auto"):
    """Payoff and shares against g = ū_H − ū_L (ū_L fixed), regime boundaries I|II|III|IV marked.

    ``fig.regimes`` lists (g, regime) at every point."""
    if problem.n != 2 or not problem.is_len:
        raise ValueError("the regimes figure needs two types and the LEN model (the regimes of docs/theory/admission.md)")
    bounds = np.array(cf.regime_bounds(problem.prob, problem.phi, problem.r))
    if g is None:
        g = np.linspace(0.0, max(1.6 * bounds[2], bounds[2] + 0.2), 161)
    g = np.sort(np.concatenate([np.asarray(g, dtype=float), bounds]))
    ubar_low = float(problem.outside[0])
    payoff, shares, names = [], [], []
    for gi in g:
        res = problem.replace(outside=[ubar_low, ubar_low + float(gi)]).solve(method=method)
        payoff.append(res.objective)
        shares.append(res.rows["share"].to_numpy(float))
        names.append(res.extras.get("regime"))
    shares = np.array(shares)
    fig, (ax1, ax2) = _figure()
    ax1.plot(g, payoff, color="k", lw=1.5)
    ax1.set_ylabel("alliance's expected payoff")
    ax1.set_title("Payoff against g = ū_H − ū_L")
    fb = cf.first_best(problem.phi, problem.r)
    for k, label in enumerate(("L", "H")):
        ax2.plot(g, shares[:, k], lw=2, color=f"C{k}", label=f"β_{label}")
        ax2.axhline(fb[k], ls="--", color=f"C{k}", alpha=0.5, label=f"first best β_{label}")
    ax2.set_ylabel("output share β")
    ax2.set_title("Shares against g")
    ax2.legend(fontsize=8)
    edges = [g[0], *bounds, g[-1]]
    for ax in (ax1, ax2):
        ax.set_xlabel("outside-option gap g = ū_H − ū_L")
        ax.grid(True, alpha=0.3)
        for name, a, b in zip(("I", "II", "III", "IV"), edges[:-1], edges[1:]):
            if b > a:
                ax.axvspan(a, b, color=REGIME_COLOURS[name], alpha=0.6, lw=0)
                ax.text((a + b) / 2, 1.01, name, transform=ax.get_xaxis_transform(), ha="center", fontsize=9)
    fig.suptitle(f"{problem.title or 'Admission menu'}: regimes against the outside-option gap")
    fig.regimes = list(zip(g.tolist(), names))
    return fig


def figures(problem, result=None) -> list[tuple[str, object]]:
    """The comparative statics of this menu: against the prior, and (two LEN types) the regimes."""
    if problem.n < 2:
        return []
    out = [("shares and information rents against the prior of the most capable type (docs/theory/admission.md)", prior(problem))]
    if problem.n == 2 and problem.is_len:
        out.append(("payoff and shares against the outside-option gap g: regimes I–IV (docs/theory/admission.md)", regimes(problem)))
    return out


def sweep_regimes(table, varied):
    """The shares per type against the first varied field, each regime's stretch shaded."""
    x = varied[0]
    points = table.drop_duplicates(subset=[x]).sort_values(x)
    fig, (ax1, ax2) = _figure()
    for ax in (ax1, ax2):
        stretch = (points["regime"] != points["regime"].shift()).cumsum()
        for _, part in points.groupby(stretch):
            name = str(part["regime"].iloc[0])
            ax.axvspan(part[x].min(), part[x].max(), color=REGIME_COLOURS.get(name, "#eee"), alpha=0.8, lw=0)
            ax.text(part[x].mean(), 1.01, name, transform=ax.get_xaxis_transform(), ha="center", fontsize=9)
        ax.set_xlabel(x)
        ax.grid(True, alpha=0.3)
    for row, part in table.groupby("row"):
        part = part.sort_values(x)
        ax1.plot(part[x].to_numpy(float), part["share"].to_numpy(float), lw=2, label=f"type {int(row) + 1}")
        ax2.plot(part[x].to_numpy(float), part["rent"].to_numpy(float), lw=2, label=f"type {int(row) + 1}")
    ax1.set_ylabel("output share β")
    ax2.set_ylabel("information rent u − ū")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
    return fig


def sweep_figures(problem, table, varied) -> list[tuple[str, object]]:
    if not len(table) or not varied or "regime" not in table or "share" not in table or "row" not in table:
        return []
    return [(f"shares and rents against {varied[0]}, regimes shaded", sweep_regimes(table, varied))]
