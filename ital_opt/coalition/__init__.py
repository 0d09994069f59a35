"""Cooperative allocation of an alliance's surplus: TU games and their solutions (docs/theory/coalition.md).

``games`` builds worth vectors (tables, bankruptcy, weighted voting, airport, assignment and
team-derived games); ``closed_form`` the values and the closed forms of structured games (numpy);
``formulations`` the least-core and nucleolus LPs; ``checks`` the independent certificates;
``model`` the ``kind = "coalition"`` problem class; ``figures`` its figures.
"""

from .checks import core_violation, in_core, kohlberg_certificate
from .closed_form import (
    airport_banzhaf,
    airport_nucleolus,
    airport_shapley,
    bankruptcy_values,
    banzhaf,
    banzhaf_sample,
    shapley,
    shapley_sample,
    talmud,
    voting_values,
)
from .formulations import balancing_weights, dense_pool, lexicographic_centre, list_pool, nucleolus_dense
from .games import (
    Game,
    airport_game,
    assignment_game,
    bankruptcy_game,
    coalition_name,
    coalition_sums,
    is_convex,
    table_game,
    team_game,
    voting_game,
)

__all__ = [
    "Game", "bankruptcy_game", "table_game", "team_game", "voting_game", "airport_game", "assignment_game",
    "coalition_name", "coalition_sums", "is_convex",
    "shapley", "shapley_sample", "banzhaf", "banzhaf_sample", "talmud", "bankruptcy_values", "voting_values",
    "airport_shapley", "airport_banzhaf", "airport_nucleolus",
    "core_violation", "in_core", "kohlberg_certificate",
    "balancing_weights", "dense_pool", "list_pool", "lexicographic_centre", "nucleolus_dense",
]
