"""ital_opt: incentive contracts declared once, solved by interchangeable methods, checked independently.

>>> import ital_opt
>>> problem = ital_opt.load("formulations/ch3_example_3_1.toml")   # doctest: +SKIP
>>> result = problem.solve(method="auto")                          # doctest: +SKIP
>>> result.to_dict()                                               # doctest: +SKIP

The problem classes (``ital_opt.Screening``, ``ital_opt.Team``, ...) are those of the installed
kinds (the entry-point group ``ital_opt.kinds``), imported on first use.
"""

from .backends import installed_solvers
from .errors import MethodNotApplicable, OptionError, SolverUnavailable, SpecError
from .kinds import kinds, register_kind
from .problem import Field, Formulation, Method, Problem, Verification, verify
from .result import Result
from .spec import load, set_field

__version__ = "0.1.0"


def solve(spec, method: str = "auto", **options) -> Result:
    """Load a spec (path or dict) and solve it.

    Parameters
    ----------
    spec : str, pathlib.Path or mapping
        As for :func:`load`.
    method : str
        ``"auto"`` (default), ``"closed-form"``, ``"cvxpy"``, ``"pyomo"`` or a kind's own method.
    **options
        ``solver``, ``verbose`` and the method's or solver's options, as for :meth:`Problem.solve`.

    Returns
    -------
    Result
        The answer, with its checks (see :meth:`Problem.solve`).
    """
    return load(spec).solve(method, **options)


def _problem_classes() -> dict[str, str]:
    """Class name -> kind, for every known kind (without importing any)."""
    from .kinds import class_name

    return {class_name(kind): kind for kind in kinds()}


def __getattr__(name):
    if name == "__all__":  # computed on first use: listing the kinds reads the installed entry points
        return [*_API, *_problem_classes()]
    # the problem classes, imported on first use: ital_opt.Screening, ital_opt.Team, ...
    classes = _problem_classes()
    if name in classes:
        from .kinds import problem_class

        return problem_class(classes[name])
    if name == "sweep":
        from .sweep import sweep

        return sweep
    raise AttributeError(f"module 'ital_opt' has no attribute {name!r}")


def __dir__():
    return sorted(set(__getattr__("__all__")) | set(globals()))


# the public names besides the problem classes (``ital_opt.__all__`` adds those of every known kind)
_API = [
    "load",
    "solve",
    "verify",
    "sweep",
    "installed_solvers",
    "register_kind",
    "kinds",
    "Problem",
    "Field",
    "Method",
    "Formulation",
    "Result",
    "Verification",
    "SpecError",
    "OptionError",
    "MethodNotApplicable",
    "SolverUnavailable",
    "set_field",
]
