"""Every numerical tolerance ital_opt judges answers by, in one place.

Policy.  A tolerance is part of what an answer means, so each one is named here, documented,
and imported wherever it is used (never a literal ``1e-6`` next to a comparison):

* :data:`CHECK_TOL` — a certificate (IC/IR violation, deviation gain, budget balance, ...) is
  passed when it is at most this, in the units of the payoffs.  Solvers are run at tolerances
  about 100 times tighter (``ital_opt.backends``), so a solution the solver calls optimal passes
  with a margin, and an answer that fails is wrong by more than the solver's own accuracy.
  A result may carry its own ``check_tol`` (a method that knows it is less accurate says so).
* :data:`VERIFY_RTOL`, :data:`VERIFY_ATOL` — ``verify`` calls two methods' values equal when
  ``|a - b| <= VERIFY_ATOL + VERIFY_RTOL * max(|a|, |b|)`` (``ital-opt verify --rtol``).
* :data:`EXPECTED_TOL` — the default absolute tolerance of a spec's ``[expected]`` values
  (a spec may set its own ``tol``; values in the literature are rounded).
* :data:`SWEEP_POINT_TOL` — a sweep's resume accepts a finished file whose grid values equal the
  requested ones to this relative precision (values written as decimal text and read back).
"""

from __future__ import annotations

CHECK_TOL = 1e-6
VERIFY_RTOL = 1e-6
VERIFY_ATOL = 1e-7
EXPECTED_TOL = 1e-6
SWEEP_POINT_TOL = 1e-12

__all__ = ["CHECK_TOL", "VERIFY_RTOL", "VERIFY_ATOL", "EXPECTED_TOL", "SWEEP_POINT_TOL"]
