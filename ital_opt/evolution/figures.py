"""Figures of an evolutionary game (through the ``figures(result)`` hook of the protocol).

* two populations: the phase portrait on the unit square — the replicator field as streamlines,
  the nullclines ΔF_i = 0 (where ẋ_i = 0 inside the square), the rest points coloured by their
  stability, the orbit from ``start`` and, with ``basin_grid``, the basins of the attractors as
  shaded regions;
* any number of populations: the time paths x_i(t) from ``start``;
* a sweep with ``basin_grid``: each attractor's basin share against the varied field
  (``sweep_figures``), e.g. the share of starts that end in full cooperation against the subsidy.
"""

from __future__ import annotations

import textwrap

import numpy as np

COLOURS = {
    "ess": "#1a9641", "stable focus": "#41b6c4", "saddle": "#fdae61", "source": "#d7191c",
    "unstable focus": "#c51b7d", "centre": "#2c7bb6", "degenerate": "#777777",
}
SHADES = ["#d9f0d3", "#fde0dd", "#deebf7", "#fff7bc", "#efedf5", "#e0f3f8"]


def _plt():
    from ..plot import _plt as pyplot

    return pyplot()


def phase_portrait(problem, result):
    """The unit square of a two-population game: field, nullclines, rest points, basins, orbit."""
    plt = _plt()
    names = problem.populations
    fig, ax = plt.subplots(figsize=(6.2, 5.6))
    rows = result.rows
    if "basin" in rows and rows["basin"].notna().any():
        attractors = [np.asarray(p) for p, b in zip(rows["point"], rows["basin"]) if np.isfinite(b)]
        k = problem.basin_grid
        labels = problem.basins(attractors, k)[0].reshape(k, k).T  # rows: the second population
        from matplotlib.colors import ListedColormap

        cmap = ListedColormap(["white", *SHADES[: len(attractors)]])
        ax.imshow(labels + 1, origin="lower", extent=(0, 1, 0, 1), cmap=cmap, vmin=0, vmax=len(attractors),
                  interpolation="nearest", aspect="auto")
        for shade, point in zip(SHADES, attractors):
            ax.fill([], [], color=shade, label=f"basin of ({', '.join(f'{v:.3g}' for v in point)})")
    axis = np.linspace(0.0, 1.0, 41)
    X, Y = np.meshgrid(axis, axis)
    states = np.column_stack([X.ravel(), Y.ravel()])
    flow = problem.field(states)
    U, V = flow[:, 0].reshape(X.shape), flow[:, 1].reshape(X.shape)
    speed = np.hypot(U, V)
    ax.streamplot(axis, axis, U, V, color=speed, cmap="Greys", density=1.1, linewidth=0.7, arrowsize=0.8)
    fine = np.linspace(0.0, 1.0, 201)
    FX, FY = np.meshgrid(fine, fine)
    diff = problem.differences(np.column_stack([FX.ravel(), FY.ravel()]))
    for i, style in ((0, "--"), (1, ":")):
        D = diff[:, i].reshape(FX.shape)
        if np.nanmin(D) < 0 < np.nanmax(D):
            ax.contour(FX, FY, D, levels=[0.0], colors="k", linestyles=style, linewidths=1.2)
            ax.plot([], [], "k" + style, label=f"nullcline of {names[i]} (ΔF = 0)")
    for point, stability in zip(rows["point"], rows["stability"]):
        ax.plot(*point, "o", ms=9, color=COLOURS.get(stability, "k"), mec="k", clip_on=False, zorder=5)
    for stability in dict.fromkeys(rows["stability"]):
        ax.plot([], [], "o", color=COLOURS.get(stability, "k"), mec="k", label=stability)
    if problem.start is not None:
        _, path = problem.trajectory()
        ax.plot(path[:, 0], path[:, 1], color="#5e3c99", lw=2, label="orbit from start")
        ax.plot(*path[0], "s", color="#5e3c99")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"{names[0]}: share playing {problem.strategies[0]}")
    ax.set_ylabel(f"{names[1]}: share playing {problem.strategies[0]}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(textwrap.fill(problem.title or "phase portrait", 70), fontsize=8)
    fig.tight_layout()
    return fig


def time_paths(problem):
    """x_i(t) from the spec's start, one line per population."""
    plt = _plt()
    t, path = problem.trajectory()
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for i, name in enumerate(problem.populations):
        ax.plot(t, path[:, i], label=name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time")
    ax.set_ylabel(f"share playing {problem.strategies[0]}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def figures(problem, result=None) -> list[tuple[str, object]]:
    """The phase portrait (two populations) and the time paths from the start, of `result` (default: solved)."""
    if result is None:
        result = problem.solve()
    out = []
    if len(problem.populations) == 2 and len(result.rows):
        out.append(("phase portrait: streamlines, nullclines, rest points by stability"
                    + (", basins of attraction" if "basin" in result.rows else "")
                    + (", the orbit from the start" if problem.start is not None else ""),
                    phase_portrait(problem, result)))
    if problem.start is not None:
        out.append((f"time paths from the start {problem.start.tolist()}", time_paths(problem)))
    return out


def basin_sweep(table, varied):
    """Each attractor's basin share against the first varied field (a sweep with ``basin_grid``)."""
    import pandas as pd

    if "basin" not in table.columns or not varied:
        return None
    x = varied[0]
    rows = table[pd.to_numeric(table["basin"], errors="coerce").notna()]
    if not len(rows):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    key = rows["point"].map(lambda p: "(" + ", ".join(f"{float(v):.3g}" for v in p) + ")")
    for label, group in rows.groupby(key, sort=True):
        group = group.sort_values(x)
        ax.plot(group[x], group["basin"].astype(float), "o-", ms=3, label=f"basin of {label}")
    ax.set_xlabel(x)
    ax.set_ylabel("share of starts")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sweep_figures(problem, table, varied) -> list[tuple[str, object]]:
    fig = basin_sweep(table, varied)
    return [] if fig is None else [(f"basins of attraction against {varied[0]}", fig)]
