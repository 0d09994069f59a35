"""Figures: generic plots of results and sweep tables, and the kinds' own figures.

Generic (this module never names a kind):

* :func:`line_plot` — FIELD against a varied field from a sweep table, one line per value of
  ``by`` (default: one line per result row — a type, a member — when a point has several rows);
* :func:`row_bars` — grouped bars of a result's numeric row fields;
* :func:`sweep_line_figures` — the objective, and the numeric row fields, against the first
  varied field of a sweep table.

A kind's own figures come through the protocol hooks of :class:`ital_opt.problem.Problem`:
``problem.figures(result)`` and ``problem.sweep_figures(table, varied)`` return
``(caption, matplotlib Figure)`` pairs.  :func:`spec_figures` (``ital-opt plot SPEC.toml -o DIR``)
solves a spec and saves its kind's figures; :func:`book_figures` (``ital-opt plot book --out-dir
DIR``) does so for every bundled spec whose kind draws figures.

Matplotlib with the Agg backend (no display needed); PNG and SVG.
"""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from ._optional import pyplot as _plt
from .errors import SpecError

FORMATS = (".png", ".svg")


def read_table(path) -> pd.DataFrame:
    """A sweep table from CSV or Parquet."""
    from .sweep.tidy import decode_lists

    path = Path(path)
    if not path.exists():
        raise SpecError(None, "file not found", str(path))
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SpecError(None, f"cannot read the table: {exc.strerror or exc}", str(path)) from None
    if not stat.S_ISREG(mode):
        raise SpecError(None, "is not a regular file", str(path))
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # any unreadable table is bad input
        raise SpecError(None, f"cannot read the table: {exc}", str(path)) from None
    return decode_lists(df)


def _row_label(table: pd.DataFrame, row) -> str:
    """The row's name: the first row field after ``row`` that is constant along the row's line
    (a type, a member's name) and tells rows apart; else ``row N``."""
    sub = table[table["row"] == row]
    cols = list(table.columns)
    for col in cols[cols.index("row") + 1 :] if "row" in cols else []:
        try:
            if sub[col].nunique(dropna=False) == 1 and table[col].nunique() > 1:
                value = sub[col].iloc[0]
                return f"{col} {value:g}" if isinstance(value, (float, np.floating)) else f"{col} {value}"
        except TypeError:  # unhashable cells (vector types)
            continue
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
    if by is None and row is None and "row" in data.columns and data["row"].nunique(dropna=True) > 1:
        by = "row"  # one line per result row when a point has several
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


def check_figure_name(path) -> None:
    if Path(path).suffix.lower() not in FORMATS:
        raise SpecError("-o", f"the figure file must end in .png or .svg, got {Path(path).name!r}")


def save(fig, path) -> Path:
    """Write `fig` to `path` (.png or .svg) and close it."""
    from .files import write_bytes

    path = Path(path)
    check_figure_name(path)
    write_bytes(path, figure_bytes(fig, path.suffix.lower()[1:], dpi=130))
    return path


def figure_bytes(fig, fmt: str, dpi: int) -> bytes:
    """`fig` as a PNG or SVG file's bytes (`fmt` "png" or "svg"); the figure is closed."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt, dpi=dpi)
    finally:
        _plt().close(fig)
    return buffer.getvalue()


# -- generic figures of a result and of a sweep table ---------------------------------------------
def _label_column(rows: pd.DataFrame) -> str | None:
    """The first non-numeric row field whose values tell the rows apart (names, types)."""
    for col in rows.columns:
        if not pd.api.types.is_numeric_dtype(rows[col]) and rows[col].map(lambda v: isinstance(v, str)).all():
            if rows[col].nunique() == len(rows):
                return str(col)
    return None


def numeric_row_fields(rows: pd.DataFrame) -> list[str]:
    """The row fields holding one finite-or-NaN number per row (bools excluded)."""
    return [str(c) for c in rows.columns
            if pd.api.types.is_numeric_dtype(rows[c]) and not pd.api.types.is_bool_dtype(rows[c])]


def row_bars(result, title: str | None = None, max_fields: int = 4):
    """Grouped bars of a result's numeric row fields, one panel per field (None if there are none)."""
    rows = result.rows
    if rows is None or not len(rows):
        return None
    fields = numeric_row_fields(rows)[:max_fields]
    if not fields:
        return None
    label = _label_column(rows)
    ticks = [str(v) for v in rows[label]] if label else [str(i) for i in range(len(rows))]
    plt = _plt()
    fig, axes = plt.subplots(1, len(fields), figsize=(3.6 * len(fields) + 1, 3.4), squeeze=False)
    x = np.arange(len(rows))
    for j, (axis, col) in enumerate(zip(axes[0], fields)):
        axis.bar(x, pd.to_numeric(rows[col], errors="coerce").to_numpy(float), 0.7, color=f"C{j}")
        axis.set_xticks(x, ticks, rotation=30 if len(rows) > 6 else 0, fontsize=8)
        axis.set_xlabel(label or "row")
        axis.set_title(col, fontsize=10)
        axis.axhline(0, color="k", lw=0.6)
        axis.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title or f"solution ({result.method})")
    fig.tight_layout()
    return fig


def sweep_line_figures(table: pd.DataFrame, varied) -> list[tuple[str, object]]:
    """(caption, Figure): the objective against the first varied field (one line per value of a
    second varied field with few values), and the first numeric row fields, one line per row."""
    varied = list(varied)
    if not len(table) or not varied or "objective" not in table.columns:
        return []
    x = varied[0]
    others = [v for v in varied[1:] if table[v].nunique() > 1]
    by = others[0] if others and table[others[0]].nunique() <= 8 else None
    figs = [(f"objective against {x}", line_plot(table.drop_duplicates(subset=varied), x, "objective", by=by))]
    skip = {*varied, "objective", "row"}
    start = list(table.columns).index("row") + 1 if "row" in table.columns else len(table.columns)
    fields = [c for c in table.columns[start:] if c not in skip and pd.api.types.is_numeric_dtype(table[c])
              and not pd.api.types.is_bool_dtype(table[c]) and table[c].nunique() > 1][:2]
    if fields and "row" in table.columns:
        sub, note = table, ""
        for other in others:  # one slice of the other varied fields
            value = sub[other].iloc[0]
            sub = sub[sub[other] == value]
            note += f", {other} = {value:g}"
        figs.append((f"{', '.join(fields)} against {x}, one line per row{note}", line_plot(sub, x, fields)))
    return figs


# -- a spec's figures, and every bundled spec's --------------------------------------------------
def draws_figures(problem) -> bool:
    """Whether the problem's kind offers its own figures (its class overrides the hook, or its
    ``figures`` module has the function the default hook calls)."""
    from .problem import Problem, kind_room

    kind = type(problem)
    return kind.figures is not Problem.figures or kind_room(kind, "figures", "figures") is not None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:48] or "figure"


def _save_all(figures, out_dir: Path, stem: str, fmt: str) -> list[tuple[Path, str]]:
    written, names = [], set()
    for i, (caption, fig) in enumerate(figures):
        name = f"{stem}_{_slug(caption)}"
        if name in names:
            name = f"{name}_{i + 1}"
        names.add(name)
        written.append((save(fig, out_dir / f"{name}.{fmt}"), caption))
    return written


def spec_figures(spec, out, fmt: str = "png", method: str = "auto") -> tuple[list[tuple[Path, str]], bool]:
    """Solve `spec` and save its kind's figures (the generic row bars when the kind draws none).

    out: a directory (every figure, named ``STEM_CAPTION.FMT``; created if missing) or a
    ``.png``/``.svg`` file (the first figure).  Returns ((path, caption) pairs, solved to optimality).
    """
    from .spec import load

    problem = load(spec)
    result = problem.solve(method)
    figures = list(problem.figures(result))
    if not figures:
        bars = row_bars(result, problem.title or None)
        figures = [("solution row fields", bars)] if bars is not None else []
    if not figures:
        raise SpecError(None, "the result has no numeric row fields and its kind draws no figures", str(spec))
    out = Path(out)
    if out.suffix.lower() in FORMATS:
        (caption, fig), rest = figures[0], figures[1:]
        for _, other in rest:
            _plt().close(other)
        return [(save(fig, out), caption)], bool(result.success)
    out.mkdir(parents=True, exist_ok=True)
    return _save_all(figures, out, Path(str(spec)).stem, fmt), bool(result.success)


def book_figures(out_dir="figures", fmt: str = "png", specs=None) -> list[tuple[Path, str]]:
    """Every bundled spec whose kind draws figures: solved, and each of its figures saved.

    Returns the (path, caption) pairs written; files are named ``SPEC_CAPTION.FMT``.
    """
    from .spec import bundled_specs, load

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in specs or bundled_specs():
        problem = load(path)
        if not draws_figures(problem):
            continue
        result = problem.solve()
        written += _save_all(problem.figures(result), out_dir, Path(path).stem, fmt)
    return written
