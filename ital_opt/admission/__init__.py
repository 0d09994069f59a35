"""Chapter 3 of the book: the alliance's admission menu against adverse selection (BOOK.md §2)."""

from .model import Admission

__all__ = ["Admission"]
