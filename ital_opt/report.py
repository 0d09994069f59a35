"""One self-contained static HTML page: the problem, the solution, the checks, the figures.

``ital-opt report SPEC -o report.html`` solves the spec (and runs ``verify``: every applicable
method and its agreement), ``--vary`` adds a sweep; ``ital-opt report SWEEP.csv -o report.html``
summarises a sweep table.  The figures are the generic ones of :mod:`ital_opt.plot` and those the
problem's kind offers through the hooks ``figures(result)`` and ``sweep_figures(table, varied)``;
this module never names a kind.  Figures are PNGs embedded as base64 ``data:`` URLs and the styles are
inline, so the page needs no network, no files next to it and no JavaScript.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .plot import figure_bytes, row_bars, sweep_line_figures
from .result import CHECK_TOL

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.meta{color:#666;font-size:.9em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}.ok{color:#176b2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def table_html(df: pd.DataFrame, max_rows: int = 60) -> str:
    def cell(v) -> str:
        cls = "" if isinstance(v, (int, float, np.integer, np.floating)) else ' class="l"'
        return f"<td{cls}>{_e(_fmt(v))}</td>"

    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = ["<tr>" + "".join(map(cell, row.tolist())) + "</tr>" for _, row in df.head(max_rows).iterrows()]
    more = f"<p class='meta'>showing {max_rows} of {len(df)} lines</p>" if len(df) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def kv_html(items: dict) -> str:
    rows = "".join(f"<tr><th class='l'>{_e(k)}</th><td class='l'>{_e(_fmt(v))}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def figure_html(fig, caption: str) -> str:
    data = base64.b64encode(figure_bytes(fig, "png", dpi=110)).decode()
    return (f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def page(title: str, sections: list[tuple[str, str]], subtitle: str = "") -> str:
    from . import __version__

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = "".join(f"<section><h2>{_e(h)}</h2>{content}</section>" for h, content in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>"
        f"<p class='meta'>{_e(subtitle)} · ital_opt {__version__} · {now}</p>{body}</body></html>\n"
    )


def _varied_columns(table: pd.DataFrame) -> list[str]:
    if "status" not in table.columns:
        return []
    return list(table.columns[: list(table.columns).index("status")])


# -- the two reports -----------------------------------------------------------------------------
def spec_report(path, method: str = "auto", grid=None, verify_methods: bool = True) -> tuple[str, bool]:
    """The report of one spec: (html, ok)."""
    from .problem import verify
    from .spec import load

    problem = load(path)
    result = problem.solve(method)
    sections = []
    spec = {k: v for k, v in problem.spec.items() if k not in ("expected",)}
    sections.append(("Problem", f"<p>kind <b>{_e(problem.kind)}</b>, from <code>{_e(problem.source)}</code></p>"
                     + kv_html(spec)))
    status_cls = "ok" if result.success else "bad"
    summary = {"status": result.status, "method": result.method, "objective": result.objective,
               **{k: v for k, v in result.extras.items() if not isinstance(v, (dict, pd.DataFrame))}}
    if result.binding:
        summary["binding"] = ", ".join(result.binding)
    sol = (f"<p class='{status_cls}'>{_e(result.status)} ({'checks passed' if result.checks_ok else 'checks FAILED'})</p>"
           + kv_html(summary) + (table_html(result.rows) if len(result.rows) else ""))
    sections.append(("Solution", sol))
    checks = pd.DataFrame({"check": list(result.checks), "violation": list(result.checks.values()),
                           "ok": ["yes" if (v is not None and v <= result.get("check_tol", CHECK_TOL)) else "NO" for v in result.checks.values()]})
    sections.append(("Checks (computed from the returned numbers, independently of the solver)", table_html(checks)))
    ok = bool(result.success)
    if verify_methods:
        try:
            ver = verify(problem)
            rows = [{"method": r.method, "status": r.status, "objective": r.objective,
                     "worst check": max(r.checks.values(), default=0.0), "time [s]": r.solve_time}
                    for r in ver.results.values()]
            rows += [{"method": name, "status": "skipped: " + reason} for name, reason in ver.skipped.items()]
            text = table_html(pd.DataFrame(rows).fillna(""))
            text += f"<p>largest difference between methods: {ver.max_difference:.3g} — "
            text += f"<span class='{'ok' if ver.ok else 'bad'}'>{'agree' if ver.ok else 'FAILED'}</span></p>"
            for item in ver.disagreements + ver.expected_failures:
                text += f"<p class='bad'>{_e(item)}</p>"
            sections.append(("Methods compared (verify)", text))
        except Exception as exc:  # the report still shows the solution
            sections.append(("Methods compared (verify)", f"<p class='bad'>verify failed: {_e(exc)}</p>"))
    figures = []
    bars = row_bars(result)
    if bars is not None:
        figures.append(figure_html(bars, "the solution, row by row"))
    for caption, fig in problem.figures(result):
        figures.append(figure_html(fig, caption))
    sweep_table = None
    if grid is not None:
        from .sweep import sweep

        sweep_table = sweep(problem, grid, method=method, progress=False)
        names = _varied_columns(sweep_table)
        pairs = sweep_line_figures(sweep_table, names) + list(problem.sweep_figures(sweep_table, names))
        for caption, fig in pairs:
            figures.append(figure_html(fig, f"sweep: {caption}"))
    sections.append(("Figures", "".join(figures) or "<p>no figures for this kind</p>"))
    if sweep_table is not None:
        sections.append(("Sweep table", table_html(sweep_table)))
    sections.append(("Result as JSON", f"<pre>{_e(result.to_json())}</pre>"))
    title = problem.title or Path(str(path)).stem
    return page(f"ital_opt report: {title}", sections, f"{problem.kind} · {problem.source}"), ok


def sweep_report(path) -> tuple[str, bool]:
    """The report of a sweep table: (html, ok)."""
    from .plot import read_table

    table = read_table(path)
    varied = _varied_columns(table)
    pts = table.drop_duplicates(subset=varied) if varied else table
    counts = pts["status"].value_counts().to_dict() if "status" in pts else {}
    summary = {"file": str(path), "grid points": len(pts), "lines": len(table),
               **{f"status {k}": v for k, v in counts.items()}}
    for v in varied:
        summary[f"{v} range"] = f"{table[v].min():.6g} … {table[v].max():.6g} ({table[v].nunique()} values)"
    sections = [("Sweep", kv_html(summary))]
    figs = "".join(figure_html(f, c) for c, f in sweep_line_figures(table, varied))
    sections.append(("Figures", figs or "<p>no numeric columns to plot</p>"))
    sections.append(("Table", table_html(table, max_rows=100)))
    ok = counts.get("optimal", 0) == len(pts)
    return page(f"ital_opt sweep report: {Path(path).name}", sections, json.dumps(varied)), ok
