"""Errors of the vote store, all :class:`arena.errors.UserError` so the CLI prints one line.

The web app catches :class:`VoteError` to show the visitor why a vote was not taken
(already voted, battle not ready, ...), and :class:`StoreError` for everything about
reaching or preparing the database.
"""

from __future__ import annotations

from arena.errors import UserError

__all__ = [
    "AlreadyVoted",
    "BattleFailed",
    "BattleNotReady",
    "DatabaseBusy",
    "DatabaseFault",
    "DatabaseUnavailable",
    "InvalidOutcome",
    "InvalidTransition",
    "SchemaNotCurrent",
    "StoreError",
    "UnknownBattle",
    "UnknownEvalRun",
    "UnknownModel",
    "VoteError",
]


class StoreError(UserError):
    """A problem with the vote database: its URL, the server, its schema or its content."""


class DatabaseUnavailable(StoreError):
    """The database URL is malformed, names an unsupported database, or cannot be reached."""


class DatabaseFault(DatabaseUnavailable):
    """The database failed under a running server; nothing of the operation was written.

    Its file was deleted or replaced, or became read-only, or its disk is full, or it
    gave an I/O error (the transaction was rolled back, or never began).
    """


class DatabaseBusy(DatabaseFault):
    """Another writer held the database longer than the busy timeout; nothing was written."""


class SchemaNotCurrent(StoreError):
    """The database exists but is not migrated to the schema this version of arena needs."""


class UnknownModel(StoreError):
    """A battle names a model that is not in the ``models`` table."""


class UnknownEvalRun(StoreError):
    """An evaluation run id that is not in the ``eval_runs`` table."""


class InvalidTransition(StoreError):
    """A battle status change that the battle life cycle does not allow."""


class VoteError(StoreError):
    """A vote that was not recorded; nothing of it was written."""


class UnknownBattle(VoteError):
    """The vote names a battle id that does not exist."""


class BattleNotReady(VoteError):
    """The battle exists but is not ready for a vote (still generating, or failed)."""


class BattleFailed(BattleNotReady):
    """The battle failed (an answer was not whole, or it was stopped): it never takes a vote."""


class AlreadyVoted(VoteError):
    """The battle already has its one vote."""


class InvalidOutcome(VoteError):
    """The outcome is not one of ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``."""
