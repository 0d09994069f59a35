"""Figures: line plots of sweep tables and the book's Chapter 3 and Chapter 4 figures.

* :func:`line_plot` — FIELD against a varied field from a sweep table, one line per value of
  ``by`` (default: one line per result row — a type, a member — when a point has several rows).
* :func:`book_figures` — regenerates every bundled figure (``ital-opt plot book --out-dir DIR``):

  ============================  =========================================================
  ``ch3_prior``                 shares and rents against the prior p_H (example 3-1, BOOK.md §2, P3.3)
  ``ch3_regimes``               shares, rents and payoff against the outside-option gap g = ū_H − ū_L:
                                regimes I–IV (example 3-1, P3.4)
  ``ch4_sharing_ratio``         effort, member utility (CE) and total welfare against β_1
                                (example 4-1, ω = 0, BOOK.md §3 "trends")
  ``ch4_omega``                 total welfare and the optimal β_1 against the weighting factor ω
  ``ch4_lambda``                total welfare against the welfare weight λ (reading B)
  ============================  =========================================================

  Each figure is computed by :func:`ital_opt.sweep.sweep` from the worked examples' specs, so
  the figures show what the solvers return, not a separate formula.

Matplotlib with the Agg backend (no display needed); PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SpecError

FORMATS = (".png", ".svg")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def read_table(path) -> pd.DataFrame:
    """A sweep table from CSV or Parquet."""
    from .sweep.tidy import decode_lists

    path = Path(path)
    if not path.exists():
        raise SpecError(None, "file not found", str(path))
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable table is bad input
        raise SpecError(None, f"cannot read the table: {exc}", str(path)) from None
    return decode_lists(df)


def _rows_per_point(table: pd.DataFrame, x: str) -> bool:
    return "row" in table.columns and table["row"].nunique(dropna=True) > 1


def _row_label(table: pd.DataFrame, row) -> str:
    sub = table[table["row"] == row]
    for col in ("member", "player", "outcome", "theta"):
        if col in sub.columns and sub[col].nunique() == 1:
            return f"{col} {sub[col].iloc[0]}"
    return f"row {row}"


def line_plot(table: pd.DataFrame, x: str, ys, *, by: str | None = None, row: int | None = None,
              title: str | None = None, source: str = "table", ax=None):
    """A figure with one panel per y field: y against x, one line per value of `by`."""
    plt = _plt()
    ys = [ys] if isinstance(ys, str) else list(ys)
    for col in [x, *ys, *([by] if by else [])]:
        if col not in table.columns:
            raise SpecError(col, f"no such column (columns: {', '.join(map(str, table.columns))})", source)
    data = table
    if row is not None:
        data = data[data["row"] == row]
    if by is None and row is None and _rows_per_point(data, x):
        by = "row"
    if ax is None:
        fig, axes = plt.subplots(1, len(ys), figsize=(5.2 * len(ys), 3.8), squeeze=False)
        axes = axes[0]
    else:
        fig, axes = ax.figure, [ax]
    for axis, y in zip(axes, ys):
        groups = [(None, data)] if by is None else list(data.groupby(by, sort=True, dropna=False))
        for key, part in groups:
            part = part.drop_duplicates(subset=[x]).sort_values(x) if by is not None or row is not None or "row" not in part else part.sort_values(x)
            yy = pd.to_numeric(part[y], errors="coerce")
            label = None
            if by == "row":
                label = _row_label(data, key)
            elif by is not None:
                label = f"{by} = {key:g}" if isinstance(key, (float, int, np.floating)) else f"{by} = {key}"
            axis.plot(part[x].to_numpy(float), yy.to_numpy(float), marker="o" if len(part) <= 25 else None,
                      ms=3, lw=1.6, label=label)
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        axis.grid(True, alpha=0.3)
        if by is not None:
            axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise SpecError("-o", f"the figure file must end in .png or .svg, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    _plt().close(fig)
    return path


# -- the book's figures -------------------------------------------------------------------------------
EXAMPLE_3_1 = {"kind": "admission", "title": "Worked example 3-1", "theta": [1.0, 1.5], "prob": [0.6, 0.4],
               "c": 1.0, "rho": 2.0, "sigma2": 0.4, "outside": [0.0, 0.0]}
EXAMPLE_4_1 = {"kind": "team", "title": "Worked example 4-1", "a": [1.2, 1.0], "c": [1.0, 1.0], "rho": [1.0, 2.0],
               "sigma2": 0.5, "omega": 0.0}


def _sweep(spec, grid, derive=None, **kw):
    from .spec import load
    from .sweep import sweep

    return sweep(load(spec), grid, derive=derive, progress=False, **kw)


def _by_row(table, x, y):
    """{row: (x, y)} for a tidy table."""
    out = {}
    for row, part in table.groupby("row"):
        part = part.sort_values(x)
        out[int(row)] = (part[x].to_numpy(float), part[y].to_numpy(float))
    return out


def figure_ch3_prior():
    """Shares and rents against the prior p_H (two types, g = 0): the distortion grows with p_H/p_L."""
    plt = _plt()
    table = _sweep(EXAMPLE_3_1, {"prob[1]": np.linspace(0.05, 0.95, 37)}, {"prob[0]": "1 - prob_1"})
    x = "prob[1]"
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.9))
    names = {0: "low type L", 1: "high type H"}
    for row, (xs, ys) in _by_row(table, x, "share").items():
        a1.plot(xs, ys, lw=2, label=f"β {names[row]} (second best)")
    for row, (xs, ys) in _by_row(table, x, "first_best_share").items():
        a1.plot(xs, ys, ls="--", lw=1, label=f"β {names[row]} (first best)")
    a1.set_xlabel("prior of the high type p_H")
    a1.set_ylabel("output share β")
    a1.legend(fontsize=8)
    a1.set_title("Shares: no distortion at the top")
    for row, (xs, ys) in _by_row(table, x, "rent").items():
        a2.plot(xs, ys, lw=2, label=f"rent {names[row]}")
    obj = table.drop_duplicates(x).sort_values(x)
    a2.plot(obj[x], obj["objective"], color="k", lw=1.2, ls=":", label="alliance payoff")
    a2.set_xlabel("prior of the high type p_H")
    a2.set_ylabel("rent u − ū / payoff")
    a2.legend(fontsize=8)
    a2.set_title("Information rent and alliance payoff")
    for a in (a1, a2):
        a.grid(True, alpha=0.3)
    fig.suptitle("Chapter 3 — admission menu against the prior (example 3-1, g = 0)")
    fig.tight_layout()
    return fig, table


REGIME_COLOURS = {"I": "#dbe9f6", "II": "#fde0c5", "III": "#d5efd5", "IV": "#f3d6e8"}


def figure_ch3_regimes():
    """Shares, rents and the alliance's payoff against the outside-option gap g: regimes I–IV."""
    plt = _plt()
    table = _sweep(EXAMPLE_3_1, {"outside[1]": np.linspace(0.0, 0.9, 181)})
    x = "outside[1]"
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.9))
    pts = table.drop_duplicates(x).sort_values(x)
    for axis in (a1, a2):
        for regime, part in pts.groupby((pts["regime"] != pts["regime"].shift()).cumsum()):
            name = part["regime"].iloc[0]
            axis.axvspan(part[x].min(), part[x].max(), color=REGIME_COLOURS.get(name, "#eee"), alpha=0.8, lw=0)
            axis.text(part[x].mean(), 1.02, name, transform=axis.get_xaxis_transform(), ha="center", fontsize=9)
    names = {0: "L", 1: "H"}
    for row, (xs, ys) in _by_row(table, x, "share").items():
        a1.plot(xs, ys, lw=2, label=f"β_{names[row]}")
    a1.set_xlabel("outside-option gap g = ū_H − ū_L")
    a1.set_ylabel("output share β")
    a1.legend(fontsize=8, loc="lower right")
    for row, (xs, ys) in _by_row(table, x, "rent").items():
        a2.plot(xs, ys, lw=2, label=f"rent {names[row]}")
    a2.plot(pts[x], pts["objective"], color="k", lw=1.5, label="alliance payoff")
    a2.set_xlabel("outside-option gap g = ū_H − ū_L")
    a2.set_ylabel("rent / payoff")
    a2.legend(fontsize=8)
    for a in (a1, a2):
        a.grid(True, alpha=0.3)
    fig.suptitle("Chapter 3 — regimes against the outside-option gap (example 3-1)", y=1.0)
    fig.tight_layout()
    return fig, table


def figure_ch4_sharing_ratio():
    """Effort, member utility and total welfare against the sharing ratio β_1 (ω = 0)."""
    plt = _plt()
    spec = {**EXAMPLE_4_1, "shares": [0.5, 0.5]}
    table = _sweep(spec, {"shares[0]": np.linspace(0.0, 1.0, 51)}, {"shares[1]": "1 - shares_0"})
    x = "shares[0]"
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    for row, (xs, ys) in _by_row(table, x, "effort").items():
        axes[0].plot(xs, ys, lw=2, label=f"member {row + 1}")
    axes[0].set_ylabel("effort e_i")
    for row, (xs, ys) in _by_row(table, x, "ce").items():
        axes[1].plot(xs, ys, lw=2, label=f"member {row + 1}")
        i = int(np.nanargmax(ys))
        axes[1].plot(xs[i], ys[i], "o", color="k", ms=4)
    axes[1].set_ylabel("member utility CE_i")
    pts = table.drop_duplicates(x).sort_values(x)
    axes[2].plot(pts[x], pts["objective"], lw=2, color="k", label="total welfare")
    i = int(np.nanargmax(pts["objective"].to_numpy(float)))
    axes[2].axvline(pts[x].iloc[i], color="grey", ls=":", lw=1)
    axes[2].set_ylabel("total welfare TW")
    for a in axes:
        a.set_xlabel("output-sharing ratio β_1 (β_2 = 1 − β_1)")
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("Chapter 4 — effort, member utility and total welfare against the sharing ratio (example 4-1, ω = 0)")
    fig.tight_layout()
    return fig, table


def figure_ch4_omega():
    """Total welfare and the welfare-maximising β_1 against the weighting factor ω (reading A)."""
    plt = _plt()
    table = _sweep({**EXAMPLE_4_1, "shares": "welfare"}, {"omega": np.linspace(0.0, 1.0, 41)})
    x = "omega"
    pts = table.drop_duplicates(x).sort_values(x)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.9))
    a1.plot(pts[x], pts["objective"], lw=2, color="k", label="TW*(ω)")
    if "first_best_welfare" in pts:
        a1.axhline(float(pts["first_best_welfare"].iloc[-1]), ls="--", color="grey", label="first best TW_FB")
    a1.set_ylabel("total welfare")
    for row, (xs, ys) in _by_row(table, x, "share").items():
        a2.plot(xs, ys, lw=2, label=f"β_{row + 1}*")
    a2.set_ylabel("optimal share")
    for a in (a1, a2):
        a.set_xlabel("weighting factor ω (mutual concern)")
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("Chapter 4 — total welfare against the weighting factor ω (example 4-1)")
    fig.tight_layout()
    return fig, table


def figure_ch4_lambda():
    """Total welfare against the welfare weight λ_1 (reading B, ω = 0): an inverted U."""
    plt = _plt()
    spec = {**EXAMPLE_4_1, "shares": "weighted", "lambda": [0.5, 0.5]}
    table = _sweep(spec, {"lambda[0]": np.linspace(0.0, 1.0, 21)}, {"lambda[1]": "1 - lambda_0"})
    x = "lambda[0]"
    pts = table.drop_duplicates(x).sort_values(x)
    welfare = table.groupby(x)["ce"].sum() if "ce" in table else pts.set_index(x)["objective"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 3.9))
    a1.plot(welfare.index, welfare.to_numpy(float), lw=2, color="k", label="total welfare ΣCE_i")
    a1.set_ylabel("total welfare")
    for row, (xs, ys) in _by_row(table, x, "share").items():
        a2.plot(xs, ys, lw=2, label=f"β_{row + 1}*(λ)")
    a2.set_ylabel("share chosen by the weighted objective")
    for a in (a1, a2):
        a.set_xlabel("welfare weight λ_1 (λ_2 = 1 − λ_1)")
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("Chapter 4 — total welfare against the weight λ (reading B, example 4-1)")
    fig.tight_layout()
    return fig, table


BOOK_FIGURES = {
    "ch3_prior": figure_ch3_prior,
    "ch3_regimes": figure_ch3_regimes,
    "ch4_sharing_ratio": figure_ch4_sharing_ratio,
    "ch4_omega": figure_ch4_omega,
    "ch4_lambda": figure_ch4_lambda,
}


def book_figures(out_dir="figures", fmt: str = "png", names=None) -> list[Path]:
    """Regenerate the bundled Chapter 3 and 4 figures into `out_dir`; returns the paths written.

    Each figure is written with its data as ``NAME.csv`` (the sweep table) next to it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or BOOK_FIGURES:
        fig, table = BOOK_FIGURES[name]()
        written.append(save(fig, out_dir / f"{name}.{fmt}"))
        table.to_csv(out_dir / f"{name}.csv", index=False)
    return written
