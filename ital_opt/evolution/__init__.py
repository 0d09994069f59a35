"""``kind = "evolution"``: multi-population replicator dynamics (BOOK.md §4.5)."""
