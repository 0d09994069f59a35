"""Solver objects, built in one place per backend.

* cvxpy: linear programs go to HiGHS; everything else (QPs, second-order and exponential cones)
  to Clarabel with tight tolerances.  HiGHS' QP path has returned "unbounded" and wrong answers
  on screening QPs with a few hundred types, so it is never used for QPs.
* pyomo: nonlinear programs go to Ipopt when an ``ipopt`` executable is on the PATH, else to
  ripopt, an Ipopt-compatible interior-point solver that the ``pyomo-ripopt`` wheel bundles
  (so that a plain ``pip install`` can solve every bundled formulation); both are local NLP
  solvers.  LPs and MILPs go to HiGHS through pyomo's appsi interface.
Solver chatter never reaches standard output; a solver's doubts about a point it returns are
collected by :func:`solver_notes` (``Problem.solve`` puts them in the result's message).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import warnings
from contextvars import ContextVar

from .errors import SolverUnavailable, SolverWarning

CLARABEL_TOLERANCES = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, tol_ktratio=1e-8, max_iter=500)

_CVXPY_STATUS = {
    "optimal": "optimal",
    "optimal_inaccurate": "not_solved",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "infeasible",
    "unbounded": "unbounded",
    "unbounded_inaccurate": "unbounded",
}


_NOTES: ContextVar[list | None] = ContextVar("ital_opt_solver_notes", default=None)


@contextlib.contextmanager
def solver_notes():
    """Collect, in the list it yields, the warnings of the solves run inside (per thread/context)."""
    notes: list[str] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def note(text: str) -> None:
    """Report a solver's doubt: into the active :func:`solver_notes`, else as a SolverWarning."""
    notes = _NOTES.get()
    if notes is None:
        warnings.warn(text, SolverWarning, stacklevel=3)
    else:
        notes.append(text)


def status_from_cvxpy(status: str | None) -> str:
    return _CVXPY_STATUS.get(status or "", "not_solved")


def is_lp(problem) -> bool:
    import cvxpy as cp

    objective_affine = problem.objective.args[0].is_affine()
    constraints_linear = all(
        isinstance(c, (cp.constraints.Zero, cp.constraints.NonNeg, cp.constraints.Inequality, cp.constraints.Equality))
        and all(arg.is_affine() for arg in c.args)
        for c in problem.constraints
    )
    return objective_affine and constraints_linear


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to standard output (even by C libraries) to standard error."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def solve_cvxpy(problem, solver: str | None = None, **options) -> tuple[str, str]:
    """Solve a cvxpy problem; return (status, method name such as ``"cvxpy/CLARABEL"``)."""
    import cvxpy as cp

    if solver is None:
        solver = "HIGHS" if is_lp(problem) else "CLARABEL"
    opts = dict(options)
    if solver == "CLARABEL":
        opts = {**CLARABEL_TOLERANCES, **opts}
    # highspy prints its banner from C++ whenever a Highs object is made, verbose or not
    quiet = stdout_to_stderr() if solver == "HIGHS" else contextlib.nullcontext()
    try:
        with quiet:
            problem.solve(solver=solver, verbose=False, **opts)
    except cp.error.SolverError as exc:
        return "not_solved", f"cvxpy/{solver}: {exc}"
    return status_from_cvxpy(problem.status), f"cvxpy/{solver}"


def nlp_solver():
    """(name, pyomo solver) for nonlinear programs: Ipopt if installed, else bundled ripopt."""
    from pyomo.opt import SolverFactory

    if shutil.which("ipopt"):
        solver = SolverFactory("ipopt")
        if solver.available(exception_flag=False):
            return "ipopt", solver
    try:
        import pyomo_ripopt  # noqa: F401  (registers 'ripopt' with pyomo)
    except ImportError:
        raise SolverUnavailable(
            "no NLP solver for pyomo: install the 'pyomo-ripopt' package (pip install pyomo-ripopt, "
            "part of ital_opt's dependencies) or put an 'ipopt' executable on the PATH"
        ) from None
    solver = SolverFactory("ripopt")
    if not solver.available(exception_flag=False):
        raise SolverUnavailable("pyomo-ripopt is installed but its bundled 'ripopt' binary does not run")
    return "ripopt", solver


def _import_duals(model, loader) -> None:
    """Fill the model's IMPORT suffix ``dual``, if it has one, as the NL solvers do: appsi loads
    only the variables (and keeps its own sign convention: ≤ 0 for a ≥ row of a maximisation)."""
    import pyomo.environ as pyo

    suffix = model.component("dual")
    if isinstance(suffix, pyo.Suffix) and suffix.import_enabled():
        suffix.update(loader.get_duals())


def solve_pyomo(model, solver: str = "nlp", **options) -> tuple[str, str, bool]:
    """Solve a pyomo model; return (status, method name, local).

    ``solver="nlp"`` uses :func:`nlp_solver` (local optimum); ``solver="highs"`` HiGHS for LPs/MILPs.
    """
    from pyomo.opt import TerminationCondition as TC

    if solver == "highs":
        from pyomo.contrib.appsi.solvers import Highs

        opt = Highs()
        opt.config.stream_solver = False
        opt.config.load_solution = False
        res = opt.solve(model)
        tc = str(res.termination_condition).lower()
        if "optimal" in tc:
            res.solution_loader.load_vars()
            _import_duals(model, res.solution_loader)
            return "optimal", "pyomo/highs", False
        if "infeasible" in tc:
            return "infeasible", "pyomo/highs", False
        if "unbounded" in tc:
            return "unbounded", "pyomo/highs", False
        return "not_solved", "pyomo/highs", False
    name, opt = nlp_solver()
    for key, value in options.items():
        opt.options[key] = value
    try:
        res = opt.solve(model, tee=False, load_solutions=False)
    except RuntimeError as exc:
        # pyomo's output capture has, rarely and under heavy load, given up joining its reader
        # threads ("TeeStream: deadlock observed"); the solver itself had finished.  Once more:
        if "TeeStream" not in str(exc):
            raise
        res = opt.solve(model, tee=False, load_solutions=False)
    tc = res.solver.termination_condition
    if tc in (TC.optimal, TC.locallyOptimal, TC.globallyOptimal):
        # AMPL solve codes 100-199 ("optimal solution indicated, but error likely", e.g. ripopt's
        # "search direction becomes too small") come with a warning status: such points are often
        # converged, sometimes not.  Keep the point for the independent checks to judge, and say so.
        if str(res.solver.status).lower() == "warning":
            message = " ".join(str(res.solver.message or "no message").replace("\\x3a", ":").split())
            message = message.split(": ", 1)[-1] if message.startswith(name) else message  # "ripopt 0.8.2: ..."
            note(f"{name} ended with a warning ({message}): optimality is not certified by the solver")
        logger = logging.getLogger("pyomo.core")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            model.solutions.load_from(res)
        finally:
            logger.setLevel(level)
        return "optimal", f"pyomo/{name}", True
    if tc in (TC.infeasible, TC.infeasibleOrUnbounded):
        return "infeasible", f"pyomo/{name}", True
    if tc == TC.unbounded:
        return "unbounded", f"pyomo/{name}", True
    return "not_solved", f"pyomo/{name}", True
