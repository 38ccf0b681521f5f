"""Vote counts per pair, outcome, category and flags, read with one SQL ``GROUP BY``.

The live leaderboard needs no per-vote data (no answers, no times): the Bradley–Terry
fit and its sandwich interval depend only on how often each ordered pair got each
outcome. Grouping in the database reads a few thousand rows instead of a million.

This is a proposal for :mod:`arena.store` (``arena.store.vote_counts``); the service
uses the store's own function as soon as it exists, and this copy until then. It uses
the store's ORM tables through SQLAlchemy's query builder, no SQL text.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.store import Battle, Conversation, Model, Vote

__all__ = ["COUNT_COLUMNS", "vote_counts"]

#: Columns of :func:`vote_counts`.
COUNT_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "winner",
    "category",
    "anony",
    "identity_leak",
    "count",
)


def vote_counts(session: Session) -> pd.DataFrame:
    """Count votes by ``(model_a, model_b, winner, category, anony, identity_leak)``.

    Returns one row per group that has votes, columns :data:`COUNT_COLUMNS` (model
    names, the FastChat ``winner`` label, the conversation's category or None, the
    vote's anonymous and identity-leak flags, the number of votes).
    """
    group = (
        Battle.model_a_id,
        Battle.model_b_id,
        Vote.outcome,
        Conversation.category,
        Vote.anonymous,
        Vote.identity_leak,
    )
    query = (
        select(*group, func.count(Vote.id))
        .select_from(Vote)
        .join(Battle, Vote.battle_id == Battle.id)
        .join(Conversation, Battle.conversation_id == Conversation.id)
        .group_by(*group)
    )
    names = dict(session.execute(select(Model.id, Model.name)).all())
    rows = session.execute(query).all()
    return pd.DataFrame(
        {
            "model_a": [names[r[0]] for r in rows],
            "model_b": [names[r[1]] for r in rows],
            "winner": [r[2] for r in rows],
            "category": [r[3] for r in rows],
            "anony": [bool(r[4]) for r in rows],
            "identity_leak": [bool(r[5]) for r in rows],
            "count": [int(r[6]) for r in rows],
        },
        columns=list(COUNT_COLUMNS),
    )
