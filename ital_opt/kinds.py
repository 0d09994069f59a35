"""The registry of problem kinds: kind name -> problem class, imported on first use."""

from __future__ import annotations

import importlib

from .errors import SpecError

KINDS = {
    "screening": "ital_opt.screening.model:Screening",
    "admission": "ital_opt.admission.model:Admission",
    "team": "ital_opt.team.model:Team",
    "coalition": "ital_opt.coalition.model:Coalition",
    "moral_hazard": "ital_opt.moral_hazard.model:MoralHazard",
}
_CLASSES: dict[str, type] = {}


def register(cls):
    """Class decorator: make `cls` the problem class of `cls.kind`."""
    _CLASSES[cls.kind] = cls
    return cls


def problem_class(kind, source: str | None = None):
    if not isinstance(kind, str) or kind not in KINDS:
        raise SpecError("kind", f"unknown kind {kind!r} (known kinds: {', '.join(KINDS)})", source)
    if kind not in _CLASSES:
        module, name = KINDS[kind].split(":")
        _CLASSES.setdefault(kind, getattr(importlib.import_module(module), name))
    return _CLASSES[kind]
