"""Single-agent moral hazard (``kind = "moral_hazard"``): hidden action, pay by outcome.

* :class:`MoralHazard` — the problem (discrete actions, or continuous effort with ``effort``);
* :mod:`.utility` — the agent's utility of money and its inverse;
* :mod:`.closed_form` — the 2x2 contract, first best, Holmström–Milgrom's linear share;
* :mod:`.formulations` — Grossman–Hart cheapest contracts (cvxpy, scipy, pyomo), the first-order
  approach and the deviation grid for continuous effort;
* :mod:`.first_order` — the first-order approach's algorithms over arrays;
* :mod:`.checks` — the independent certificates; :mod:`.figures` — the figures.
"""

from .checks import contract_violations
from .closed_form import Contract, first_best_pay, holmstrom_milgrom_share, two_by_two
from .first_order import linear_contract
from .model import MoralHazard
from .utility import Utility, builtin_utility

__all__ = [
    "MoralHazard",
    "Contract",
    "Utility",
    "builtin_utility",
    "contract_violations",
    "first_best_pay",
    "holmstrom_milgrom_share",
    "linear_contract",
    "two_by_two",
]
