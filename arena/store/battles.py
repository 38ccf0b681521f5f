"""Battle life cycle: created (pending), answers generated (ready), voted or failed.

::

    pending --start_generation--> generating --set_answers--> ready --record_vote--> voted
    pending ------------------------set_answers-------------> ready
    ready ----add_turn (follow-up message)----> generating
    pending, generating, ready ----mark_failed----> failed

Every change is one conditional ``UPDATE ... WHERE status IN (allowed)``, so two
processes racing on a battle (a generator marking it failed while a visitor votes)
cannot overwrite each other: the loser gets :class:`InvalidTransition` (or, for a
vote, :class:`BattleNotReady`) instead of silently clobbering the winner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from arena.store._sql import rowcount
from arena.store.catalog import get_models
from arena.store.errors import InvalidTransition, StoreError, UnknownBattle
from arena.store.schema import Battle, BattleStatus, Conversation, utcnow
from arena.store.votes import ensure_voter

__all__ = [
    "add_turn",
    "create_battle",
    "get_battle",
    "mark_failed",
    "set_answers",
    "start_generation",
]

_S = BattleStatus


def _texts(value: str | Sequence[str], what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(t, str) for t in items):
        raise StoreError(f"{what} must be a text or a non-empty list of texts, got {value!r}")
    return items


def create_battle(
    session: Session,
    model_a: str,
    model_b: str,
    prompt: str | Sequence[str],
    *,
    language: str | None = None,
    category: str | None = None,
    params: Mapping[str, Any] | None = None,
    anonymous: bool = True,
    voter: str | None = None,
) -> Battle:
    """Create a pending battle of ``model_a`` (side A) against ``model_b`` (side B).

    Parameters
    ----------
    session:
        The caller's session; the rows are flushed (ids assigned), not committed.
    model_a, model_b:
        Names of two different models from the ``models`` table.
    prompt:
        The user's message, or every user turn so far.
    language, category:
        Of the prompt, for the leaderboard filters.
    params:
        Generation parameters (temperature, max tokens, ...), stored as JSON.
    anonymous:
        False for side-by-side mode, where the visitor picked and saw the models.
    voter:
        Token of the visitor who asked (optional).

    Raises
    ------
    UnknownModel
        A model is not configured.
    StoreError
        The same model on both sides, or an empty prompt.
    """
    if model_a == model_b:
        raise StoreError(f"a battle needs two different models, got {model_a!r} twice")
    turns = _texts(prompt, "the prompt")
    a, b = get_models(session, [model_a, model_b])
    conversation = Conversation(text=turns[0], turns=turns, language=language, category=category)
    battle = Battle(
        conversation=conversation,
        model_a_id=a.id,
        model_b_id=b.id,
        params=dict(params or {}),
        anonymous=anonymous,
        voter_id=None if voter is None else ensure_voter(session, voter),
    )
    session.add(battle)
    session.flush()
    return battle


def get_battle(session: Session, battle_id: int) -> Battle:
    """Load the battle with this id.

    Raises
    ------
    UnknownBattle
    """
    battle = session.get(Battle, battle_id)
    if battle is None:
        raise UnknownBattle(f"there is no battle {battle_id}")
    return battle


def _transition(
    session: Session,
    battle_id: int,
    allowed: tuple[BattleStatus, ...],
    values: dict[str, Any],
    action: str,
) -> None:
    statement = (
        update(Battle)
        .where(Battle.id == battle_id, Battle.status.in_([s.value for s in allowed]))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(session, statement) == 1:
        battle = session.get(Battle, battle_id)
        if battle is not None:
            session.expire(battle)  # reload what the UPDATE wrote on next access
        return
    status = session.scalar(select(Battle.status).where(Battle.id == battle_id))
    if status is None:
        raise UnknownBattle(f"there is no battle {battle_id}")
    raise InvalidTransition(
        f"cannot {action} battle {battle_id}: it is {status}, "
        f"expected {' or '.join(s.value for s in allowed)}"
    )


def start_generation(session: Session, battle_id: int) -> None:
    """Mark a pending battle as generating (its answers are being produced)."""
    _transition(session, battle_id, (_S.PENDING,), {"status": _S.GENERATING.value}, "start")


def set_answers(
    session: Session,
    battle_id: int,
    answers_a: str | Sequence[str],
    answers_b: str | Sequence[str],
    *,
    latency_a: float | None = None,
    latency_b: float | None = None,
) -> None:
    """Store both sides' answers, one per user turn, and make the battle ready for a vote.

    Parameters
    ----------
    session:
        The caller's session.
    battle_id:
        The battle answered.
    answers_a, answers_b:
        The answer to each user turn (a single text for a one-turn battle).
    latency_a, latency_b:
        Seconds each side took, for monitoring.

    Raises
    ------
    StoreError
        The number of answers differs from the number of user turns.
    InvalidTransition
        The battle is already ready, voted or failed.
    """
    a = _texts(answers_a, "answers_a")
    b = _texts(answers_b, "answers_b")
    turns = session.scalar(
        select(Conversation.turns)
        .join(Battle, Battle.conversation_id == Conversation.id)
        .where(Battle.id == battle_id)
    )
    if turns is None:
        raise UnknownBattle(f"there is no battle {battle_id}")
    if not len(a) == len(b) == len(turns):
        raise StoreError(
            f"battle {battle_id} has {len(turns)} user turn(s) but got "
            f"{len(a)} answer(s) for side A and {len(b)} for side B"
        )
    _transition(
        session,
        battle_id,
        (_S.PENDING, _S.GENERATING),
        {
            "status": _S.READY.value,
            "answers_a": a,
            "answers_b": b,
            "latency_a": latency_a,
            "latency_b": latency_b,
            "error": None,
        },
        "set the answers of",
    )


def add_turn(session: Session, battle_id: int, message: str) -> None:
    """Append a follow-up user message to a ready battle; it goes back to generating."""
    if not isinstance(message, str) or not message:
        raise StoreError(f"a follow-up message must be a non-empty text, got {message!r}")
    conversation = session.scalars(
        select(Conversation)
        .join(Battle, Battle.conversation_id == Conversation.id)
        .where(Battle.id == battle_id)
    ).one_or_none()
    if conversation is None:
        raise UnknownBattle(f"there is no battle {battle_id}")
    _transition(session, battle_id, (_S.READY,), {"status": _S.GENERATING.value}, "continue")
    conversation.turns = [*conversation.turns, message]
    session.flush()


def mark_failed(session: Session, battle_id: int, error: str) -> None:
    """Record that generating the battle failed (a side errored, timed out, was refused)."""
    _transition(
        session,
        battle_id,
        (_S.PENDING, _S.GENERATING, _S.READY),
        {"status": _S.FAILED.value, "error": str(error)},
        "fail",
    )
