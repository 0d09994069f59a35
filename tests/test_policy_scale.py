"""kind = "policy" at scale: the vectorised evaluation behind the certificate of large teams, and
the fast paths of reading and reporting many members (docs/theory/policy.md, Model A)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import ital_opt
from ital_opt import SpecError
from ital_opt.policy import followers
from ital_opt.result import jsonable
from ital_opt.team.model import Team


def team_policy(team, instruments, **fields):
    spec = dict(kind="policy", lower={k: v for k, v in team.spec.items()}, gamma=0.5, instruments=instruments)
    spec["lambda"] = 0.3
    spec.update(fields)
    return ital_opt.load(spec)


EACH = dict(name="s", type="cost_subsidy", members="each", bounds=[0.0, 0.9])
GROUP = dict(name="g", type="cost_subsidy", members=[0, 2], bounds=[0.0, 0.5])
FIXED = dict(name="f", type="cost_subsidy", members="all", value=0.1)
REWARD = dict(name="r", type="output_reward", bounds=[0.0, 1.0])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["fixed", "given"]), st.booleans())
def test_evaluate_batch_matches_the_follower_solved_point_by_point(seed, rule, budget):
    """SW and budget feasibility of the vectorised evaluation against Policy.evaluate (the team
    re-solved by its own kind) at random instruments, to 1e-12."""
    rng = np.random.default_rng(seed)
    fields = {"shares": rng.dirichlet(np.ones(4)).tolist()} if rule == "given" else {"omega": 0.3}
    team = Team.random(4, seed, **fields)
    extra = {"budget": 0.05} if budget else {}
    p = team_policy(team, [EACH, GROUP, FIXED, REWARD], response="fixed", **extra)
    X = rng.uniform(p.lo, p.hi, size=(6, p.dim))
    sw, feasible = p.evaluate_batch(X)
    for k, x in enumerate(X):
        ev = p.evaluate(x, certified=False)
        assert sw[k] == pytest.approx(ev["social_welfare"], rel=1e-12, abs=1e-12)
        assert feasible[k] == ev["feasible"]


def test_evaluate_batch_declines_where_the_answer_is_no_formula():
    team = Team.random(3, 1)
    assert team_policy(team, [EACH]).evaluate_batch(np.zeros((1, 3))) is None  # the sharing rule re-optimised
    with_formation = team_policy(team, [EACH], response="fixed", formation_cost=0.1)
    assert with_formation.evaluate_batch(np.zeros((1, 3))) is None


def test_large_team_certificate_is_vectorised(monkeypatch):
    """A 2000-member closed form: the follower is solved twice (the answer and the certificate's
    fresh re-solve), the neighbourhood scan is one vectorised evaluation checked against it."""
    calls = []
    solve = followers.TeamFollower.solve

    def counting(self, *args, **kwargs):
        calls.append(1)
        return solve(self, *args, **kwargs)

    p = team_policy(Team.random(2000, 3, omega=0.2), [EACH], response="fixed")
    monkeypatch.setattr(followers.TeamFollower, "solve", counting)
    r = p.solve("closed-form")
    assert r.success and len(calls) == 2
    assert {"batch_error", "neighbourhood_gain", "lower_check", "decomposition_error"} <= set(r.checks)
    assert len(r.rows) == 2000 and len(r.extras["lower"]["rows"]) == 2000


def test_certificate_catches_a_wrong_rate_in_a_large_team():
    p = team_policy(Team.random(500, 4, omega=0.2), [EACH], response="fixed")
    r = p.solve("closed-form")
    r.rows["value"] = np.clip(r.rows["value"] + 0.05, 0.0, 0.9)  # every rate too high
    r.objective = p.evaluate(r.rows["value"].to_numpy(float))["social_welfare"]
    assert p.check(r)["neighbourhood_gain"] > 1e-6


@pytest.mark.parametrize("bad, entry", [([1.0, True, 2.0], "a[1]"), ([1.0, float("inf"), 2.0], "a[1]"),
                                        ([1.0, 2.0, "x"], "a[2]"), ([10**400, 1.0, 1.0], "a[0]"),
                                        ([1.0, 1e16, 1.0], "a[1]")])
def test_vector_fast_path_still_names_the_bad_entry(bad, entry):
    with pytest.raises(SpecError, match=rf"{entry.replace('[', '.').replace(']', '.')}"):
        Team(a=bad, c=[1.0] * 3, rho=[1.0] * 3, sigma2=0.5)


def test_vector_accepts_arrays_and_mixed_int_float():
    t = Team(a=np.array([1.0, 2.0]), c=[1, 2.5], rho=[1.0, 1], sigma2=0.5)
    assert t.a.tolist() == [1.0, 2.0] and t.c.tolist() == [1.0, 2.5]


def test_frame_records_as_before():
    frame = pd.DataFrame({"x": [1.0, np.nan], "name": ["a", None], "k": [1, 2], "flag": [True, False],
                          "point": [np.array([1.0, 2.0]), np.array([3.0, np.inf])], 5: [np.inf, 1.0]})
    want = [jsonable(row) for row in frame.to_dict(orient="records")]
    assert jsonable(frame) == want


# -- precision of the nested search (its Newton polish) against the closed forms -------------------
SPECS = __import__("pathlib").Path(__file__).resolve().parents[1] / "formulations"
CLOSED = ["policy_A1_member_rates.toml", "policy_A2_uniform_rate.toml", "policy_A5_reward.toml",
          "policy_B1_admission_subsidy.toml", "policy_B1_tied_subsidy.toml", "policy_C_sequential.toml",
          "policy_D_hinloopen.toml"]


@pytest.mark.parametrize("name", CLOSED)
def test_nested_agrees_with_the_closed_form_to_rounding(name):
    """SW to 1e-12 relative and the instruments to 1e-10: smooth optima are polished by Newton's
    method on the leader's first-order conditions, threshold optima (B1) located by bisection."""
    p = ital_opt.load(SPECS / name)
    closed, nested = p.solve("closed-form"), p.solve("nested")
    assert nested.success and closed.success
    assert abs(nested.objective - closed.objective) <= 1e-12 * max(1.0, abs(closed.objective))
    assert np.max(np.abs(nested.rows["value"].to_numpy() - closed.rows["value"].to_numpy())) <= 1e-10


def test_newton_polish_reaches_the_first_order_conditions_from_a_rough_point():
    from ital_opt.policy.checks import _values
    from ital_opt.policy.formulations import _Cache, _newton_polish

    p = ital_opt.load(SPECS / "policy_A1_member_rates.toml")
    want = p.search_point(_values(p, p.solve("closed-form")))
    x, note = _newton_polish(p, _Cache(p), want + np.array([3e-3, -2e-3]))
    assert "Newton" in note and np.max(np.abs(x - want)) <= 1e-10
