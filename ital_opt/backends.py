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

from ._optional import require
from .errors import OptionError, SolverUnavailable, SolverWarning

CLARABEL_TOLERANCES = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, tol_ktratio=1e-8, max_iter=500)

_CVXPY_STATUS = {
    "optimal": "optimal",
    "optimal_inaccurate": "not_solved",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "infeasible",
    "unbounded": "unbounded",
    "unbounded_inaccurate": "unbounded",
}


_COLLECTED: ContextVar[tuple[list[str], list[dict]] | None] = ContextVar("ital_opt_solver_notes", default=None)


@contextlib.contextmanager
def solver_notes():
    """Collect, in the lists it yields, the warnings and the records of the solves run inside
    (per thread/context): ``(notes, records)``; each record is ``{"name", "options", "rung"}``."""
    collected = ([], [])
    token = _COLLECTED.set(collected)
    try:
        yield collected
    finally:
        _COLLECTED.reset(token)


def record(name: str, options: dict | None = None, rung: str | None = None) -> None:
    """Note which solver ran with which options (its tolerances) and, for a ladder of fallbacks,
    which rung succeeded; ``Problem.solve`` puts the last record in the result's ``solver``."""
    collected = _COLLECTED.get()
    if collected is not None:
        collected[1].append({"name": name, "options": dict(options or {}), "rung": rung})


def installed_solvers() -> dict[str, list[str]]:
    """The solvers each back end can use on this machine.

    Returns
    -------
    dict of str to list of str
        ``{"cvxpy": [...], "pyomo": [...], "cyipopt": [...]}``: the names that
        ``solve(..., solver=NAME)`` takes.
    """
    import cvxpy as cp

    out = {"cvxpy": sorted(cp.installed_solvers())}
    pyomo = []
    with contextlib.suppress(ImportError):
        import highspy  # noqa: F401

        pyomo.append("highs")
    with contextlib.suppress(SolverUnavailable):
        pyomo.append(nlp_solver()[0])
    out["pyomo"] = pyomo
    try:
        require("cyipopt", extra="nlp")

        out["cyipopt"] = ["ipopt"]
    except ImportError:
        out["cyipopt"] = []
    return out


def check_solver_options(solver: str, options: dict) -> None:
    """Refuse options a solver does not know (OptionError naming the first), where that is known."""
    if solver == "CLARABEL" and options:
        import clarabel

        known = {k for k in dir(clarabel.DefaultSettings()) if not k.startswith("_")}
        unknown = sorted(set(options) - known)
        if unknown:
            raise OptionError(unknown[0], f"not an option of the solver CLARABEL (its options include "
                              f"{', '.join(sorted(known)[:12])}, ...)")


def note(text: str) -> None:
    """Report a solver's doubt: into the active :func:`solver_notes`, else as a SolverWarning."""
    collected = _COLLECTED.get()
    if collected is None:
        warnings.warn(text, SolverWarning, stacklevel=3)
    else:
        collected[0].append(text)


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


_SAVED_STDOUT: list[tuple[int, object]] = []  # (fd, stream) that each redirection of standard output put aside


@contextlib.contextmanager
def _stdout_to(fd: int, stream):
    """File descriptor 1 pointed at `fd`, and ``sys.stdout`` at `stream`, inside the block; the
    descriptor it pointed at before is put aside in :data:`_SAVED_STDOUT`."""
    sys.stdout.flush()
    saved = os.dup(1)
    _SAVED_STDOUT.append((saved, sys.stdout))
    try:
        os.dup2(fd, 1)
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        sys.stdout.flush()
        _SAVED_STDOUT.pop()
        os.dup2(saved, 1)
        os.close(saved)


def stdout_to_stderr():
    """Send everything written to standard output (even by C libraries) to standard error."""
    return _stdout_to(2, sys.stderr)


@contextlib.contextmanager
def _own_capture():
    """Undo :func:`stdout_to_stderr` around a solver that captures its output itself.

    pyomo's appsi interfaces capture the file descriptors 1 and 2 into a pipe read by a thread
    (``capture_output(capture_fd=True)``); with standard output already pointing at standard error
    the reader never sees the pipe close and the join ends in "TeeStream: deadlock observed".
    The solver's output goes to pyomo's logger, never to standard output, so this is safe."""
    if not _SAVED_STDOUT:
        yield
        return
    with _stdout_to(*_SAVED_STDOUT[-1]):
        yield


def solve_cvxpy(problem, solver: str | None = None, verbose: bool = False, *, rung: str | None = None,
                **options) -> tuple[str, str]:
    """Solve a cvxpy problem; return (status, method name such as ``"cvxpy/CLARABEL"``).

    LPs go to HiGHS and everything else to Clarabel unless `solver` says otherwise; `verbose` lets
    the solver print its log (to standard error); `options` go to the solver."""
    import cvxpy as cp

    if solver is None:
        solver = "HIGHS" if is_lp(problem) else "CLARABEL"
    solver = solver.upper()
    check_solver_options(solver, options)
    opts = dict(options)
    if solver == "CLARABEL":
        opts = {**CLARABEL_TOLERANCES, **opts}
    record(f"cvxpy/{solver}", opts, rung)
    # highspy prints its banner from C++ whenever a Highs object is made, verbose or not; every
    # solver's log belongs on standard error
    quiet = stdout_to_stderr() if (solver == "HIGHS" or verbose) else contextlib.nullcontext()
    try:
        with quiet:
            problem.solve(solver=solver, verbose=bool(verbose), **opts)
    except cp.error.SolverError as exc:
        return "not_solved", f"cvxpy/{solver}: {exc}"
    return status_from_cvxpy(problem.status), f"cvxpy/{solver}"


def clarabel_solver(P, c, A, b, cones, **options):
    """A Clarabel solver object for min ½xᵀPx + cᵀx s.t. Ax + s = b, s ∈ cones (scipy CSC matrices),
    with the tolerances :func:`solve_cvxpy` gives Clarabel; `options` are checked and added.  For
    a program re-solved many times with new numbers, where cvxpy's canonicalisation would cost
    more than the solve."""
    import clarabel

    check_solver_options("CLARABEL", options)
    opts = {**CLARABEL_TOLERANCES, **options}
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for key, value in opts.items():
        setattr(settings, key, value)
    record("CLARABEL", opts)
    return clarabel.DefaultSolver(P, c, A, b, cones, settings)


def nlp_solver():
    """(name, pyomo solver) for nonlinear programs: Ipopt if installed, else bundled ripopt."""
    from pyomo.opt import SolverFactory

    if shutil.which("ipopt"):
        solver = SolverFactory("ipopt")
        if solver.available(exception_flag=False):
            return "ipopt", solver
    try:
        require("pyomo_ripopt", extra="nlp")  # registers 'ripopt' with pyomo
    except ImportError:
        raise SolverUnavailable(
            "no NLP solver for pyomo: install the nlp extra (pip install 'ital_opt[nlp]', which brings "
            "pyomo-ripopt) or put an 'ipopt' executable on the PATH"
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


def solve_pyomo(model, solver: str = "nlp", verbose: bool = False, **options) -> tuple[str, str, bool]:
    """Solve a pyomo model; return (status, method name, local).

    ``solver="nlp"`` uses :func:`nlp_solver` (local optimum); ``solver="highs"`` HiGHS for LPs/MILPs.
    """
    from pyomo.common.errors import ApplicationError
    from pyomo.opt import TerminationCondition as TC

    record(f"pyomo/{solver}", options)
    if solver == "highs":
        from pyomo.contrib.appsi.solvers import Highs

        opt = Highs()
        opt.config.stream_solver = False
        opt.config.load_solution = False
        with _own_capture():
            res = opt.solve(model)
        tc = str(res.termination_condition).lower()
        if "optimal" in tc:
            res.solution_loader.load_vars()
            _import_duals(model, res.solution_loader)
            return "optimal", "pyomo/highs", False
        return next((s for s in ("infeasible", "unbounded") if s in tc), "not_solved"), "pyomo/highs", False
    name, opt = nlp_solver()
    for key, value in options.items():
        opt.options[key] = value
    try:
        with stdout_to_stderr() if verbose else contextlib.nullcontext():
            res = opt.solve(model, tee=bool(verbose), load_solutions=False)
    except ApplicationError as exc:  # the solver process failed (a crash, out of memory): no answer
        note(f"{name} did not exit normally ({exc})")
        return "not_solved", f"pyomo/{name}", True
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
    status = {TC.infeasible: "infeasible", TC.infeasibleOrUnbounded: "infeasible", TC.unbounded: "unbounded"}
    return status.get(tc, "not_solved"), f"pyomo/{name}", True


HIGHS_LP_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def highs_lp(options: dict | None = None, verbose: bool = False):
    """A silent ``highspy.Highs`` object for an LP built and re-solved row by row (warm starts).

    Tight feasibility tolerances by default; `options` are HiGHS option names and values."""
    try:
        import highspy
    except ImportError:
        raise SolverUnavailable("the 'highspy' package is not installed (pip install highspy)") from None
    opts = {**HIGHS_LP_OPTIONS, **(options or {})}
    with stdout_to_stderr():
        h = highspy.Highs()
        h.setOptionValue("output_flag", bool(verbose))
        h.setOptionValue("log_to_console", bool(verbose))
        bad = [key for key, value in opts.items() if h.setOptionValue(key, value) != highspy.HighsStatus.kOk]
    if bad:
        raise OptionError(bad[0], f"not an option of the solver HiGHS (or a bad value {opts[bad[0]]!r})")
    record("highspy", opts)
    return h


def cyipopt_problem(*, verbose: bool = False, rung: str | None = None, **arguments):
    """A ``cyipopt.Problem`` (Ipopt through its Python binding) from the keyword `arguments`
    ``n, m, problem_obj, lb, ub, cl, cu``; the other keywords are Ipopt options.  Quiet (no banner,
    print level 0) unless `verbose`; `rung` names a step of a caller's ladder (a warm start, ...)."""
    cyipopt = require("cyipopt", extra="nlp")
    shape = {k: arguments.pop(k) for k in ("n", "m", "problem_obj", "lb", "ub", "cl", "cu")}
    options = {"print_level": 5 if verbose else 0, "sb": "yes", **arguments}
    record("cyipopt/ipopt", options, rung)
    problem = cyipopt.Problem(**shape)
    for key, value in options.items():
        problem.add_option(key, value)
    return problem
