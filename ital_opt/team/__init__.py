"""Chapter 4 of the book (docs/theory/team.md): team sharing rules and mutual incentives, ``kind = "team"``.

* :mod:`.model` — the :class:`Team` problem (declared fields, methods, hooks);
* :mod:`.formulations` — the cvxpy, ipopt (cyipopt) and pyomo formulations as objects;
* :mod:`.checks` — the certificates (a certified best-response search for the equilibrium);
* :mod:`.figures` — the book's figures (sharing ratio, ω, λ) and the sweep figures;
* :mod:`.closed_form` — LEN closed forms (efforts, certainty equivalents, welfare, water-filling
  shares, first best, coalition worths for the coalition kind);
* :mod:`.equilibrium` — the effort stage (effort and, with ``g`` or k1..kn in ``production``, knowledge
  sharing): KKT conditions in pyomo;
* :mod:`.sharing` — the sharing stage: welfare QP, weighted welfare, Nash bargaining (cvxpy, pyomo);
* :mod:`.separable` — large teams with a general cost by Ipopt through cyipopt.
"""

from .model import Team

__all__ = ["Team"]
