"""Figures of the policy kind: the instruments at the optimum, and SW and the optimal rates
against a swept parameter (γ, λ, ω, the budget: the SW–budget frontier with the instrument mix)."""

from __future__ import annotations



def figures(problem, result=None):
    if result is None or not len(result.rows):
        return []
    from .._optional import require
    plt = require("matplotlib.pyplot", extra="plot")

    rows = result.rows
    label_col = "tier" if "tier" in rows else "member"
    pairs = zip(rows["instrument"], rows[label_col], strict=True)
    labels = [f"{i}" + (f" [{m}]" if m is not None and m == m else "") for i, m in pairs]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(labels, rows["value"].to_numpy(float), color="tab:blue")
    ax.set_xlabel("value at the optimum")
    ax.set_title(f"SW = {float(result.objective):.6g}, outlay = {result.extras.get('outlay', float('nan')):.6g}")
    fig.tight_layout()
    return [("Instruments at the leader's optimum", fig)]


def sweep_figures(problem, table, varied):
    if not varied or table is None or not len(table):
        return []
    from .._optional import require
    plt = require("matplotlib.pyplot", extra="plot")

    x = varied[0]
    col = x.replace("[", "_").replace("]", "").replace(".", "_")
    if col not in table:
        col = x if x in table else None
    if col is None:
        return []
    figs = []
    first = table[table["row"] == 0] if "row" in table else table
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(first[col], first["objective"], marker="o", label="social welfare")
    if "outlay" in first:
        ax.plot(first[col], first["outlay"], marker=".", label="outlay")
    ax.set_xlabel(x)
    ax.legend()
    title = "SW–budget frontier" if x == "budget" else f"social welfare against {x}"
    ax.set_title(title)
    fig.tight_layout()
    figs.append((title, fig))
    if {"instrument", "value"} <= set(table.columns):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        label_col = "tier" if "tier" in table else ("member" if "member" in table else None)
        keys = table[["instrument"] + ([label_col] if label_col else [])].drop_duplicates().itertuples(index=False)
        for key in keys:
            mask = table["instrument"] == key[0]
            if label_col:
                mask &= (table[label_col] == key[1]) | (table[label_col].isna() & (key[1] is None or key[1] != key[1]))
            part = table[mask]
            name = key[0] + (f" [{key[1]}]" if label_col and key[1] == key[1] and key[1] is not None else "")
            ax.plot(part[col], part["value"], marker=".", label=name)
        ax.set_xlabel(x)
        ax.set_ylabel("optimal value")
        ax.legend(fontsize=8)
        ax.set_title("instrument mix" if x == "budget" else f"optimal instruments against {x}")
        fig.tight_layout()
        figs.append((f"optimal instruments against {x}", fig))
    return figs
