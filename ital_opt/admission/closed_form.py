"""Closed forms of the Chapter 3 admission menu (docs/theory/admission.md).

Types θ_1 < … < θ_K with prior p_k; output π = a_k·e + ε with capability a_k (a_k = θ_k in the
book; a_k = θ_k**γ for the exponent variant), effort cost K·e²/2 (K = c), CARA ρ, ε ~ N(0, σ²).
Shorthands φ_k = a_k²/(2c), r = ρσ²/2. A contract (β, t) gives type k the certainty equivalent
U_kj = t_j + β_j²(φ_k − r); the alliance earns S_k(β_k) − u_k with S_k(β) = 2φ_kβ − (φ_k + r)β².

* First best: β_k = φ_k/(φ_k + r).
* Second best, IR_1 and the local downward IC binding (P_k⁺ = Σ_{j>k} p_j, Δ_k = φ_{k+1} − φ_k):
  β_k = φ_k/[φ_k + r + (P_k⁺/p_k)Δ_k], β_K first best, u_1 = ū_1, u_{k+1} = u_k + β_k²Δ_k.
  The reduced objective Σ_k [a_kβ_k − b_kβ_k²] with a_k = 2p_kφ_k, b_k = p_k(φ_k + r) + P_k⁺Δ_k
  is a separable concave quadratic in β, so the monotonicity constraint β_1 ≤ … ≤ β_K is handled
  by weighted isotonic regression of the unconstrained β_k with weights b_k (pool adjacent
  violators = ironing). The relaxed problem keeps only IR_1; its answer is the optimum whenever
  it satisfies every IR_k (always so with a common outside option).
* Two types with g = ū_H − ū_L, Δ = φ_H − φ_L: regimes I–IV (docs/theory/admission.md).

All functions are pure functions of numpy arrays; the ``*_batch`` functions take a leading batch
axis (one line per parameter point: the sweeps) and the one-problem functions call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Menu:
    """A menu (β_k, u_k) with how it was found."""

    share: np.ndarray
    utility: np.ndarray
    regime: str | None = None
    binding: list[str] = field(default_factory=list)
    pools: list[list[int]] = field(default_factory=list)  # ironed groups (0-based type indices)

    @property
    def ironed(self) -> bool:
        return any(len(g) > 1 for g in self.pools)


def first_best(phi, r):
    """β_k = φ_k/(φ_k + r) (= θ²/(θ² + cρσ²)); 1 for risk-neutral applicants."""
    phi = np.asarray(phi, dtype=float)
    return phi / (phi + r)


def transfers(phi, r, share, utility):
    """t_k = u_k − β_k²(φ_k − r)."""
    return utility - share**2 * (phi - r)


def isotonic(values, weights):
    """Weighted least-squares non-decreasing fit (pool adjacent violators).

    Returns (fitted values, pools) where pools lists the index groups that share a value.
    """
    blocks: list[list] = []  # [mean, weight, indices]
    for i, (v, w) in enumerate(zip(values, weights)):
        blocks.append([float(v), float(w), [i]])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, i2 = blocks.pop()
            v1, w1, i1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, i1 + i2])
    fitted = np.empty(len(values))
    for v, _, idx in blocks:
        fitted[idx] = v
    return fitted, [b[2] for b in blocks]


def _tail_and_gap(prob, phi):
    """P_k⁺ = Σ_{j>k} p_j and Δ_k = φ_{k+1} − φ_k (0 for the top type), over the last axis."""
    zero = np.zeros(prob.shape[:-1] + (1,))
    tail = np.concatenate([np.cumsum(prob[..., ::-1], axis=-1)[..., ::-1][..., 1:], zero], axis=-1)
    gap = np.concatenate([np.diff(phi, axis=-1), zero], axis=-1)
    return tail, gap


def second_best_batch(prob, phi, r, outside):
    """The relaxed second best (IR_1 and local downward IC binding) over a leading batch axis.

    prob, phi, outside: (N, K); r: (N,).  Returns (share, utility, ok), ok (N,) true where the
    shares are non-decreasing and every IR_k holds (elsewhere the optimum needs ironing or other
    binding constraints: see :func:`second_best`).
    """
    prob, phi, outside = (np.asarray(x, dtype=float) for x in (prob, phi, outside))
    r = np.asarray(r, dtype=float)[..., None]
    tail, gap = _tail_and_gap(prob, phi)
    share = prob * phi / (prob * (phi + r) + tail * gap)
    monotone = np.all(np.diff(share, axis=-1) >= 0, axis=-1)
    steps = share[..., :-1] ** 2 * gap[..., :-1]
    zero = np.zeros(prob.shape[:-1] + (1,))
    utility = outside[..., :1] + np.concatenate([zero, np.cumsum(steps, axis=-1)], axis=-1)
    ir_ok = np.all(utility >= outside - 1e-12 * (1 + np.abs(outside)), axis=-1)
    return share, utility, monotone & ir_ok


def second_best(prob, phi, r, outside, *, iron=True):
    """K-type second best with IR_1 and local downward IC binding (ironed when needed).

    Returns a Menu, or None when the relaxed answer violates some IR_k (type-dependent outside
    options rising too fast) or, with ``iron=False``, when the shares are not monotone.
    """
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    ubar = np.broadcast_to(np.asarray(outside, dtype=float), p.shape)
    tail, gap = _tail_and_gap(p, phi)
    b = p * (phi + r) + tail * gap
    share, pools = isotonic(p * phi / b, b)  # the formula's shares themselves where they are monotone
    if not iron and len(pools) < len(p):
        return None
    u = np.cumsum(np.r_[ubar[0], share[:-1] ** 2 * gap[:-1]])  # u_{k+1} = u_k + β_k²Δ_k
    if np.any(u < ubar - 1e-12 * (1 + np.abs(ubar))):
        return None
    binding = ["IR_1"] + [f"IC_{k + 2},{k + 1}" for k in range(len(p) - 1)]
    return Menu(share=share, utility=u, regime=None, binding=binding, pools=pools)


def regime_bounds(prob, phi, r):
    """Thresholds on g = ū_H − ū_L between regimes I|II, II|III and III|IV (two types; leading
    batch axes allowed, types on the last axis)."""
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    r = np.asarray(r, dtype=float)
    delta = phi[..., 1] - phi[..., 0]
    sb_low = phi[..., 0] / (phi[..., 0] + r + p[..., 1] / p[..., 0] * delta)
    fb_low, fb_high = phi[..., 0] / (phi[..., 0] + r), phi[..., 1] / (phi[..., 1] + r)
    return sb_low**2 * delta, fb_low**2 * delta, fb_high**2 * delta


def two_type_batch(prob, phi, r, outside):
    """Regimes I–IV of docs/theory/admission.md over a leading batch axis: prob, phi, outside (N, 2), r (N,).

    Returns (share (N, 2), utility (N, 2), regime (N,) of "I".."IV").
    """
    prob, phi, outside = (np.asarray(x, dtype=float) for x in (prob, phi, outside))
    r = np.asarray(r, dtype=float)
    pl, ph = prob[:, 0], prob[:, 1]
    delta = phi[:, 1] - phi[:, 0]
    g = outside[:, 1] - outside[:, 0]
    fb = first_best(phi, r[:, None])
    b1, b2, b3 = regime_bounds(prob, phi, r)
    r1 = g <= b1
    r2 = ~r1 & (g < b2)
    r3 = ~r1 & ~r2 & (g <= b3)
    r4 = ~(r1 | r2 | r3)
    # regime IV: the high type's share is the smallest of √(g/Δ), 1 and its interior optimum
    denom = ph * (phi[:, 1] + r) - pl * delta
    cand = np.where(denom > 0, ph * phi[:, 1] / np.where(denom > 0, denom, 1.0), np.inf)
    bh4 = np.minimum(np.minimum(np.sqrt(np.maximum(g, 0) / delta), 1.0), cand)
    beta_l = np.select([r1, r2, r3], [np.sqrt(b1 / delta), np.sqrt(np.maximum(g, 0) / delta), fb[:, 0]], fb[:, 0])
    beta_h = np.where(r4, bh4, fb[:, 1])
    ul, uh = outside[:, 0], outside[:, 1]
    u_l = np.where(r4, ul + np.maximum(0.0, g - bh4**2 * delta), ul)
    u_h = np.where(r1, ul + beta_l**2 * delta, uh)
    regime = np.select([r1, r2, r3], ["I", "II", "III"], "IV").astype(object)
    return np.stack([beta_l, beta_h], axis=1), np.stack([u_l, u_h], axis=1), regime


def two_type(prob, phi, r, outside):
    """Two types with type-dependent outside options: regimes I–IV of docs/theory/admission.md."""
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    ubar = np.broadcast_to(np.asarray(outside, dtype=float), (2,))
    share, u, regime = two_type_batch(p[None], phi[None], np.array([float(r)]), ubar[None])
    share, u, regime = share[0], u[0], str(regime[0])
    g = ubar[1] - ubar[0]
    delta = phi[1] - phi[0]
    b1 = regime_bounds(p, phi, r)[0]
    binding = {"I": ["IR_L", "IC_HL"], "II": ["IR_L", "IR_H", "IC_HL"], "III": ["IR_L", "IR_H"],
               "IV": ["IR_H", "IC_LH"]}[regime]
    if regime == "I" and np.isclose(g, b1, rtol=0, atol=1e-12):
        binding = ["IR_L", "IR_H", "IC_HL"]
    if regime == "IV" and g - share[1] ** 2 * delta <= 1e-12:
        binding = ["IR_L", "IR_H", "IC_LH"]
    return Menu(share=share, utility=u, regime=regime, binding=binding, pools=[[0], [1]])


def menu_batch(theta, prob, c, rho, sigma2, outside):
    """The closed-form menu of the LEN admission problem (a(θ) = θ) at N parameter points at once.

    theta, prob, outside: (N, K); c, rho, sigma2: (N,).  Two types: regimes I–IV; K types: the
    relaxed second best where it is monotone and every IR_k holds.  Returns ``(ok, objective,
    rows, extras)``: ok (N,) marks the points where the primitives are valid and the closed form
    applies; rows maps each result column to an (N, K) array, extras each top-level field to (N,).
    """
    K = theta.shape[1]
    with np.errstate(all="ignore"):
        ok = (
            np.all(theta > 0, axis=1) & np.all(np.diff(theta, axis=1) > 0, axis=1)
            & np.all(prob > 0, axis=1) & (np.abs(prob.sum(axis=1) - 1.0) <= 1e-9)
            & (c > 0) & (rho >= 0) & (sigma2 >= 0)
            & np.all(np.isfinite(theta), axis=1) & np.all(np.isfinite(outside), axis=1)
        )
        phi = theta**2 / (2.0 * c[:, None])
        r = rho * sigma2 / 2.0
        fb = first_best(phi, r[:, None])
        if K == 2:
            share, utility, regime = two_type_batch(prob, phi, r, outside)
            extras = {"regime": regime, "ironed": np.zeros(len(theta), dtype=bool)}
        else:
            share, utility, good = second_best_batch(prob, phi, r, outside)
            ok &= good
            extras = {"ironed": np.zeros(len(theta), dtype=bool)}
        transfer = transfers(phi, r[:, None], share, utility)
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
    return ok, objective, rows, extras
