"""Battles of ``arena judge`` runs in the database, beside the arena votes: persistence only.

``arena judge`` stores every run with :func:`store_judge_battles`: one
``judge_battles`` row per judged comparison (judge, run label, the two models, winner,
question, turn, time). A run is identified by its label (its directory), so storing it
again (after ``--resume``) replaces its rows, in one transaction, instead of adding a
copy. Reading back, in the FastChat layout the ratings engine reads::

    from arena.battles import from_frame
    from arena.store import make_sessionmaker, open_engine
    from arena.store.judge import judge_battles_frame, list_judges

    engine = open_engine()                      # the same database as the votes
    with make_sessionmaker(engine, read_only=True)() as session:
        judges = list_judges(session)
        battles = from_frame(judge_battles_frame(session, judges[0]), style=False)

The caller owns the session: store inside ``Session.begin()``. Running, rating and
comparing judge battles is :mod:`arena.judge`'s; this module only writes and reads rows
(and refuses a row it could not store faithfully).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from arena.store.errors import StoreError
from arena.store.schema import OUTCOMES, JudgeBattle

__all__ = [
    "JUDGE_BATTLE_COLUMNS",
    "judge_battles_frame",
    "list_judges",
    "store_judge_battles",
]

#: Columns of :func:`judge_battles_frame`, in order (FastChat names; ``judge`` is the voter).
JUDGE_BATTLE_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "winner",
    "judge",
    "run_label",
    "question_id",
    "turn",
    "tstamp",
    "anony",
)


def _row(run_label: str, judge: str, battle: Mapping[str, Any], index: int) -> dict[str, Any]:
    winner = battle.get("winner")
    if winner not in OUTCOMES:
        raise StoreError(
            f"judge battle {index + 1} of run '{run_label}' has winner {winner!r}; "
            f"expected one of: {', '.join(OUTCOMES)}"
        )
    for side in ("model_a", "model_b"):
        if not isinstance(battle.get(side), str) or not battle[side]:
            raise StoreError(f"judge battle {index + 1} of run '{run_label}' has no {side}")
    question = battle.get("question_id")
    tstamp = battle.get("tstamp")
    return {
        "judge": judge,
        "run_label": run_label,
        "model_a": battle["model_a"],
        "model_b": battle["model_b"],
        "winner": winner,
        "question_id": None if question is None else str(question),
        "turn": int(battle.get("turn", 1)),
        "tstamp": None if tstamp is None else float(tstamp),
    }


def store_judge_battles(
    session: Session, run_label: str, judge: str, battles: Iterable[Mapping[str, Any]]
) -> int:
    """Store a run's battles, replacing those stored before under the same label.

    Parameters
    ----------
    session:
        A session inside a transaction (``Session.begin()``); nothing is committed here.
    run_label:
        The run's identity (``arena judge`` uses its absolute directory).
    judge:
        The judge model's name.
    battles:
        FastChat battles (``model_a, model_b, winner``, optionally ``question_id``,
        ``turn``, ``tstamp``), as :func:`arena.judge.run_judge` returns them.

    Returns
    -------
    int
        The number of battles stored.

    Raises
    ------
    StoreError
        A battle has an unknown winner label or no model name.
    """
    rows = [_row(run_label, judge, b, i) for i, b in enumerate(battles)]
    session.execute(delete(JudgeBattle).where(JudgeBattle.run_label == run_label))
    if rows:
        session.execute(insert(JudgeBattle), rows)
    return len(rows)


def list_judges(session: Session) -> list[str]:
    """The judges with stored battles, sorted by name."""
    return list(session.scalars(select(JudgeBattle.judge).distinct().order_by(JudgeBattle.judge)))


def judge_battles_frame(session: Session, judge: str | None = None) -> pd.DataFrame:
    """The stored judge battles (of ``judge`` only when given), one per row.

    Columns are :data:`JUDGE_BATTLE_COLUMNS` in the order stored; ``anony`` is False (a
    judge is not a blind human). :func:`arena.battles.from_frame` reads it as is.
    """
    names = [c for c in JUDGE_BATTLE_COLUMNS if c != "anony"]
    query = select(*(getattr(JudgeBattle, c) for c in names)).order_by(JudgeBattle.id)
    if judge is not None:
        query = query.where(JudgeBattle.judge == judge)
    frame = pd.DataFrame(session.execute(query).all(), columns=names)
    frame["turn"] = frame["turn"].astype("int64")
    frame["tstamp"] = pd.to_numeric(frame["tstamp"], errors="coerce").astype(float)
    frame["anony"] = False
    return frame
