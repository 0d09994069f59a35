"""Cooperative allocation of an alliance's surplus: TU games and their solutions (BOOK.md §3, §5).

``games`` builds worth vectors (explicit tables, bankruptcy games, team-derived games);
``solutions`` computes Shapley and Banzhaf values, the core, the least core and the nucleolus;
``model`` is the ``kind = "coalition"`` problem class.
"""

from .games import Game, bankruptcy_game, coalition_name, coalition_sums, is_convex, table_game, team_game
from .solutions import (
    banzhaf,
    banzhaf_sample,
    core_nonempty,
    core_violation,
    in_core,
    kohlberg_violation,
    least_core,
    least_core_dual,
    nucleolus,
    prenucleolus,
    shapley,
    shapley_sample,
    talmud,
)

__all__ = [
    "Game", "bankruptcy_game", "table_game", "team_game", "coalition_name", "coalition_sums", "is_convex",
    "shapley", "shapley_sample", "banzhaf", "banzhaf_sample", "core_violation", "in_core", "core_nonempty", "least_core",
    "least_core_dual", "nucleolus", "prenucleolus", "kohlberg_violation", "talmud",
]
