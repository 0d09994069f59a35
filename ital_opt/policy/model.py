"""``kind = "policy"``: the government as a Stackelberg leader over an alliance (docs/theory/policy.md).

The government announces instruments (cost subsidies, an output reward, a formation grant, a
diffusion subsidy, admission subsidies, support for standalone R&D); the alliance answers as the
follower it is — the Chapter 4 team re-optimising its sharing rule and the members' Nash efforts
(Model A), the Chapter 3 admission menu with exclusion (Model B), the team inside a formation →
operation → diffusion game with a budget (Model C), a Cournot duopoly with R&D spillovers
(Model D), an evolutionary game whose payoff parameters (subsidy S, fine M, a dynamic penalty's
scale M̄) the government sets, valuing cooperation at the states the game settles in — basins
weighted (exact through the separatrix in two-population games), from a stated start, or at a
target corner that must be an ESS (Model E; the ``[game]`` table).  The
followers are solved by their own kinds' public models with the subsidised
parameters; social welfare is evaluated with the true ones (Laffont and Tirole 1993):

    SW = alliance welfare (subsidies as income) + γ·E[π] + (value outside the alliance)
         − (1 + λ)·G,

G the expected public outlay (optionally capped by ``budget``).  If a formation cost F is given,
the alliance forms only when its welfare plus the grant covers F plus its members' outside
options; otherwise SW = 0 and ``formed = false`` (an outcome, not an error).  When the follower
has several optimal answers (an admitted set at indifference, formation exactly covered) the
leader's choice is ``ties = "optimistic"`` (the answer best for SW) or ``"pessimistic"``.

Methods, in order of preference:

* ``closed-form`` — the formulas of docs/theory/policy.md where their assumptions hold (``applies`` names the
  one that fails): member-specific, uniform and reward rates with the sharing rule fixed
  (Model A, and Model C with a fixed diffusion subsidy), the admission subsidy at Model B's
  thresholds, Hinloopen's rates at λ = 0 (Model D);
* ``ess-lp`` — for an evolutionary game with a target corner: the cheapest levers that make it an
  ESS (the only one, if asked), a linear program solved by HiGHS where the ESS conditions are
  affine in the levers (Model E; :class:`.formulations.EssLp`);
* ``nested`` — the follower solved by its own best method inside the leader's search: a global
  phase (grid, Sobol points or differential evolution) seeded with the closed forms, then a local
  refinement (bounded Brent in one dimension, Nelder–Mead and SLSQP with the budget), with
  regime boundaries (formation, exclusion, zero shares) located by bisection;
* ``mpec`` — a single-level pyomo program with the follower's optimality conditions, valid where
  the follower is convex: for a team the effort stage and the sharing stage's KKT on the simplex,
  for an admission follower the KKT conditions of each candidate admitted set's menu (the
  Chapter 3 convex program) and the alliance's choice of set as value constraints, both with
  regularised complementarity: a cross-check.

Every answer is certified (:mod:`checks`): the follower is re-solved at the returned instruments
and its own checks run; a neighbourhood scan finds no better instruments; the welfare
decomposition is recomputed; budget and formation slacks are checked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..problem import Field, Method, Problem, register
from ..result import Result
from ..spec import REQUIRED, read_toml, set_field
from . import closed_form as cf
from .duopoly import DuopolyFollower
from .followers import SLACK_TOL, TIE_TOL, AdmissionFollower, EvolutionFollower, TeamFollower
from .instruments import FormationGrant, Levers, read_instruments

RESPONSES = ("endogenous", "fixed")
TIES = ("optimistic", "pessimistic")
DIFFUSION_KEYS = ("b", "K", "gamma_D", "delta")


@register
class Policy(Problem):
    """The government as a Stackelberg leader: the policy instruments that maximise social welfare.

    The alliance (a team, an admission menu or an evolutionary game, given in ``lower``) answers
    the instruments as its own kind's model does; social welfare counts the shadow cost of
    public funds.  The models A to E and their sources are on the theory page
    (docs/theory/policy.md).
    """

    kind = "policy"
    compare = ("value",)
    fields = {
        "lower": Field(str | dict, REQUIRED, "the follower: the path of a team, admission or evolution spec "
                                             "(relative to this file), or an inline table of that spec's fields"),
        "gamma": Field(float, 0.0, "the social value of a unit of alliance output outside the alliance (γ ≥ 0)"),
        "lambda": Field(float, 0.0, "the shadow cost of public funds λ ≥ 0: each unit of outlay costs 1 + λ "
                                    "in social welfare"),
        "budget": Field(float, None, "a cap on the expected public outlay (default: no cap)"),
        "response": Field(str, "endogenous", "'endogenous' (the alliance re-optimises its sharing rule or menu "
                                             "after the policy) or 'fixed' (it keeps those of the unsubsidised "
                                             "problem)"),
        "ties": Field(str, "optimistic", "how ties in the follower's answer are broken: 'optimistic' (in the "
                                         "government's favour) or 'pessimistic'"),
        "formation_cost": Field(float, None, "the formation cost F: the alliance forms only if its welfare plus "
                                             "grants covers F plus the members' outside options"),
        "fixed_cost": Field(float, 0.0, "admission followers: the cost per admitted member, so that the "
                                        "alliance may exclude types"),
        "diffusion": Field(dict, None, "the third (diffusion) stage: spillover value b, adoption cost K > 0, "
                                       "external value gamma_D (default 0) and weight delta (default 1)"),
        "instruments": Field(list, [], "the policy instruments, one [[instruments]] table each: name, type "
                                       "(cost_subsidy, output_reward, formation_grant, diffusion_subsidy, "
                                       "admission_subsidy, outside_subsidy) and bounds = [lo, hi] (optimised) or "
                                       "value (fixed)"),
        "game": Field(dict, None, "evolution followers: how the government values the game — output (the "
                                  "populations whose cooperation counts), start, or a target corner that must be "
                                  "an ESS (unique, margin)"),
    }

    # -- reading ----------------------------------------------------------------------------------
    def _read(self, r) -> None:
        self.lower_spec = r.raw("lower")
        self.gamma = r.number("gamma", 0.0, nonneg=True)
        self.lam = r.number("lambda", 0.0, nonneg=True)
        self.budget = r.number("budget", None, nonneg=True)
        self.response = r.string("response", "endogenous", choices=RESPONSES)
        self.ties = r.string("ties", "optimistic", choices=TIES)
        self.formation_cost = r.number("formation_cost", None, nonneg=True)
        self.fixed_cost = r.number("fixed_cost", 0.0, nonneg=True)
        self.diffusion = self._read_diffusion(r)
        self.game = r.table("game", None)
        self.follower = self._read_lower(r)
        if self.follower.kind != "evolution" and self.game is not None:
            raise r.error("game", "says how the leader values an evolutionary game: the follower is not one")
        if self.follower.kind != "admission" and r.has("fixed_cost"):
            raise r.error("fixed_cost", "is the cost per admitted member of an admission follower")
        if self.follower.kind != "team" and self.formation_cost is not None:
            raise r.error("formation_cost", "formation is modelled for team followers (Models A and C)")
        if self.diffusion and self.follower.kind != "team":
            raise r.error("diffusion", "the diffusion stage follows a team's operation stage (Model C)")
        self.instruments = read_instruments(r.raw("instruments", []), self.follower, self.source)
        for i, inst in enumerate(self.instruments):
            if inst.type == "diffusion_subsidy" and not self.diffusion:
                raise r.error(f"instruments[{i}].type", "a diffusion subsidy needs the [diffusion] stage (b, K, gamma_D, delta)")
            if inst.type == "formation_grant" and self.formation_cost is None:
                raise r.error(f"instruments[{i}].type", "a formation grant needs formation_cost")
        self.free = [(j, k) for j, inst in enumerate(self.instruments) if inst.optimised and not self._profiled(inst)
                     for k in range(len(inst.labels))]
        self._row_labels = np.array([label or None for inst in self.instruments for label in inst.labels], dtype=object)
        # where each instrument's free components sit in the search point x
        self._slots = []
        start = 0
        for j, inst in enumerate(self.instruments):
            if inst.optimised and not self._profiled(inst):
                k = len(inst.labels)
                self._slots.append((j, slice(start, start + k)))
                start += k
        self.lo = np.concatenate([self.instruments[j].lo for j, _ in self._slots]) if self._slots else np.zeros(0)
        self.hi = np.concatenate([self.instruments[j].hi for j, _ in self._slots]) if self._slots else np.zeros(0)

    def _read_diffusion(self, r):
        table = r.table("diffusion", None)
        if table is None:
            return None
        unknown = sorted(set(table) - set(DIFFUSION_KEYS))
        if unknown:
            raise r.error(f"diffusion.{unknown[0]}", f"unknown field (fields: {', '.join(DIFFUSION_KEYS)})")
        out = {}
        for key, default in (("b", None), ("K", None), ("gamma_D", 0.0), ("delta", 1.0)):
            value = table.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise r.error(f"diffusion.{key}", f"expected a number, got {value!r}")
            if value < 0 or (key == "K" and value <= 0):
                raise r.error(f"diffusion.{key}", f"must be {'positive' if key == 'K' else 'non-negative'}, got {value}")
            out[key] = float(value)
        return out

    def _read_lower(self, r):
        spec = self.lower_spec
        if isinstance(spec, str):
            path = Path(spec)
            if not path.is_absolute():
                path = self.base_dir / path
            try:
                data = read_toml(path)
            except SpecError as exc:  # the file cannot be read: say which spec and field named it
                raise r.error("lower", f"cannot read the follower spec: {exc}") from None
            source = str(path)
            base = path.resolve().parent
        elif isinstance(spec, dict):
            data = dict(spec)
            source = f"{self.source} [lower]"
            base = self.base_dir
        else:
            raise r.error("lower", f"expected a path to a team or admission spec or an inline table, got {spec!r}")
        kind = data.get("kind")
        if kind == "duopoly":
            return DuopolyFollower(data, self.source)
        if kind not in ("team", "admission", "evolution"):
            raise r.error("lower", f"the follower must be a team, admission, evolution or duopoly problem, got kind {kind!r}")
        from ..kinds import problem_class

        fields = {k: v for k, v in data.items() if k not in ("kind", "expected")}
        problem = problem_class(kind, source)(_source=source, _base_dir=base, **fields)
        if kind == "team":
            return TeamFollower(problem, self.response, self.source)
        if kind == "evolution":
            return EvolutionFollower(problem, self.source, self.game)
        return AdmissionFollower(problem, self.fixed_cost, self.ties, self.source)

    @staticmethod
    def _profiled(inst) -> bool:
        return isinstance(inst, FormationGrant)

    def lower_dict(self) -> dict:
        """The follower's spec as a table (a path is read)."""
        spec = self.lower_spec
        if isinstance(spec, str):
            path = Path(spec) if Path(spec).is_absolute() else self.base_dir / spec
            data = read_toml(path)
            data.pop("expected", None)
            return data
        return dict(spec)

    def replace(self, **changes) -> Policy:
        """A new problem with fields changed; ``lower.NAME`` (or ``lower.NAME[i]``) changes a field
        of the follower (``lower.omega``, ``lower.sigma2``, ``lower.c[0]``), ``game.NAME`` an entry
        of the ``[game]`` table (``game.unique``)."""
        spec = dict(self.spec)
        lower = None
        for name, value in changes.items():
            if name.startswith("lower."):
                lower = set_field(lower if lower is not None else self.lower_dict(), name[6:], value)
            elif name.startswith("game."):  # an entry of the [game] table (evolutionary followers)
                spec["game"] = {**(spec.get("game") or {}), name[5:]: value}
            else:
                spec = set_field(spec, name, value)
        if lower is not None:
            spec["lower"] = lower
        fields = {k: v for k, v in spec.items() if k != "kind"}
        return type(self)(_source=self.source, _base_dir=self.base_dir, **fields)

    # -- the leader's objective -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.free)

    def values(self, x) -> list[np.ndarray]:
        """Every instrument's values at the search point x (fixed ones as given; grants at their
        lower bound, to be profiled)."""
        out = [inst.fixed.copy() if not inst.optimised else inst.lo.copy() for inst in self.instruments]
        x = np.asarray(x, float).ravel()
        for j, where in self._slots:
            out[j][:] = x[where]
        return out

    def search_point(self, values) -> np.ndarray:
        if not self._slots:
            return np.zeros(0)
        return np.concatenate([np.asarray(values[j], float) for j, _ in self._slots])

    def evaluate(self, x, certified: bool = True) -> dict:
        """The follower's answer and SW at the search point x (the leader's objective);
        ``certified=False`` (inside searches) skips the follower's own checks."""
        vals = self.values(x)
        levers = Levers(self.follower.size)
        for inst, v in zip(self.instruments, vals, strict=False):
            if not isinstance(inst, FormationGrant):
                inst.apply(levers, v)
        y, stage = 1.0 + levers.reward, {}
        if self.diffusion:
            D = self.diffusion
            st = cf.diffusion(levers.diffusion, D["b"], D["K"], D["gamma_D"], 0.0)
            stage = {"fee": float(st["fee"]), "adoption": float(st["adoption"]), "licence": float(st["licence"]),
                     "delta": D["delta"]}
            y += D["delta"] * stage["licence"]
        outcomes = self.follower.solve(levers, y, certified)
        evals = [self._assemble(o, vals, stage, y) for o in outcomes]
        if len(evals) > 1:
            key = (lambda e: e["social_welfare"]) if self.ties == "optimistic" else (lambda e: -e["social_welfare"])
            evals.sort(key=key, reverse=True)
            regimes = ", ".join(f"{e['outcome'].regime[0]} {e['outcome'].regime[1]}" for e in evals)
            evals[0]["thresholds"].append(f"the follower is indifferent ({regimes}); ties are {self.ties}")
        return evals[0]

    def evaluate_batch(self, X) -> tuple[np.ndarray, np.ndarray] | None:
        """SW and budget feasibility at many search points at once (rows of X), or None where the
        follower's answer is not a formula of the instruments.

        It covers a LEN team without knowledge inputs whose sharing rule the instruments do not
        move (``response = "fixed"`` or given shares) under cost subsidies and output rewards,
        without formation or diffusion stages: the members' Nash efforts are then
        e_i = y a_i m_i / (f_i c_i) (f_i the cost factor, y = 1 + r), the alliance's welfare
        y Σ a_i e_i − Σ f_i c_i e_i²/2 − Σ ρ_i y² σ² β_i²/2, and SW as in :meth:`evaluate`.
        The certificate compares it with :meth:`evaluate` (the follower re-solved by its own
        kind) at the answer before trusting it around the answer."""
        t = _len_team(self)
        if t is None or not self.follower.shares_fixed:
            return None
        X = np.atleast_2d(np.asarray(X, float))
        N = X.shape[0]
        slots = dict(self._slots)
        columns = [X[:, slots[j]] if j in slots else np.broadcast_to(inst.fixed, (N, inst.fixed.size))
                   for j, inst in enumerate(self.instruments)]
        out = _team_policy_outcome(self, columns, t.a, t.c, t.rho, np.full(N, t.sigma2), self.follower.base_shares,
                                   np.full(N, t.omega), self.gamma, self.lam)
        feasible = np.ones(N, bool) if self.budget is None else out["outlay"] <= self.budget + 1e-9
        return out["social_welfare"], feasible

    def closed_form_batch(self, points: pd.DataFrame) -> pd.DataFrame | None:
        """The closed-form policy at every sweep point at once (Model A: a team follower, no
        formation or diffusion stage), with gamma, lambda, budget and the team's a, c, rho,
        sigma2, omega (shares, where given) varied; the unsubsidised sharing rule at each point
        comes from the team kind's own vectorised closed form.  Points where the closed form does
        not hold (a binding budget, a rate at its bound beside a reward, invalid numbers) are
        left to the point-by-point solve."""
        return _closed_form_batch(self, points)

    def _assemble(self, outcome, vals, stage, y) -> dict:
        vals = [v.copy() for v in vals]
        base = dict(values=vals, outcome=outcome, output_value=y, diffusion=stage, ok=outcome.ok,
                    message=outcome.message)
        if not outcome.ok:
            return {**base, "social_welfare": -np.inf, "feasible": False, "formed": False, "alliance_welfare": np.nan,
                    "outlay": np.nan, "outlays": {}, "expected_output": np.nan, "thresholds": []}
        outcome.diffusion = stage
        formed, thresholds = True, []
        grant = 0.0
        if self.formation_cost is not None:
            need = self.formation_cost + outcome.outside_total - outcome.alliance_welfare
            for j, inst in enumerate(self.instruments):
                if isinstance(inst, FormationGrant):
                    if inst.optimised:
                        g = float(np.clip(need, inst.lo[0], inst.hi[0]))
                        vals[j][0] = g
                        if abs(g - need) <= 1e-12 and need > inst.lo[0]:
                            thresholds.append("formation: the grant just covers the formation cost")
                    grant += float(vals[j][0])
            surplus = outcome.alliance_welfare + grant - (self.formation_cost + outcome.outside_total)
            formed = surplus >= -TIE_TOL if self.ties == "optimistic" else surplus > TIE_TOL
            if formed and abs(surplus) <= TIE_TOL and not thresholds:
                thresholds.append("formation: the alliance is indifferent about forming")
        outcome.formed = formed
        base["values"] = vals
        if not formed:
            return {**base, "social_welfare": 0.0, "feasible": True, "formed": False, "alliance_welfare": 0.0,
                    "outlay": 0.0, "outlays": {inst.name: 0.0 for inst in self.instruments}, "budget_outlay": 0.0,
                    "expected_output": 0.0,
                    "thresholds": thresholds, "external": 0.0}
        outlays = {inst.name: float(inst.outlay(outcome, v)) for inst, v in zip(self.instruments, vals, strict=False)}
        G = float(sum(outlays.values()))
        E = outcome.expected_output
        alliance = outcome.alliance_welfare + grant - (self.formation_cost or 0.0)
        external = outcome.external + self.gamma * outcome.standalone_output
        if stage:
            D = self.diffusion
            n = stage["adoption"]
            d = sum(float(v[0]) for inst, v in zip(self.instruments, vals, strict=False) if inst.type == "diffusion_subsidy")
            # adopters' gain net of adoption cost, licence fee, plus the subsidy they receive; the external value
            external += D["delta"] * E * ((D["b"] + d + D["gamma_D"]) * n - D["K"] * n * n / 2 - stage["licence"])
        sw = alliance + self.gamma * E + external - (1.0 + self.lam) * G
        spent = float(sum(inst.budget_outlay(outcome, v) for inst, v in zip(self.instruments, vals, strict=False)))
        feasible = self.budget is None or spent <= self.budget + 1e-9
        slack = outcome.slack  # the follower's own constraints on the leader (an evolutionary game's target ESS)
        if slack is not None:
            feasible = feasible and bool(np.all(slack >= -SLACK_TOL))
        return {**base, "social_welfare": float(sw), "feasible": feasible, "formed": True, "alliance_welfare": float(alliance),
                "outlay": G, "outlays": outlays, "budget_outlay": spent, "expected_output": float(E), "thresholds": thresholds,
                "external": float(external), "slack": slack, "resolution": outcome.resolution}

    # -- results ----------------------------------------------------------------------------------
    def result_at(self, ev: dict, method: str, *, message: str = "", local: bool = False, extras=None) -> Result:
        if not ev["ok"]:
            return Result(status="not_solved", method=method, message=ev["message"] or "the follower was not solved")
        column = "tier" if self.follower.kind == "admission" else "member"
        sizes = [len(inst.labels) for inst in self.instruments]
        rows = pd.DataFrame({
            "instrument": np.repeat(np.array([inst.name for inst in self.instruments], dtype=object), sizes),
            "type": np.repeat(np.array([inst.type for inst in self.instruments], dtype=object), sizes),
            column: self._row_labels,
            "value": np.concatenate([np.asarray(v, float) for v in ev["values"]]) if sizes else np.zeros(0),
        }, columns=["instrument", "type", column, "value"])
        lower = ev["outcome"].result
        top = {
            "social_welfare": ev["social_welfare"],
            "alliance_welfare": ev["alliance_welfare"],
            "outlay": ev["outlay"],
            "outlays": ev["outlays"],
            "expected_output": ev["expected_output"],
            "formed": bool(ev["formed"]),
            "gamma": self.gamma,
            "lambda": self.lam,
            "response": self.response,
            "ties": self.ties,
        }
        if self.follower.kind == "team":
            top["output_value"] = ev["output_value"]
        if ev["diffusion"]:
            top["diffusion"] = ev["diffusion"]
        if self.follower.kind == "admission":
            top["admitted_from"] = int(ev["outcome"].regime[1])
        if self.budget is not None:
            top["budget"] = self.budget
            top["budget_outlay"] = ev["budget_outlay"]
            top["budget_slack"] = self.budget - ev["budget_outlay"]
        if ev["thresholds"]:
            top["on_threshold"] = list(ev["thresholds"])
        top.update(extras or {})
        top["lower"] = lower.to_dict() if lower is not None else None
        status = "optimal" if ev["feasible"] else "infeasible"
        return Result(status=status, method=method, objective=ev["social_welfare"], rows=rows, extras=top,
                      local=local, message=message)

    # -- methods ----------------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        out = [Method("closed-form", _run_closed_form, _closed_form_applies, closed_form=True)]
        out += [f.method() for f in self.formulations()]
        return out


# -- the closed form --------------------------------------------------------------------------------
def _optimised(p: Policy):
    return [inst for inst in p.instruments if inst.optimised and not isinstance(inst, FormationGrant)]


def _fixed_value(p: Policy, type_: str) -> float:
    return float(sum(inst.fixed[0] for inst in p.instruments if inst.type == type_ and not inst.optimised))


def _closed_form_applies(p: Policy) -> str | None:
    try:
        _closed_form(p)
    except _NoClosedForm as exc:
        return str(exc)
    return None


class _NoClosedForm(Exception):
    pass


def _closed_form(p: Policy):
    """(instrument values, extras, note) from the formulas of docs/theory/policy.md, or _NoClosedForm(reason)."""
    cached = p.__dict__.get("_closed_form_cache")
    if cached is not None:
        if isinstance(cached, _NoClosedForm):
            raise cached
        return cached
    try:
        rules = {"team": _team_rule, "admission": _admission_rule, "duopoly": _duopoly_rule}
        if p.follower.kind not in rules:
            raise _NoClosedForm(f"no closed form for a {p.follower.kind} follower")
        out = rules[p.follower.kind](p)
    except _NoClosedForm as exc:
        p.__dict__["_closed_form_cache"] = exc
        raise
    if p.formation_cost is not None and _optimised(p):
        # the formulas ignore formation: they hold where it is slack at their answer (SW with a
        # binding formation constraint is SW without it minus λ·grant, so a slack answer is optimal)
        ev = p.evaluate(p.search_point(out[0]), certified=False)
        o = ev["outcome"]
        need = p.formation_cost + o.outside_total - o.alliance_welfare
        if not np.isfinite(need) or need > -TIE_TOL:
            exc = _NoClosedForm(f"formation binds at the closed-form instruments (a grant of {need:.6g} is needed to "
                                "cover the formation cost), which the formulas ignore; use nested")
            p.__dict__["_closed_form_cache"] = exc
            raise exc
    if p.budget is not None:
        ev = p.evaluate(p.search_point(out[0]), certified=False)
        if ev["budget_outlay"] > p.budget + 1e-9:
            exc = _NoClosedForm(f"the budget binds (the unconstrained closed form spends {ev['outlay']:.6g} > "
                                f"{p.budget:.6g}); use nested or mpec")
            p.__dict__["_closed_form_cache"] = exc
            raise exc
    p.__dict__["_closed_form_cache"] = out
    return out


def _team_rule(p: Policy):
    t = p.follower.problem
    if not t.is_len or t.knowledge:
        raise _NoClosedForm("needs a LEN team without knowledge inputs (linear output, quadratic costs)")
    opt = _optimised(p)
    types = sorted(inst.type for inst in opt)
    fixed_cost = [inst for inst in p.instruments if inst.type == "cost_subsidy" and not inst.optimised
                  and np.any(inst.fixed != 0)]
    values = [inst.fixed.copy() if not inst.optimised else inst.lo.copy() for inst in p.instruments]
    r0 = _fixed_value(p, "output_reward")
    d0 = _fixed_value(p, "diffusion_subsidy")
    if "diffusion_subsidy" in types:
        raise _NoClosedForm("the diffusion subsidy also moves the alliance's value of output (licence revenue), so "
                            "(s, d) jointly have no closed form; fix d (e.g. at its stage-3 optimum) or use nested")
    y, V = 1.0 + r0, 1.0 + p.gamma - p.lam * r0
    extras = {}
    if p.diffusion:
        D = p.diffusion
        st = cf.diffusion(d0, D["b"], D["K"], D["gamma_D"], p.lam)
        y += D["delta"] * float(st["licence"])
        V += D["delta"] * float(st["stage_value"])
        extras.update(output_value=y, social_output_value=V, stage_value=float(st["stage_value"]),
                      diffusion_stage_optimum=float(cf.diffusion_rate(D["b"], D["gamma_D"], p.lam)))
    beta = p.follower.base_shares
    m = cf.concern(beta, t.omega)
    A, R = t.a**2 / t.c, t.rho * t.sigma2
    cost = [inst for inst in opt if inst.type == "cost_subsidy"]
    reward = [inst for inst in opt if inst.type == "output_reward"]
    if len(cost) > 1 or len(reward) > 1 or set(types) - {"cost_subsidy", "output_reward"}:
        raise _NoClosedForm(f"no closed form for the optimised instruments {types}")
    if cost:
        if not p.follower.shares_fixed:
            raise _NoClosedForm("with the sharing rule re-optimised after a cost subsidy there is no closed form "
                                "(docs/theory/policy.md, Model A); use nested (or response = \"fixed\")")
        if fixed_cost:
            raise _NoClosedForm("another cost subsidy is fixed at a non-zero rate")
        inst = cost[0]
        j = p.instruments.index(inst)
        mode = inst.entry.get("members", "each")
        if mode == "each":
            s = cf.member_rates(m, p.gamma, p.lam, y=y, value=V)
        elif mode == "all":
            s = np.atleast_1d(cf.uniform_rate(A, m, p.gamma, p.lam, y=y, value=V))
        else:
            raise _NoClosedForm("a cost subsidy shared by a subset of members has no closed form here")
        values[j] = np.clip(s, inst.lo, inst.hi)
        if reward:
            if np.any(values[j] >= inst.hi - 1e-12):
                raise _NoClosedForm("A-P4 (no output reward beside a cost subsidy) needs the subsidy below its upper bound")
            k = p.instruments.index(reward[0])
            values[k] = np.clip(np.zeros(1), reward[0].lo, reward[0].hi)
            extras["note"] = "A-P4: with verifiable costs the output reward is not used"
        return values, extras, "docs/theory/policy.md, Model A closed form, the sharing rule fixed"
    if reward:
        if fixed_cost or p.diffusion or r0:
            raise _NoClosedForm("the reward formula assumes no other subsidy and no diffusion stage")
        inst = reward[0]
        k = p.instruments.index(inst)
        r = cf.reward_rate(A, m, R, beta, p.gamma, p.lam)
        values[k] = np.clip(np.atleast_1d(r), inst.lo, inst.hi)
        return values, extras, "docs/theory/policy.md, Model A closed form (an output reward does not move the sharing rule)"
    return values, extras, "no instrument is optimised: the follower's answer at the given instruments"


def _team_policy_outcome(p: Policy, columns, a, c, rho, sigma2, beta, omega, gamma, lam) -> dict:
    """SW and its parts of a team follower whose sharing rule β the instruments do not move, at N
    points: `columns` holds each instrument's values (N, k) (cost subsidies and output rewards);
    a, c, rho, beta (N, n) or (n,), sigma2, omega, gamma, lam (N,) or numbers."""
    N = columns[0].shape[0] if columns else np.shape(sigma2)[0]
    factor, reward = np.ones((N, p.follower.size)), np.zeros(N)
    for inst, v in zip(p.instruments, columns, strict=True):
        if inst.type == "cost_subsidy":
            factor[:, inst.member_index] *= 1.0 - v[:, inst.group_index]
        else:
            reward += v[:, 0]
    y = 1.0 + reward
    ans = cf.team_answer(a, c, rho, sigma2, beta, omega, factor, y)
    E, cost = ans["expected_output"], ans["true_cost"]
    G = np.zeros(N)
    for inst, v in zip(p.instruments, columns, strict=True):
        G += np.sum(v[:, inst.group_index] * cost[:, inst.member_index], axis=1) if inst.type == "cost_subsidy" \
            else v[:, 0] * E
    sw = ans["alliance_welfare"] + gamma * E - (1.0 + lam) * G
    return dict(social_welfare=sw, alliance_welfare=ans["alliance_welfare"], outlay=G, expected_output=E,
                output_value=y)


TEAM_BATCH_FIELDS = ("a", "c", "rho", "sigma2", "omega")


def _len_team(p: Policy):
    """The follower team when SW is a formula of the instruments (Model A: a LEN team without
    knowledge inputs or budget breaker, under cost subsidies and output rewards only, with no
    formation or diffusion stage), else None."""
    f = p.follower
    if f.kind != "team" or p.diffusion or p.formation_cost is not None:
        return None
    t = f.problem
    if not t.is_len or t.knowledge or t.budget_breaker:
        return None
    if any(inst.type not in ("cost_subsidy", "output_reward") for inst in p.instruments):
        return None
    return t


def _closed_form_batch(p: Policy, points: pd.DataFrame) -> pd.DataFrame | None:
    """Policy.closed_form_batch: the rule of :func:`_team_rule` over a leading batch axis."""
    from ..batch import batch_records, field_values, varies_only

    t = _len_team(p)
    if t is None or not len(points):
        return None
    f = p.follower
    own = [col for col in points.columns if not col.startswith("lower.")]
    if any(col not in ("gamma", "lambda", "budget") for col in own):
        return None
    lower_points = points[[col for col in points.columns if col.startswith("lower.")]]
    lower_points = lower_points.rename(columns=lambda col: col[len("lower."):])
    if not varies_only(lower_points, TEAM_BATCH_FIELDS + (("shares",) if t.mode == "given" else ())):
        return None
    try:  # the rule's structure at the spec's own numbers (the varied fields do not change it)
        _team_rule(p)
    except _NoClosedForm:
        return None
    moved = any(inst.type == "cost_subsidy" and (inst.optimised or np.any(inst.fixed != 0)) for inst in p.instruments)
    if moved and not f.shares_fixed:
        return None  # the sharing rule re-optimised after a cost subsidy: no closed form
    N, n = len(points), t.n
    lower = p.lower_dict()
    a, c, rho = (field_values(lower, lower_points, name, n, default) for name, default in
                 (("a", None), ("c", 1.0), ("rho", None)))
    sigma2, omega = (field_values(lower, lower_points, name, None, default) for name, default in
                     (("sigma2", None), ("omega", 0.0)))
    gamma, lam = (field_values(p.spec, points[own], name, None, 0.0) for name in ("gamma", "lambda"))
    budget = field_values(p.spec, points[own], "budget", None, np.inf) if p.budget is not None or "budget" in own \
        else None
    if any(v is None for v in (a, c, rho, sigma2, omega, gamma, lam)):
        return None
    ok = (gamma >= 0) & (lam >= 0) & np.all(np.isfinite(np.column_stack([gamma, lam])), axis=1)
    if budget is not None:
        ok &= budget >= 0
    if len(lower_points.columns):  # the unsubsidised sharing rule at each point, by the team kind
        table = t.closed_form_batch(lower_points)
        if table is None:
            return None
        beta = np.full((N, n), np.nan)
        if len(table):
            beta[points.index.get_indexer(table["_point"]), table["row"].to_numpy(int)] = table["share"].to_numpy(float)
        ok &= np.all(np.isfinite(beta), axis=1)
        beta = np.where(np.isfinite(beta), beta, 1.0 / n)
    else:
        beta = np.broadcast_to(f.base_shares, (N, n))
    with np.errstate(all="ignore"):
        values, extras, keep = _team_rule_batch(p, a, c, rho, sigma2, beta, omega, gamma, lam)
        ok &= keep
        out = _team_policy_outcome(p, values, a, c, rho, sigma2, beta, omega, gamma, lam)
    ok &= np.isfinite(out["social_welfare"])
    top = {"social_welfare": out["social_welfare"], "alliance_welfare": out["alliance_welfare"],
           "outlay": out["outlay"], "expected_output": out["expected_output"], "formed": True,
           "gamma": gamma, "lambda": lam, "response": p.response, "ties": p.ties, "output_value": out["output_value"]}
    if budget is not None:
        ok &= out["outlay"] <= budget + 1e-9  # a binding budget: the closed form does not hold
        top.update(budget=budget, budget_outlay=out["outlay"], budget_slack=budget - out["outlay"])
    top.update(extras)
    sizes = [len(inst.labels) for inst in p.instruments]
    if not sum(sizes):
        return None
    rows = {"instrument": np.tile(np.repeat(np.array([i.name for i in p.instruments], dtype=object), sizes), (N, 1)),
            "type": np.tile(np.repeat(np.array([i.type for i in p.instruments], dtype=object), sizes), (N, 1)),
            "member": np.tile(p._row_labels, (N, 1)),
            "value": np.concatenate(values, axis=1)}
    return batch_records(points, out["social_welfare"], rows, extras=top, keep=ok)


def _team_rule_batch(p: Policy, a, c, rho, sigma2, beta, omega, gamma, lam):
    """The instruments' values of :func:`_team_rule` at N points (each (N, k)), scalar extras, and
    where the rule holds."""
    N = len(gamma)
    values = [np.tile(inst.fixed if not inst.optimised else inst.lo, (N, 1)) for inst in p.instruments]
    keep = np.ones(N, bool)
    opt = _optimised(p)
    cost = [inst for inst in opt if inst.type == "cost_subsidy"]
    reward = [inst for inst in opt if inst.type == "output_reward"]
    r0 = _fixed_value(p, "output_reward")
    y, V = 1.0 + r0, 1.0 + gamma - lam * r0
    m = cf.concern(beta, omega[:, None])
    A = a**2 / c
    extras = {}
    if cost:
        inst = cost[0]
        j = p.instruments.index(inst)
        if inst.entry.get("members", "each") == "each":
            s = cf.member_rates(m, gamma, lam, y=y, value=V)
        else:
            s = cf.uniform_rate(A, m, gamma, lam, y=y, value=V)[:, None]
        values[j] = np.clip(s, inst.lo, inst.hi)
        if reward:
            keep &= ~np.any(values[j] >= inst.hi - 1e-12, axis=1)
            extras["note"] = "A-P4: with verifiable costs the output reward is not used"
    elif reward:
        inst = reward[0]
        k = p.instruments.index(inst)
        r = cf.reward_rate(A, m, rho * sigma2[:, None], beta, gamma, lam)
        values[k] = np.clip(r[:, None], inst.lo, inst.hi)
    return values, extras, keep


def _admission_rule(p: Policy):
    t = p.follower.problem
    opt = _optimised(p)
    if t.n != 2 or not t.is_len:
        raise _NoClosedForm("Model B's thresholds are for two LEN types")
    if np.any(t.outside != 0) or any(inst.type == "outside_subsidy" for inst in p.instruments):
        raise _NoClosedForm("Model B1's thresholds assume zero outside options")
    values = [inst.fixed.copy() if not inst.optimised else inst.lo.copy() for inst in p.instruments]
    if not opt:
        return values, {}, "no instrument is optimised: the follower's answer at the given instruments"
    if len(opt) != 1 or opt[0].type != "admission_subsidy" or any(
            inst.type == "admission_subsidy" and not inst.optimised for inst in p.instruments):
        raise _NoClosedForm("Model B1's closed form covers one optimised admission subsidy")
    inst = opt[0]
    tiers = inst.groups[0]
    if tiers not in ([0, 1], [0]) or inst.lo[0] != 0:
        raise _NoClosedForm("Model B1's closed form covers a flat (tiers = \"all\") or entry-tier (tiers = [0]) "
                            "subsidy with lower bound 0")
    ev = p.evaluate(p.search_point(values), certified=False)  # no subsidy
    if int(ev["outcome"].regime[1]) >= t.n:
        raise _NoClosedForm("Model B1's thresholds assume the high type is admitted without a subsidy; here the "
                            "alliance admits no type (the fixed cost exceeds what the high type brings); use nested")
    th = cf.admission_thresholds(t.theta, t.prob, t.c, t.rho, t.sigma2, p.fixed_cost, p.gamma, p.lam)
    flat = tiers == [0, 1]
    threshold = th["flat_threshold"] if flat else th["tied_threshold"]
    need = th["grant_needed"]
    j = p.instruments.index(inst)
    extras = {"gain_low": th["gain_low"], "grant_needed": need, "private_threshold": th["private_threshold"],
              "social_threshold": th["social_threshold"], "subsidy_threshold": threshold}
    if need > 0 and p.fixed_cost < threshold and need <= inst.hi[0]:
        values[j] = np.array([need])
        if p.ties == "pessimistic":
            raise _NoClosedForm("under pessimistic ties the subsidy that just admits the low type is not attained")
        return values, extras, "docs/theory/policy.md, Model B (B1): the subsidy just covers the admission margin"
    return values, extras, "docs/theory/policy.md, Model B (B1): no subsidy (the low type is admitted anyway or not worth admitting)"


def _duopoly_rule(p: Policy):
    opt = _optimised(p)
    values = [inst.fixed.copy() if not inst.optimised else inst.lo.copy() for inst in p.instruments]
    if not opt:
        return values, {}, "no instrument is optimised"
    if p.lam != 0 or p.gamma != 0:
        raise _NoClosedForm("Hinloopen's rates hold at λ = 0 and γ = 0; with λ > 0 the equivalence breaks (use nested)")
    if len(opt) != 1 or opt[0].type != "cost_subsidy" or opt[0].entry.get("members", "each") != "all":
        raise _NoClosedForm("Hinloopen's closed form covers one uniform R&D subsidy (members = \"all\")")
    f = p.follower
    sN, sC = cf.hinloopen_rates(f.b)
    s = sN if f.rd == "noncooperative" else sC
    inst = opt[0]
    if not inst.lo[0] <= s <= inst.hi[0]:
        raise _NoClosedForm(f"Hinloopen's rate {s:.6g} lies outside the bounds")
    values[p.instruments.index(inst)] = np.array([s])
    xW = cf.duopoly_planner_rd(f.D, f.G, f.b)
    return values, {"planner_rd": float(xW), "planner_welfare": float(cf.duopoly_welfare(f.D, f.G, f.b, xW))}, \
        "Hinloopen (1997): the rate that implements the second-best planner's R&D"


def _run_closed_form(p: Policy, **options) -> Result:
    values, extras, note = _closed_form(p)
    ev = p.evaluate(p.search_point(values))
    if p.formation_cost is not None and not ev["formed"] and p.dim:
        return Result(status="not_solved", method="closed-form",
                      message="the closed form assumes the alliance forms at its rates; it does not here")
    return p.result_at(ev, "closed-form", message=note, extras=extras)
