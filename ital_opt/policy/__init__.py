"""``kind = "policy"``: the government as a Stackelberg leader (docs/theory/policy.md); see :mod:`.model`."""

from .instruments import INSTRUMENTS, Instrument, Levers, register_instrument
from .model import Policy

__all__ = ["Policy", "Instrument", "Levers", "INSTRUMENTS", "register_instrument"]
