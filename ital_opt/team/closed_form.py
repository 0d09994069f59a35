"""Closed forms of the LEN team (docs/theory/team.md, Chapter 4).

Members i = 1..n, output π = Σ_j a_j e_j + ε with ε ~ N(0, σ²), effort cost c_i e_i²/2, CARA
risk aversion ρ_i, linear sharing rule s_i(π) = α_i + β_i π.  Shorthands A_i = a_i²/c_i,
R_i = ρ_i σ², B = Σβ_j (B = 1 under budget balance; B ≤ 1 with a budget breaker, who keeps
(1 − B)π and makes no effort).

Knowledge sharing (docs/theory/team.md, the extension): a second input k_i ≥ 0 per member with marginal
output g_i and cost d_i k_i²/2, so π = Σ_j (a_j e_j + g_j k_j) + ε.  Member i's effort-stage
objective m_i E[π] − c_i e_i²/2 − d_i k_i²/2 is separable in (e_i, k_i): k_i = g_i m_i / d_i
beside e_i = a_i m_i / c_i, and every formula below holds with A_i = a_i²/c_i replaced by the
effective productivity A_i = a_i²/c_i + g_i²/d_i (both inputs contribute A m to output and
A m²/2 to cost).  The functions take ``g`` (default 0: no knowledge input) and ``d`` (default 1)
as keywords and fold them into A in :func:`shorthands`, so there is one formula for each.

* Mutual concern (reading A): member i maximises CE_i + ω Σ_{j≠i} CE_j, so its effort responds
  to m_i = β_i + ω(B − β_i) (= ω + (1 − ω)β_i when B = 1) and the Nash efforts are
  e_i = a_i m_i / c_i (free riding when m_i < 1).
* Certainty equivalents CE_i = α_i + β_i E[π] − A_i m_i²/2 − R_i β_i²/2 with E[π] = Σ_j A_j m_j
  (A_i m_i²/2 = c_i e_i²/2 + d_i k_i²/2 is member i's cost at the Nash inputs).
* Total welfare (members and, when present, the budget breaker's expected (1 − B)E[π]):
  TW = Σ_j [A_j(m_j − m_j²/2) − R_j β_j²/2]   (α only redistributes).
* Welfare-maximising shares on the simplex (budget balance): with k = (1 − ω)² and
  D_j = kA_j + R_j the KKT conditions give β_j = max(0, (kA_j − μ)/D_j) with μ chosen so that
  Σβ_j = 1 — water filling over the members ranked by kA_j.  With a budget breaker and ω = 0 the
  same formula holds with Σβ_j ≤ 1 and μ ≥ 0.
* Outside levels (IR: CE_i ≥ u_i, with α fixed) where the shares have one degree of freedom (two
  budget-balanced members, β = (t, 1 − t); one member beside a budget breaker, β = t): every
  CE_i and the objective are quadratics in t on [0, 1], so the shares meeting every level are a
  finite union of intervals bounded by the roots of CE_i(t) − u_i, and the objective's maximum
  over them is at an end point or at the vertex of the parabola (:func:`share_meeting_levels`).
* First best (inputs contractible): e_i = a_i/c_i, k_i = g_i/d_i and risk shared efficiently,
  TW_FB = ΣA_j/2 − 1/(2Σ_j 1/R_j) under budget balance, ΣA_j/2 with a risk-neutral breaker.

Every function is a small pure function over numpy arrays; the last axis indexes members.
"""

from __future__ import annotations

import numpy as np


def shorthands(a, c, rho, sigma2, g=0.0, d=1.0):
    """A_i = a_i²/c_i + g_i²/d_i (productivity of both inputs) and R_i = ρ_i σ² (risk cost)."""
    a, c, rho = np.asarray(a, float), np.asarray(c, float), np.asarray(rho, float)
    g, d = np.asarray(g, float), np.asarray(d, float)
    return a * a / c + g * g / d, rho * sigma2


def concern(beta, omega, budget_breaker=False):
    """m_i = β_i + ω(B − β_i), the weight member i puts on output at the effort stage."""
    beta = np.asarray(beta, float)
    total = beta.sum(axis=-1, keepdims=True) if budget_breaker else 1.0
    return (1.0 - omega) * beta + omega * total


def efforts(a, c, beta, omega=0.0, budget_breaker=False):
    """Nash efforts e_i = a_i m_i / c_i (docs/theory/team.md, stage 2)."""
    return np.asarray(a, float) * concern(beta, omega, budget_breaker) / np.asarray(c, float)


def knowledge(g, d, beta, omega=0.0, budget_breaker=False):
    """Nash knowledge sharing k_i = g_i m_i / d_i (the same response as effort, with g and d)."""
    return efforts(g, d, beta, omega, budget_breaker)


def expected_output(a, c, beta, omega=0.0, budget_breaker=False, g=0.0, d=1.0):
    """E[π] = Σ_j (a_j e_j + g_j k_j) = Σ_j A_j m_j."""
    return np.sum(_output_terms(a, c, beta, omega, budget_breaker, g, d)[0], axis=-1)


def _output_terms(a, c, beta, omega, budget_breaker, g, d):
    """Each member's contribution a_i e_i + g_i k_i to E[π] and its cost c_i e_i²/2 + d_i k_i²/2."""
    e = efforts(a, c, beta, omega, budget_breaker)
    k = knowledge(g, d, beta, omega, budget_breaker)
    a, c, g, d = (np.asarray(x, float) for x in (a, c, g, d))
    return a * e + g * k, c * e * e / 2 + d * k * k / 2


def certainty_equivalents(a, c, rho, sigma2, beta, omega=0.0, alpha=0.0, budget_breaker=False, g=0.0, d=1.0):
    """CE_i = α_i + β_i E[π] − c_i e_i²/2 − d_i k_i²/2 − ρ_i σ² β_i²/2."""
    beta = np.asarray(beta, float)
    out, cost = _output_terms(a, c, beta, omega, budget_breaker, g, d)
    return alpha + beta * np.sum(out, axis=-1, keepdims=True) - cost - np.asarray(rho, float) * sigma2 * beta**2 / 2


def total_welfare(a, c, rho, sigma2, beta, omega=0.0, budget_breaker=False, g=0.0, d=1.0):
    """TW = Σ_j [A_j(m_j − m_j²/2) − R_j β_j²/2] (including a budget breaker's expected income)."""
    A, R = shorthands(a, c, rho, sigma2, g, d)
    beta = np.asarray(beta, float)
    m = concern(beta, omega, budget_breaker)
    return np.sum(A * (m - m * m / 2) - R * beta**2 / 2, axis=-1)


def water_fill(kA, D, mask, equality=True, ranked=False):
    """β = max(0, (kA − μ)/D) over the members in `mask` (rows), Σβ = 1 (or ≤ 1 with μ ≥ 0).

    Vectorised over leading axes: kA, D, mask broadcast to (..., n).  Members outside the mask
    get 0.  With `ranked` the members are already in decreasing order of kA (no sort).  Returns
    (β, μ).
    """
    kA, D, mask = np.broadcast_arrays(np.asarray(kA, float), np.asarray(D, float), np.asarray(mask, bool))
    if ranked:
        kA_s, D_s, in_s = kA, D, mask
    else:
        order = np.argsort(-np.where(mask, kA, -np.inf), axis=-1, kind="stable")
        kA_s, D_s, in_s = (np.take_along_axis(x, order, -1) for x in (kA, D, mask))
    inv = np.where(in_s, 1.0 / D_s, 0.0)
    ratio = np.where(in_s, kA_s / D_s, 0.0)
    cum_inv = np.cumsum(inv, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu_p = (np.cumsum(ratio, -1) - 1.0) / cum_inv
    # prefix p is consistent when its last member is active, kA_(p) > μ_p; the consistent
    # prefixes form an initial run and the active set is the longest one
    ok = in_s & (kA_s > mu_p)
    p = ok.shape[-1] - 1 - np.argmax(ok[..., ::-1], -1)
    mu = np.take_along_axis(mu_p, p[..., None], -1)
    if not equality:
        mu = np.maximum(mu, 0.0)
    beta = np.where(mask, np.maximum(0.0, (kA - mu) / D), 0.0)
    return beta, mu[..., 0]


def welfare_shares(a, c, rho, sigma2, omega=0.0, budget_breaker=False, g=0.0, d=1.0):
    """Welfare-maximising shares by water filling (docs/theory/team.md, stage 1); returns (β, μ).

    Budget balance: any ω ∈ [0, 1] (D_j > 0 needed: ρ_j σ² > 0 when ω = 1).  Budget breaker:
    ω = 0 only (otherwise the members' shares are coupled through B; use the QP).
    """
    A, R = shorthands(a, c, rho, sigma2, g, d)
    if budget_breaker and omega != 0:
        raise ValueError("the water-filling form with a budget breaker needs omega = 0")
    k = (1.0 - omega) ** 2
    D = k * A + R
    if np.any(D <= 0):
        raise ValueError("water filling needs k*A_j + R_j > 0 for every member")
    return water_fill(k * A, D, np.ones(np.shape(A), bool), equality=not budget_breaker)


def first_best_welfare(a, c, rho, sigma2, budget_breaker=False, g=0.0, d=1.0):
    """TW_FB = ΣA/2 − 1/(2Σ 1/R) (budget balance) or ΣA/2 (risk-neutral budget breaker)."""
    A, R = shorthands(a, c, rho, sigma2, g, d)
    return np.sum(A, axis=-1) / 2 - risk_sharing_cost(R, budget_breaker)


def risk_sharing_cost(R, budget_breaker=False):
    """The cost of efficiently shared risk: 1/(2Σ 1/R_j) under budget balance, 0 with a
    risk-neutral member or budget breaker (who bears all the risk at no cost); per team, when
    teams are stacked on leading axes."""
    if budget_breaker:
        return 0.0
    with np.errstate(divide="ignore"):
        risk = 1.0 / (2 * np.sum(1.0 / np.where(R > 0, R, 1.0), axis=-1))
    return np.where(np.all(R > 0, axis=-1), risk, 0.0)


def weighted_shares_pair(a, c, rho, sigma2, lam, omega=0.0, alpha=0.0, g=0.0, d=1.0):
    """β maximising λ_1 CE_1 + λ_2 CE_2 for two budget-balanced members (reading B).

    The weighted welfare is a quadratic in β_1 on [0, 1]; it is evaluated exactly through three
    points and maximised on [0, 1] (concave or not).
    """
    grid = np.array([0.0, 0.5, 1.0])
    betas = np.stack([grid, 1 - grid], -1)
    values = certainty_equivalents(a, c, rho, sigma2, betas, omega, alpha, g=g, d=d) @ np.asarray(lam, float)
    b1 = share_meeting_levels(values, np.empty((3, 0)), np.empty(0))  # no levels: the maximum on [0, 1]
    return np.array([b1, 1 - b1])


def preferred_share(a, c, rho, sigma2, member=0, omega=0.0, g=0.0, d=1.0):
    """The share member `member` (0 or 1) of a two-member team would choose for itself (α = 0)."""
    return float(weighted_shares_pair(a, c, rho, sigma2, np.eye(2)[member], omega, g=g, d=d)[member])


def _quadratic(y):
    """(y0, lin, quad) of q(t) = y0 + lin t + quad t², the quadratic through (0, y0), (½, yh), (1, y1)."""
    y0, yh, y1 = y
    quad = 2 * (y0 - 2 * yh + y1)
    return y0, y1 - y0 - quad, quad


def _roots_in_unit(y0, lin, quad, scale):
    """The real roots of y0 + lin t + quad t² inside (0, 1)."""
    if abs(quad) <= 1e-14 * scale:
        roots = [] if abs(lin) <= 1e-14 * scale else [-y0 / lin]
    else:
        disc = lin * lin - 4 * quad * y0
        if disc < 0:
            return []
        sq = np.sqrt(disc)
        # the stable pair of formulas (no cancellation between lin and ±sq)
        q = -0.5 * (lin + np.copysign(sq, lin))
        roots = [q / quad, y0 / q] if q != 0 else [0.0]
    return [float(t) for t in roots if 0.0 < t < 1.0]


def share_meeting_levels(objective, ce, levels, tol=1e-12):
    """Maximise a quadratic objective over t ∈ [0, 1] subject to CE_i(t) ≥ u_i for every member.

    ``objective`` holds the objective's values at t = 0, ½, 1 (3,), ``ce`` the members' certainty
    equivalents there (3, n) and ``levels`` the outside levels u (n,): every one a quadratic in
    t, so three values fix it exactly.  Returns t, or None when no t ∈ [0, 1] meets every level
    (to the relative tolerance `tol`, which absorbs the rounding of CE at a root).
    """
    ce, levels = np.asarray(ce, float), np.asarray(levels, float)
    slack = [_quadratic(ce[:, i] - levels[i]) for i in range(ce.shape[1])]
    scale = 1.0 + float(np.abs(ce).max(initial=0.0)) + float(np.abs(levels).max(initial=0.0))
    cuts = sorted({0.0, 1.0, *(t for q in slack for t in _roots_in_unit(*q, scale))})

    def meets(t):
        return all(y0 + lin * t + quad * t * t >= -tol * scale for y0, lin, quad in slack)

    y0, lin, quad = _quadratic(np.asarray(objective, float))
    candidates = [t for t in cuts if meets(t)]
    for lo, hi in zip(cuts[:-1], cuts[1:]):  # an interval between cuts meets every level or none
        if quad < 0 and lo < -lin / (2 * quad) < hi and meets((lo + hi) / 2):
            candidates.append(-lin / (2 * quad))
    if not candidates:
        return None
    values = [y0 + lin * t + quad * t * t for t in candidates]
    return candidates[int(np.argmax(values))]


def coalition_welfare(a, c, rho, sigma2, omega, members, chunk=1 << 15, g=0.0, d=1.0):
    """Total welfare of the LEN team restricted to each coalition, at welfare-maximising shares.

    ``members`` is a boolean matrix (coalitions × n): row S marks the members of coalition S; the
    coalition shares its own output on its own simplex (budget balance); ``g``, ``d`` are the
    knowledge inputs, folded into A.  Returns a vector of TW(S); the empty coalition is worth 0.
    Vectorised: the members are ranked by kA_j once, and the rows are processed in chunks of
    `chunk` coalitions.
    """
    members = np.atleast_2d(np.asarray(members, bool))
    n = members.shape[-1]
    A, R = (np.broadcast_to(x, (n,)) for x in shorthands(a, c, rho, sigma2, g, d))
    k = (1.0 - omega) ** 2
    D = k * A + R
    order = np.argsort(-k * A, kind="stable")
    kA, D, A, R = k * A[order], D[order], A[order], R[order]
    out = np.empty(members.shape[0])
    for start in range(0, members.shape[0], chunk):
        mask = members[start : start + chunk][:, order]
        beta, _ = water_fill(kA, D, mask, ranked=True)
        m = omega + (1 - omega) * beta
        tw = np.sum(np.where(mask, A * (m - m * m / 2) - R * beta**2 / 2, 0.0), -1)
        out[start : start + chunk] = np.where(mask.any(-1), tw, 0.0)
    return out


def batch(a, c, rho, sigma2, omega, alpha, g, d, beta=None):
    """The LEN team, budget balanced, at N parameter points at once (members on the last axis).

    a, c, rho, alpha, g, d: (N, n); sigma2, omega: (N,); beta: the given shares (N, n), or None
    for the welfare-maximising shares by water filling.  Returns ``(ok, welfare, columns,
    extras)``: ok (N,) marks the points where the primitives are valid and the closed form
    applies; columns maps share, effort, knowledge, ce, alpha to (N, n) arrays; extras holds
    expected_output, first_best_welfare, free_riding_loss (and the water level ``multiplier``).
    """
    knowledge_inputs = dict(g=g, d=d)
    with np.errstate(all="ignore"):
        s2, w = sigma2[:, None], omega[:, None]
        A, R = shorthands(a, c, rho, s2, g, d)
        ok = (np.all(a >= 0, axis=1) & np.all(c > 0, axis=1) & np.all(rho >= 0, axis=1) & (sigma2 >= 0)
              & np.all(g >= 0, axis=1) & np.all(d > 0, axis=1)
              & (omega >= 0) & (omega <= 1) & (np.abs(alpha.sum(axis=1)) <= 1e-9))
        extras = {}
        if beta is None:
            k = (1.0 - w) ** 2
            D = k * A + R
            ok &= np.all(D > 0, axis=1) & ~((omega == 1) & np.any(R <= 0, axis=1))
            beta, mu = water_fill(k * A, np.where(ok[:, None], D, 1.0), np.ones_like(A, dtype=bool))
            beta = np.clip(beta, 0.0, None)
            extras = {"multiplier": mu}
        else:
            ok &= np.all(beta >= 0, axis=1) & (np.abs(beta.sum(axis=1) - 1) <= 1e-9)
        out = expected_output(a, c, beta, w, **knowledge_inputs)
        ce = certainty_equivalents(a, c, rho, s2, beta, w, alpha, **knowledge_inputs)
        welfare = total_welfare(a, c, rho, s2, beta, w, **knowledge_inputs)
        fb = first_best_welfare(a, c, rho, s2, **knowledge_inputs)
        extras = {"expected_output": out, "first_best_welfare": fb, "free_riding_loss": fb - welfare, **extras}
        columns = {"share": beta, "effort": efforts(a, c, beta, w), "knowledge": knowledge(g, d, beta, w),
                   "ce": ce, "alpha": alpha}
    return ok, welfare, columns, extras
