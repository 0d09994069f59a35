"""Figures of the Chapter 3 analysis (BOOK.md §2): the admission menu against the prior and g.

* :func:`figure_prior` — shares and information rents against p_H (the top type's probability;
  the other probabilities are rescaled in proportion): the distortion below the top grows with
  p_H/p_L while the top share stays first best (P3.2, P3.3).
* :func:`figure_regimes` — the alliance's payoff and the shares against g = ū_H − ū_L (two types),
  with the boundaries of regimes I | II | III | IV marked (P3.4).

Both return a :class:`matplotlib.figure.Figure` (Agg backend, no display needed) and take the
problem object, so a sweep or plot command can call them; :func:`save` writes PNG and SVG.
Command line: ``python -m ital_opt.admission.plot SPEC [--out DIR]`` writes both figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._optional import require

matplotlib = require("matplotlib", extra="plot")
matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import closed_form as cf  # noqa: E402


def _prior_with_top(prob: np.ndarray, p_top: float) -> list[float]:
    rest = prob[:-1] / prob[:-1].sum() * (1.0 - p_top)
    return [*rest.tolist(), float(p_top)]


def figure_prior(problem, p_high=None, *, method: str = "auto") -> Figure:
    """Shares (with first best, dashed) and rents against p_H, the top type's probability."""
    if p_high is None:
        p_high = np.linspace(0.05, 0.95, 37)
    p_high = np.asarray(p_high, dtype=float)
    shares, fbs, rents = [], [], []
    for ph in p_high:
        res = problem.replace(prob=_prior_with_top(problem.prob, ph)).solve(method=method)
        shares.append(res.rows["share"].to_numpy())
        fbs.append(res.rows["first_best_share"].to_numpy())
        rents.append(res.rows["rent"].to_numpy())
    shares, fbs, rents = map(np.array, (shares, fbs, rents))
    labels = _type_labels(problem)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for k, label in enumerate(labels):
        line, = ax1.plot(p_high, shares[:, k], label=f"share β ({label})")
        ax1.plot(p_high, fbs[:, k], ls="--", color=line.get_color(), alpha=0.6, label=f"first best ({label})")
        ax2.plot(p_high, rents[:, k], color=line.get_color(), label=f"rent ({label})")
    ax1.set_xlabel("$p_H$ (probability of the most capable type)")
    ax1.set_ylabel("share of output β")
    ax1.set_title("Shares against the prior")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("$p_H$")
    ax2.set_ylabel("information rent $u - \\bar u$")
    ax2.set_title("Rents against the prior")
    ax2.legend(fontsize=8)
    fig.suptitle(problem.title or "Admission menu (BOOK.md §2)")
    return fig


def figure_regimes(problem, g=None, *, method: str = "auto") -> Figure:
    """Payoff and shares against g = ū_H − ū_L (ū_L fixed), regime boundaries I|II|III|IV marked."""
    if problem.n != 2 or not problem.is_len:
        raise ValueError("figure_regimes needs two types and the LEN model (the regimes of BOOK.md §2)")
    bounds = np.array(cf.regime_bounds(problem.prob, problem.phi, problem.r))
    if g is None:
        g = np.linspace(0.0, max(1.6 * bounds[2], bounds[2] + 0.2), 161)
    g = np.sort(np.concatenate([np.asarray(g, dtype=float), bounds]))
    ubar_low = float(problem.outside[0])
    payoff, shares, regimes = [], [], []
    for gi in g:
        res = problem.replace(outside=[ubar_low, ubar_low + float(gi)]).solve(method=method)
        payoff.append(res.objective)
        shares.append(res.rows["share"].to_numpy())
        regimes.append(res.extras.get("regime"))
    shares = np.array(shares)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(g, payoff, color="k")
    ax1.set_ylabel("alliance's expected payoff")
    ax1.set_title("Payoff against $g = \\bar u_H - \\bar u_L$")
    ax2.plot(g, shares[:, 0], label="β_L")
    ax2.plot(g, shares[:, 1], label="β_H")
    fb = cf.first_best(problem.phi, problem.r)
    ax2.axhline(fb[0], ls="--", color="C0", alpha=0.5, label="first best β_L")
    ax2.axhline(fb[1], ls="--", color="C1", alpha=0.5, label="first best β_H")
    ax2.set_ylabel("share of output β")
    ax2.set_title("Shares against $g$")
    ax2.legend(fontsize=8)
    edges = [g[0], *bounds, g[-1]]
    for ax, at_top in ((ax1, False), (ax2, True)):
        ax.set_xlabel("$g = \\bar u_H - \\bar u_L$")
        for b in bounds:
            ax.axvline(b, color="grey", ls=":", lw=1)
        lo, hi = ax.get_ylim()
        y = hi - 0.04 * (hi - lo) if at_top else lo + 0.04 * (hi - lo)
        for name, a, b in zip(("I", "II", "III", "IV"), edges[:-1], edges[1:]):
            if b > a:
                ax.text((a + b) / 2, y, name, ha="center", va="top" if at_top else "bottom", fontsize=9)
    fig.suptitle(problem.title or "Admission menu (BOOK.md §2)")
    fig.regimes = list(zip(g.tolist(), regimes))  # the regime at each point, for tests and reports
    return fig


def save(fig: Figure, stem, formats=("png", "svg")) -> list[Path]:
    """Write `fig` as STEM.png and STEM.svg; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    return paths


def _type_labels(problem) -> list[str]:
    if problem.n == 2:
        return ["L", "H"]
    return [f"θ={t:g}" for t in problem.theta]


def main(argv=None) -> int:
    from ..errors import SpecError
    from ..spec import load

    parser = argparse.ArgumentParser(prog="python -m ital_opt.admission.plot",
                                     description="Chapter 3 figures: shares/rents against p_H, payoff/shares against g")
    parser.add_argument("spec")
    parser.add_argument("--out", default="figures", help="output directory (default: figures)")
    parser.add_argument("--points", type=int, default=61, help="grid points per curve (default: 61)")
    args = parser.parse_args(argv)
    try:
        problem = load(args.spec)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if problem.kind != "admission":
        print(f"error: {args.spec}: field 'kind': expected 'admission', got {problem.kind!r}", file=sys.stderr)
        return 2
    stem = Path(args.out) / Path(args.spec).stem
    n = max(args.points, 3)
    written = save(figure_prior(problem, np.linspace(0.05, 0.95, n)), f"{stem}_prior")
    if problem.n == 2 and problem.is_len:
        top = cf.regime_bounds(problem.prob, problem.phi, problem.r)[2]
        written += save(figure_regimes(problem, np.linspace(0.0, max(1.6 * top, top + 0.2), n)), f"{stem}_regimes")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
