"""Closed forms of the government-as-leader models (docs/theory/policy.md).

Pure numpy, vectorised over leading batch axes (the last axis indexes members where there is
one).  Each function states the assumptions under which it is the leader's optimum; outside them
the nested and MPEC formulations (``formulations.py``) solve the same problem, and the tests
compare them.

Conventions (docs/theory/policy.md): γ ≥ 0 is the social value of a unit of alliance output outside the
alliance, λ ≥ 0 the shadow cost of public funds, SW = alliance welfare (subsidies as income)
+ γ E[π] − (1 + λ) G.

**Model A** (Chapter 4 team, LEN; A_i = a_i²/c_i, R_i = ρ_iσ², m_i = ω + (1 − ω)β_i).  With a cost
subsidy s_i (x_i = 1/(1 − s_i)) and an output value y to the alliance (y = 1 + r with an output
reward r; y = 1 + δL with licence revenue in Model C), member i works e_i = y a_i m_i x_i / c_i,
and society values output at V (V = 1 + γ in Model A, V = 1 + γ + δ v3 in Model C).  With the
sharing rule fixed, SW = Σ_i A_i [V u_i − u_i²/2 − λ(u_i − y m_i) u_i/2] − Σ R_i y² β_i²/2 with
u_i = y m_i x_i, concave in u_i, so

* member-specific rates: s_i* = [V − y m_i(1 + λ/2)] / [V + λ y m_i/2] (0 when ≤ 0);
* one uniform rate: 1/(1 − s*) = [V Σ A_j m_j + (λ/2) y Σ A_j m_j²] / [(1 + λ) y Σ A_j m_j²];
* an output reward alone (y = 1 + r, V = 1 + γ + r as the reward is a transfer):
  1 + r* = (1 + γ + λ) Σ A_j m_j / [Σ A_j m_j² + Σ R_j β_j² + 2λ Σ A_j m_j].

**Model B** (Chapter 3 menu, two types; φ_k = θ_k²/(2c), r = ρσ²/2, Δ = φ_H − φ_L): the alliance's
gain from admitting the low type is V_L = (p_L φ_L)² / (p_L(φ_L + r) + p_H Δ); with a cost F per
admitted member it admits L iff V_L ≥ p_L(F − g), so g_min = F − V_L/p_L; subsidising pays iff
F < F̄_flat = [p_L(S_L + σ_L) + λ V_L/p_L]/(p_L + λ) (a flat subsidy per admitted member) or
F < F̄_tied = [S_L + σ_L + λ V_L/p_L]/(1 + λ) (tied to the entry tier), σ_L = 2γ φ_L β_L.

**Model C, stage 3** (diffusion; adopters' cost κQ, κ ~ U[0, K], gain bQ, licence fee ℓQ, subsidy
dQ): ℓ = (b + d)/2, adoption n = (b + d)/(2K), licence revenue per unit Q L = ℓ n, social value
per unit Q net of the shadow cost v3(d) = (b + γ_D) n − K n²/2 − λ d n, maximised by
d* = [b(1 − 2λ) + 2γ_D]/(1 + 4λ) (Q given).

**Model D** (d'Aspremont and Jacquemin 1988; Hinloopen 1997): x^N = D(2 − b)/(4.5(1 − s)G −
(2 − b)(1 + b)), x^C = D(1 + b)/(4.5(1 − s)G − (1 + b)²), x^W = 4D(1 + b)/(9G − 4(1 + b)²); at
λ = 0 the rates s^N = 3b/(2(1 + b)) and s^C = 1/2 implement x^W.

References: Holmström (1982) on the budget breaker; Laffont and Tirole (1993) on the shadow cost
of public funds; d'Aspremont and Jacquemin (1988), Hinloopen (1997) on subsidising R&D
cooperation.
"""

from __future__ import annotations

import numpy as np


def concern(beta, omega):
    """m_i = ω + (1 − ω)β_i (budget-balanced team)."""
    return omega + (1.0 - omega) * np.asarray(beta, float)


def member_rates(m, gamma, lam, y=1.0, value=None):
    """Member-specific cost-subsidy rates s_i* with the sharing rule fixed (0 where not positive).

    ``value`` is society's value V of a unit of output (default 1 + γ); ``y`` the alliance's."""
    m = np.asarray(m, float)
    V = 1.0 + np.asarray(gamma, float) if value is None else np.asarray(value, float)
    V, y, lam = np.asarray(V)[..., None], np.asarray(y, float)[..., None], np.asarray(lam, float)[..., None]
    s = (V - y * m * (1.0 + lam / 2.0)) / (V + lam * y * m / 2.0)
    return np.maximum(s, 0.0)


def uniform_rate(A, m, gamma, lam, y=1.0, value=None):
    """The optimal uniform cost-subsidy rate with the sharing rule fixed (0 where not positive)."""
    A, m = np.asarray(A, float), np.asarray(m, float)
    V = 1.0 + np.asarray(gamma, float) if value is None else np.asarray(value, float)
    s1, s2 = np.sum(A * m, axis=-1), np.sum(A * m * m, axis=-1)
    x = (V * s1 + lam / 2.0 * y * s2) / ((1.0 + lam) * y * s2)
    return np.maximum(1.0 - 1.0 / x, 0.0)


def reward_rate(A, m, R, beta, gamma, lam):
    """The optimal output reward r* alone (sharing rule fixed; r does not move it), 0 where ≤ 0."""
    A, m, R, beta = (np.asarray(v, float) for v in (A, m, R, beta))
    num = (1.0 + gamma + lam) * np.sum(A * m, axis=-1)
    den = np.sum(A * m * m, axis=-1) + np.sum(R * beta * beta, axis=-1) + 2.0 * lam * np.sum(A * m, axis=-1)
    return np.maximum(num / den - 1.0, 0.0)


def team_outcome(a, c, rho, sigma2, beta, omega, rates, y=1.0, value=None, gamma=0.0, lam=0.0, reward=0.0):
    """Efforts, E[π], alliance welfare, outlay and SW of a LEN team under cost subsidies `rates`
    and output value y to the alliance (the sharing rule `beta` given).

    The outlay is Σ s_i c_i e_i²/2 + reward·E[π]; society values output at V (default 1 + γ), so
    SW = alliance welfare + (V − y) E[π] − (1 + λ) outlay with y = 1 + reward where the output
    value is a reward (a transfer already in the alliance's welfare)."""
    a, c, rho, beta, rates = (np.asarray(v, float) for v in (a, c, rho, beta, rates))
    m = concern(beta, omega)
    e = y * a * m / ((1.0 - rates) * c)
    output = np.sum(a * e, axis=-1)
    cost = c * e * e / 2.0
    risk = rho * sigma2 * (y * beta) ** 2 / 2.0
    welfare = y * output - np.sum((1.0 - rates) * cost, axis=-1) - np.sum(risk, axis=-1)
    outlay = np.sum(rates * cost, axis=-1) + reward * output
    V = 1.0 + gamma if value is None else value
    sw = welfare + (V - y + reward) * output - (1.0 + lam) * outlay
    return dict(effort=e, expected_output=output, alliance_welfare=welfare, outlay=outlay, social_welfare=sw)


def team_answer(a, c, rho, sigma2, beta, omega, factor, y):
    """The LEN team's answer with its sharing rule β fixed, under cost factors f (c_i → f_i c_i)
    and the value y of a unit of output to the alliance (its risk scales with y²).

    Members on the last axis, any leading batch axes (sigma2, omega, y with one axis fewer).
    Returns efforts e_i = y a_i m_i/(f_i c_i), E[π] = Σ a_i e_i, the members' true effort costs
    c_i e_i²/2 and the alliance's welfare y E[π] − Σ f_i c_i e_i²/2 − Σ ρ_i y²σ² β_i²/2 (subsidies
    as income)."""
    a, c, rho, beta, factor = (np.asarray(v, float) for v in (a, c, rho, beta, factor))
    sigma2, y = np.asarray(sigma2, float)[..., None], np.asarray(y, float)[..., None]
    m = concern(beta, np.asarray(omega, float)[..., None])
    e = y * a * m / (factor * c)
    true_cost = c * e * e / 2.0
    output = np.sum(a * e, axis=-1)
    risk = np.sum(rho * beta * beta * sigma2 * y * y, axis=-1) / 2.0
    welfare = y[..., 0] * output - np.sum(factor * true_cost, axis=-1) - risk
    return dict(effort=e, expected_output=output, true_cost=true_cost, alliance_welfare=welfare)


# -- Model B ------------------------------------------------------------------------------------
def admission_gain_low(theta, prob, c, rho, sigma2):
    """V_L: the alliance's gain from admitting the low of two types (no fixed cost)."""
    phi = np.asarray(theta, float) ** 2 / (2.0 * c)
    r = rho * sigma2 / 2.0
    pL, pH = prob[0], prob[1]
    delta = phi[1] - phi[0]
    return (pL * phi[0]) ** 2 / (pL * (phi[0] + r) + pH * delta)


def admission_thresholds(theta, prob, c, rho, sigma2, fixed_cost, gamma, lam):
    """Model B1's numbers: V_L, g_min, the social admission threshold and F̄_flat, F̄_tied."""
    theta, prob = np.asarray(theta, float), np.asarray(prob, float)
    phi = theta**2 / (2.0 * c)
    r = rho * sigma2 / 2.0
    pL, pH = prob
    delta = phi[1] - phi[0]
    VL = admission_gain_low(theta, prob, c, rho, sigma2)
    beta_L = phi[0] / (phi[0] + r + (pH / pL) * delta)
    S_L = 2 * phi[0] * beta_L - (phi[0] + r) * beta_L**2
    sigma_L = 2 * gamma * phi[0] * beta_L
    return dict(
        gain_low=VL,
        grant_needed=max(0.0, fixed_cost - VL / pL),
        private_threshold=VL / pL,
        social_threshold=S_L + sigma_L,
        flat_threshold=(pL * (S_L + sigma_L) + lam * VL / pL) / (pL + lam),
        tied_threshold=(S_L + sigma_L + lam * VL / pL) / (1 + lam),
    )


# -- Model C, stage 3 -----------------------------------------------------------------------------
def diffusion(d, b, K, gamma_D, lam):
    """Stage 3 given the adoption subsidy d: fee ℓ, adoption n, licence revenue L, social value v3."""
    d = np.asarray(d, float)
    fee = (b + d) / 2.0
    n = np.clip((b + d) / (2.0 * K), 0.0, 1.0)
    L = fee * n
    v3 = (b + gamma_D) * n - K * n * n / 2.0 - lam * d * n
    return dict(fee=fee, adoption=n, licence=L, stage_value=v3)


def diffusion_rate(b, gamma_D, lam):
    """d* = [b(1 − 2λ) + 2γ_D]/(1 + 4λ), the stage-3 optimum of v3 with Q given."""
    return (b * (1 - 2 * lam) + 2 * gamma_D) / (1 + 4 * lam)


# -- Model D --------------------------------------------------------------------------------------
def duopoly_rd(D, G, b, s, mode):
    """Symmetric R&D x under subsidy s: non-cooperative ("N") or joint ("C") R&D, then Cournot."""
    s = np.asarray(s, float)
    if mode == "N":
        return D * (2 - b) / (4.5 * (1 - s) * G - (2 - b) * (1 + b))
    return D * (1 + b) / (4.5 * (1 - s) * G - (1 + b) ** 2)


def duopoly_planner_rd(D, G, b):
    """The second-best planner's R&D x^W (Cournot output taken as given)."""
    return 4 * D * (1 + b) / (9 * G - 4 * (1 + b) ** 2)


def duopoly_welfare(D, G, b, x):
    """Consumer surplus + profits − true R&D costs at symmetric R&D x: 4q² − Gx²,
    q = (D + (1 + b)x)/3."""
    q = (D + (1 + b) * np.asarray(x, float)) / 3.0
    return 4 * q * q - G * x * x


def hinloopen_rates(b):
    """(s^N, s^C) implementing x^W at λ = 0: 3b/(2(1 + b)) and 1/2."""
    return 3 * b / (2 * (1 + b)), 0.5
