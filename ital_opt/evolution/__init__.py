"""``kind = "evolution"``: multi-population replicator dynamics (docs/theory/evolution.md)."""
