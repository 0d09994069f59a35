"""Orbits of the replicator dynamics: one trajectory, and the basins of attraction over a grid.

* :func:`trajectory` integrates ẋ = x(1 − x)ΔF(x) from a start with ``scipy.integrate.solve_ivp``
  (LSODA, which switches to a stiff method near attracting corners).
* :func:`basins` integrates a k^n grid of interior starts ((i + ½)/k in each coordinate) all at
  once, as one vectorised system in log-odds u = log(x/(1 − x)) (:func:`.closed_form.logit_field`),
  in chunks; in those coordinates an orbit tending to a corner runs off to infinity linearly
  instead of creeping along the boundary, so explicit Runge–Kutta steps stay large.  Each final
  state is assigned to the attractor within ``tol`` (sup norm) of it; orbits not yet settled are
  integrated further (up to 8 × the horizon), and what is left — orbits on a stable manifold of a
  saddle, cycles around a centre — is reported as unassigned.  The basin share of an attractor is
  the fraction of the grid that converges to it: a Riemann estimate of the volume of its basin.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .closed_form import Payoffs, logit_field

CHUNK = 20_000
EXTEND = 3  # doublings of the horizon for orbits not yet settled


def trajectory(payoffs: Payoffs, start, horizon: float, samples: int = 400):
    """(t, x): the orbit from `start` sampled at `samples` times in [0, horizon]."""
    start = np.asarray(start, dtype=float)
    t_eval = np.linspace(0.0, horizon, samples)
    sol = solve_ivp(lambda t, z: payoffs.field(z[None, :])[0], (0.0, horizon), start, method="LSODA",
                    t_eval=t_eval, rtol=1e-9, atol=1e-12)
    return sol.t, np.clip(sol.y.T, 0.0, 1.0)


def grid(k: int, n: int) -> np.ndarray:
    """The k^n interior starts ((i + ½)/k in each coordinate), as an array (k^n, n)."""
    axis = (np.arange(k) + 0.5) / k
    mesh = np.meshgrid(*([axis] * n), indexing="ij")
    return np.column_stack([m.ravel() for m in mesh])


def expit(u: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-u))


def advance(payoffs: Payoffs, u: np.ndarray, horizon: float, rtol: float = 1e-6) -> np.ndarray:
    """The log-odds states (N, n) after `horizon`, integrated as one system per chunk."""
    n = u.shape[1]
    out = np.empty_like(u)
    for lo in range(0, len(u), CHUNK):
        u0 = u[lo:lo + CHUNK]
        m = len(u0)

        def rhs(t, v, m=m):
            return logit_field(payoffs, v.reshape(m, n)).ravel()

        sol = solve_ivp(rhs, (0.0, horizon), u0.ravel(), method="RK45", rtol=rtol, atol=1e-8)
        out[lo:lo + CHUNK] = sol.y[:, -1].reshape(m, n)
    return out


def assign(final: np.ndarray, attractors: np.ndarray, tol: float) -> np.ndarray:
    """Index of the attractor within `tol` (sup norm) of each final state, −1 for none."""
    if not len(attractors):
        return np.full(len(final), -1)
    dist = np.max(np.abs(final[:, None, :] - attractors[None, :, :]), axis=2)
    best = np.argmin(dist, axis=1)
    return np.where(dist[np.arange(len(final)), best] <= tol, best, -1)


def basins(payoffs: Payoffs, k: int, attractors, horizon: float, tol: float = 1e-3):
    """(labels (k^n,), shares per attractor, unassigned share) over the k^n grid of starts."""
    attractors = np.asarray(attractors, dtype=float).reshape(-1, payoffs.n)
    x0 = grid(k, payoffs.n)
    u = advance(payoffs, np.log(x0) - np.log1p(-x0), horizon)
    labels = assign(expit(u), attractors, tol)
    for _ in range(EXTEND):
        open_ = np.flatnonzero(labels < 0)
        if not open_.size or not len(attractors):
            break
        horizon *= 2
        u[open_] = advance(payoffs, u[open_], horizon)
        labels[open_] = assign(expit(u[open_]), attractors, tol)
    shares = np.array([np.mean(labels == j) for j in range(len(attractors))])
    return labels, shares, float(np.mean(labels < 0))
