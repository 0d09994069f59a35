"""Closed forms for hidden action (docs/theory/moral_hazard.md): the 2x2 contract, first best, Holmström–Milgrom.

**Two actions, two outcomes** (Laffont and Martimort, 2002, §4.3–4.4).  Implementing action a
against the other action b with utility u, inverse h = u⁻¹ (increasing, convex), reservation R and
limited liability w ≥ w_min.  If c_a ≤ c_b the flat contract v = max(R + c_a, u(w_min)) does it.
Otherwise the good outcome g is the one a makes likelier (δ = p[a, g] − p[b, g] > 0), IC binds and
the spread in utility is the cost difference over the probability difference, B = (c_a − c_b)/δ
(for a risk-neutral agent: the bonus); the base is v_bad = max(u(w_min), R + c_a − p[a, g]·B) and
v_good = v_bad + B.  This is optimal for any increasing convex h: the agent's expected utility and
the spread are both at their least (a wider spread at the same mean costs more by Jensen), or,
when limited liability binds, every feasible contract is at least as large outcome by outcome.
Assumptions: two actions, two outcomes, a built-in utility, no pay cap.

**First best** (the action observable): the constant wage w_a = max(h(R + c_a), w_min) (full
insurance, Jensen), so the first-best net value is Σ_j p[a, j] x_j − w_a.

**Holmström and Milgrom (1987)**: output e + ε, ε ~ N(0, σ²), cost c e²/2, CARA ρ and a linear
contract α + βπ: the agent works e = β/c and the optimal share is β* = 1/(1 + ρcσ²).

Pure numpy; vectorised over a leading batch axis where the formula allows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .utility import Utility


@dataclass
class Contract:
    """The cheapest contract implementing one action (or why there is none)."""

    action: int
    status: str                      # optimal | infeasible | not_solved
    pay: np.ndarray | None = None    # w_j
    promised: np.ndarray | None = None  # v_j = u(w_j)
    expected_pay: float = math.inf
    binding: list[str] = field(default_factory=list)
    multipliers: dict[str, float] = field(default_factory=dict)
    method: str = ""
    local: bool = False
    message: str = ""
    kkt: bool = False                # the KKT conditions were verified at the returned point

    def settle(self, prob_a: np.ndarray, utility: Utility, v) -> Contract:
        """Fill pay and expected pay from the promised utilities `v`."""
        v = np.asarray(v, float)
        self.promised = v
        self.pay = np.asarray(utility.inverse(v), float)
        self.expected_pay = float(prob_a @ self.pay)
        return self


def two_by_two_applies(prob: np.ndarray, utility: Utility, max_pay) -> str | None:
    """None when :func:`two_by_two` applies, else the assumption that fails."""
    if prob.shape != (2, 2):
        return f"needs two actions and two outcomes, got {prob.shape[0]} and {prob.shape[1]}"
    if not utility.builtin:
        return "needs a built-in utility (linear, sqrt, log, cara, crra)"
    if max_pay is not None:
        return "does not handle max_pay"
    return None


def two_by_two(prob, cost, a, utility: Utility, reservation=0.0, min_pay=None, action_names=None,
               outcome_names=None) -> Contract:
    """The cheapest contract implementing action `a` of two, with two outcomes (see the module docstring).

    Multipliers (pay per unit of utility): without binding limited liability
    μ_IR = p_g h'(v_g) + p_b h'(v_b) and λ_IC = p_g p_b (h'(v_g) − h'(v_b))/δ; with it μ_IR = 0,
    λ_IC = p_g h'(v_g)/δ and ν_LL = p_b h'(v_b) + p_g h'(v_g).
    """
    action_names = action_names or ["0", "1"]
    outcome_names = outcome_names or ["0", "1"]
    b = 1 - a
    floor = utility.floor(min_pay)
    contract = Contract(a, "optimal", method="closed-form")
    level = reservation + cost[a]
    if cost[a] <= cost[b]:
        v = np.full(2, max(floor, level))
        ll = v[0] <= floor + 1e-15 and min_pay is not None
        contract.binding = (["IR"] if v[0] <= level + 1e-15 else []) + (
            [f"LL[{o}]" for o in outcome_names] if ll else [])
    else:
        deltas = prob[a] - prob[b]
        good = int(np.argmax(deltas))
        bad = 1 - good
        delta = float(deltas[good])
        if delta <= 0:
            contract.status = "infeasible"
            contract.message = f"action {action_names[a]!r} costs more and makes no outcome likelier"
            return contract
        spread = (cost[a] - cost[b]) / delta
        base = level - prob[a, good] * spread
        ll = math.isfinite(floor) and base <= floor
        v = np.zeros(2)
        v[bad] = max(floor, base)
        v[good] = v[bad] + spread
        contract.binding = [f"IC[{action_names[b]}]"]
        if v[bad] <= base + 1e-15 * (1 + abs(base)):
            contract.binding.insert(0, "IR")
        if ll and min_pay is not None:  # (the domain bound of sqrt/crra is not reported, as in the solvers)
            contract.binding.append(f"LL[{outcome_names[bad]}]")
        if np.all(np.isfinite(v)) and v[good] < utility.v_upper:
            hg, hb = utility.inverse_derivative(np.array([v[good], v[bad]]))
            pg, pb = prob[a, good], prob[a, bad]
            ic = f"IC[{action_names[b]}]"
            if not ll:
                contract.multipliers = {"IR": float(pg * hg + pb * hb), ic: float(pg * pb * (hg - hb) / delta)}
            elif base < floor:
                contract.multipliers = {"IR": 0.0, ic: float(pg * hg / delta)}
                if min_pay is not None:
                    contract.multipliers[f"LL[{outcome_names[bad]}]"] = float(pb * hb + pg * hg)
                    contract.multipliers[f"LL[{outcome_names[good]}]"] = 0.0
    if not v.max() < utility.v_upper:
        contract.status = "infeasible"
        contract.message = (f"action {action_names[a]!r} needs utility {v.max():g}, not below the supremum "
                            f"{utility.v_upper:g} of utility {utility.name!r}")
        return contract
    return contract.settle(prob[a], utility, v)


def first_best_pay(cost, a, utility: Utility, reservation=0.0, min_pay=None) -> float:
    """The cheapest pay for action a when it is observable: a flat wage max(h(R + c_a), w_min)."""
    level = reservation + cost[a]
    if level >= utility.v_upper:
        return math.inf
    w = float(utility.inverse(np.array(max(level, utility.v_lower))))
    if min_pay is not None:
        w = max(w, float(min_pay))
    return w


def holmstrom_milgrom_share(rho, c, sigma2):
    """β* = 1/(1 + ρcσ²) for output e + ε, ε ~ N(0, σ²), cost c e²/2, CARA ρ (arrays broadcast)."""
    out = 1.0 / (1.0 + np.asarray(rho, float) * np.asarray(c, float) * np.asarray(sigma2, float))
    return float(out) if out.ndim == 0 else out
