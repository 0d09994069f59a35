"""Rest points by multistart root finding, eigenvalues by finite differences, centres by a return map.

The numerical counterpart of :mod:`.symbolic`, written without sympy so that the two methods are
independent ways to the same rest points:

* on every face of the cube (:func:`.closed_form.faces`) the free coordinates solve ΔF_I = 0:
  one free coordinate by a scan of 400 points for sign changes refined by Brent's method (and the
  scan's near-zeros polished by ``scipy.optimize.root``); two or more by ``scipy.optimize.root``
  (Powell's hybrid method, MINPACK) from the distinct limits of damped Newton steps taken from
  uniform random starts (seeded) all at once; the roots in the open box are
  deduplicated.  A root where the face system's Jacobian is singular and ΔF stays zero along its
  null direction is a continuum of rest points, reported as such;
* the Jacobian of the replicator field by Richardson-extrapolated central differences
  (fourth order), its eigenvalues by LAPACK, a real part below 1e-7 of the Jacobian's scale is zero;
* a planar rest point with purely imaginary eigenvalues is told apart by the Poincaré return map
  on a ray from it (Guckenheimer & Holmes 1983, §1.5): after one turn an orbit of a centre comes
  back to where it started, one of a weak focus comes back closer (stable) or farther (unstable)
  (:func:`.flows.return_map`).

Being a multistart search, a root missed by every start goes unreported; the symbolic method, where
it applies, is the exhaustive one, and ``verify`` compares the two.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, root

from .closed_form import ZERO, Analysis, RestPoint, classify, face_name, faces
from .flows import return_map

SCAN = 400
RESIDUAL = 1e-10
MARGIN = 1e-9  # a root this close to the box's boundary belongs to the face below (solved there)


def starts_for(k: int, starts: int | None) -> int:
    """Random starts for a face with k free coordinates (default 64 · 2^(k−1))."""
    return int(starts) if starts is not None else 64 * 2 ** (k - 1)


def jacobian(fun, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Jacobian of a batch function ``fun((N, n)) -> (N, m)`` at x by Richardson-extrapolated differences.

    Central differences inside the unit box; one-sided (second-order) ones in a coordinate whose
    central step would leave [0, 1], since payoffs need only be defined on the box.
    """
    n = x.size
    eye = np.eye(n)
    side = np.where(x - h < 0, 1.0, np.where(x + h > 1, -1.0, 0.0))

    def estimate(step):
        pts = np.concatenate([x[None, :], x + step * eye, x - step * eye,
                              x + 2 * step * side[:, None] * eye])
        vals = fun(pts)
        f0, up, down, far = vals[0], vals[1:n + 1], vals[n + 1:2 * n + 1], vals[2 * n + 1:]
        central = (up - down) / (2 * step)
        near = np.where(side[:, None] > 0, up, down)
        one_sided = side[:, None] * (-3 * f0 + 4 * near - far) / (2 * step)
        return np.where(side[:, None] != 0, one_sided, central).T

    return (4 * estimate(h / 2) - estimate(h)) / 3


def face_systems(problem) -> list[tuple[list[int], dict, np.ndarray, object]]:
    """Per face of the cube: (free coordinates, fixed ones, the base point, the residual ΔF_free of
    a batch of free-coordinate values (K, k) -> (K, k))."""
    payoffs = problem.payoffs
    n = len(problem.populations)
    out = []
    for free, fixed in faces(n):
        base = np.zeros(n)
        for j, v in fixed.items():
            base[j] = v
        free = list(free)

        def face(y, free=free, base=base):
            y = np.atleast_2d(y)
            x = np.repeat(base[None, :], len(y), axis=0)
            x[:, free] = y
            return payoffs.differences(x)[:, free]

        out.append((free, fixed, base, face))
    return out


def analyse(problem, starts: int | None = None, seed: int = 0, built=None) -> Analysis:
    points, continua, used = [], [], 0
    for free, fixed, base, face in built or face_systems(problem):
        if not free:
            roots, continuum = [np.zeros(0)], False
        elif len(free) == 1:
            roots, continuum = _roots_1d(face)
        else:
            count = starts_for(len(free), starts)
            used += count
            roots, continuum = _roots_nd(face, len(free), count, seed)
        if continuum:  # the face's isolated roots, if any, are still reported
            continua.append(face_name(problem.populations, free, fixed))
        for y in roots:
            point = base.copy()
            point[free] = y
            points.append(_rest_point(problem.payoffs, point, free))
    return Analysis(points, continua, {"starts": used})


def _scale(values) -> float:
    return 1.0 + float(np.max(np.abs(values))) if np.size(values) else 1.0


def _roots_1d(face):
    t = (np.arange(1, SCAN) / SCAN)[:, None]
    g = face(t)[:, 0]
    tol = RESIDUAL * _scale(g)
    found = []
    for a, b, ga, gb in zip(t[:-1, 0], t[1:, 0], g[:-1], g[1:]):
        if ga == 0:
            found.append(a)
        elif ga * gb < 0:
            found.append(brentq(lambda s: face(np.array([[s]]))[0, 0], a, b, xtol=1e-15, rtol=1e-15))
    if _isolated(face, [np.array([r]) for r in found[:1] if MARGIN < r < 1 - MARGIN], tol)[1]:
        return [], True  # ΔF, rational in one share, vanishes on an interval: on the whole edge
    small = np.flatnonzero((np.abs(g) < 1e-3 * _scale(g))
                           & (np.abs(g) <= np.abs(np.roll(g, 1))) & (np.abs(g) <= np.abs(np.roll(g, -1))))
    for i in small:  # touching roots: no sign change, polished from the scan's near-zero
        sol = root(lambda s: face(s[None, :])[0], t[i], method="hybr", options={"xtol": 1e-14})
        if abs(face(sol.x[None, :])[0, 0]) <= tol and 0 < sol.x[0] < 1:
            found.append(float(sol.x[0]))
    roots = _dedup([np.array([r]) for r in found
                    if MARGIN < r < 1 - MARGIN and abs(face(np.array([[r]]))[0, 0]) <= tol])
    return _isolated(face, roots, tol)


def _roots_nd(face, k, count, seed):
    """Roots in the open box: damped Newton from `count` random starts at once (vectorised), then
    each distinct candidate polished by ``scipy.optimize.root``."""
    y = np.random.default_rng(seed).random((count, k))
    scale = _scale(face(y))
    y = _newton(face, y)
    with np.errstate(invalid="ignore"):
        good = np.all((y > 0) & (y < 1), axis=1) & (np.max(np.abs(face(y)), axis=1) <= 1e-6 * scale)
    candidates, continuum = _isolated(face, _dedup(list(y[good]), tol=1e-6), 1e-6 * scale)
    found = []
    for y0 in candidates:
        sol = root(lambda v: face(v[None, :])[0], y0, jac=lambda v: jacobian(face, v, h=1e-5), method="hybr",
                   options={"xtol": 1e-14})
        inside = np.all((sol.x > MARGIN) & (sol.x < 1 - MARGIN))
        if inside and np.max(np.abs(face(sol.x[None, :])[0])) <= RESIDUAL * scale:
            found.append(sol.x)
    roots, more = _isolated(face, _dedup(found), RESIDUAL * scale)
    return roots, continuum or more


def _newton(face, y, iterations=40, h=1e-6):
    """Damped Newton steps for a batch of starts (K, k), with a batched central-difference Jacobian
    (Gauss–Newton's minimum-norm step where the Jacobian is singular)."""
    count, k = y.shape
    eye = np.eye(k)
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            pts = np.concatenate([y[:, None, :], y[:, None, :] + h * eye, y[:, None, :] - h * eye], axis=1)
            vals = face(pts.reshape(-1, k)).reshape(count, 2 * k + 1, k)
            g = vals[:, 0]
            jac = np.swapaxes((vals[:, 1:k + 1] - vals[:, k + 1:]) / (2 * h), 1, 2)  # [:, row, column]
            ok = np.isfinite(jac).all(axis=(1, 2)) & np.isfinite(g).all(axis=1)
            step = np.zeros_like(y)
            if ok.any():  # the least-squares (pseudo-inverse) step also walks onto a curve of roots
                step[ok] = (np.linalg.pinv(jac[ok], rcond=1e-12) @ g[ok][:, :, None])[:, :, 0]
            size = np.max(np.abs(step), axis=1, keepdims=True)
            y = np.clip(y - step * np.minimum(1.0, 0.25 / np.maximum(size, 1e-300)), -0.5, 1.5)
            if np.all(size < 1e-13):
                break
    return y


def _dedup(roots, tol=1e-7):
    out = []
    for r in roots:
        if all(np.max(np.abs(r - s)) > tol for s in out):
            out.append(r)
    return sorted(out, key=tuple)


def _isolated(face, roots, tol):
    """(the roots not on a continuum, whether some are): a root lies on a continuum when the face
    system's Jacobian is singular there and ΔF stays zero along its null direction."""
    kept, continuum = [], False
    for y in roots:
        jac = jacobian(face, y, h=1e-5)
        sv, vt = np.linalg.svd(jac)[1:]
        if sv[-1] <= 1e-8 * max(1.0, sv[0]):
            null = vt[-1]
            step = 1e-3 * min(1.0, float(np.min(np.minimum(y, 1 - y))) * 10)
            probe = np.array([y + step * null, y - step * null])
            if np.all((probe > 0) & (probe < 1)) and np.max(np.abs(face(probe))) <= 1e3 * tol:
                continuum = True
                continue
        kept.append(y)
    return kept, continuum


def _rest_point(payoffs, point, free) -> RestPoint:
    jac = jacobian(payoffs.field, point)
    if not np.all(np.isfinite(jac)):
        return RestPoint(point, np.full(point.size, np.nan + 0j), "degenerate",
                         "the payoffs are not finite next to this point: no Jacobian")
    eig = np.linalg.eigvals(jac)
    zero = ZERO * max(1.0, float(np.max(np.abs(jac))))
    stability = classify(eig, zero)
    note = ""
    if stability == "neutral":
        if point.size == 2 and len(free) == 2 and np.all(np.abs(eig.imag) > zero):
            stability, note = return_map(payoffs, point, jac)
        else:
            stability, note = "degenerate", "a zero real part (non-hyperbolic; not a planar centre problem)"
    return RestPoint(point, eig, stability, note)
