"""Single-agent moral hazard (``kind = "moral_hazard"``): hidden action, pay by outcome.

* :class:`MoralHazard` — the problem (discrete actions, or continuous effort with ``effort``);
* :mod:`.contracts` — Grossman–Hart cheapest contracts (LP / convex program in utility space),
  the 2x2 limited-liability closed form, first best, and the checks from returned pays;
* :mod:`.first_order` — the first-order approach with its global check, the global program on
  a deviation grid, and Holmström–Milgrom's linear share.
"""

from .contracts import Contract, Utility, builtin_utility, contract_violations, first_best_pay
from .first_order import first_order_approach, global_ic_gain, holmstrom_milgrom_share, linear_contract
from .model import MoralHazard

__all__ = [
    "MoralHazard",
    "Contract",
    "Utility",
    "builtin_utility",
    "contract_violations",
    "first_best_pay",
    "first_order_approach",
    "global_ic_gain",
    "holmstrom_milgrom_share",
    "linear_contract",
]
