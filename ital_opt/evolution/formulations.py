"""The two ways to the rest points, as formulations (``problem.formulation(name).build()``).

* :class:`Symbolic` — ``build`` gives the sympy system (:class:`.symbolic.System`: the field,
  its Jacobian and each face's polynomial equations); ``run`` solves every face exactly
  (:mod:`.symbolic`) and adds the ESS conditions of the corners in the parameters.  When sympy
  gives up on a system the result is ``not_solved`` with sympy's reason, and ``method="auto"``
  goes on to the numeric formulation.
* :class:`Numeric` — ``build`` gives each face's residual function; ``run`` finds the roots by
  multistart (:mod:`.numeric`), options ``starts`` (random starts per face) and ``seed``.

Neither uses an optimisation solver, so neither names one in ``solvers``.  Both take the options
``executor`` (``"local"`` or ``"dask"``), ``workers`` and ``scheduler``, which spread the basins of
attraction (``basin_grid``) over the sweep executors for fine grids.
"""

from __future__ import annotations

from ..problem import Formulation
from ..result import Result

BASIN_OPTIONS = frozenset({"executor", "workers", "scheduler"})


class Symbolic(Formulation):
    name = "symbolic"
    options = BASIN_OPTIONS

    def applies(self, problem) -> str | None:
        return problem.symbolic_reason

    def build(self, problem, **options):
        from .symbolic import system

        return system(problem)

    def recover(self, problem, model, **basin_options) -> Result:
        from .symbolic import analyse, condition_text

        analysis = analyse(problem, model)
        conditions = {str(tuple(c)): [condition_text(e) for e in es] for c, es in problem.ess_conditions().items()}
        return problem.result(analysis, self.name, {"ess_conditions": conditions}, **basin_options)

    def run(self, problem, **options) -> Result:
        options = problem.basin_options(**options)  # a bad option is an error, not sympy giving up
        try:
            return self.recover(problem, self.build(problem), **options)
        except (NotImplementedError, ValueError, TypeError) as exc:  # sympy gave up on a system
            return Result(status="not_solved", method=self.name,
                          message=f"sympy could not solve the rest-point equations ({type(exc).__name__}: {exc})")


class Numeric(Formulation):
    name = "numeric"
    options = frozenset({"starts", "seed"}) | BASIN_OPTIONS

    def build(self, problem, **options):
        from .numeric import face_systems

        return face_systems(problem)

    def recover(self, problem, model, starts: int | None = None, seed: int = 0, **basin_options) -> Result:
        from .numeric import analyse

        analysis = analyse(problem, starts=starts, seed=seed, built=model)
        return problem.result(analysis, self.name, {"starts": analysis.extras["starts"]}, **basin_options)

    def run(self, problem, starts: int | None = None, seed: int = 0, **basin_options) -> Result:
        return self.recover(problem, self.build(problem), starts=starts, seed=seed, **basin_options)


FORMULATIONS = (Symbolic(), Numeric())
