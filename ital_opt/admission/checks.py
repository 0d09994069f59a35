"""Independent certificates of an admission menu (docs/theory/admission.md), from the returned numbers alone.

Given the menu (β_j, t_j) the certificates recompute every type's utility from every contract,
U_kj = t_j + v(θ_k, β_j) − rβ_j² (v(θ, β) = max_e β·y(θ, e) − C(e); β²φ_k in LEN), and report

* ``max_ic_violation`` = max_{k,j} (U_kj − U_kk)⁺ (all pairs, not only the local constraints the
  closed form binds);
* ``max_ir_violation`` = max_k (ū_k − U_kk)⁺;
* ``max_share_bound_violation`` — β outside [0, 1];
* ``utility_mismatch`` — the reported agent utilities against U_kk;
* ``objective_mismatch`` — the reported payoff against Σ_k p_k [(1 − β_k) y(θ_k, e*) − t_k].

No solver is imported.
"""

from __future__ import annotations

import numpy as np


def certificates(problem, result) -> dict[str, float]:
    rows = result.rows
    share = rows["share"].to_numpy(float)
    transfer = rows["transfer"].to_numpy(float)
    utility = rows["agent_utility"].to_numpy(float)
    U = problem.utility_matrix(share, transfer)
    own = np.diag(U)
    ic = float(np.max(np.maximum(U - own[:, None], 0.0))) if problem.n > 1 else 0.0
    ir = float(np.max(np.maximum(problem.outside - own, 0.0)))
    bounds = float(np.max(np.maximum(np.maximum(-share, share - 1.0), 0.0)))
    payoff = problem.alliance_gross(problem.theta, share) - transfer
    return {
        "max_ic_violation": ic,
        "max_ir_violation": ir,
        "max_share_bound_violation": bounds,
        "utility_mismatch": float(np.max(np.abs(own - utility))),
        "objective_mismatch": abs(float(np.dot(problem.prob, payoff)) - float(result.objective)),
    }
