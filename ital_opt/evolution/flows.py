"""Orbits of the replicator dynamics: one trajectory, and the basins of attraction over a grid.

* :func:`trajectory` integrates ẋ = x(1 − x)ΔF(x) from a start with ``scipy.integrate.solve_ivp``
  (LSODA, which switches to a stiff method near attracting corners).
* :func:`return_map` tells a centre from a weak focus: the Poincaré return map on a ray from a
  planar rest point with eigenvalues ±iω (Guckenheimer & Holmes 1983, §1.5).  After one turn an
  orbit of a centre comes back to where it started, one of a weak focus closer (stable) or
  farther (unstable); orbits are integrated with DOP853 at relative tolerance 1e-12, and a
  relative drift below 1e-6 at two amplitudes counts as closed.
* :func:`basins` integrates a k^n grid of interior starts ((i + ½)/k in each coordinate) all at
  once, as one vectorised system in log-odds u = log(x/(1 − x)) (:func:`.closed_form.logit_field`),
  in chunks and in segments of time; in those coordinates an orbit tending to a corner runs off to infinity linearly
  instead of creeping along the boundary, so explicit Runge–Kutta steps stay large.  Each final
  state is assigned, as soon as it comes within ``tol`` (sup norm) of an attractor, to that attractor;
  orbits not yet settled are integrated further (up to 8 × the horizon), and what is left — orbits on a stable manifold of a
  saddle, cycles around a centre — is reported as unassigned.  The basin share of an attractor is
  the fraction of the grid that converges to it: a Riemann estimate of the volume of its basin.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy.integrate import solve_ivp

from .closed_form import Payoffs, bimatrix, logit_field

CHUNK = 5_000  # small enough that numpy does not hand its vector operations to BLAS threads
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


def basins(payoffs: Payoffs, k: int, attractors, horizon: float, tol: float = 1e-3, segments: int = 20,
           executor: str = "local", workers: int = 1, scheduler: str | None = None):
    """(labels (k^n,), shares per attractor, unassigned share) over the k^n grid of starts.

    The orbits are integrated in `segments` steps per horizon; after each, those within `tol`
    of an attractor are settled and dropped, the others go on, up to 2^EXTEND horizons.  With
    ``workers`` > 1 or ``executor="dask"`` the starts are split into chunks solved on the sweep
    executors (:func:`ital_opt.sweep.executors.map_chunks`): a local process pool or a Dask
    cluster at ``scheduler``; each start's label does not depend on the split.
    """
    attractors = np.asarray(attractors, dtype=float).reshape(-1, payoffs.n)
    x0 = grid(k, payoffs.n)
    u = np.log(x0) - np.log1p(-x0)
    settle = partial(_settle, payoffs, attractors, horizon, tol, segments)
    if (workers <= 1 and executor == "local") or len(u) <= CHUNK or not len(attractors):
        labels = settle(u)
    else:
        from ..sweep.executors import map_chunks

        parts = np.array_split(u, max(workers, -(-len(u) // CHUNK)))
        labels = np.empty(len(u), dtype=int)
        bounds = np.cumsum([0] + [len(p) for p in parts])
        for i, part in map_chunks(settle, parts, executor, workers, scheduler):
            labels[bounds[i]:bounds[i + 1]] = part
    shares = np.array([np.mean(labels == j) for j in range(len(attractors))])
    return labels, shares, float(np.mean(labels < 0))


def _settle(payoffs, attractors, horizon, tol, segments, u):
    """The attractor each log-odds start in `u` converges to (−1: none within the time allowed)."""
    u = u.copy()
    labels = np.full(len(u), -1)
    step, elapsed, limit = horizon / segments, 0.0, horizon * 2**EXTEND
    active = np.arange(len(u)) if len(attractors) else np.zeros(0, dtype=int)
    while active.size and elapsed < limit:
        u[active] = advance(payoffs, u[active], step)
        elapsed += step
        labels[active] = assign(expit(u[active]), attractors, tol)
        active = active[labels[active] < 0]
    return labels


def return_map(payoffs, point, jac, amplitudes=(0.05, 0.1), tol=1e-6):
    """Centre or weak focus of a planar rest point by the Poincaré return map on a ray from it."""
    values, vectors = np.linalg.eig(jac)
    k = int(np.argmax(values.imag))
    omega = values[k].imag
    ray = np.real(vectors[:, k])
    ray /= np.linalg.norm(ray)
    normal = np.array([-ray[1], ray[0]])
    room = float(np.min(np.minimum(point, 1 - point)))

    def rhs(t, z):
        return payoffs.field(z[None, :])[0]

    sense = np.sign(normal @ rhs(0, point + 1e-3 * room * ray)) or 1.0

    def crossing(t, z):
        return normal @ (z - point)

    crossing.direction = sense  # crossing the ray's line in the sense of the flow after one turn
    crossing.terminal = True
    drift = []
    for a in amplitudes:
        r0 = a * room
        z0 = point + r0 * ray
        quarter = solve_ivp(rhs, (0, 0.25 * 2 * np.pi / omega), z0, method="DOP853", rtol=1e-12, atol=1e-14)
        z1 = quarter.y[:, -1]
        more = solve_ivp(rhs, (0, 50 * 2 * np.pi / omega), z1, method="DOP853", rtol=1e-12, atol=1e-14,
                         events=crossing)
        if not more.t_events[0].size:
            return "degenerate", "the orbit did not return to its ray"
        back = more.y_events[0][0]
        r1 = float(ray @ (back - point))
        drift.append((r1 - r0) / r0)
    drift = np.array(drift)
    text = ", ".join(f"{d:.2e}" for d in drift)
    if np.all(np.abs(drift) <= tol):
        return "centre", f"the return map closes orbits (relative drift {text} after one turn)"
    if np.all(drift < -tol):
        return "stable focus", f"weak focus: orbits return closer (relative drift {text})"
    if np.all(drift > tol):
        return "unstable focus", f"weak focus: orbits return farther (relative drift {text})"
    return "degenerate", f"the return map is inconclusive (relative drift {text})"


# -- exact basins of two attractors in the plane: the separatrix ---------------------------------
PERIMETER_CORNERS = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _perimeter(p) -> float:
    """A point of the unit square's boundary as its counter-clockwise arc length from (0, 0)."""
    x, y = float(p[0]), float(p[1])
    side = int(np.argmin([y, 1 - x, 1 - y, x]))
    return (x, 1 + y, 3 - x, 4 - y)[side] % 4.0


def _cross(p, q) -> float:
    return 0.5 * (p[0] * q[1] - p[1] * q[0])


def separatrix(payoffs: Payoffs, saddle, jac, edge: float = 1e-10, rtol: float = 1e-10, start: float = 1e-5):
    """The stable manifold of an interior saddle of a planar replicator field, traced to the boundary.

    Both branches are integrated backward in time from saddle ± start·v_s (v_s the stable
    eigenvector), in log-odds u = log(x/(1 − x)) (:func:`.closed_form.logit_field`), where an orbit
    tending to the boundary runs off linearly instead of creeping along it, until they come within
    `edge` of the square's boundary; the area integral ½∫(x dy − y dx) along them (Green's theorem)
    is integrated with them, so that the enclosed areas need no polygon of sampled points.
    Returns ``[(end point on the boundary, area integral from the saddle to it), ...]`` for the two
    branches, or None when a branch does not reach the boundary (it spirals to a source, ...).
    """
    values, vectors = np.linalg.eig(np.asarray(jac, dtype=float))
    if np.any(np.abs(values.imag) > 0) or not (values.real.min() < 0 < values.real.max()):
        return None
    v = np.real(vectors[:, int(np.argmin(values.real))])
    v /= np.linalg.norm(v)
    saddle = np.asarray(saddle, dtype=float)
    start = min(start, 0.01 * float(np.min(np.minimum(saddle, 1 - saddle))))  # a saddle near an edge: closer
    rate = float(-values.real.min())
    far = float(np.log((1 - edge) / edge))

    affine = bimatrix(payoffs)
    if affine is not None:  # a bimatrix game: ΔF affine in the other's share, evaluated on floats
        (a1, a2), (b1, b2) = affine.tolist()

        def rhs(t, z):
            x = 1.0 / (1.0 + math.exp(-z[0])) if z[0] > -700 else 0.0
            y = 1.0 / (1.0 + math.exp(-z[1])) if z[1] > -700 else 0.0
            du, dv = -(a1 + b1 * y), -(a2 + b2 * x)
            return [du, dv, 0.5 * (x * y * (1 - y) * dv - y * x * (1 - x) * du)]
    else:
        def rhs(t, z):
            x = expit(z[:2])
            du = -payoffs.differences(x[None, :])[0]
            dx = x * (1 - x) * du
            return [du[0], du[1], 0.5 * (x[0] * dx[1] - x[1] * dx[0])]

    def boundary(t, z):
        return far - max(abs(z[0]), abs(z[1]))

    boundary.terminal = True
    out = []
    for sign in (1.0, -1.0):
        z0 = saddle + sign * start * v
        if not np.all((z0 > 0) & (z0 < 1)):
            return None
        u0 = np.log(z0) - np.log1p(-z0)
        sol = solve_ivp(rhs, (0.0, 200.0 / rate + 2000.0), [u0[0], u0[1], _cross(saddle, z0)], method="DOP853",
                        rtol=rtol, atol=1e-12, events=boundary)
        if not sol.t_events[0].size:
            return None
        end = sol.y_events[0][0]
        reached = expit(end[:2])
        point = reached.copy()
        side = int(np.argmin([point[0], 1 - point[0], point[1], 1 - point[1]]))
        point[side // 2] = float(side % 2)  # onto the edge it approaches
        out.append((point, float(end[2]) + _cross(reached, point)))
    return out


def separatrix_basins(payoffs: Payoffs, saddle, jac, attractors, **options):
    """The exact shares of the unit square in the basins of two corner attractors separated by the
    stable manifold of one interior saddle, or None when the picture is not that one.

    The closed curve — the manifold from one boundary end to the other, then the boundary
    counter-clockwise back — encloses the region holding the corners it passes; its area is the
    area integral along the manifold plus that of the boundary polygon.  Each attractor must lie
    on its own side.  Unlike a grid of starts the shares are smooth in the payoff parameters.
    """
    branches = separatrix(payoffs, saddle, jac, **options)
    if branches is None:
        return None
    (end_plus, a_plus), (end_minus, a_minus) = branches
    s_plus, s_minus = _perimeter(end_plus), _perimeter(end_minus)
    arc = (s_minus - s_plus) % 4.0
    passed = [k for k in range(4) if 0 < (k - s_plus) % 4.0 < arc]
    path = [end_plus, *(np.array(PERIMETER_CORNERS[k]) for k in sorted(passed, key=lambda k: (k - s_plus) % 4.0)),
            end_minus]
    area = a_plus - a_minus + sum(_cross(p, q) for p, q in zip(path[:-1], path[1:], strict=True))
    inside = {PERIMETER_CORNERS[k] for k in passed}
    sides = [tuple(float(v) for v in a) in inside for a in np.asarray(attractors, dtype=float)]
    if len(sides) != 2 or sides[0] == sides[1] or not 0.0 <= area <= 1.0:
        return None
    return np.array([area, 1.0 - area]) if sides[0] else np.array([1.0 - area, area])
