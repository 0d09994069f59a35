"""Every numerical tolerance ital_opt judges answers by, in one place.

Policy.  A tolerance is part of what an answer means, so each one is named here, documented,
and imported wherever it is used (never a literal ``1e-6`` next to a comparison):

* :data:`CHECK_TOL` — a certificate (IC/IR violation, deviation gain, budget balance, ...) is
  passed when it is at most this, in the units of the payoffs.  Solvers are run at tolerances
  about 100 times tighter (``ital_opt.backends``), so a solution the solver calls optimal passes
  with a margin, and an answer that fails is wrong by more than the solver's own accuracy.
  A result may carry its own ``check_tol`` (a method that knows it is less accurate says so).
* :data:`VERIFY_RTOL`, :data:`VERIFY_ATOL` — ``verify`` calls two methods' values equal when
  ``|a - b| <= VERIFY_ATOL + VERIFY_RTOL * max(|a|, |b|)`` (``ital-opt verify --rtol``).  The
  default is tight, 1e-9 relative (1e-10 absolute, for values near zero), because every
  numerical method is brought to that precision: interior-point and NLP answers (about 1e-8 on
  their own) are refined or polished on their active set — Newton's method on the optimality
  conditions of the constraints the solver found binding (:mod:`ital_opt.kkt`) — and kept only
  when the independent checks pass.  benchmarks/bench_precision.py measures every method against
  the closed forms and every pair of methods on the bundled specs (benchmarks/results/precision.md).
  A kind whose methods cannot reach that precision states its precision as
  ``Problem.verify_rtol`` (a single result as its ``verify_rtol``); ``verify`` never compares that
  kind's answers more tightly.  The one such case: the policy kind's ``nested`` search over an
  evolutionary game states 1e-8 (its levers approach the target-ESS boundary without a Newton
  step on it).
* :data:`BEAT_RTOL`, :data:`BEAT_ATOL` — ``verify`` calls a method claiming a global optimum
  wrong when another answer that passes its checks is better by more than
  ``BEAT_ATOL + BEAT_RTOL * max(|a|, |b|)`` (or the agreement tolerance, if looser).  An answer
  passes its checks when infeasible by up to :data:`CHECK_TOL`, and infeasibility buys payoff
  at the rate of the multipliers (of order one), so a smaller gain proves nothing.
* :data:`EXPECTED_TOL` — the default absolute tolerance of a spec's ``[expected]`` values
  (a spec may set its own ``tol``; values in the literature are rounded).
* :data:`SWEEP_POINT_TOL` — a sweep's resume accepts a finished file whose grid values equal the
  requested ones to this relative precision (values written as decimal text and read back).
"""

from __future__ import annotations

CHECK_TOL = 1e-6
VERIFY_RTOL = 1e-9
VERIFY_ATOL = 1e-10
BEAT_RTOL = CHECK_TOL
BEAT_ATOL = CHECK_TOL / 10
EXPECTED_TOL = 1e-6
SWEEP_POINT_TOL = 1e-12
