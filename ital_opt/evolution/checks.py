"""Certificates of a list of rest points, from the returned numbers and the payoff tables alone.

* ``max_rest_residual``: max |ẋ| at the reported points (a rest point has ẋ = 0);
* ``max_eigenvalue_residual``: each reported eigenvalue λ against a Jacobian J recomputed by plain
  central differences (step 1e-6; one-sided, second order, at a face of the box): the smallest singular value of J − λI, and the mismatch of
  Σλ with the trace and of Πλ with the determinant, relative to the Jacobian's scale;
* ``stability_mismatches``: the number of rest points whose label contradicts a short integration
  from points 1e-5 away (inside the cube): attractors ("ess", "stable focus") must pull every
  perturbation in by a factor 10 within ln(1000)/min|Re λ|, sources and unstable foci push them
  out (the same test backward in time), a saddle must push some out forward and some backward,
  a centre must keep them (a ratio within [1/3, 3] over two periods, both ways); "degenerate"
  is not tested;
* ``missing_corners``: 2^n minus the corners reported (every corner is a rest point).

No solver of the methods under test is used; orbits are integrated with ``solve_ivp`` (LSODA).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

DELTA = 1e-5


def jacobian_fd(field, point, h=1e-6):
    """Central differences (step h) inside the box; at a face, the second-order one-sided formula
    (−3f(x) + 4f(x + s) − f(x + 2s))/(2s) with s = ±10h pointing into the box."""
    n = point.size
    jac = np.empty((n, n))
    f0 = field(point[None, :])[0]
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        if h <= point[j] <= 1 - h:
            up, down = field(np.array([point + h * e, point - h * e]))
            jac[:, j] = (up - down) / (2 * h)
        else:
            s = 10 * h if point[j] < h else -10 * h
            near, far = field(np.array([point + s * e, point + 2 * s * e]))
            jac[:, j] = (-3 * f0 + 4 * near - far) / (2 * s)
    return jac


def eigenvalue_residual(field, point, eigenvalues) -> float:
    jac = jacobian_fd(field, point)
    scale = max(1.0, float(np.max(np.abs(jac))))
    lam = np.asarray(eigenvalues, dtype=complex)
    worst = 0.0
    for v in lam:
        worst = max(worst, float(np.linalg.svd(jac - v * np.eye(point.size), compute_uv=False)[-1]))
    worst = max(worst, abs(lam.sum() - np.trace(jac)))
    det = np.linalg.det(jac)
    worst = max(worst, abs(np.prod(lam) - det) / max(1.0, scale ** (point.size - 1)))
    return worst / scale


def _directions(point, seed=0):
    """Perturbation directions that keep the point inside the cube (one-sided on the boundary)."""
    n = point.size
    rng = np.random.default_rng(seed)
    dirs = np.concatenate([np.eye(n), -np.eye(n), rng.normal(size=(6, n))])
    lower, upper = point <= 0.0, point >= 1.0
    dirs[:, lower] = np.abs(dirs[:, lower])
    dirs[:, upper] = -np.abs(dirs[:, upper])
    dirs = dirs[np.linalg.norm(dirs, axis=1) > 0]
    return dirs / np.linalg.norm(dirs, axis=1)[:, None]


def _ratios(field, point, time: float) -> np.ndarray:
    """distance(after `time`) / distance(at start) for each perturbation (negative time: backward)."""
    dirs = _directions(point)
    starts = point + DELTA * dirs
    m, n = starts.shape
    sign = np.sign(time)

    def rhs(t, z):
        return sign * field(z.reshape(m, n)).ravel()

    sol = solve_ivp(rhs, (0.0, abs(time)), starts.ravel(), method="LSODA", rtol=1e-10, atol=1e-14)
    end = sol.y[:, -1].reshape(m, n)
    return np.linalg.norm(end - point, axis=1) / DELTA


def stability_agrees(field, point, eigenvalues, stability) -> bool:
    re = np.real(np.asarray(eigenvalues, dtype=complex))
    im = np.imag(np.asarray(eigenvalues, dtype=complex))
    nonzero = np.abs(re)[np.abs(re) > 1e-12]
    if stability == "degenerate" or (stability != "centre" and not nonzero.size):
        return True
    if stability == "centre":
        period = 2 * np.pi / max(float(np.max(np.abs(im))), 1e-12)
        both = np.concatenate([_ratios(field, point, 2 * period), _ratios(field, point, -2 * period)])
        return bool(np.all((both > 1 / 3) & (both < 3)))
    if stability in ("ess", "stable focus"):
        return bool(np.all(_ratios(field, point, np.log(1e3) / np.min(nonzero)) < 0.1))
    if stability in ("source", "unstable focus"):
        return bool(np.all(_ratios(field, point, -np.log(1e3) / np.min(nonzero)) < 0.1))
    if stability == "saddle":
        forward = _ratios(field, point, np.log(1e3) / np.max(re))
        backward = _ratios(field, point, np.log(1e3) / np.min(re))
        return bool(np.any(forward > 10) and np.any(backward > 10))
    return False


def certify(field, n: int, points, eigenvalues, stabilities) -> dict[str, float]:
    points = [np.asarray(p, dtype=float) for p in points]
    residual = max((float(np.max(np.abs(field(p[None, :])))) for p in points), default=0.0)
    eig = [np.array([complex(re, im) for re, im in pairs]) for pairs in eigenvalues]
    eig_residual = max((eigenvalue_residual(field, p, e) for p, e in zip(points, eig)), default=0.0)
    mismatches = sum(not stability_agrees(field, p, e, s) for p, e, s in zip(points, eig, stabilities))
    corners = {tuple(p) for p in points if np.all((p == 0.0) | (p == 1.0))}
    return {
        "max_rest_residual": residual,
        "max_eigenvalue_residual": eig_residual,
        "stability_mismatches": float(mismatches),
        "missing_corners": float(2**n - len(corners)),
    }
