"""Chapter 3 of the book: the alliance's admission menu against adverse selection (docs/theory/admission.md)."""

from .model import Admission

__all__ = ["Admission"]
