"""Structured cooperative games: weighted voting, airport, assignment, tables with a default.

Every closed form or structure-exploiting method is compared with an independent computation:
enumeration over all orderings or coalitions written here, or the general LP route over all 2^n
coalitions.  Sources: Shapley & Shubik (1954) for the UN Security Council; Littlechild & Owen
(1973) and Littlechild (1974) for airport games; Shapley & Shubik (1971) for the assignment game
and its house market; Huberman (1980) for the essential coalitions of assignment games.
"""

from __future__ import annotations

import functools
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ital_opt
from ital_opt.coalition import closed_form as CF
from ital_opt.coalition import formulations as FM
from ital_opt.errors import SpecError

SETTINGS = settings(max_examples=15, deadline=None)


# -- independent helpers ---------------------------------------------------------------------------
def orderings_shapley(worth, n):
    """Shapley value as the average marginal contribution over all n! orderings (worth: set -> number)."""
    phi = [Fraction(0)] * n
    for order in itertools.permutations(range(n)):
        s = frozenset()
        for i in order:
            phi[i] += Fraction(worth(s | {i})) - Fraction(worth(s))
            s = s | {i}
    return [p / math.factorial(n) for p in phi]


def subsets_banzhaf(worth, n):
    out = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = sum(worth(frozenset(c) | {i}) - worth(frozenset(c))
                    for k in range(n) for c in itertools.combinations(others, k))
        out.append(total / 2 ** (n - 1))
    return out


def dense(worth, n):
    return np.array([worth(frozenset(i for i in range(n) if m >> i & 1)) for m in range(2**n)], float)


def general_core(v, x):
    """Core violation over all 2^n coalitions, written here."""
    n = len(x)
    x = np.asarray(x, float)
    worst = abs(x.sum() - v[-1])
    for m in range(1, 2**n - 1):
        worst = max(worst, v[m] - sum(x[i] for i in range(n) if m >> i & 1))
    return worst


def solve(spec, method="auto", **options):
    result = ital_opt.load(spec).solve(method, **options)
    assert result.success, (result.status, result.checks, result.message)
    return result


# -- weighted voting -------------------------------------------------------------------------------
UNSC = {"kind": "coalition", "players": [f"P{i}" for i in range(5)] + [f"E{i}" for i in range(10)],
        "game": "weighted_voting", "quota": 39, "weights": [7] * 5 + [1] * 10}


def test_unsc_shapley_shubik_exact():
    # Shapley & Shubik (1954): 421/2145 per permanent member, 4/2145 per elected member
    shap, banz = CF.voting_values(39, [7] * 5 + [1] * 10)
    assert shap[:5] == [Fraction(421, 2145)] * 5 and shap[5:] == [Fraction(4, 2145)] * 10
    # swings counted by hand: sum_(k>=4) C(10, k) = 848 and C(9, 3) = 84 of 2^14
    assert banz[0] == Fraction(848, 2**14) and banz[5] == Fraction(84, 2**14)


def test_unsc_kind_solve_nucleolus_and_core():
    result = solve(UNSC)
    assert result.method == "dynamic-programming"
    np.testing.assert_allclose(result.rows["nucleolus"], [0.2] * 5 + [0.0] * 10, atol=1e-9)
    assert result.extras["core_nonempty"] and result.extras["least_core_epsilon"] == pytest.approx(0, abs=1e-12)
    assert result.checks["nucleolus_kohlberg_violation"] == 0
    general = solve(UNSC, "highs")  # enumeration over 2^15 coalitions
    np.testing.assert_allclose(general.rows["shapley"], result.rows["shapley"], atol=1e-12)
    np.testing.assert_allclose(general.rows["banzhaf"], result.rows["banzhaf"], atol=1e-12)


@given(n=st.integers(1, 7), data=st.data())
@SETTINGS
def test_voting_counting_agrees_with_orderings(n, data):
    weights = data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    quota = data.draw(st.integers(1, max(1, sum(weights))))

    def worth(s):
        return int(sum(weights[i] for i in s) >= quota)

    shap, banz = CF.voting_values(quota, weights)
    assert shap == orderings_shapley(worth, n)
    np.testing.assert_allclose([float(b) for b in banz], subsets_banzhaf(worth, n), atol=1e-12)


def test_voting_decimal_weights_are_scaled_and_large_games_run():
    spec = {"kind": "coalition", "players": list("abcd"), "game": "weighted_voting", "quota": 2.5,
            "weights": [1.5, 1.0, 0.5, 0.5]}
    dp, general = solve(spec, "dynamic-programming"), solve(spec, "highs")
    np.testing.assert_allclose(dp.rows["shapley"], general.rows["shapley"], atol=1e-12)
    rng = np.random.default_rng(0)
    big = {"kind": "coalition", "players": [f"v{i}" for i in range(120)], "game": "weighted_voting",
           "weights": rng.integers(1, 8, 120).tolist()}
    big["quota"] = sum(big["weights"]) // 2 + 1
    result = solve(big)
    assert result.rows["shapley"].sum() == pytest.approx(1.0, abs=1e-12)
    assert "nucleolus" not in result.rows and "not computed" in result.message
    assert "do not fit in memory" in result.extras["certificate"]


# -- airport games ---------------------------------------------------------------------------------
def test_airport_hand_example():
    # costs 2, 2, 5, 6, 10 (hand derivations in formulations/coalition_airport.toml)
    costs = [2, 2, 5, 6, 10]
    np.testing.assert_allclose(CF.airport_shapley(costs), [0.4, 0.4, 1.4, 1.9, 5.9])
    np.testing.assert_allclose(CF.airport_nucleolus(costs), [2 / 3, 2 / 3, 14 / 9, 14 / 9, 50 / 9])
    np.testing.assert_allclose(CF.airport_banzhaf(costs), [2 / 16, 2 / 16, 14 / 16, 22 / 16, 86 / 16])


@given(n=st.integers(1, 6), data=st.data())
@SETTINGS
def test_airport_closed_forms_agree_with_enumeration_and_the_lp(n, data):
    costs = data.draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))

    def cost(s):
        return max((costs[i] for i in s), default=0)

    phi = orderings_shapley(cost, n)
    np.testing.assert_allclose(CF.airport_shapley(costs), [float(p) for p in phi], atol=1e-12)
    np.testing.assert_allclose(CF.airport_banzhaf(costs), subsets_banzhaf(cost, n), atol=1e-12)
    spec = {"kind": "coalition", "players": [f"a{i}" for i in range(n)], "game": "airport", "costs": costs}
    closed, general = solve(spec, "closed-form"), solve(spec, "highs")
    for column in ("nucleolus", "shapley", "banzhaf", "least_core"):
        np.testing.assert_allclose(closed.rows[column], general.rows[column], atol=1e-8)
    assert closed.extras["least_core_epsilon"] == pytest.approx(general.extras["least_core_epsilon"], abs=1e-8)
    assert (closed.rows["nucleolus"] >= -1e-12).all()  # cost shares are positive numbers


def test_large_airport_game_structure_checks():
    rng = np.random.default_rng(1)
    costs = rng.integers(1, 100, 300).tolist()
    result = solve({"kind": "coalition", "players": [f"a{i}" for i in range(300)], "game": "airport",
                    "costs": costs})
    assert result.objective == max(costs)
    assert result.checks["nucleolus_core_violation"] <= 1e-9


# -- assignment games ------------------------------------------------------------------------------
def test_house_market_value_and_nucleolus_by_three_routes():
    spec = ital_opt.load("formulations/coalition_assignment.toml").spec
    spec = {k: v for k, v in spec.items() if k != "expected"}
    results = [solve(spec, m) for m in ("assignment", "highs", "cvxpy")]
    assert results[0].objective == 16  # by hand: 2 + 8 + 6
    for other in results[1:]:
        np.testing.assert_allclose(results[0].rows["nucleolus"], other.rows["nucleolus"], atol=1e-7)


@given(nb=st.integers(1, 3), ns=st.integers(1, 3), data=st.data())
@settings(max_examples=10, deadline=None)
def test_assignment_essential_coalitions_agree_with_all_coalitions(nb, ns, data):
    surplus = [data.draw(st.lists(st.integers(0, 9), min_size=ns, max_size=ns)) for _ in range(nb)]
    spec = {"kind": "coalition", "game": "assignment", "buyers": [f"b{i}" for i in range(nb)],
            "sellers": [f"s{j}" for j in range(ns)], "surplus": surplus}
    fast, general = solve(spec, "assignment"), solve(spec, "highs")
    assert fast.objective == pytest.approx(general.objective)
    # the core is a lattice (Shapley & Shubik 1971): every core point, the nucleolus among them,
    # pays each buyer between the seller-optimal and the buyer-optimal payoffs, sellers the reverse
    v = ital_opt.load(spec).values
    for column in ("core_buyer_optimal", "core_seller_optimal"):
        assert general_core(v, fast.rows[column]) <= 1e-9
    nuc, hi, lo = (fast.rows[c].to_numpy() for c in ("nucleolus", "core_buyer_optimal", "core_seller_optimal"))
    assert np.all(nuc[:nb] <= hi[:nb] + 1e-9) and np.all(nuc[:nb] >= lo[:nb] - 1e-9)
    assert np.all(nuc[nb:] >= hi[nb:] - 1e-9) and np.all(nuc[nb:] <= lo[nb:] + 1e-9)
    np.testing.assert_allclose(fast.rows["nucleolus"], general.rows["nucleolus"], atol=1e-7)
    assert fast.extras["least_core_epsilon"] == pytest.approx(general.extras["least_core_epsilon"], abs=1e-8)
    assert general.extras["core_nonempty"]  # Shapley & Shubik (1971)

    @functools.lru_cache(maxsize=None)
    def worth(s):  # best matching by brute force: the smaller side matched into the larger
        b = [i for i in s if i < nb]
        sl = [j - nb for j in s if j >= nb]
        if len(b) <= len(sl):
            return max(sum(surplus[i][j] for i, j in zip(b, p)) for p in itertools.permutations(sl, len(b)))
        return max(sum(surplus[i][j] for i, j in zip(p, sl)) for p in itertools.permutations(b, len(sl)))

    np.testing.assert_allclose(general.rows["shapley"], [float(p) for p in orderings_shapley(worth, nb + ns)],
                               atol=1e-9)


def test_large_assignment_game_nucleolus_without_enumeration():
    rng = np.random.default_rng(2)
    surplus = rng.integers(0, 20, (15, 12)).tolist()
    spec = {"kind": "coalition", "game": "assignment", "buyers": [f"b{i}" for i in range(15)],
            "sellers": [f"s{j}" for j in range(12)], "surplus": surplus}
    result = solve(spec)
    assert result.method == "assignment" and "not computed" in result.message
    assert result.checks["nucleolus_core_violation"] <= 1e-7
    sampled = solve({**spec, "samples": 200, "seed": 1})
    assert sampled.rows["shapley"].sum() == pytest.approx(result.objective)


# -- table games ------------------------------------------------------------------------------------
def majority(n):
    players = [f"p{i}" for i in range(n)]
    values = {"+".join(c): 1 for k in range(n // 2 + 1, n + 1) for c in itertools.combinations(players, k)}
    return {"kind": "coalition", "players": players, "values": values, "default": 0}


def test_default_worth_fills_the_table():
    spec = {"kind": "coalition", "players": ["a", "b", "c"], "values": {"a+b": 1, "a+c": 1, "a+b+c": 1},
            "default": 0}
    result = solve(spec)
    np.testing.assert_allclose(result.rows["shapley"], [2 / 3, 1 / 6, 1 / 6])  # a glove game
    np.testing.assert_allclose(result.rows["nucleolus"], [1, 0, 0], atol=1e-9)


@pytest.mark.slow
def test_seventeen_player_majority_game():
    # used to end with "no method applies"; by symmetry every value is 1/17, and the least-core
    # value is 1 - 9/17 (a minimal winning coalition of 9 gets 9/17)
    result = solve(majority(17))
    np.testing.assert_allclose(result.rows["nucleolus"], 1 / 17, atol=1e-9)
    np.testing.assert_allclose(result.rows["shapley"], 1 / 17, atol=1e-12)
    assert result.extras["least_core_epsilon"] == pytest.approx(8 / 17)
    assert result.checks["nucleolus_kohlberg_violation"] == 0


def test_beyond_the_table_limit_names_the_field_and_the_limit():
    players = [f"p{i}" for i in range(26)]
    with pytest.raises(SpecError) as err:
        ital_opt.load({"kind": "coalition", "players": players, "values": {"+".join(players): 1}, "default": 0})
    assert err.value.field == "players" and "26 players" in str(err.value) and "25" in str(err.value)


def test_shapley_blocks_match_a_direct_sum():
    # the block-wise sums (2^16 coalitions per block) against the weights applied directly
    rng = np.random.default_rng(3)
    n = 18
    v = rng.random(2**n)
    v[0] = 0
    size = np.array([bin(m).count("1") for m in range(2**n)])
    for i in (0, 9, 17):
        has = (np.arange(2**n) >> i) & 1 == 1
        w_in = 1 / (n * np.array([math.comb(n - 1, s - 1) if s else 1 for s in range(n + 1)], float))
        w_out = 1 / (n * np.array([math.comb(n - 1, s) if s < n else 1 for s in range(n + 1)], float))
        direct = (w_in[size] * v)[has].sum() - (w_out[size] * v)[~has].sum()
        assert CF.shapley(v)[i] == pytest.approx(direct, rel=1e-12)


def test_lexicographic_centre_is_certified_on_random_tables():
    rng = np.random.default_rng(4)
    from ital_opt.coalition import checks as CK

    for n in (9, 11):
        v = np.concatenate([[0.0], rng.integers(0, 20, 2**n - 1).astype(float)])
        v[-1] = max(v[-1], v[1 << np.arange(n)].sum() + 5)
        x, lc, eps, kind = FM.nucleolus_dense(v)
        assert CK.kohlberg_certificate(v, x, FM.balancing_weights, imputations=True)["violation"] == 0
        assert CK.kohlberg_certificate(v, lc, FM.balancing_weights)["violation"] == 0
        assert FM.least_core_dual(v)[0] == pytest.approx(eps, abs=1e-9)


def test_allocations_figure_through_the_hook():
    problem = ital_opt.load("formulations/coalition_airport.toml")
    result = problem.solve()
    [(caption, fig)] = problem.figures(result)
    assert "cost share" in caption
    bars = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(sorted(bars), sorted(np.concatenate(
        [result.rows[c].to_numpy() for c in ("shapley", "banzhaf", "nucleolus")])))
    assert problem.figures() == []
