"""ital_opt: incentive contracts declared once, solved by interchangeable methods, checked independently.

>>> import ital_opt
>>> problem = ital_opt.load("formulations/ch3_example_3_1.toml")   # doctest: +SKIP
>>> result = problem.solve(method="auto")                          # doctest: +SKIP
>>> result.to_dict()                                               # doctest: +SKIP
"""

from .errors import MethodNotApplicable, SolverUnavailable, SpecError
from .problem import Method, Problem, Verification, verify
from .result import Result
from .spec import load, set_field

__version__ = "0.1.0"


def solve(spec, method: str = "auto", **options) -> Result:
    """Load a spec (path or dict) and solve it."""
    return load(spec).solve(method, **options)


def __getattr__(name):
    # the problem classes, imported on first use: ital_opt.Screening, ital_opt.Team, ...
    from .kinds import KINDS, problem_class

    for kind, target in KINDS.items():
        if target.rsplit(":", 1)[1] == name:
            return problem_class(kind)
    if name == "sweep":
        from .sweep import sweep

        return sweep
    raise AttributeError(f"module 'ital_opt' has no attribute {name!r}")


__all__ = [
    "load",
    "solve",
    "verify",
    "Problem",
    "Method",
    "Result",
    "Verification",
    "SpecError",
    "MethodNotApplicable",
    "SolverUnavailable",
    "set_field",
]
