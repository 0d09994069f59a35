"""Closed forms of the Chapter 3 admission menu (BOOK.md §2).

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
* Two types with g = ū_H − ū_L, Δ = φ_H − φ_L: regimes I–IV (BOOK.md §2).

All functions are pure functions of numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Menu",
    "shorthands",
    "first_best",
    "surplus",
    "transfers",
    "alliance_payoff",
    "isotonic",
    "second_best",
    "two_type",
    "regime_bounds",
]


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


def shorthands(capability, c, rho, sigma2):
    """φ_k = a_k²/(2c) and r = ρσ²/2."""
    a = np.asarray(capability, dtype=float)
    return a**2 / (2.0 * c), rho * sigma2 / 2.0


def first_best(phi, r):
    """β_k = φ_k/(φ_k + r) (= θ²/(θ² + cρσ²)); 1 for risk-neutral applicants."""
    phi = np.asarray(phi, dtype=float)
    return phi / (phi + r)


def surplus(phi, r, share):
    """Joint certainty-equivalent surplus S_k(β) = 2φβ − (φ + r)β²."""
    return 2.0 * phi * share - (phi + r) * share**2


def transfers(phi, r, share, utility):
    """t_k = u_k − β_k²(φ_k − r)."""
    return utility - share**2 * (phi - r)


def alliance_payoff(prob, phi, r, share, utility):
    """Σ_k p_k [S_k(β_k) − u_k]."""
    return float(np.dot(prob, surplus(phi, r, share) - utility))


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


def second_best(prob, phi, r, outside, *, iron=True):
    """K-type second best with IR_1 and local downward IC binding (ironed when needed).

    Returns a Menu, or None when the relaxed answer violates some IR_k (type-dependent outside
    options rising too fast) or, with ``iron=False``, when the shares are not monotone.
    """
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    ubar = np.broadcast_to(np.asarray(outside, dtype=float), p.shape)
    tail = np.concatenate([np.cumsum(p[::-1])[::-1][1:], [0.0]])  # P_k⁺
    gap = np.concatenate([np.diff(phi), [0.0]])  # Δ_k
    a = p * phi  # half the linear coefficient
    b = p * (phi + r) + tail * gap
    raw = a / b
    if np.all(np.diff(raw) >= 0):
        share, pools = raw, [[k] for k in range(len(p))]
    elif not iron:
        return None
    else:
        share, pools = isotonic(raw, b)
    u = np.empty_like(share)
    u[0] = ubar[0]
    for k in range(len(p) - 1):
        u[k + 1] = u[k] + share[k] ** 2 * gap[k]
    if np.any(u < ubar - 1e-12 * (1 + np.abs(ubar))):
        return None
    binding = ["IR_1"] + [f"IC_{k + 2},{k + 1}" for k in range(len(p) - 1)]
    return Menu(share=share, utility=u, regime=None, binding=binding, pools=pools)


def regime_bounds(prob, phi, r):
    """Thresholds on g = ū_H − ū_L between regimes I|II, II|III and III|IV (two types)."""
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    delta = phi[1] - phi[0]
    fb = first_best(phi, r)
    sb_low = phi[0] / (phi[0] + r + p[1] / p[0] * delta)
    return sb_low**2 * delta, fb[0] ** 2 * delta, fb[1] ** 2 * delta


def two_type(prob, phi, r, outside):
    """Two types with type-dependent outside options: regimes I–IV of BOOK.md §2."""
    p = np.asarray(prob, dtype=float)
    phi = np.asarray(phi, dtype=float)
    ubar = np.broadcast_to(np.asarray(outside, dtype=float), (2,))
    pl, ph = p
    delta = phi[1] - phi[0]
    g = ubar[1] - ubar[0]
    fb = first_best(phi, r)
    b1, b2, b3 = regime_bounds(p, phi, r)
    if g <= b1:
        bl = np.sqrt(b1 / delta)
        share = np.array([bl, fb[1]])
        u = np.array([ubar[0], ubar[0] + bl**2 * delta])
        regime, binding = "I", ["IR_L", "IC_HL"]
        if np.isclose(g, b1, rtol=0, atol=1e-12):
            binding = ["IR_L", "IR_H", "IC_HL"]
    elif g < b2:
        share = np.array([np.sqrt(g / delta), fb[1]])
        u = ubar.copy()
        regime, binding = "II", ["IR_L", "IR_H", "IC_HL"]
    elif g <= b3:
        share = fb.copy()
        u = ubar.copy()
        regime, binding = "III", ["IR_L", "IR_H"]
    else:
        candidates = [np.sqrt(g / delta), 1.0]
        denom = ph * (phi[1] + r) - pl * delta
        if denom > 0:
            candidates.append(ph * phi[1] / denom)
        bh = min(candidates)
        share = np.array([fb[0], bh])
        u = np.array([ubar[0] + max(0.0, g - bh**2 * delta), ubar[1]])
        regime = "IV"
        binding = ["IR_H", "IC_LH"]
        if g - bh**2 * delta <= 1e-12:
            binding = ["IR_L", "IR_H", "IC_LH"]
    return Menu(share=share, utility=np.asarray(u, dtype=float), regime=regime, binding=binding,
                pools=[[0], [1]])
