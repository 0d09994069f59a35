"""Certificates of a policy answer, computed without trusting the method that produced it.

* the follower is re-solved at the returned instruments (by its own kind, fresh) and its own
  checks are run: ``lower_check`` is the worst of them;
* ``social_welfare_error``: the returned SW against the SW recomputed at the re-solved follower;
* ``decomposition_error``: SW = alliance welfare + γ·E[π] + (value outside the alliance)
  − (1 + λ)·outlay, recomputed from the returned numbers;
* ``outlay_error``: the outlay against the sum of the instruments' outlays;
* ``budget_violation``, ``formation_violation`` (a formed alliance covers F and outside options),
  ``bound_violation`` (instruments inside their bounds);
* ``neighbourhood_gain``: the largest SW gain found at points around the returned instruments
  (each coordinate ± h — a random dozen of them when there are more — and a few random points
  within h, h = 10⁻³ of each instrument's range),
  only among points that respect the budget (and the follower's own constraints, such as an
  evolutionary game's target ESS); ≤ tolerance for a (local) optimum.  Where the
  follower's answer is a formula of the instruments (a LEN team whose sharing rule they do not
  move) the points are evaluated at once by ``Policy.evaluate_batch``, after ``batch_error``
  compares that evaluation with the re-solved follower at the answer.  Where the follower's
  objective is a step function of the instruments (basins estimated on a grid of starts) the scan
  is flat at h, so it also looks at 1% and 5% of each range; a gain up to one step
  (``resolution``: one grid cell's share, valued at SW's largest weight on it) is the estimate's
  own granularity and is not counted, a larger one is — a better plateau nearby fails the check;
* ``constraint_violation``: the follower's own constraints re-evaluated at the re-solved follower
  (an evolutionary game's target must be an ESS with its margin, and the only one if asked).

This module imports no solver: the re-solve goes through the problem's ``evaluate`` (the
follower's own public model).
"""

from __future__ import annotations

import numpy as np

from ..result import CHECK_TOL

NEIGHBOURHOOD_STEP = 1e-3
STEP_FUNCTION_SCALES = (1e-2, 5e-2)  # further rings of the scan over a step-function follower objective


def certificates(problem, result) -> dict[str, float]:
    if not len(result.rows):
        return {}
    values = _values(problem, result)
    x = problem.search_point(values)
    ev = problem.evaluate(x)
    out: dict[str, float] = {}
    lower = ev["outcome"].result
    if lower is not None:
        worst = [float(v) for v in lower.checks.values() if v is not None]
        out["lower_check"] = max([0.0, *worst]) if worst else 0.0
        if lower.status != "optimal":
            out["lower_check"] = float("inf")
    sw = float(result.objective)
    out["social_welfare_error"] = abs(sw - ev["social_welfare"]) / max(1.0, abs(sw))
    ex = result.extras
    if ex.get("formed", True):
        parts = ex["alliance_welfare"] + problem.gamma * ex["expected_output"] + ev.get("external", 0.0) \
            - (1 + problem.lam) * ex["outlay"]
        out["decomposition_error"] = abs(parts - sw) / max(1.0, abs(sw))
        out["outlay_error"] = abs(sum(ex["outlays"].values()) - ex["outlay"])
    else:
        out["decomposition_error"] = abs(sw)
    if problem.budget is not None:
        out["budget_violation"] = max(0.0, ex.get("budget_outlay", ex["outlay"]) - problem.budget)
    if problem.formation_cost is not None and ex.get("formed"):
        grant = sum(float(v[0]) for inst, v in zip(problem.instruments, values, strict=False) if inst.type == "formation_grant")
        lhs = ev["outcome"].alliance_welfare + grant
        out["formation_violation"] = max(0.0, problem.formation_cost + ev["outcome"].outside_total - lhs - 1e-9)
    lo = np.concatenate([inst.lo for inst in problem.instruments]) if problem.instruments else np.zeros(0)
    hi = np.concatenate([inst.hi for inst in problem.instruments]) if problem.instruments else np.zeros(0)
    flat = np.concatenate(values) if values else np.zeros(0)
    out["bound_violation"] = float(max(0.0, np.max(lo - flat, initial=0.0), np.max(flat - hi, initial=0.0)))
    if ev.get("slack") is not None:
        out["constraint_violation"] = float(max(0.0, -np.min(ev["slack"], initial=0.0)))
    if problem.dim and not result.get("local_only_check", False):
        big = problem.dim > 100  # each point is a follower solve: fewer points for very many instruments
        gain, at_x = _neighbourhood(problem, x, ev["social_welfare"], random_points=4 if big else 8,
                                    coordinates=4 if big else 12)
        jump = step_value(problem, ev)
        if jump:  # a step function is flat at 10⁻³ of the range: look a plateau or two further too
            for h in STEP_FUNCTION_SCALES:
                gain = max(gain, _neighbourhood(problem, x, ev["social_welfare"], step=h, random_points=4,
                                                coordinates=4 if big else 12)[0])
        out["neighbourhood_gain"] = max(0.0, gain - jump)
        if at_x is not None:  # the vectorised evaluation the scan used, against the follower re-solved at x
            out["batch_error"] = abs(at_x - ev["social_welfare"]) / max(1.0, abs(sw))
    return out


def step_value(problem, ev) -> float:
    """SW's change from one step of a step-function follower objective (0 for an exact one): the
    follower's ``resolution`` (a share of the states) valued at (1 + γ) plus λ per unit paid."""
    step = float(ev.get("resolution") or 0.0)
    if not step:
        return 0.0
    paid = sum(abs(float(v[0])) for inst, v in zip(problem.instruments, problem.values(problem.search_point(ev["values"])),
                                                   strict=False) if getattr(inst, "paid", "none") == "cooperators")
    return step * ((1.0 + problem.gamma) + problem.lam * paid * problem.follower.size)


def _values(problem, result) -> list[np.ndarray]:
    rows = result.rows
    out = []
    for inst in problem.instruments:
        vals = rows.loc[rows["instrument"] == inst.name, "value"].to_numpy(float)
        out.append(vals)
    return out


def neighbourhood_gain(problem, x, sw, step=NEIGHBOURHOOD_STEP, random_points=8, seed=0, coordinates=12) -> float:
    """Largest SW gain over budget-feasible points near x (0 if none is better): each coordinate
    ± h (at most `coordinates` of them, drawn at random when there are more) and `random_points`
    points in the box x ± h."""
    return _neighbourhood(problem, x, sw, step, random_points, seed, coordinates)[0]


def _neighbourhood(problem, x, sw, step=NEIGHBOURHOOD_STEP, random_points=8, seed=0, coordinates=12):
    """(the gain of :func:`neighbourhood_gain`, SW at x by ``Policy.evaluate_batch`` or None when
    the points were evaluated one by one)."""
    lo, hi = problem.lo, problem.hi
    h = step * np.where(hi > lo, hi - lo, 0.0)
    points = []
    rng = np.random.default_rng(seed)
    axes = range(x.size) if x.size <= coordinates else sorted(rng.choice(x.size, coordinates, replace=False))
    for k in axes:
        for sign in (-1.0, 1.0):
            z = x.copy()
            z[k] = np.clip(z[k] + sign * h[k], lo[k], hi[k])
            points.append(z)
    for _ in range(random_points):
        points.append(np.clip(x + h * rng.uniform(-1, 1, x.size), lo, hi))
    points = [z for z in points if not np.allclose(z, x)]
    batch = problem.evaluate_batch(np.array([x, *points]))
    if batch is not None:  # the follower's answer is a formula here: all points at once (x first)
        at_x = float(batch[0][0])
        values, feasible = batch[0][1:], batch[1][1:]
    else:
        at_x = None
        evs = [problem.evaluate(z, certified=False) for z in points]
        values = np.array([ev["social_welfare"] for ev in evs])
        feasible = np.array([ev["feasible"] for ev in evs], dtype=bool)
    ok = feasible & np.isfinite(values)
    return float(max(0.0, np.max(values[ok] - sw, initial=0.0))), at_x


__all__ = ["certificates", "neighbourhood_gain", "CHECK_TOL"]
