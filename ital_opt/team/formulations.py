"""The numerical formulations of the team (docs/theory/team.md), one object each.

* :class:`Cvxpy` (``cvxpy``) — LEN forms only.  Given shares: the effort stage as its potential
  max Σ_i (m_i a_i e_i − c_i e_i²/2) (+ the knowledge terms), separable in each member's inputs
  (Monderer & Shapley 1996: a potential game's equilibria maximise its potential).  Chosen shares:
  the welfare QP, weighted welfare Σλ_i CE_i and asymmetric Nash bargaining Σλ_i log(CE_i − d_i)
  over the shares (:mod:`.sharing`), each only where it is concave (the applicability check
  says why not otherwise).
* :class:`Ipopt` (``ipopt``) — linear output with a general effort cost, welfare or given shares,
  no knowledge inputs: Ipopt through cyipopt with exact sparse derivatives (:mod:`.separable`),
  for large teams.
* :class:`Pyomo` (``pyomo``) — any production and cost expressions: the shares and every member's
  KKT conditions of the effort stage as constraints of one NLP (Ipopt or the bundled ripopt),
  from several starting points where the objective need not be concave (local optima are
  reported as such).

LEN teams whose shares maximise welfare or weighted welfare: the shares of ``cvxpy`` and
``pyomo`` (accurate to about 1e-10 where welfare is flat at its maximum) are polished by Newton's
method on the optimality conditions of their active set (:func:`.sharing.polish_shares`), kept
when the certificates pass (``solver.polish``).

Solver objects come from :mod:`ital_opt.backends` only.
"""

from __future__ import annotations

import numpy as np

from .. import backends
from ..errors import OptionError
from ..problem import Formulation
from ..result import Result
from . import closed_form, equilibrium, separable, sharing

MAX_STARTS = 1_000  # local NLP starting points
# chosen shares couple every member's share with every effort in the NLP (n² terms in the
# objective and its Hessian): 400 members take 0.45 GB and 20 s, 2,000 took 24 GB before the
# solver failed
PYOMO_MAX_MEMBERS = 500


def len_reason(team) -> str | None:
    if not team.is_len:
        given = (("production", team.production), ("cost", team.cost), ("knowledge_cost", team.knowledge_cost))
        which = " and ".join(x for x, v in given if v is not None)
        return f"needs the LEN forms (linear output, quadratic costs); this team gives its own {which}"
    return None


class Cvxpy(Formulation):
    name = "cvxpy"
    solvers = ("CLARABEL", "SCS", "ECOS")
    options = frozenset()

    def applies(self, team) -> str | None:
        reason = len_reason(team)
        if reason:
            return "cvxpy " + reason
        if team.n > sharing.QUADRATIC_MAX_MEMBERS and (team.mode in ("weighted", "bargaining") or team.outside is not None):
            return (f"cvxpy writes each member's certainty equivalent as a quadratic in the shares ({team.n}³ numbers): "
                    f"weighted welfare, bargaining and outside levels for at most {sharing.QUADRATIC_MAX_MEMBERS} "
                    f"members (pyomo chooses the shares of up to {PYOMO_MAX_MEMBERS})")
        if team.mode == "weighted" and team.n > 1:
            gap = sharing.concavity_gap(sharing.weighted_hessian(team, team.lam)[0])
            if gap > sharing.EIG_TOL:
                return (f"weighted welfare is not concave in the shares here (curvature {gap:.3g} > 0); "
                        "use pyomo (local multistart)")
        if team.mode == "bargaining":
            bad = sharing.nonconcave_members(team)
            if bad:
                names = ", ".join(team.members[i] for i in bad)
                return f"Nash bargaining is not a convex program here: the CE of member(s) {names} is not concave in the shares"
        return None

    @staticmethod
    def _fixed_shares(team):
        if team.mode == "given":
            return team.beta
        return np.ones(1) if team.n == 1 and not team.budget_breaker else None

    def build(self, team, **options):
        """The cvxpy.Problem: the effort potential (given shares) or the sharing program."""
        import cvxpy as cp

        beta = self._fixed_shares(team)
        if beta is not None:
            # the slopes m_i a_i, m_i g_i are ≥ 0, so the bounds e, k ≥ 0 never bind and are left out
            # (an interior-point solver would stop ~√tol above a zero input instead of at it)
            m = closed_form.concern(beta, team.omega, team.budget_breaker)
            x = {kind: cp.Variable(team.n, name=kind.var) for kind in equilibrium.inputs(team)}
            potential = sum(
                (m * getattr(team, kind.slope)) @ v - 0.5 * cp.sum(cp.multiply(getattr(team, kind.coef), cp.square(v)))
                for kind, v in x.items()
            )
            return cp.Problem(cp.Maximize(potential))
        builder = {"welfare": sharing.welfare_cvxpy, "weighted": sharing.weighted_cvxpy,
                   "bargaining": sharing.bargaining_cvxpy}[team.mode]
        model, shares = builder(team)
        participation = sharing.ir_constraints(team, shares)
        model = cp.Problem(model.objective, model.constraints + participation)
        model.shares = shares  # the shares as a cvxpy expression of the variables, read by recover
        return model

    def recover(self, team, model) -> Result:
        status = backends.status_from_cvxpy(model.status)
        method = f"cvxpy/{model.solver_stats.solver_name}" if model.solver_stats else "cvxpy"
        beta = self._fixed_shares(team)
        if beta is not None:
            values = {v.name(): v.value for v in model.variables()}
            return team.result(beta, values.get("e"), status, method, k=values.get("k") if team.knowledge else None)
        if team.outside is not None and status == "infeasible":
            return team.infeasible(method, range(team.n), why="no shares meet every outside level (the convex "
                                   "program with the levels as constraints is infeasible)")
        value = None if model.shares.value is None else np.clip(np.asarray(model.shares.value, float), 0, None)
        if value is not None and not team.budget_breaker:
            value = value / value.sum()
        if value is not None and team.mode == "bargaining" and status == "optimal" and team.outside is None:
            value = sharing.polish_bargaining(team, value)
        # the levels left out of the convex program (a member's CE not concave) must hold at its answer
        return team.where_slack(_shares_result(team, value, status, method), (
            "the outside levels of {} bind, and they are not convex constraints (a level at most α_i with a CE not "
            "concave in the shares); pyomo imposes them (a local search)"), among=sharing.nonconvex_levels(team))

    def run(self, team, solver=None, verbose=False, **options) -> Result:
        model = self.build(team)
        backends.solve_cvxpy(model, solver=solver, verbose=verbose, **options)
        result = self.recover(team, model)
        if result.status == "infeasible" and team.outside is not None and not team.fixed_shares:
            # name the members whose levels bind: those short of them at the program's answer without levels
            relaxed = self.run(team.without_levels(), solver=solver, **options)
            short = team.unmet(relaxed.rows["ce"].to_numpy(float)) if relaxed.status == "optimal" else []
            if short:
                result.message = (f"no shares meet every outside level (the convex program with the levels as "
                                  f"constraints is infeasible); they bind for {team.levels_text(short)}")
        return result


class Ipopt(Formulation):
    name = "ipopt"
    solvers = ("ipopt",)
    options = frozenset()
    applies = staticmethod(separable.applies)

    def build(self, team, **options):
        """The cyipopt problem of the separable team (variables β then e)."""
        return separable.build(team, **options)[0]

    def recover(self, team, model, x=None) -> Result:
        """The result at the solution vector `x` = (β, e) of the cyipopt problem."""
        if x is None:
            return Result(status="not_solved", method="ipopt/cyipopt", message="no solution vector")
        return self._answer(team, "optimal", np.clip(x[: team.n], 0, None), np.clip(x[team.n :], 0, None))

    def run(self, team, solver=None, verbose=False, **options) -> Result:
        return self._answer(team, *separable.solve(team, verbose=verbose, **options))

    @staticmethod
    def _answer(team, status, beta, e) -> Result:
        """The result at shares β and efforts e.  This formulation leaves outside levels out (they
        would couple every member's effort in one dense row): its answer stands only where they are
        slack."""
        result = team.result(beta, e, status, "ipopt/cyipopt", local=team.mode != "given")
        return team.where_slack(result, "this formulation assumes the outside levels are slack, but {} bind; "
                                "pyomo imposes them")


class Pyomo(Formulation):
    name = "pyomo"
    solvers = ("nlp",)  # Ipopt when installed, else the bundled ripopt
    options = frozenset({"starts"})

    def applies(self, team) -> str | None:
        if team.n > PYOMO_MAX_MEMBERS and not team.fixed_shares:
            return (f"the pyomo NLP couples every member's share with every effort ({team.n}² terms): it chooses "
                    f"the shares of at most {PYOMO_MAX_MEMBERS} members")
        return None

    @staticmethod
    def _setting(team):
        """(objective, the team to build): a one-member team without a budget breaker keeps all output."""
        objective = "welfare" if team.mode == "given" else team.mode
        if team.n == 1 and not team.budget_breaker and team.mode != "given":
            team = team.with_shares(np.ones(1))
        return objective, team

    def build(self, team, **options):
        """The pyomo model: shares, inputs with every member's KKT conditions, the sharing objective."""
        objective, team = self._setting(team)
        return sharing.build_pyomo(team, objective)

    def recover(self, team, model, method: str = "pyomo") -> Result:
        _, team = self._setting(team)
        beta, e, k = sharing.solution(model, team)
        return team.result(beta, e, "optimal", method, k=k, local=not team.concave)

    def run(self, team, solver=None, verbose=False, starts=None, **options) -> Result:
        objective, team = self._setting(team)
        starts = team.starts if starts is None else starts
        if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or not 1 <= starts <= MAX_STARTS:
            raise OptionError("starts", f"expected a whole number of starting points from 1 to {MAX_STARTS:,}, "
                              f"got {starts!r}", team.source)
        status, method, beta, e, k, n_opt = sharing.solve_pyomo(team, objective, starts=starts, verbose=verbose,
                                                                **options)
        local = not team.concave
        if status != "optimal" and team.outside is not None and team.mode != "given":
            if status == "infeasible" and not local:  # a convex program: its infeasibility is global
                return team.infeasible(method, range(team.n), why="no shares meet every outside level (the "
                                       "welfare program with the levels as constraints is infeasible)")
            return Result(status="not_solved", method=method, message=(
                f"no starting point reached shares meeting every outside level ({starts} starting point(s), "
                "a local search: the levels may be unattainable)"))
        several = team.mode in ("weighted", "bargaining") or not team.is_len  # local optima can differ
        extras = {"local_optima": n_opt, "starts": starts if team.mode != "given" else 1} if several else {}
        message = f"local optimum (best of {starts} starting point(s); {n_opt} distinct local optima)" if local else ""
        return _shares_result(team, beta, status, method, e, k, local=local, extras=extras, message=message)


def _shares_result(team, beta, status, method, e=None, k=None, **kwargs) -> Result:
    """The result at the shares `beta` of an answer, polished on their active set where
    :func:`.sharing.polish_shares` applies (with the LEN responses to the polished shares), else
    at the inputs `e`, `k` (the LEN responses when not given)."""
    polished = sharing.polish_shares(team, beta) if status == "optimal" else None
    if polished is not None:
        result = team.result(polished, None, status, method, **kwargs)
        result.solver = {"polish": "newton-kkt"}
        return result
    return team.result(beta, e, status, method, k=k, **kwargs)


FORMULATIONS = (Cvxpy(), Ipopt(), Pyomo())
