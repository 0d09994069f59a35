"""Screening (adverse selection) with a menu of contracts: model, formulations, closed forms."""
