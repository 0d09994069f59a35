"""Model D: a Cournot duopoly with R&D spillovers as a follower (docs/theory/policy.md, Models C and D).

d'Aspremont and Jacquemin (1988): two firms face inverse demand P = a − Q; firm i's unit cost is
A0 − x_i − b·x_j (spillover b) and its R&D costs (1 − s_i)G x_i²/2 under an R&D subsidy s_i;
D = a − A0.  Given R&D, Cournot quantities are q_i = (D + (2 − b)x_i + (2b − 1)x_j)/3 and profits
π_i = q_i² − (1 − s_i)G x_i²/2.  R&D is chosen non-cooperatively (each firm maximises π_i: a Nash
equilibrium of a game with linear best responses) or cooperatively (an R&D cartel maximising
π_1 + π_2 — over a common R&D level, as in d'Aspremont and Jacquemin, where the joint profit is not
concave in the two levels).  Both first-order systems are linear in x, solved here and certified by each firm's
(or the cartel's) second-order conditions and a deviation search.  Consumer surplus Q²/2 is the
social value outside the alliance; total welfare is CS + Σπ_i − λ·outlay with true R&D costs.
Hinloopen (1997): at λ = 0 the rates s^N = 3b/(2(1 + b)) and s^C = 1/2 both implement the
second-best planner's R&D.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..result import Result
from .followers import Outcome

RD_MODES = ("noncooperative", "cooperative")


class DuopolyFollower:
    kind = "duopoly"

    def __init__(self, spec: dict, source: str):
        unknown = sorted(set(spec) - {"kind", "D", "G", "b", "rd", "title"})
        if unknown:
            raise SpecError(f"lower.{unknown[0]}", "unknown field of a duopoly follower (fields: D, G, b, rd)", source)
        vals = {}
        for key, default in (("D", None), ("G", None), ("b", 0.0)):
            v = spec.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SpecError(f"lower.{key}", f"expected a number, got {v!r}", source)
            vals[key] = float(v)
        if vals["D"] <= 0 or vals["G"] <= 0:
            raise SpecError("lower.D" if vals["D"] <= 0 else "lower.G", "must be positive", source)
        if not 0 <= vals["b"] <= 1:
            raise SpecError("lower.b", f"the spillover must lie in [0, 1], got {vals['b']}", source)
        self.D, self.G, self.b = vals["D"], vals["G"], vals["b"]
        self.rd = spec.get("rd", "noncooperative")
        if self.rd not in RD_MODES:
            raise SpecError("lower.rd", f"expected one of {', '.join(map(repr, RD_MODES))}, got {self.rd!r}", source)
        self.size = 2
        self.members = ["firm1", "firm2"]
        self.problem = self
        self.spec = dict(spec)

    def group_label(self, group) -> str:
        return "all" if len(group) == 2 else self.members[group[0]]

    # -- the R&D stage -----------------------------------------------------------------------------
    def quantities(self, x):
        x1, x2 = x
        b, D = self.b, self.D
        return np.array([(D + (2 - b) * x1 + (2 * b - 1) * x2) / 3, (D + (2 - b) * x2 + (2 * b - 1) * x1) / 3])

    def profits(self, x, factor):
        q = self.quantities(x)
        return q * q - factor * self.G * np.asarray(x) ** 2 / 2

    def rd_levels(self, factor):
        """R&D (x1, x2) at cost factors (1 − s_i): the linear first-order system, or None if it fails the SOC."""
        b, D, G = self.b, self.D, self.G
        u, v = (2 - b) / 3, (2 * b - 1) / 3  # ∂q_i/∂x_i, ∂q_i/∂x_j
        if self.rd_mode == "noncooperative":
            # firm i: 2 q_i u = f_i G x_i
            M = np.array([[2 * u * u - factor[0] * G, 2 * u * v], [2 * u * v, 2 * u * u - factor[1] * G]])
            rhs = -2 * u * D / 3 * np.ones(2)
            soc = np.array([2 * u * u - factor[0] * G, 2 * u * u - factor[1] * G])
        else:
            # cartel: ∂(q1² + q2²)/∂x_i = 2 q_i u + 2 q_j v = f_i G x_i
            H = 2 * np.array([[u * u + v * v, 2 * u * v], [2 * u * v, u * u + v * v]])
            M = H - np.diag(factor * G)
            rhs = -2 * (u + v) * D / 3 * np.ones(2)
            soc = np.linalg.eigvalsh(M)
            self.symmetric = False
            if np.any(soc >= 0) and np.isclose(factor[0], factor[1]):
                # d'Aspremont and Jacquemin's cartel chooses a common R&D level: maximise
                # 2q² − f G x² with q = (D + (1 + b)x)/3
                self.symmetric = True
                f = factor[0]
                curvature = 2 * (1 + b) ** 2 / 9 - f * G
                if curvature >= 0:
                    return None
                x = 2 * (1 + b) * D / (9 * f * G - 2 * (1 + b) ** 2)
                return np.array([x, x])
        if np.any(soc >= 0):
            return None
        return np.linalg.solve(M, rhs)

    @property
    def rd_mode(self):
        return self.rd

    def solve(self, levers, y: float = 1.0, certified: bool = True) -> list[Outcome]:
        factor = np.asarray(levers.cost_factor, float)
        x = self.rd_levels(factor)
        if x is None or np.any(x < 0):
            res = Result(kind="duopoly", status="not_solved", message="no interior R&D equilibrium at these subsidies")
            return [Outcome(self, res, np.nan, np.nan, ok=False, message=res.message)]
        q = self.quantities(x)
        prof = self.profits(x, factor)
        gain = self.deviation_gain(x, factor) if certified else 0.0
        rows = pd.DataFrame({"firm": self.members, "rd": x, "quantity": q, "profit": prof})
        Q = float(q.sum())
        res = Result(kind="duopoly", status="optimal", method="first-order system", objective=float(prof.sum()),
                     rows=rows, extras={"rd_mode": self.rd, "total_output": Q, "consumer_surplus": Q * Q / 2},
                     checks={"max_deviation_gain": gain})
        return [Outcome(self, res, float(prof.sum()), Q, true_costs=self.G * x * x / 2, external=Q * Q / 2,
                        regime=("rd", self.rd))]

    def deviation_gain(self, x, factor) -> float:
        """Largest gain of a unilateral (N) or joint (C) deviation on a fine grid around x."""
        grid = np.linspace(0.0, 4 * max(x.max(), 1e-3) + 1.0, 4001)
        if self.rd == "noncooperative":
            gains = []
            own = self.profits(x, factor)
            for i in range(2):
                j = 1 - i
                q = (self.D + (2 - self.b) * grid + (2 * self.b - 1) * x[j]) / 3
                p = q * q - factor[i] * self.G * grid**2 / 2
                gains.append(p.max() - own[i])
            return float(max(0.0, max(gains)))
        base = self.profits(x, factor).sum()
        if getattr(self, "symmetric", False):
            grid = np.linspace(0.0, 4 * max(x.max(), 1e-3) + 1.0, 4001)
            q = (self.D + (1 + self.b) * grid) / 3
            tot = 2 * q * q - (factor[0] + factor[1]) * self.G * grid**2 / 2
            return float(max(0.0, tot.max() - base))
        g2 = np.linspace(0.0, 4 * max(x.max(), 1e-3) + 1.0, 401)
        X1, X2 = np.meshgrid(g2, g2)
        q1 = (self.D + (2 - self.b) * X1 + (2 * self.b - 1) * X2) / 3
        q2 = (self.D + (2 - self.b) * X2 + (2 * self.b - 1) * X1) / 3
        tot = q1**2 + q2**2 - self.G * (factor[0] * X1**2 + factor[1] * X2**2) / 2
        return float(max(0.0, tot.max() - base))
