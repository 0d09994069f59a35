"""Vectorised closed forms for sweeps: every grid point at once, as numpy arrays.

A function here takes the base problem and the grid (``points``: one line per point, one column
per varied field) and returns the tidy records (see :mod:`ital_opt.sweep.tidy`) of the points
where its assumptions hold, or None.  Points it leaves out (assumptions fail, invalid values)
are solved one by one by the kind's own methods, so a sweep's answer never depends on whether
this shortcut applied; tests compare both paths.

* admission (BOOK.md §2, LEN technology): two types — regimes I–IV in the outside-option gap
  g = ū_H − ū_L; K types with a common outside option — the second best
  β_k = φ_k/[φ_k + r + (P_k⁺/p_k)(φ_{k+1} − φ_k)], u_1 = ū, u_{k+1} = u_k + β_k²Δ_k, at the
  points where these shares are non-decreasing (else ironing: solved per point).
* team (BOOK.md §3, LEN, budget balanced, default production and costs, knowledge inputs g, d
  folded into A_i = a_i²/c_i + g_i²/d_i): efforts
  e_i = a_i m_i / c_i, m_i = ω + (1−ω)β_i, CE_i = α_i + β_i E[π] − c_i e_i²/2 − R_iβ_i²/2, with
  β either the explicit ``shares`` or the welfare-maximising water-filling
  β_j = max(0, (kA_j − μ)/D_j), k = (1−ω)², D_j = kA_j + R_j, Σβ = 1.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .tidy import POINT

_ENTRY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def _split(name: str):
    m = _ENTRY.match(name)
    if not m:
        return None, None
    return m[1], (int(m[2]) if m[2] is not None else None)


def _field(spec: dict, points: pd.DataFrame, name: str, n: int | None, default=None) -> np.ndarray | None:
    """The values of spec field `name` at every point: shape (N,) for a scalar, (N, n) for a vector."""
    N = len(points)
    base = spec.get(name, default)
    if base is None:
        return None
    if n is None:
        if isinstance(base, (list, tuple)):
            return None
        out = np.full(N, float(base))
    else:
        if isinstance(base, (list, tuple)):
            if len(base) != n or any(isinstance(v, (list, tuple)) for v in base):
                return None
            out = np.tile(np.asarray(base, dtype=float), (N, 1))
        else:
            out = np.full((N, n), float(base))
    for col in points.columns:
        fname, idx = _split(col)
        if fname != name:
            continue
        values = points[col].to_numpy(dtype=float)
        if idx is None:
            if n is None:
                out = values.copy()
            else:
                out = np.repeat(values[:, None], n, axis=1)
        else:
            if n is None or idx >= n:
                return None
            out = out.copy()
            out[:, idx] = values
    return out


def _varies_only(points: pd.DataFrame, allowed: set[str]) -> bool:
    return all(_split(c)[0] in allowed for c in points.columns)


def _categorical(values) -> pd.Categorical:
    """Text columns as categoricals: building 10^5 Python strings would dominate the sweep."""
    return pd.Categorical(values)


def _constant(value, n: int):
    if isinstance(value, str):
        return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [value])
    return np.full(n, value)


def long_table(points: pd.DataFrame, objective, rows: dict[str, np.ndarray], status=None,
               extras: dict[str, object] | None = None, keep=None) -> pd.DataFrame:
    """Tidy records from arrays: `rows` values have shape (N, K); `objective` shape (N,)."""
    if keep is None:
        keep = np.ones(len(points), dtype=bool)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return pd.DataFrame()
    first = next(iter(rows.values()))
    K = first.shape[1]
    n = idx.size * K
    rep = lambda a: np.repeat(np.asarray(a)[idx], K)  # noqa: E731
    data = {POINT: rep(points.index.to_numpy())}
    for col in points.columns:
        data[col] = rep(points[col].to_numpy(dtype=float))
    data["status"] = _constant("optimal", n) if status is None else _categorical(rep(status))
    data["objective"] = rep(objective)
    data["row"] = np.tile(np.arange(K), idx.size)
    for key, arr in rows.items():
        arr = np.asarray(arr)[idx].ravel()
        data[key] = _categorical(arr) if arr.dtype == object else arr
    for key, value in (extras or {}).items():
        if isinstance(value, np.ndarray):
            value = rep(value)
            data[key] = _categorical(value) if value.dtype == object else value
        else:
            data[key] = _constant(value, n)
    data["method"] = _constant("closed-form", n)
    return pd.DataFrame(data)


# -- admission ---------------------------------------------------------------------------------------
ADMISSION_FIELDS = {"theta", "prob", "c", "rho", "sigma2", "outside"}


def admission(problem, points: pd.DataFrame) -> pd.DataFrame | None:
    spec = problem.spec
    if not _varies_only(points, ADMISSION_FIELDS):
        return None
    if spec.get("output", "theta*e").replace(" ", "") != "theta*e" or spec.get("cost", "c*e**2/2").replace(" ", "") != "c*e**2/2":
        return None
    K = int(problem.theta.size)
    theta = _field(spec, points, "theta", K)
    prob = _field(spec, points, "prob", K)
    outside = _field(spec, points, "outside", K, 0.0)
    c = _field(spec, points, "c", None)
    rho = _field(spec, points, "rho", None)
    sigma2 = _field(spec, points, "sigma2", None)
    if any(x is None for x in (theta, prob, outside, c, rho, sigma2)):
        return None
    with np.errstate(all="ignore"):
        ok = (
            np.all(theta > 0, axis=1) & np.all(np.diff(theta, axis=1) > 0, axis=1)
            & np.all(prob > 0, axis=1) & (np.abs(prob.sum(axis=1) - 1.0) <= 1e-9)
            & (c > 0) & (rho >= 0) & (sigma2 >= 0)
            & np.all(np.isfinite(theta), axis=1) & np.all(np.isfinite(outside), axis=1)
        )
        phi = theta**2 / (2.0 * c[:, None])
        r = (rho * sigma2 / 2.0)[:, None]
        fb = phi / (phi + r)
        if K == 2:
            share, utility, regime = _two_type(prob, phi, r, outside, fb)
            extras = {"regime": regime, "ironed": np.zeros(len(points), dtype=bool)}
        else:
            share, utility, good = _second_best(prob, phi, r, outside)
            ok &= good
            extras = {"ironed": np.zeros(len(points), dtype=bool)}
        transfer = utility - share**2 * (phi - r)
        payoff = 2.0 * phi * share * (1.0 - share) - transfer
        objective = np.sum(prob * payoff, axis=1)
        rows = {
            "theta": theta,
            "prob": prob,
            "share": share,
            "transfer": transfer,
            "effort": share * theta / c[:, None],
            "agent_utility": utility,
            "rent": utility - outside,
            "first_best_share": fb,
            "alliance_payoff": payoff,
        }
    return long_table(points, objective, rows, extras=extras, keep=ok)


def _two_type(prob, phi, r, outside, fb):
    pl, ph = prob[:, 0], prob[:, 1]
    delta = phi[:, 1] - phi[:, 0]
    g = outside[:, 1] - outside[:, 0]
    rr = r[:, 0]
    sb_low = phi[:, 0] / (phi[:, 0] + rr + ph / pl * delta)
    b1, b2, b3 = sb_low**2 * delta, fb[:, 0] ** 2 * delta, fb[:, 1] ** 2 * delta
    r1 = g <= b1
    r2 = ~r1 & (g < b2)
    r3 = ~r1 & ~r2 & (g <= b3)
    r4 = ~(r1 | r2 | r3)
    denom = ph * (phi[:, 1] + rr) - pl * delta
    cand = np.where(denom > 0, ph * phi[:, 1] / np.where(denom > 0, denom, 1.0), np.inf)
    bh4 = np.minimum(np.minimum(np.sqrt(np.maximum(g, 0) / delta), 1.0), cand)
    beta_l = np.select([r1, r2, r3], [np.sqrt(b1 / delta), np.sqrt(np.maximum(g, 0) / delta), fb[:, 0]], fb[:, 0])
    beta_h = np.where(r4, bh4, fb[:, 1])
    ul, uh = outside[:, 0], outside[:, 1]
    u_l = np.where(r4, ul + np.maximum(0.0, g - bh4**2 * delta), ul)
    u_h = np.where(r1, ul + beta_l**2 * delta, uh)
    regime = np.select([r1, r2, r3], ["I", "II", "III"], "IV").astype(object)
    return np.stack([beta_l, beta_h], axis=1), np.stack([u_l, u_h], axis=1), regime


def _second_best(prob, phi, r, outside):
    tail = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1][:, 1:]
    tail = np.concatenate([tail, np.zeros((len(prob), 1))], axis=1)
    gap = np.concatenate([np.diff(phi, axis=1), np.zeros((len(prob), 1))], axis=1)
    share = prob * phi / (prob * (phi + r) + tail * gap)
    monotone = np.all(np.diff(share, axis=1) >= 0, axis=1)
    steps = share[:, :-1] ** 2 * gap[:, :-1]
    utility = outside[:, :1] + np.concatenate([np.zeros((len(prob), 1)), np.cumsum(steps, axis=1)], axis=1)
    ir_ok = np.all(utility >= outside - 1e-12 * (1 + np.abs(outside)), axis=1)
    return share, utility, monotone & ir_ok


# -- team -------------------------------------------------------------------------------------------------
TEAM_FIELDS = {"a", "c", "rho", "sigma2", "omega", "shares", "alpha", "g", "d"}


def team(problem, points: pd.DataFrame) -> pd.DataFrame | None:
    """The LEN team at every point at once: the team's own closed forms (:mod:`ital_opt.team.closed_form`,
    vectorised over the last axis) on (points × members) arrays."""
    from ..team import closed_form as tcf

    spec = problem.spec
    mode = problem.mode
    if not _varies_only(points, TEAM_FIELDS) or not problem.is_len or problem.budget_breaker:
        return None
    if mode not in ("welfare", "given") or problem.n < 2:
        return None
    n = problem.n
    a = _field(spec, points, "a", n)
    c = _field(spec, points, "c", n, 1.0)
    rho = _field(spec, points, "rho", n)
    sigma2 = _field(spec, points, "sigma2", None)
    omega = _field(spec, points, "omega", None, 0.0)
    alpha = _field(spec, points, "alpha", n, 0.0)
    g = _field(spec, points, "g", n, 0.0)
    d = _field(spec, points, "d", n, 1.0)
    beta = _field(spec, points, "shares", n) if mode == "given" else None
    if any(x is None for x in (a, c, rho, sigma2, omega, alpha, g, d)) or (mode == "given" and beta is None):
        return None
    knowledge = dict(g=g, d=d)
    with np.errstate(all="ignore"):
        s2, w = sigma2[:, None], omega[:, None]
        A, R = tcf.shorthands(a, c, rho, s2, g, d)
        ok = (np.all(a >= 0, axis=1) & np.all(c > 0, axis=1) & np.all(rho >= 0, axis=1) & (sigma2 >= 0)
              & np.all(g >= 0, axis=1) & np.all(d > 0, axis=1)
              & (omega >= 0) & (omega <= 1) & (np.abs(alpha.sum(axis=1)) <= 1e-9))
        extras_after = {}
        if mode == "welfare":
            k = (1.0 - w) ** 2
            D = k * A + R
            ok &= np.all(D > 0, axis=1) & ~((omega == 1) & np.any(R <= 0, axis=1))
            beta, mu = tcf._water_fill(k * A, np.where(ok[:, None], D, 1.0), np.ones_like(A, dtype=bool))
            beta = np.clip(beta, 0.0, None)
            extras_after = {"multiplier": mu}
        else:
            ok &= np.all(beta >= 0, axis=1) & (np.abs(beta.sum(axis=1) - 1) <= 1e-9)
        out = tcf.expected_output(a, c, beta, w, **knowledge)
        ce = tcf.certainty_equivalents(a, c, rho, s2, beta, w, alpha, **knowledge)
        welfare = tcf.total_welfare(a, c, rho, s2, beta, w, **knowledge)
        fb = tcf.first_best_welfare(a, c, rho, s2, **knowledge)
        extras = {"shares_rule": mode, "expected_output": out, "first_best_welfare": fb,
                  "free_riding_loss": fb - welfare, **extras_after}
        members = np.tile(np.asarray(problem.members, dtype=object), (len(points), 1))
        rows = {"member": members, "share": beta, "effort": tcf.efforts(a, c, beta, w)}
        if problem.knowledge:
            rows["knowledge"] = tcf.knowledge(g, d, beta, w)
        rows.update(ce=ce, alpha=alpha)
    return long_table(points, welfare, rows, extras=extras, keep=ok)


CLOSED_FORMS: dict = {"admission": admission, "team": team}
