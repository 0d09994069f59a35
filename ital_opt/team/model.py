"""``kind = "team"``: Chapter 4's sharing problem with mutual incentives (docs/theory/team.md).

Members choose efforts in a Nash equilibrium given a linear sharing rule (α_i + β_i π); the
rule's shares β are chosen by total welfare, by weighted welfare Σλ_i CE_i (reading B), by
asymmetric Nash bargaining, or given.

Knowledge sharing (docs/theory/team.md, the extension): with ``g`` given, or knowledge inputs k1..kn
named in ``production``, each member also chooses k_i ≥ 0 at cost K_i(k_i) (default
d_i k_i²/2, or ``knowledge_cost`` in k, d); default output π = Σ a_j e_j + Σ g_j k_j + ε.  Member
i's effort-stage objective is m_i f(e, k) − C_i(e_i) − K_i(k_i).  In the LEN case k_i = g_i m_i/d_i
and every closed form holds with A_i = a_i²/c_i replaced by A_i + g_i²/d_i.  Without knowledge
inputs the model, its methods and its result columns are exactly those of the one-input team.

Methods, in order of preference:

* ``closed-form`` — LEN forms only: e_i = a_i m_i/c_i (k_i = g_i m_i/d_i), water-filling welfare
  shares, the exact one-dimensional optimum of weighted welfare for two members;
* ``cvxpy``, ``ipopt``, ``pyomo`` — the formulations of :mod:`.formulations` (the concave
  sharing programs of the LEN forms; large separable teams through cyipopt; every member's KKT
  conditions in one NLP for any production and cost, multistart where not concave).

Outside levels (``outside``, IR: CE_i ≥ u_i with α fixed) are imposed by every method that
chooses the shares: as constraints of the cvxpy and pyomo programs, exactly by the closed form
where the shares have one degree of freedom (:func:`.closed_form.share_meeting_levels`), and
elsewhere the closed form assumes them slack at its answer (else ``auto`` moves on).  Shares
that cannot meet every level make the result ``infeasible``, naming the members.

Every answer is certified by :mod:`.checks`: a certified upper bound on each member's gain from
its own best response (:func:`.checks.deviation_gains`, interval branch and bound), budget
balance and IR, all computed from the returned numbers.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from ..problem import Field, Method, Problem, register
from ..result import Result
from . import checks, closed_form, equilibrium, sharing
from .formulations import FORMULATIONS, MAX_STARTS, len_reason

SHARE_RULES = ("welfare", "weighted", "bargaining")
MAX_MEMBERS = 100_000  # per-member lists longer than this are refused (memory, certificate time)
BATCH_FIELDS = {"a", "c", "rho", "sigma2", "omega", "shares", "alpha", "g", "d"}
IR_TOL = 1e-9  # a level u_i counts as met when CE_i ≥ u_i − IR_TOL·(1 + |u_i|) (rounding of CE)


@register
class Team(Problem):
    """A team of n members sharing its output by a linear rule, each choosing effort.

    Members choose efforts in a Nash equilibrium given the shares; the shares maximise total
    welfare, weighted welfare or the Nash bargaining product, or are given (Holmström 1982).  The
    model, its closed forms and sources are on the theory page (docs/theory/team.md).
    """

    kind = "team"
    compare = ("share", "effort", "knowledge", "ce")
    # `lambda` is a Python keyword: the class signature takes it as **{"lambda": [...]}
    fields = {
        "a": Field(float | list, None, "marginal output a_i of each member's effort: one number for every "
                                       "member, or one per member; required without production, refused with it"),
        "c": Field(float | list, 1.0, "effort cost coefficient c_i > 0, one number or one per member (the "
                                      "default cost of effort e is c·e²/2)"),
        "rho": Field(float | list, doc="CARA risk aversion ρ_i ≥ 0, one number or one per member"),
        "sigma2": Field(float, doc="variance σ² ≥ 0 of the noise on team output"),
        "omega": Field(float, 0.0, "mutual-concern weight ω ∈ [0, 1]: each member maximises its own certainty "
                                   "equivalent plus ω times the others'"),
        "shares": Field(str | list, "welfare", "the sharing rule: 'welfare' (the shares that maximise total "
                                               "welfare), 'weighted' (maximise Σ λ_i CE_i), 'bargaining' "
                                               "(asymmetric Nash bargaining with powers lambda), or the shares "
                                               "themselves, one per member, summing to 1"),
        "lambda": Field(list, None, "welfare weights (shares = 'weighted') or bargaining powers (shares = "
                                    "'bargaining'), one per member, non-negative, summing to 1; default equal"),
        "alpha": Field(float | list, None, "fixed transfers α_i, one per member, summing to 0 (default none)"),
        "outside": Field(float | list, None, "each member's reservation certainty equivalent (the IR level), "
                                             "one number or one per member; default: no IR constraint"),
        "disagreement": Field(float | list, None, "the Nash-bargaining disagreement point, one number or one "
                                                  "per member (default: outside, else 0)"),
        "budget_breaker": Field(bool, False, "add a risk-neutral residual claimant outside the team who keeps "
                                             "1 − Σβ and makes no effort (Holmström 1982); the shares then sum "
                                             "to at most 1"),
        "members": Field(list, None, "member names, one per member (default 1, 2, ...)"),
        "production": Field(str, None, "expected output as an expression in the efforts e1..en (and the "
                                       "knowledge inputs k1..kn); replaces the linear output Σ a_i e_i"),
        "cost": Field(str, None, "each member's effort cost as an expression in e and c (default c*e**2/2)"),
        "g": Field(float | list, None, "marginal output g_i of each member's knowledge input, one number or one "
                                       "per member; giving it adds the knowledge inputs"),
        "d": Field(float | list, 1.0, "knowledge cost coefficient d_i > 0, one number or one per member (the "
                                      "default cost of knowledge k is d·k²/2)"),
        "knowledge_cost": Field(str, None, "each member's knowledge cost as an expression in k and d (default "
                                           "d*k**2/2)"),
        "starts": Field(int, None, f"number of starting points of the local NLP (1 to {MAX_STARTS}); default "
                                   "1 where the problem is concave (or n > 50), else 2n within [4, 16]"),
    }

    # -- reading ----------------------------------------------------------------------------------
    def _read(self, r) -> None:
        production = r.has("production")
        if production and r.has("a"):
            raise r.error("a", "is the marginal output of effort in the default linear output Σ a_i e_i; with a "
                          "production expression it would be ignored, so leave it out (the team's size comes from "
                          "the other per-member fields or from e1..en in production)")
        n = self._size(r)
        self.n = n
        self.members = r.strings("members", None, n=n) or list(_default_members(n))
        self.a = None if production else r.vector("a", n, broadcast=True, nonneg=True)
        self.c = r.vector("c", n, 1.0, broadcast=True, positive=True)
        self.rho = r.vector("rho", n, broadcast=True, nonneg=True)
        self.sigma2 = r.number("sigma2", nonneg=True)
        self.omega = r.number("omega", 0.0, lo=0.0, hi=1.0)
        self.budget_breaker = r.boolean("budget_breaker", False)
        self.alpha = r.vector("alpha", n, 0.0, broadcast=True)
        if not self.budget_breaker and abs(self.alpha.sum()) > 1e-9:
            raise r.error("alpha", f"fixed transfers must sum to 0 (they sum to {self.alpha.sum():.12g})")
        self.outside = r.vector("outside", n, None, broadcast=True)
        shares = r.raw("shares", "welfare")
        self.beta = None
        if isinstance(shares, str):
            self.mode = r.string("shares", "welfare", choices=SHARE_RULES)
        else:
            self.mode = "given"
            self.beta = r.vector("shares", n, nonneg=True)
            total = self.beta.sum()
            if self.budget_breaker and total > 1 + 1e-9:
                raise r.error("shares", f"with a budget breaker the shares must sum to at most 1 (they sum to {total:.12g})")
            if not self.budget_breaker and abs(total - 1) > 1e-9:
                raise r.error("shares", f"shares must sum to 1 (within 1e-9), they sum to {total:.12g}")
        self.lam = r.vector("lambda", n, None, nonneg=True)
        if self.lam is None:
            if self.mode == "weighted":
                raise r.error("lambda", "is required when shares = \"weighted\"")
            self.lam = np.full(n, 1.0 / n)
        elif abs(self.lam.sum() - 1) > 1e-9:
            raise r.error("lambda", f"weights must sum to 1 (within 1e-9), they sum to {self.lam.sum():.12g}")
        self.disagreement = r.vector("disagreement", n, 0.0 if self.outside is None else self.outside, broadcast=True)
        names = {f"{v}{i + 1}" for v in "ek" for i in range(n)} if production else set()
        self.production = r.expression("production", names, None)
        self.cost = r.expression("cost", {"e", "c"}, None)
        self._read_knowledge(r)
        # local NLP starting points: one where the problem is concave or given, several elsewhere
        self.starts = r.integer("starts", 1 if self.concave or n > 50 else min(max(4, 2 * n), 16), lo=1,
                                hi=MAX_STARTS)

    def _read_knowledge(self, r) -> None:
        """g, d, knowledge_cost: the knowledge-sharing inputs (docs/theory/team.md, the extension).

        Knowledge inputs exist when ``g`` is given (with the default linear output) or when the
        production expression names some k_i.  ``d`` and ``knowledge_cost`` describe them and are
        refused without them; ``g`` is refused beside a production expression, which must then
        write the knowledge inputs itself.
        """
        n = self.n
        named = self.production is not None and any(name.startswith("k") for name in self.production.names)
        if self.production is not None and r.has("g"):
            raise r.error("g", "is the marginal output of knowledge in the default linear output; with a "
                          "production expression write the knowledge inputs k1..kn into production instead")
        self.knowledge = named or r.has("g")
        if not self.knowledge:
            for name in ("d", "knowledge_cost"):
                if r.has(name):
                    raise r.error(name, "describes knowledge inputs, but there are none: give g (marginal "
                                  "output of knowledge) or name k1..kn in production")
        self.g = r.vector("g", n, 0.0, broadcast=True, nonneg=True)
        self.d = r.vector("d", n, 1.0, broadcast=True, positive=True)
        self.knowledge_cost = r.expression("knowledge_cost", {"k", "d"}, None)

    @staticmethod
    def _size(r) -> int:
        """The number of members: the length of the first per-member list, else the highest index
        named in production (e3 or k3: three members), else 1."""
        for name in ("a", "c", "rho", "g", "d", "shares", "lambda", "members", "alpha", "outside"):
            value = r.data.get(name)
            if isinstance(value, (list, tuple, np.ndarray)):
                if len(value) == 0:
                    raise r.error(name, "a team needs at least one member, got an empty list")
                if len(value) > MAX_MEMBERS:
                    raise r.error(name, f"{len(value)} members is more than this kind handles ({MAX_MEMBERS:,})")
                return len(value)
        production = r.data.get("production")
        if isinstance(production, str):
            named = [int(i) for i in re.findall(r"\b[ek](\d+)\b", production)]
            if named and 0 < max(named) <= MAX_MEMBERS:
                return max(named)
        return 1

    @property
    def is_len(self) -> bool:
        """Linear output and quadratic costs (of effort and, if present, knowledge)."""
        return self.production is None and self.cost is None and self.knowledge_cost is None

    @property
    def primitives(self) -> dict[str, np.ndarray | float]:
        """a, c, rho, sigma2, g, d: the keywords every LEN closed form of :mod:`.closed_form` takes."""
        return {"a": self.a, "c": self.c, "rho": self.rho, "sigma2": self.sigma2, "g": self.g, "d": self.d}

    @property
    def concave(self) -> bool:
        """Whether a local optimum of the sharing stage is global: the shares are given, or they
        maximise welfare in the LEN forms with every outside level a convex constraint."""
        return self.mode == "given" or (self.mode == "welfare" and self.is_len and not sharing.nonconvex_levels(self))

    # -- methods ----------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        return [Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True),
                *(f.method() for f in FORMULATIONS)]

    # -- hooks --------------------------------------------------------------------------------------
    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The LEN closed forms (:func:`.closed_form.batch`) at every sweep point at once: budget
        balanced teams of two or more members, welfare-maximising or given shares, with any of
        a, c, rho, sigma2, omega, shares, alpha, g, d varied."""
        from ..batch import batch_records, field_values, varies_only

        spec, mode, n = self.spec, self.mode, self.n
        if not varies_only(points, BATCH_FIELDS) or not self.is_len or self.budget_breaker or self.outside is not None:
            return None
        if mode not in ("welfare", "given") or n < 2:
            return None
        values = {name: field_values(spec, points, name, size, default) for name, size, default in
                  (("a", n, None), ("c", n, 1.0), ("rho", n, None), ("alpha", n, 0.0), ("g", n, 0.0), ("d", n, 1.0),
                   ("sigma2", None, None), ("omega", None, 0.0))}
        beta = field_values(spec, points, "shares", n) if mode == "given" else None
        if any(x is None for x in values.values()) or (mode == "given" and beta is None):
            return None
        ok, welfare, columns, extras = closed_form.batch(beta=beta, **values)
        rows = {"member": np.tile(np.asarray(self.members, dtype=object), (len(points), 1)), **columns}
        if not self.knowledge:
            del rows["knowledge"]
        return batch_records(points, welfare, rows, extras={"shares_rule": mode, **extras}, keep=ok)

    # -- outside levels (IR) -------------------------------------------------------------------------
    @property
    def fixed_shares(self) -> bool:
        """The shares are not chosen: given, or one member without a budget breaker (β = 1)."""
        return self.mode == "given" or (self.n == 1 and not self.budget_breaker)

    @property
    def one_share(self) -> bool:
        """The chosen shares have one degree of freedom: two budget-balanced members, or one
        member beside a budget breaker."""
        return not self.fixed_shares and self.n == (1 if self.budget_breaker else 2)

    def unmet(self, ce) -> list[int]:
        """The members whose certainty equivalent `ce` falls short of their outside level."""
        if self.outside is None:
            return []
        short = self.outside - np.asarray(ce, float) > IR_TOL * (1 + np.abs(self.outside))
        return [int(i) for i in np.flatnonzero(short)]

    def levels_text(self, members, ce=None) -> str:
        """'member 2 (outside level 0.5, CE 0.36)' for each of `members`."""
        def text(i):
            at = "" if ce is None else f", CE {float(ce[i]):.6g}"
            return f"{self.members[i]} (outside level {float(self.outside[i]):.6g}{at})"

        return "member(s) " + ", ".join(map(text, members))

    def where_slack(self, result, why, among=None) -> Result:
        """`result`, or ``not_solved`` saying `why` (its ``{}`` the members) where the outside levels of
        members (of `among`, default all) bind at chosen shares of an optimal `result`."""
        if result.status != "optimal" or self.outside is None or self.fixed_shares:
            return result
        short = [i for i in self.unmet(result.rows["ce"].to_numpy(float)) if among is None or i in among]
        if not short:
            return result
        return Result(status="not_solved", method=result.method, message=why.format(self.levels_text(short)))

    def infeasible(self, method, members, ce=None, why="no shares meet every outside level") -> Result:
        """The result when the outside levels of `members` cannot be met."""
        return Result(status="infeasible", method=method, message=f"{why}: {self.levels_text(members, ce)}")

    # -- results ------------------------------------------------------------------------------------
    def result(self, beta, e, status, method, *, k=None, local=False, extras=None, message="") -> Result:
        """The result at shares β, efforts e and (for a team with knowledge inputs) knowledge k, or,
        with e None, at the LEN responses e_i = a_i m_i/c_i and k_i = g_i m_i/d_i to β;
        ``infeasible`` when the shares are fixed and a member's CE falls short of its level."""
        if beta is None or status != "optimal":
            return Result(status=status, method=method, local=local, message=message or "no solution")
        if e is None:  # the responses to the shares as given (before the clipping below)
            e = equilibrium.len_response(self, beta)
            k = equilibrium.len_response(self, beta, equilibrium.KNOWLEDGE) if self.knowledge else None
        beta = np.clip(np.asarray(beta, float), 0.0, None)
        e = np.asarray(e, float)
        ce = equilibrium.certainty_equivalents(self, beta, e, k)
        short = self.unmet(ce) if self.fixed_shares else []
        if short:
            return self.infeasible(method, short, ce, "at the fixed shares the certainty equivalent falls short of "
                                   "the outside level")
        welfare = equilibrium.total_welfare(self, beta, e, k)
        first_best = self.first_best()
        columns = {"member": self.members, "share": beta, "effort": e, "knowledge": k, "ce": ce, "alpha": self.alpha}
        if not self.knowledge:
            del columns["knowledge"]
        rows = pd.DataFrame(columns)
        top = {
            "shares_rule": self.mode,
            "expected_output": float(equilibrium.output(self, e, k)),
            "first_best_welfare": first_best,
            "free_riding_loss": first_best - welfare,
        }
        if self.budget_breaker:
            top["budget_breaker_income"] = float((1 - beta.sum()) * top["expected_output"] - self.alpha.sum())
        if self.mode == "weighted":
            top["weighted_welfare"] = float(self.lam @ ce)
        if self.mode == "bargaining":
            with np.errstate(all="ignore"):
                top["nash_product_log"] = float(self.lam @ np.log(ce - self.disagreement))
        top.update(extras or {})
        return Result(
            status="optimal", method=method, objective=welfare, rows=rows, extras=top, local=local, message=message
        )

    def _copy(self, **changes) -> "Team":
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__, **changes)
        return clone

    def with_shares(self, beta) -> "Team":
        """A copy of this team with the shares fixed at `beta` (``shares`` given)."""
        return self._copy(mode="given", beta=np.asarray(beta, float))

    def without_levels(self) -> "Team":
        """A copy of this team without outside levels (the relaxation of the IR constraints)."""
        return self._copy(outside=None)

    # -- Python conveniences ----------------------------------------------------------------------
    @classmethod
    def random(cls, n: int, seed: int = 0, **fields) -> "Team":
        """A random LEN team of n members (for tests and benchmarks)."""
        rng = np.random.default_rng(seed)
        spec = dict(
            a=rng.uniform(0.5, 2.0, n).tolist(),
            c=rng.uniform(0.5, 2.0, n).tolist(),
            rho=rng.uniform(0.2, 3.0, n).tolist(),
            sigma2=float(rng.uniform(0.2, 1.5)),
        )
        spec.update(fields)
        return cls(**spec)

    def vectors(self, result: Result) -> dict[str, np.ndarray]:
        """The member columns of a result as numpy arrays (share, effort, [knowledge,] ce, alpha)."""
        columns = ("share", "effort", "knowledge", "ce", "alpha")
        return {k: result.rows[k].to_numpy(float) for k in columns if k in result.rows}

    def maximised(self, result: Result) -> float:
        """What the sharing stage maximises: total welfare, Σλ_i CE_i (``weighted``) or the log Nash
        product Σλ_i log(CE_i − d_i) (``bargaining``); the objective reported is total welfare."""
        key = {"weighted": "weighted_welfare", "bargaining": "nash_product_log"}.get(self.mode)
        return result.extras.get(key, float("nan")) if key else result.objective

    def first_best(self) -> float:
        """First-best welfare: contractible inputs and efficient risk sharing."""
        if self.is_len:
            return float(closed_form.first_best_welfare(budget_breaker=self.budget_breaker, **self.primitives))
        risk = closed_form.risk_sharing_cost(self.rho * self.sigma2, self.budget_breaker)
        if self.production is None:  # separable: each member's a_i e − C_i(e) (+ g_i k − K_i(k)) in 1-D
            best = [checks.separable_response(self, 1.0, np.ones(self.n), x)[0] for x in equilibrium.inputs(self)]
            return float(np.sum(best) - risk)
        return float(_first_best_nlp(self) - risk)


# -- helpers ------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _default_members(n: int) -> tuple[str, ...]:
    """The default member names "1".."n" (cached: a large team is re-read at many points)."""
    return tuple(map(str, range(1, n + 1)))


def _first_best_nlp(team) -> float:
    import pyomo.environ as pyo

    from ..backends import solve_pyomo

    model = pyo.ConcreteModel()
    x, f = equilibrium.add_inputs(model, team)  # first best over every input: (e) or (e, k)
    cost = sum(equilibrium.cost_pyomo(team, i, var[i], kind) for kind, var in x.items() for i in range(team.n))
    model.obj = pyo.Objective(expr=f - cost, sense=pyo.maximize)
    status, _, _ = solve_pyomo(model)
    return float(pyo.value(model.obj)) if status == "optimal" else float("nan")


def _closed_form_applies(team) -> str | None:
    reason = _closed_form_scope(team)
    if reason or team.outside is None or team.fixed_shares or team.one_share:
        return reason
    # two or more degrees of freedom: the closed forms hold the levels only when they are slack
    beta, _ = _closed_form_shares(team)
    short = team.unmet(_len_ce(team, beta))
    if short:
        return (f"the closed form assumes the outside levels are slack at its shares, but {team.levels_text(short)} "
                "bind; cvxpy and pyomo impose them")
    return None


def _closed_form_scope(team) -> str | None:
    reason = len_reason(team)
    if reason:
        return reason
    if team.mode == "welfare" and team.budget_breaker and team.omega != 0:
        return "water filling with a budget breaker needs omega = 0 (the shares are coupled through their sum)"
    if team.mode == "welfare" and team.omega == 1 and np.any(team.rho * team.sigma2 <= 0):
        return "with omega = 1 and a risk-neutral member the welfare-maximising shares are not unique"
    if team.mode == "weighted" and (team.n != 2 or team.budget_breaker):
        return "weighted welfare has a closed form only for two budget-balanced members"
    if team.mode == "bargaining":
        return "Nash bargaining has no closed form here; use cvxpy (concave cases) or pyomo"
    return None


def _len_ce(team, beta):
    return closed_form.certainty_equivalents(beta=beta, omega=team.omega, alpha=team.alpha,
                                             budget_breaker=team.budget_breaker, **team.primitives)


def _run_closed_form(team, **options) -> Result:
    beta, extras = _closed_form_shares(team)
    if team.outside is not None and team.one_share and team.unmet(_len_ce(team, beta)):
        return _one_share_meeting_levels(team)
    return team.result(beta, None, "optimal", "closed-form", extras=extras)


def _one_share_meeting_levels(team) -> Result:
    """The exact optimum of welfare or weighted welfare over the one free share subject to every
    outside level (:func:`.closed_form.share_meeting_levels`), or ``infeasible``."""
    grid = np.array([0.0, 0.5, 1.0])
    betas = grid[:, None] if team.budget_breaker else np.stack([grid, 1 - grid], -1)
    ce = _len_ce(team, betas)
    if team.mode == "welfare":
        objective = closed_form.total_welfare(beta=betas, omega=team.omega, budget_breaker=team.budget_breaker,
                                              **team.primitives)
    else:
        objective = ce @ team.lam
    t = closed_form.share_meeting_levels(objective, ce, team.outside)
    if t is None:
        # name the members that cannot reach their level at any share, else all (jointly)
        alone = [i for i in range(team.n) if closed_form.share_meeting_levels(objective, ce[:, [i]], team.outside[[i]]) is None]
        return team.infeasible("closed-form", alone or list(range(team.n)),
                               why="no share reaches these outside levels" if alone else
                               "no share meets these outside levels together")
    beta = np.array([t]) if team.budget_breaker else np.array([t, 1 - t])
    extras = {"local_optima": 1} if team.mode == "weighted" else {}
    return team.result(beta, None, "optimal", "closed-form", extras=extras)


def _closed_form_shares(team):
    """(β, extras): the closed form's shares without outside levels."""
    if team.mode == "welfare":
        beta, mu = closed_form.welfare_shares(omega=team.omega, budget_breaker=team.budget_breaker, **team.primitives)
        extras = {"multiplier": float(mu)}
    elif team.mode == "weighted":
        beta = closed_form.weighted_shares_pair(lam=team.lam, omega=team.omega, alpha=team.alpha, **team.primitives)
        extras = {"local_optima": 1}
    else:
        beta, extras = team.beta, {}
    if team.n == 1 and not team.budget_breaker:
        beta = np.ones(1)
    return beta, extras
