"""The government's instruments: how each one moves the follower and what it costs.

An instrument is one class in the registry :data:`INSTRUMENTS` (add your own with
:func:`register_instrument`).  Each has

* ``components(follower)``: the labels of its values (one per member for a member-specific
  cost subsidy, one for a uniform rate, ...);
* ``apply(levers, value)``: writes its values onto the :class:`Levers` the follower sees (the
  subsidised parameters: cost factors, the value of output, grants, per-tier subsidies, or any
  direct field change of the follower's spec in ``levers.changes``);
* ``outlay(outcome, value)``: the expected public outlay at the follower's answer, computed with
  the TRUE parameters (``outcome.true``: the unsubsidised follower problem; ``outcome.result``:
  the follower's result at the subsidised parameters).

The conventions are docs/theory/policy.md, Model A: a cost subsidy s_i pays the share s_i of member i's effort cost,
c_i → (1 − s_i)c_i; an output reward r pays r per unit of output to the alliance, split by the
sharing rule, so the alliance values output at 1 + r (its risk scales with it); a formation grant
g is a lump sum paid if the alliance forms; a diffusion subsidy d pays adopters dQ per adoption
(Model C, stage 3); an admission subsidy pays g per admitted member of the listed tiers (Model B);
an outside subsidy at rate s_o supports applicants' standalone R&D, raising their outside options
to max(0, δ²φ_k/(1 − s_o) − r) (Model B2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..errors import SpecError


@dataclass
class Levers:
    """The parameters the follower sees, as moved by the instruments."""

    size: int
    cost_factor: np.ndarray = None     # c_i → factor_i · c_i
    reward: float = 0.0                # output reward r (per unit of output)
    grant: float = 0.0                 # formation grant (lump sum)
    diffusion: float = 0.0             # adoption subsidy d (Model C)
    tier_subsidy: np.ndarray = None    # admission subsidy per admitted member of each tier
    outside_rate: float = 0.0          # standalone R&D subsidy s_o (Model B2)
    outside_delta: float | None = None  # the standalone productivity discount δ (None: no standalone option)
    paid_per_cooperator: float = 0.0   # evolutionary games: paid to each member playing the first strategy
    changes: dict = field(default_factory=dict)  # direct changes of the follower's spec fields

    def __post_init__(self):
        if self.cost_factor is None:
            self.cost_factor = np.ones(self.size)
        if self.tier_subsidy is None:
            self.tier_subsidy = np.zeros(self.size)


class Instrument:
    """Base class: one policy instrument of a spec's ``[[instruments]]`` (see the module docstring)."""

    type: ClassVar[str] = ""
    followers: ClassVar[tuple[str, ...]] = ("team", "admission", "duopoly")
    default_bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    keys: ClassVar[tuple[str, ...]] = ()  # extra fields this type reads

    def __init__(self, entry: dict, follower, where: str, source: str):
        self.name = entry["name"]
        self.where = where
        self.source = source
        self.entry = entry
        self.labels = self.components(follower)
        k = len(self.labels)
        if "value" in entry and "bounds" in entry:
            raise SpecError(f"{where}.bounds", "give either value (fixed) or bounds (optimised), not both", source)
        if "value" in entry:
            self.fixed = _numbers(entry["value"], k, f"{where}.value", source)
            self.lo = self.hi = self.fixed
        else:
            bounds = entry.get("bounds", list(self.default_bounds))
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise SpecError(f"{where}.bounds", f"expected [lo, hi], got {bounds!r}", source)
            lo = _numbers(bounds[0], k, f"{where}.bounds[0]", source)
            hi = _numbers(bounds[1], k, f"{where}.bounds[1]", source)
            if np.any(lo > hi):
                raise SpecError(f"{where}.bounds", "lower bound above upper bound", source)
            self.fixed = None
            self.lo, self.hi = lo, hi
        self.validate(self.lo, self.hi)

    # -- to override -----------------------------------------------------------------------------
    def components(self, follower) -> list[str]:
        return [""]

    def validate(self, lo, hi) -> None:
        return None

    def apply(self, levers: Levers, value: np.ndarray) -> None:
        raise NotImplementedError

    def outlay(self, outcome, value: np.ndarray) -> float:
        """The expected outlay in present value (what SW charges at 1 + λ)."""
        return 0.0

    def budget_outlay(self, outcome, value: np.ndarray) -> float:
        """What the instrument spends against the budget (default: its outlay)."""
        return self.outlay(outcome, value)

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def optimised(self) -> bool:
        return self.fixed is None

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.where}.{key}", message, self.source)


def _numbers(value, k, where, source) -> np.ndarray:
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        raise SpecError(where, f"expected a number or a list of {k} numbers, got {value!r}", source)
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        arr = np.full(k, float(arr[0]))
    if arr.size != k:
        raise SpecError(where, f"expected {k} entries, got {arr.size}", source)
    if not np.all(np.isfinite(arr)):
        raise SpecError(where, "must be finite", source)
    return arr


INSTRUMENTS: dict[str, type[Instrument]] = {}


def register_instrument(cls: type[Instrument]) -> type[Instrument]:
    """Class decorator: make `cls` the instrument of ``cls.type`` (user types welcome)."""
    if not (isinstance(cls, type) and issubclass(cls, Instrument) and cls.type):
        raise TypeError("register_instrument needs an Instrument subclass with a type name")
    INSTRUMENTS[cls.type] = cls
    return cls


def _members(follower, spec, where, source, what="members", choices=("each", "all")) -> list[list[int]]:
    """Groups of member (or tier) indices sharing one value."""
    n = follower.size
    if spec in ("each",) and "each" in choices:
        return [[i] for i in range(n)]
    if spec == "all":
        return [list(range(n))]
    if isinstance(spec, list) and spec and all(isinstance(i, int) and not isinstance(i, bool) for i in spec):
        bad = [i for i in spec if not 0 <= i < n]
        if bad:
            raise SpecError(f"{where}.{what}", f"index {bad[0]} out of range (0..{n - 1})", source)
        return [sorted(set(spec))]
    raise SpecError(f"{where}.{what}", f"expected {' or '.join(map(repr, choices))} or a list of indices, got {spec!r}",
                    source)


@register_instrument
class CostSubsidy(Instrument):
    """s: the government pays the share s of a member's effort cost, c → (1 − s)c."""

    type = "cost_subsidy"
    followers = ("team", "duopoly")
    default_bounds = (0.0, 0.95)
    keys = ("members",)

    def components(self, follower):
        self.groups = _members(follower, self.entry.get("members", "each"), self.where, self.source)
        # the groups are disjoint: member_index[k] is a member, group_index[k] its group
        self.member_index = np.concatenate([np.asarray(g, dtype=np.intp) for g in self.groups])
        self.group_index = np.repeat(np.arange(len(self.groups)), [len(g) for g in self.groups])
        return [follower.group_label(g) for g in self.groups]

    def validate(self, lo, hi):
        if np.any(lo < 0) or np.any(hi >= 1):
            raise self.error("bounds" if self.fixed is None else "value", "cost-subsidy rates must lie in [0, 1)")

    def apply(self, levers, value):
        levers.cost_factor[self.member_index] *= 1.0 - np.asarray(value, float)[self.group_index]

    def rates(self, size, value) -> np.ndarray:
        out = np.zeros(size)
        out[self.member_index] = np.asarray(value, float)[self.group_index]
        return out

    def outlay(self, outcome, value):
        return float(np.sum(self.rates(outcome.follower.size, value) * outcome.true_costs))


@register_instrument
class OutputReward(Instrument):
    """r: a reward per unit of output paid to the alliance and split by the sharing rule."""

    type = "output_reward"
    followers = ("team",)
    default_bounds = (0.0, 2.0)

    def validate(self, lo, hi):
        if np.any(lo < 0):
            raise self.error("bounds" if self.fixed is None else "value", "an output reward must be non-negative")

    def apply(self, levers, value):
        levers.reward += float(value[0])

    def outlay(self, outcome, value):
        return float(value[0]) * outcome.expected_output


@register_instrument
class FormationGrant(Instrument):
    """g: a lump sum paid to the alliance if it forms.

    When optimised it is profiled out exactly: SW falls by λ per unit of grant once the alliance
    forms, so the best grant is the smallest one in its bounds that forms the alliance (the
    shortfall F + Σū − TW), or its lower bound."""

    type = "formation_grant"
    followers = ("team", "admission")
    default_bounds = (0.0, 10.0)

    def validate(self, lo, hi):
        if np.any(lo < 0):
            raise self.error("bounds" if self.fixed is None else "value", "a grant must be non-negative")

    def apply(self, levers, value):
        levers.grant += float(value[0])

    def outlay(self, outcome, value):
        return float(value[0]) if outcome.formed else 0.0


@register_instrument
class DiffusionSubsidy(Instrument):
    """d: the government pays adopters dQ per adoption of the alliance's technology (Model C)."""

    type = "diffusion_subsidy"
    followers = ("team",)
    default_bounds = (0.0, 2.0)

    def validate(self, lo, hi):
        if np.any(lo < 0):
            raise self.error("bounds" if self.fixed is None else "value", "a diffusion subsidy must be non-negative")

    def apply(self, levers, value):
        levers.diffusion += float(value[0])

    def outlay(self, outcome, value):
        stage = outcome.diffusion
        if not stage:
            return 0.0
        return stage["delta"] * self.budget_outlay(outcome, value)

    def budget_outlay(self, outcome, value):
        """The nominal stage-3 outlay d·n·E[π] (the budget caps nominal spending; SW discounts it by δ)."""
        stage = outcome.diffusion
        if not stage or not outcome.formed:
            return 0.0
        return float(value[0]) * stage["adoption"] * outcome.expected_output


@register_instrument
class AdmissionSubsidy(Instrument):
    """g: paid per admitted member of the listed tiers (``tiers = "all"``: a flat subsidy)."""

    type = "admission_subsidy"
    followers = ("admission",)
    default_bounds = (0.0, 2.0)
    keys = ("tiers",)

    def components(self, follower):
        self.groups = _members(follower, self.entry.get("tiers", "all"), self.where, self.source, "tiers", ("all",))
        return [follower.group_label(g) for g in self.groups]

    def validate(self, lo, hi):
        if np.any(lo < 0):
            raise self.error("bounds" if self.fixed is None else "value", "an admission subsidy must be non-negative")

    def apply(self, levers, value):
        for g, v in zip(self.groups, value, strict=False):
            levers.tier_subsidy[g] += v

    def outlay(self, outcome, value):
        paid = np.zeros(outcome.follower.size)
        for g, v in zip(self.groups, value, strict=False):
            paid[g] += v
        return float(np.sum(paid * outcome.admitted_mass))


@register_instrument
class OutsideSubsidy(Instrument):
    """s_o: support for applicants' standalone R&D; outside options max(0, δ²φ_k/(1 − s_o) − r).

    Its outlay is paid to the types that stay out (excluded types): s_o·c·ê²/2 at their standalone
    effort ê = δθ/((1 − s_o)c)."""

    type = "outside_subsidy"
    followers = ("admission",)
    default_bounds = (0.0, 0.9)
    keys = ("delta",)

    def __init__(self, entry, follower, where, source):
        delta = entry.get("delta", 1.0)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta <= 1:
            raise SpecError(f"{where}.delta", f"expected a number in (0, 1], got {delta!r}", source)
        self.delta = float(delta)
        super().__init__(entry, follower, where, source)

    def validate(self, lo, hi):
        if np.any(lo < 0) or np.any(hi >= 1):
            raise self.error("bounds" if self.fixed is None else "value", "the standalone subsidy rate must lie in [0, 1)")

    def apply(self, levers, value):
        levers.outside_rate = float(value[0])
        levers.outside_delta = self.delta

    def outlay(self, outcome, value):
        s = float(value[0])
        true = outcome.follower.problem
        phi = true.theta**2 / (2 * true.c)
        works = self.delta**2 * phi / (1 - s) - true.r > 0
        paid = np.where(works, s * self.delta**2 * phi / (1 - s) ** 2, 0.0)
        out_mass = outcome.follower.prob - outcome.admitted_mass
        return float(np.sum(out_mass * paid))


@register_instrument
class PayoffParameter(Instrument):
    """A payoff parameter of an evolutionary game set by the government (``param``: its name in the
    game's [params], e.g. a subsidy S, a fine M or a dynamic penalty's scale M̄).  ``paid =
    "cooperators"``: the value is paid to every member playing the first strategy, so the expected
    outlay is value × Σ_i x_i at the state the game settles in (weighted by the basins);
    ``paid = "none"`` (a fine, a rule): nothing is paid.  ``cost`` (default 0): a public cost per
    unit of the value whatever the state (the enforcement capacity behind a fine, monitoring), so
    the outlay is affine in the value: value × (paid cooperators + cost)."""

    type = "payoff_parameter"
    followers = ("evolution",)
    default_bounds = (0.0, 10.0)
    keys = ("param", "paid", "cost")

    def __init__(self, entry, follower, where, source):
        param = entry.get("param")
        if param not in follower.problem.params:
            raise SpecError(f"{where}.param", f"expected the name of one of the game's [params] "
                            f"({', '.join(follower.problem.params)}), got {param!r}", source)
        self.param = param
        self.paid = entry.get("paid", "none")
        if self.paid not in ("cooperators", "none"):
            raise SpecError(f"{where}.paid", f"expected 'cooperators' or 'none', got {self.paid!r}", source)
        cost = entry.get("cost", 0.0)
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not np.isfinite(cost) or cost < 0:
            raise SpecError(f"{where}.cost", f"expected a non-negative number, got {cost!r}", source)
        self.cost = float(cost)
        super().__init__(entry, follower, where, source)

    def apply(self, levers, value):
        levers.changes[f"params.{self.param}"] = float(value[0])
        if self.paid == "cooperators":
            levers.paid_per_cooperator += float(value[0])

    def outlay(self, outcome, value):
        paid = outcome.cooperators if self.paid == "cooperators" else 0.0
        return float(value[0]) * (paid + self.cost)


def read_instruments(entries, follower, source: str) -> list[Instrument]:
    """The ``[[instruments]]`` of a spec, validated against the follower."""
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SpecError("instruments", "expected an array of tables [[instruments]]", source)
    out, names = [], set()
    for i, entry in enumerate(entries):
        where = f"instruments[{i}]"
        name = entry.get("name", f"instrument{i + 1}")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}.name", f"expected a non-empty string, got {name!r}", source)
        if name in names:
            raise SpecError(f"{where}.name", f"duplicate instrument name {name!r}", source)
        names.add(name)
        kind = entry.get("type")
        if kind not in INSTRUMENTS:
            raise SpecError(f"{where}.type", f"unknown instrument type {kind!r} (known: {', '.join(sorted(INSTRUMENTS))})",
                            source)
        cls = INSTRUMENTS[kind]
        unknown = sorted(set(entry) - {"name", "type", "bounds", "value", *cls.keys})
        if unknown:
            raise SpecError(f"{where}.{unknown[0]}", f"unknown field of a {kind} instrument", source)
        if follower.kind not in cls.followers:
            raise SpecError(f"{where}.type", f"a {kind} instrument does not apply to a {follower.kind} follower "
                            f"(it applies to: {', '.join(cls.followers)})", source)
        out.append(cls({**entry, "name": name}, follower, where, source))
    return out
