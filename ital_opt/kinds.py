"""The registry of problem kinds: kind name -> problem class.

Kinds are found in two ways, and a kind is one class in one module either way:

* the entry-point group ``ital_opt.kinds`` of every installed distribution (ital_opt declares its
  own kinds there in ``pyproject.toml``; a third-party package adds a line
  ``[project.entry-points."ital_opt.kinds"] toy = "toykind:Toy"``), imported on first use;
* :func:`register_kind` at run time (the ``@register`` class decorator calls it).

A registration at run time wins over an entry point of the same name.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .errors import SpecError

if TYPE_CHECKING:  # importlib.metadata is imported when the entry points are first read
    from importlib.metadata import EntryPoint

    from .problem import Problem

GROUP = "ital_opt.kinds"
_CLASSES: dict[str, type] = {}


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    """The installed entry points of the group, read once (until :func:`refresh`)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def refresh() -> None:
    """Read the installed entry points again (after installing a kind's distribution)."""
    _entry_points.cache_clear()


def register_kind(name: str, cls: type) -> type:
    """Make `cls` (a :class:`~ital_opt.Problem` subclass) the problem class of kind `name`.

    Parameters
    ----------
    name : str
        The kind's name, as specs write it in ``kind``.
    cls : type
        A subclass of :class:`~ital_opt.Problem`.

    Returns
    -------
    type
        `cls`, so that the function also serves as a class decorator's body.
    """
    from .problem import Problem

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a kind name must be an identifier, got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Problem)):
        raise TypeError(f"register_kind({name!r}, ...) needs a subclass of ital_opt.Problem, got {cls!r}")
    cls.kind = name
    _CLASSES[name] = cls
    return cls


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator: make `cls` the problem class of ``cls.kind``."""
    return register_kind(cls.kind, cls)


def kinds() -> list[str]:
    """The names of every known kind (registered or installed), sorted."""
    return sorted(set(_CLASSES) | set(_entry_points()))


def class_name(kind: str) -> str:
    """The class name a kind's entry point names, without importing it."""
    if kind in _CLASSES:
        return _CLASSES[kind].__name__
    return _entry_points()[kind].value.rsplit(":", 1)[-1]


def problem_class(kind, source: str | None = None) -> type:
    """The problem class of `kind`; a SpecError naming the field ``kind`` if there is none."""
    if isinstance(kind, str) and kind in _CLASSES:
        return _CLASSES[kind]
    eps = _entry_points()
    if not isinstance(kind, str) or kind not in eps:
        raise SpecError("kind", f"unknown kind {kind!r} (known kinds: {', '.join(kinds())})", source)
    try:
        cls = eps[kind].load()
    except (ImportError, AttributeError) as exc:
        raise SpecError("kind", f"kind {kind!r} is installed but cannot be loaded: {exc}", source) from None
    _CLASSES.setdefault(kind, cls)
    return _CLASSES[kind]
