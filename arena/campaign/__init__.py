"""Campaign science: a model's standing, the votes it still needs, an integrity audit.

Built on the ratings engine (:mod:`arena.ratings`, :func:`arena.leaderboard.compute_leaderboard`)
and the votes store; pure functions over :class:`arena.battles.Battles`, with the reading
of files and of the database in :mod:`arena.campaign.data`.
"""

from arena.campaign.data import CampaignData, ModelInfo, check_admin, load_database, load_files
from arena.campaign.standing import (
    CategoryStanding,
    Separation,
    Standing,
    battles_to_separate,
    model_standing,
    standing_markdown,
)

__all__ = [
    "CampaignData",
    "CategoryStanding",
    "ModelInfo",
    "Separation",
    "Standing",
    "battles_to_separate",
    "check_admin",
    "load_database",
    "load_files",
    "model_standing",
    "standing_markdown",
]
