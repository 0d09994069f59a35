"""The linear programmes of cooperative games: least core, nucleolus sequence, balancing weights.

**Least core** (Maschler, Peleg & Shapley 1979): ε* = min ε s.t. x(S) + ε ≥ v(S) for ∅ ≠ S ≠ N,
x(N) = v(N); the core is non-empty iff ε* ≤ 0.

**Nucleolus** (Schmeidler 1969): the imputation (x(N) = v(N), x_i ≥ v({i})) that lexicographically
minimises the excesses e(S, x) = v(S) − x(S) sorted in decreasing order; the *prenucleolus* drops
x_i ≥ v({i}).  Both are the last point of the Maschler–Peleg–Shapley sequence of LPs: stage k
minimises the largest excess ε_k of the coalitions not yet fixed.  Here it is solved as follows
(:func:`lexicographic_centre`):

* *constraint generation*: each stage LP holds only the coalitions that were ever among the most
  violated (the singletons and the complements of singletons to start with, which bound ε);
  after each solve the excesses of every free coalition are computed at once (numpy over the
  2^n coalition sums, or over an explicit list of coalitions) and the most violated are added,
  until none exceeds ε_k (the stage's optimum over all coalitions is then reached);
* *tight coalitions from the duals* (as in Benedek, Fliege & Nguyen 2021): a coalition with a
  positive dual price is tight at every optimum of the stage (complementary slackness), so its
  excess is fixed at ε_k; a coalition whose indicator lies in the span of the fixed ones has a
  determined excess and leaves the free set (Guajardo & Jörnsten 2015 on why both are needed);
  the rank of the fixed collection grows every stage, so there are at most n − 1 stages;
* *warm starts*: one HiGHS model across all stages; fixing a coalition turns its row into an
  equality (its ε coefficient set to 0), so each re-solve starts from the previous basis.

The same engine runs on an explicit list of coalitions: for an assignment game the essential
coalitions (singletons and buyer–seller pairs) determine the nucleolus because the core is
non-empty (Huberman 1980; Solymosi & Raghavan 1994), and the least-core value over them is the
least-core value of the game when it is ≤ 0 (an inessential coalition's excess is the sum of its
parts' excesses).

**Tightness formulation** (cvxpy, small games): the same sequence, but without duals: each
coalition tight at the stage's solution is tested with its own LP (maximise its slack over the
stage's optimal face) and fixed only when the slack cannot be made positive — an independent
cross-check of the dual rule.

**Balancing weights** (Kohlberg 1971, Bondareva 1963, Shapley 1967): a collection D is balanced
if Σ_{S∈D} λ_S 1_S = 1_N for some λ > 0; :func:`balancing_weights` finds the λ with the largest
smallest weight (one LP); :mod:`.checks` verifies them without trusting the solver.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.linalg import null_space

from .. import backends
from ..problem import Formulation
from ..result import Result
from .checks import imputation_set_empty
from .closed_form import banzhaf, shapley
from .games import TeamFailure, coalition_sums, membership


DUAL_TOL = 1e-9
SPAN_TOL = 1e-9
NULL_RCOND = 1e-10  # singular values below this × the largest count as zero (the rows include 1_N)


def _solved(h, what: str):
    """Run the HiGHS model `h` and return its solution; any end but optimal raises RuntimeError naming `what`."""
    import highspy

    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"{what}: HiGHS ended with {h.modelStatusToString(status)}")
    return h.getSolution()


def _lp(cost, lower, upper, options: dict | None = None, verbose: bool = False):
    """A HiGHS model (:func:`ital_opt.backends.highs_lp`) minimising cost · z over lower ≤ z ≤ upper,
    with no rows yet."""
    h = backends.highs_lp(options, verbose)
    n = len(cost)
    h.addVars(n, np.asarray(lower, float), np.asarray(upper, float))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, float))
    return h


def _add_rows(h, A, lower, upper) -> None:
    """Append the rows lower ≤ A z ≤ upper (bounds scalars or one per row) to the HiGHS model `h`."""
    A = sp.csr_matrix(A, dtype=float)
    m = A.shape[0]
    h.addRows(m, np.broadcast_to(np.asarray(lower, float), m), np.broadcast_to(np.asarray(upper, float), m), A.nnz,
              A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32), A.data)


@dataclass
class CoalitionPool:
    """The coalitions an LP may use: their worths, x ↦ x(S) for all of them, and their members."""

    n: int
    worth: np.ndarray
    sums: Callable[[np.ndarray], np.ndarray]
    matrix: Callable[[np.ndarray], np.ndarray]  # pool indices -> 0/1 membership rows (k × n)
    proper: np.ndarray  # bool: ∅ ≠ S ≠ N
    singletons: np.ndarray  # index of {i} in the pool, per player
    complements: np.ndarray  # index of N ∖ {i} in the pool, per player (−1: absent)


def dense_pool(v) -> CoalitionPool:
    """Every coalition of a dense worth vector (index = mask)."""
    v = np.asarray(v, float)
    n = len(v).bit_length() - 1
    full = (1 << n) - 1
    proper = np.ones(len(v), bool)
    proper[[0, full]] = False
    bits = np.arange(n)
    return CoalitionPool(n, v, coalition_sums, lambda j: membership(n, j), proper, 1 << bits, full ^ (1 << bits))


def list_pool(n: int, member_lists, worths) -> CoalitionPool:
    """An explicit list of coalitions (each a list of player indices) with their worths; it must
    contain every singleton."""
    M = np.zeros((len(member_lists), n))
    for k, m in enumerate(member_lists):
        M[k, list(m)] = 1.0
    size = M.sum(1)
    single = np.full(n, -1)
    compl = np.full(n, -1)
    for k in np.flatnonzero(size == 1):
        single[int(np.flatnonzero(M[k])[0])] = k
    for k in np.flatnonzero(size == n - 1):
        compl[int(np.flatnonzero(M[k] == 0)[0])] = k
    if (single < 0).any():
        raise ValueError("the list of coalitions must contain every singleton")
    return CoalitionPool(n, np.asarray(worths, float), lambda x: M @ x, lambda j: M[np.asarray(j, np.int64)] > 0,
                         (size > 0) & (size < n), single, compl)


@dataclass
class Lexmin:
    """A (pre)nucleolus: the point, the excess level of each stage, LP solves, rows generated."""

    x: np.ndarray
    levels: list = field(default_factory=list)
    lps: int = 0
    rows: int = 0
    imputations: bool = False


def lexicographic_centre(pool: CoalitionPool, grand: float, lower=None, *, options: dict | None = None,
                         verbose: bool = False) -> Lexmin:
    """The prenucleolus (`lower` None) or the nucleolus (x ≥ `lower`) over the coalitions of `pool`
    (see the module docstring)."""
    n = pool.n
    if n == 1:
        return Lexmin(np.array([float(grand)]), [], 0, 0, lower is not None)
    scale = float(max(np.abs(pool.worth).max(initial=0.0), abs(grand))) or 1.0
    w = pool.worth / scale
    g = grand / scale
    lo = None if lower is None else np.asarray(lower, float) / scale
    quiet = backends.stdout_to_stderr if verbose else contextlib.nullcontext
    bound = 10.0 * n * (1.0 + np.abs(w).max(initial=0.0) + abs(g))  # keeps a partial LP bounded
    eps_col = n
    h = least_core_model(np.zeros((0, n)), [], g, np.r_[np.full(n, -np.inf) if lo is None else lo, -bound],
                         options, verbose)
    row_of: dict[int, int] = {}
    pool_of: list[int] = [-1]
    in_lp = np.zeros(len(w), bool)

    def add(indices):
        new = [int(j) for j in dict.fromkeys(int(j) for j in indices) if int(j) not in row_of]
        if not new:
            return
        _add_excess_rows(h, pool.matrix(new), w[new])
        for j in new:
            row_of[j] = len(pool_of)
            pool_of.append(j)
        in_lp[new] = True

    free = pool.proper.copy()
    fixed, rhs = [np.ones(n)], [g]
    batch = 4 * n  # rows added per round of constraint generation, doubling each round
    x0 = np.full(n, g / n) if lo is None else lo + max(0.0, g - lo.sum()) / n
    add(j for j in np.concatenate([pool.singletons, pool.complements]) if j >= 0 and free[j])
    e0 = np.where(free, w - pool.sums(x0), -np.inf)
    add(_top(e0, batch))
    levels, lps = [], 0
    x = x0
    while len(fixed) < n and free.any():  # the fixed rows are independent: their number is their rank
        while True:
            lps += 1
            with quiet():
                sol = _solved(h, f"nucleolus stage LP {lps}")
            x = np.asarray(sol.col_value[:n])
            eps = float(sol.col_value[eps_col])
            e = np.where(free, w - pool.sums(x), -np.inf)
            tol = 1e-9 * (1.0 + abs(eps))
            violated = np.flatnonzero((e > eps + tol) & ~in_lp)
            if violated.size == 0:
                break
            add(violated[np.argsort(-e[violated])[:batch]])
            batch *= 2
        levels.append(eps * scale)
        duals = np.asarray(sol.row_dual)
        floor = DUAL_TOL * max(1.0, float(duals.max()))
        candidates = [(duals[r], pool_of[r]) for r in np.flatnonzero(duals > floor) if r > 0 and free[pool_of[r]]]
        if not candidates:  # cannot happen (the duals of the free rows sum to 1); guard against noise
            candidates = [(1.0, int(np.argmax(e)))]
        newly = []
        for _, j in sorted(candidates, reverse=True):
            row = pool.matrix([j])[0].astype(float)
            r = row_of.get(j)
            if np.linalg.matrix_rank(np.vstack(fixed + [row])) > len(fixed):
                fixed.append(row)
                rhs.append(float(w[j] - eps))
                if r is None:
                    add([j])
                    r = row_of[j]
                h.changeCoeff(r, eps_col, 0.0)
                h.changeRowBounds(r, float(w[j] - eps), float(w[j] - eps))
            elif r is not None:  # implied by the fixed ones: a copy rounded differently could clash
                h.changeRowBounds(r, -np.inf, np.inf)
            newly.append(j)
        free[newly] = False
        # coalitions in the span of the fixed ones have a determined excess: no longer free
        K = null_space(np.array(fixed), rcond=NULL_RCOND)  # no columns once the fixed rows span R^n
        spanned = free.copy()
        for c in range(K.shape[1]):  # in the span iff orthogonal to every null-space vector
            spanned &= np.abs(pool.sums(K[:, c])) < SPAN_TOL
        lp_rows = np.asarray(pool_of[1:], np.int64)
        drop = (np.flatnonzero(spanned[lp_rows]) + 1).astype(np.int32)
        if drop.size:
            h.changeRowsBounds(len(drop), drop, np.full(len(drop), -np.inf), np.full(len(drop), np.inf))
        free &= ~spanned
    if len(fixed) == n:  # the fixed equalities determine x: solve them exactly
        x = np.linalg.solve(np.array(fixed), np.array(rhs))
    return Lexmin(x * scale, levels, lps, len(row_of), lower is not None)


def _top(e: np.ndarray, k: int) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(e))
    if finite.size <= k:
        return finite
    part = np.argpartition(-e[finite], k)[:k]
    return finite[part]


def balancing_weights(members: np.ndarray, optional: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Weights λ on the rows of `members` (a 0/1 matrix, collections × n) and μ ≥ 0 on the rows of
    `optional` with Σ λ_S 1_S + Σ μ_T 1_T = 1_N, maximising min λ (at most 1); None if none exist.

    Written with λ_S = t + μ_S (μ ≥ 0): maximise t s.t. t Σ_S 1_S + Σ_S μ_S 1_S + Σ_T ν_T 1_T = 1_N,
    an LP with n rows whatever the size of the collection."""
    members = np.atleast_2d(np.asarray(members, float))
    k, n = members.shape
    optional = np.zeros((0, n)) if optional is None else np.atleast_2d(np.asarray(optional, float))
    b = len(optional)
    cost = np.r_[np.zeros(k + b), -1.0]  # maximise t, the last column
    h = _lp(cost, np.zeros(k + b + 1), np.r_[np.full(k + b, np.inf), 1.0])
    _add_rows(h, np.vstack([members, optional, members.sum(0, keepdims=True)]).T, 1.0, 1.0)
    try:
        z = np.asarray(_solved(h, "balancing weights LP").col_value)
    except RuntimeError:  # no optimum: no such weights (the collection is not balanced)
        return None
    return z[:k] + z[-1], z[k:k + b]


# -- the tightness formulation (cvxpy) ---------------------------------------------------------------
def nucleolus_by_tightness(v, lower=None, tol: float = 1e-8):
    """(x, levels, method name): the (pre)nucleolus by explicit tightness tests (small games)."""
    import cvxpy as cp

    v = np.asarray(v, float)
    n = len(v).bit_length() - 1
    unit = float(np.abs(v).max()) or 1.0  # solve the game scaled to max |v| = 1
    v = v / unit
    if lower is not None:
        lower = np.asarray(lower, float) / unit
    masks = np.arange(1, 2**n - 1, dtype=np.int64)
    M = membership(n, masks).astype(float)
    vS = v[masks]
    free = np.ones(len(masks), bool)
    fixed_rows, fixed_rhs = [np.ones(n)], [v[-1]]
    levels, method = [], "cvxpy"
    x = cp.Variable(n)
    while len(fixed_rows) < n and free.any():
        idx = np.flatnonzero(free)
        eps = cp.Variable()
        base = [np.array(fixed_rows) @ x == np.array(fixed_rhs)]
        if lower is not None:
            base.append(x >= lower)
        stage = cp.Problem(cp.Minimize(eps), base + [M[idx] @ x + eps >= vS[idx]])
        status, method = backends.solve_cvxpy(stage)
        if status != "optimal":
            raise RuntimeError(f"nucleolus stage LP: {status} ({method})")
        level = float(eps.value)
        levels.append(level * unit)
        slack = M[idx] @ x.value + level - vS[idx]
        newly = []
        face = base + [M[idx] @ x + level >= vS[idx]]
        for j in idx[slack <= tol]:
            test = cp.Problem(cp.Maximize(M[j] @ x + level - vS[j]), face)
            status, method = backends.solve_cvxpy(test)
            if status == "optimal" and test.value <= tol:
                newly.append(j)
        if not newly:  # numerical guard: fix the tightest coalition
            newly = [idx[int(np.argmin(slack))]]
        for j in newly:  # an implied (spanned) equality is not added: rounding could break it
            if np.linalg.matrix_rank(np.array(fixed_rows + [M[j]])) > len(fixed_rows):
                fixed_rows.append(M[j])
                fixed_rhs.append(vS[j] - level)
        free[newly] = False
        # in the span of the fixed rows iff orthogonal to their null space (an orthonormal basis)
        free[free] = np.linalg.norm(M[free] @ null_space(np.array(fixed_rows), rcond=NULL_RCOND), axis=1) >= SPAN_TOL
    xs = np.linalg.solve(np.array(fixed_rows), np.array(fixed_rhs))
    return xs * unit, levels, method


# -- the formulations as methods ---------------------------------------------------------------------
def _nucleolus_and_prenucleolus(v, centre: Callable, tol: float):
    """(nucleolus, prenucleolus, least-core value, "nucleolus" or "prenucleolus", method) of a dense
    game, from `centre(lower)` -> (point, excess levels, method): the prenucleolus (`lower` None) or
    the nucleolus.  The prenucleolus is the nucleolus when it is an imputation (within `tol`·scale);
    when the game has no imputation the prenucleolus stands in for the nucleolus."""
    pre, levels, method = centre(None)
    eps = levels[0] if levels else 0.0
    if imputation_set_empty(v):
        return pre, pre, eps, "prenucleolus", method
    lower = v[1 << np.arange(len(pre))]
    if np.all(pre >= lower - tol * (1.0 + np.abs(v).max())):
        return pre, pre, eps, "nucleolus", method
    nuc, _, method = centre(lower)
    return nuc, pre, eps, "nucleolus", method


def nucleolus_dense(v, options: dict | None = None, verbose: bool = False):
    """(nucleolus, least-core point, least-core value, "nucleolus" or "prenucleolus") of a dense game."""
    v = np.asarray(v, float)
    pool = dense_pool(v)

    def centre(lower):
        lex = lexicographic_centre(pool, v[-1], lower, options=options, verbose=verbose)
        return lex.x, lex.levels, "highs"

    return _nucleolus_and_prenucleolus(v, centre, 1e-9)[:4]


def least_core_model(members: np.ndarray, worths, grand: float, lower=None, options: dict | None = None,
                     verbose: bool = False):
    """The least-core LP (a ``highspy.Highs`` model, not yet run) over the given coalitions:
    variables x_1 … x_n, ε; minimise ε s.t. x(S) + ε ≥ v(S), x(N) = v(N) and (x, ε) ≥ `lower`
    (default: free)."""
    n = np.shape(members)[1]
    h = _lp(np.r_[np.zeros(n), 1.0], np.full(n + 1, -np.inf) if lower is None else lower, np.full(n + 1, np.inf),
            options, verbose)
    _add_rows(h, np.ones((1, n)), grand, grand)
    _add_excess_rows(h, members, worths)
    return h


def _add_excess_rows(h, members, worths) -> None:
    """The rows x(S) + ε ≥ v(S) of the coalitions marked in the rows of `members` (ε the last column)."""
    _add_rows(h, np.hstack([members, np.ones((len(members), 1))]), worths, np.inf)


def least_core_result(problem, method: str, x, eps) -> Result:
    """A result with the least-core point `x` (row ``least_core``, payoffs × sign) and value `eps`."""
    import pandas as pd

    rows = pd.DataFrame({"player": list(problem.players), "least_core": problem.sign * np.asarray(x, float)})
    return Result(status="optimal", method=method, objective=float(problem.sign * problem.game.grand), rows=rows,
                  extras={"least_core_epsilon": float(eps)})


def _guarded(run):
    """A team-derived game whose sub-team cannot be solved ends as status not_solved, with why."""
    def guarded(self, problem, **options):
        try:
            return run(self, problem, **options)
        except TeamFailure as exc:
            return Result(status="not_solved", method=self.name, message=str(exc))

    return guarded


class _LeastCoreBuild(Formulation):
    """build(): the least-core LP (the first stage) over all proper coalitions, as a HiGHS model;
    recover(): a result with the least-core point and value read from the solved model."""

    def build(self, problem, **options):
        n = problem.n
        masks = np.arange(1, 2**n - 1, dtype=np.int64)
        return least_core_model(membership(n, masks), problem.values[masks], problem.values[-1])

    def recover(self, problem, model) -> Result:
        z = np.asarray(model.getSolution().col_value)
        return least_core_result(problem, self.name, z[:problem.n], z[problem.n])


class SequentialLP(_LeastCoreBuild):
    """Every game with its 2^n worths in memory (n ≤ 25): exact values by enumeration, the
    (pre)nucleolus by the LP sequence with constraint generation (HiGHS, warm-started)."""

    name = "highs"
    solvers = ("highs",)
    options = frozenset()

    def applies(self, problem) -> str | None:
        if not problem.dense:
            return (f"{problem.n} players: the LP sequence tabulates all 2^n coalitions, which fits up to "
                    f"{problem.dense_limit} players for {problem.describe()}")
        return None

    @_guarded
    def run(self, problem, solver=None, verbose=False, **options) -> Result:
        v = problem.values
        x, lc, eps, kind = nucleolus_dense(v, options, verbose)
        return problem.assemble(self.name, shapley=shapley(v), banzhaf=banzhaf(v), nucleolus=x,
                                least_core=(eps, lc), kind=kind)


class TightnessLP(_LeastCoreBuild):
    """The LP sequence with explicit tightness tests, in cvxpy (n ≤ 8): a cross-check."""

    name = "cvxpy"
    max_players = 8

    def applies(self, problem) -> str | None:
        if not problem.dense or problem.n > self.max_players:
            return (f"{problem.n} players: this formulation handles at most {self.max_players} "
                    "(one LP per tight coalition)")
        return None

    def build(self, problem, **options):
        import cvxpy as cp

        n = problem.n
        masks = np.arange(1, 2**n - 1, dtype=np.int64)
        x, eps = cp.Variable(n), cp.Variable()
        v = problem.values
        return cp.Problem(cp.Minimize(eps), [cp.sum(x) == v[-1],
                                             membership(n, masks).astype(float) @ x + eps >= v[masks]])

    def recover(self, problem, model) -> Result:
        x, eps = model.variables()[0].value, model.variables()[1].value
        return least_core_result(problem, self.name, x, eps)

    @_guarded
    def run(self, problem, **options) -> Result:
        v = problem.values
        nuc, lc, eps, kind, method = _nucleolus_and_prenucleolus(v, lambda lower: nucleolus_by_tightness(v, lower), 1e-7)
        return problem.assemble(method, shapley=shapley(v), banzhaf=banzhaf(v), nucleolus=nuc,
                                least_core=(eps, lc), kind=kind)


class EssentialCoalitionsLP(_LeastCoreBuild):
    """Assignment games: the LP sequence over the singletons and buyer–seller pairs only."""

    name = "assignment"
    solvers = ("highs",)
    options = frozenset({"samples", "seed"})

    def applies(self, problem) -> str | None:
        if problem.game_type != "assignment":
            return "the essential coalitions are known for assignment games only"
        return None

    def _pool(self, problem) -> CoalitionPool:
        data = problem.game.data
        nb, ns = len(data["buyers"]), len(data["sellers"])
        members = [[i] for i in range(nb + ns)] + [[b, nb + s] for b in range(nb) for s in range(ns)]
        return list_pool(nb + ns, members, np.concatenate([np.zeros(nb + ns), data["surplus"].ravel()]))

    def build(self, problem, **options):
        pool = self._pool(problem)
        return least_core_model(pool.matrix(np.arange(len(pool.worth))), pool.worth, problem.game.grand)

    def core_extremes(self, problem, options=None) -> tuple[np.ndarray, np.ndarray]:
        """The buyer-optimal and the seller-optimal core points (Shapley & Shubik 1971): the core is
        the set of optimal dual solutions of the assignment LP, {x ≥ 0 : x_b + x_s ≥ a_bs,
        x(N) = v(N)}; each extreme minimises the other side's total payoff over it."""
        pool = self._pool(problem)
        pairs = np.flatnonzero(pool.worth > 0)  # the buyer-seller pairs with a positive surplus
        nb, n, grand = len(problem.game.data["buyers"]), problem.n, problem.game.grand
        out = []
        for buyers_cost in (0.0, 1.0):  # the buyer-optimal point minimises the sellers' total, and vice versa
            h = _lp(np.r_[np.full(nb, buyers_cost), np.full(n - nb, 1 - buyers_cost)], np.zeros(n), np.full(n, np.inf),
                    options)
            _add_rows(h, np.ones((1, n)), grand, grand)
            _add_rows(h, pool.matrix(pairs), pool.worth[pairs], np.inf)
            out.append(np.asarray(_solved(h, "assignment core LP").col_value))
        return out[0], out[1]

    def run(self, problem, solver=None, verbose=False, samples=None, seed=None, **options) -> Result:
        pre = lexicographic_centre(self._pool(problem), problem.game.grand, None, options=options, verbose=verbose)
        eps = min(pre.levels[0], 0.0) if pre.levels else 0.0
        samples = problem.samples if samples is None else samples
        seed = problem.seed if seed is None else seed
        message = "nucleolus over the essential coalitions (singletons and buyer-seller pairs)"
        phi, bz, ci = problem.values_or_estimates(samples, seed)
        if ci is not None:
            message += f"; Shapley and Banzhaf values are estimates from {samples} samples (seed {seed})"
        elif phi is None:
            message += (f"; Shapley and Banzhaf values not computed: {problem.n} players need 2^{problem.n} "
                        f"assignment problems (at most {problem.dense_limit}); give 'samples' for estimates")
        result = problem.assemble(self.name, shapley=phi, banzhaf=bz, nucleolus=pre.x, least_core=(eps, pre.x),
                                  kind="nucleolus", message=message, ci=ci)
        result.rows["core_buyer_optimal"], result.rows["core_seller_optimal"] = self.core_extremes(problem, options)
        return result


FORMULATIONS = [EssentialCoalitionsLP(), SequentialLP(), TightnessLP()]


def least_core_dual(v) -> tuple[float, np.ndarray]:
    """ε* from the dual of the least-core LP over balanced collections (Bondareva 1963, Shapley
    1967): max Σ_S y_S v(S) − t v(N) s.t. Σ_S y_S 1_S = t 1_N, Σ_S y_S = 1, y ≥ 0.  Returns
    (ε*, y over the proper masks 1 … 2^n − 2); columns are coalitions, so a small-n cross-check."""
    v = np.asarray(v, float)
    n = len(v).bit_length() - 1
    masks = np.arange(1, 2**n - 1, dtype=np.int64)
    k = len(masks)
    h = _lp(np.append(-v[masks], v[-1]), np.zeros(k + 1), np.full(k + 1, np.inf))
    _add_rows(h, np.hstack([membership(n, masks).T, -np.ones((n, 1))]), 0.0, 0.0)
    _add_rows(h, np.ones((1, k)), 1.0, 1.0)
    z = np.asarray(_solved(h, "least-core dual LP").col_value)
    return float(-h.getInfo().objective_function_value), z[:k]
