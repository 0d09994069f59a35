"""Optional dependencies, imported where they are used, with a message naming the extra to install.

The core (``pip install ital_opt``) needs numpy, scipy, pandas, sympy, cvxpy, clarabel, highspy
and pyomo.  The rest comes with the extras declared in pyproject.toml: ``[nlp]`` (pyomo-ripopt,
cyipopt), ``[sweep]`` (dask, pyarrow, tqdm), ``[plot]`` (matplotlib).  ``require`` imports one
such module or raises :class:`MissingExtra` (an ImportError, so code that already falls back on
ImportError keeps doing so) whose message says ``pip install 'ital_opt[EXTRA]'``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# top-level module -> (the package that provides it, the extra that installs it)
PROVIDERS: dict[str, tuple[str, str]] = {
    "matplotlib": ("matplotlib", "plot"),
    "dask": ("dask[distributed]", "sweep"),
    "distributed": ("dask[distributed]", "sweep"),
    "pyarrow": ("pyarrow", "sweep"),
    "tqdm": ("tqdm", "sweep"),
    "cyipopt": ("cyipopt-wheels", "nlp"),
    "pyomo_ripopt": ("pyomo-ripopt", "nlp"),
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib.pyplot"``) or raise :class:`MissingExtra` naming the extra.

    >>> require("math").sqrt(4.0)
    2.0
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.partition(".")[0] != top:
            raise  # the module is there but one of its own dependencies is broken: show that
        package, default_extra = PROVIDERS.get(top, (top, None))
        extra = extra or default_extra
        hint = f"pip install 'ital_opt[{extra}]'" if extra else f"pip install {package}"
        raise MissingExtra(f"{top} is not installed: this needs the optional dependency {package} "
                           f"({hint})", name=top) from exc


def pyplot(module: str = "matplotlib.pyplot") -> ModuleType:
    """`module` of matplotlib (pyplot by default) with the non-interactive Agg backend selected,
    or :class:`MissingExtra` naming the ``[plot]`` extra: how every figure is drawn."""
    require("matplotlib", extra="plot").use("Agg", force=True)
    return importlib.import_module(module)
