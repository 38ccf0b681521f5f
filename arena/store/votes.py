"""Recording votes, exactly one per battle, and counting them.

:func:`record_vote` is the one write path for votes. Exactly-once is decided by the
database, not by a read-then-write check that two processes could both pass: the vote
is inserted with ``INSERT ... SELECT ... FROM battles WHERE id = :id AND status =
'ready' ON CONFLICT (battle_id) DO NOTHING``, so the ``UNIQUE (battle_id)`` constraint
on ``votes`` arbitrates between racing voters (PostgreSQL makes the second inserter wait
for the first to commit; SQLite runs one writer at a time) and the loser inserts
nothing. The battle then moves from ``ready`` to ``voted`` with a conditional
``UPDATE`` in the same transaction.

A rejected vote leaves nothing behind in the caller's transaction, which stays usable:
no statement fails (no IntegrityError to recover from, hence no SAVEPOINT, whose two
extra round trips made a PostgreSQL vote a third slower), and the rare vote that must
be undone after its INSERT (the battle failed meanwhile) is deleted again, with the
voter registered for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Integer, String, delete, func, select, update
from sqlalchemy import bindparam as param
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from arena.outcomes import Outcome
from arena.store._sql import rowcount
from arena.store.errors import (
    AlreadyVoted,
    BattleFailed,
    BattleNotReady,
    InvalidOutcome,
    UnknownBattle,
    VoteError,
)
from arena.store.schema import (
    OUTCOMES,
    Battle,
    BattleStatus,
    Conversation,
    Model,
    Vote,
    Voter,
    utcnow,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COUNT_COLUMNS",
    "ModelTally",
    "VoteStats",
    "ensure_voter",
    "record_vote",
    "vote_counts",
    "vote_stats",
]

_MAX_TOKEN = 128
_READY = BattleStatus.READY.value


def _dialect_statements(insert: Any) -> tuple[Any, Any]:
    """The two ``ON CONFLICT`` inserts of a dialect: register a voter, insert a vote."""
    new_voter = (
        insert(Voter)
        .values(token=param("token"), created_at=param("now"))
        .on_conflict_do_nothing(index_elements=["token"])
        .returning(Voter.id)
        .execution_options(dml_strategy="raw")
    )
    new_vote = (
        insert(Vote)
        .from_select(
            ["battle_id", "outcome", "voter_id", "created_at", "anonymous", "identity_leak"],
            select(
                param("battle_id", type_=Integer),
                param("outcome", type_=String),
                param("voter_id", type_=Integer),
                param("now", type_=Vote.created_at.type),
                Battle.anonymous,
                param("identity_leak", type_=Boolean),
            ).where(Battle.id == param("battle_id"), Battle.status == _READY),
        )
        .on_conflict_do_nothing(index_elements=["battle_id"])
        .returning(*Vote.__table__.columns)
        .execution_options(dml_strategy="raw")  # one row from bound values, not bulk
    )
    return new_voter, new_vote


# Statements are built once: building them cost a fifth of a vote's CPU time.
_STATEMENTS = {
    "postgresql": _dialect_statements(postgresql.insert),
    "sqlite": _dialect_statements(sqlite.insert),
}
_VOTER_ID = select(Voter.id).where(Voter.token == param("token"))
_MARK_VOTED = (
    update(Battle)
    .where(Battle.id == param("battle_id"), Battle.status == _READY)
    .values(status=BattleStatus.VOTED.value, updated_at=param("now"))
    .execution_options(synchronize_session=False)
)


def _check_token(token: str) -> None:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        raise VoteError(f"voter token must be 1 to {_MAX_TOKEN} characters, got {token!r}")


def _voter(session: Session, token: str) -> tuple[int, bool]:
    """Return the voter's id and whether this call registered the token."""
    voter_id = session.scalar(_VOTER_ID, {"token": token})
    if voter_id is not None:
        return voter_id, False
    new_voter, _ = _STATEMENTS[session.get_bind().dialect.name]
    voter_id = session.scalar(new_voter, {"token": token, "now": utcnow()})
    if voter_id is not None:
        return voter_id, True
    # Another transaction registered it meanwhile (PostgreSQL waited for it to commit).
    voter_id = session.scalar(_VOTER_ID, {"token": token})
    assert voter_id is not None
    return voter_id, False


def ensure_voter(session: Session, token: str) -> int:
    """Return the id of the voter with this token, registering the token on first use.

    Race-free across processes: ``INSERT ... ON CONFLICT (token) DO NOTHING``, then read.
    """
    _check_token(token)
    return _voter(session, token)[0]


def record_vote(
    session: Session,
    battle_id: int,
    outcome: str,
    voter: str,
    *,
    identity_leak: bool = False,
) -> Vote:
    """Record the vote of a ready battle and mark the battle voted.

    Parameters
    ----------
    session:
        The caller's session; the caller commits (one vote per transaction is best:
        SQLite holds its write lock until then).
    battle_id:
        The battle voted on.
    outcome:
        ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)``.
    voter:
        The visitor's token (registered on first vote).
    identity_leak:
        An answer revealed which model wrote it (anonymous leaderboards drop the vote).

    Returns
    -------
    Vote
        The new row (``anonymous`` copied from the battle).

    Raises
    ------
    InvalidOutcome, UnknownBattle, BattleNotReady, AlreadyVoted, VoteError
        The vote was not recorded, nothing of it is left in the session's transaction,
        and the transaction can go on.
    """
    if outcome not in OUTCOMES:
        raise InvalidOutcome(f"invalid outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    _check_token(voter)
    voter_id, new_voter = _voter(session, voter)
    params = {
        "battle_id": battle_id,
        "outcome": outcome,
        "voter_id": voter_id,
        "now": utcnow(),
        "identity_leak": bool(identity_leak),
    }
    _, new_vote = _STATEMENTS[session.get_bind().dialect.name]
    row = session.execute(new_vote, params).one_or_none()
    if row is None:  # not ready, unknown, or the unique constraint kept a vote out
        if new_voter:
            session.execute(delete(Voter).where(Voter.id == voter_id))
        raise _not_votable(session, battle_id)
    if rowcount(session, _MARK_VOTED, params) != 1:
        # PostgreSQL only: the battle failed or went on to a new turn since the INSERT
        # read it (SQLite runs one writer at a time). Undo our own uncommitted rows.
        session.execute(delete(Vote).where(Vote.id == row.id))
        if new_voter:
            session.execute(delete(Voter).where(Voter.id == voter_id))
        raise BattleNotReady(f"battle {battle_id} stopped being ready before the vote")
    vote = Vote(**row._asdict())
    make_transient_to_detached(vote)  # it is the row just inserted: persistent, not pending
    session.add(vote)
    return vote


def _not_votable(session: Session, battle_id: int) -> VoteError:
    """Say why the battle took no vote (read after the guarded INSERT added no row)."""
    status = session.scalar(select(Battle.status).where(Battle.id == battle_id))
    if status is None:
        return UnknownBattle(f"there is no battle {battle_id}")
    if status in (BattleStatus.VOTED, _READY):
        # (Ready yet with a vote: only a hand-edited database gets here; the constraint
        # kept the second vote out all the same.)
        return AlreadyVoted(f"battle {battle_id} already has its vote")
    if status == BattleStatus.FAILED.value:
        return BattleFailed(f"battle {battle_id} failed, it takes no vote")
    return BattleNotReady(f"battle {battle_id} is {status}, it can be voted on once ready")


@dataclass(frozen=True)
class ModelTally:
    """Vote counts of one model, from its own point of view."""

    model: str
    votes: int
    wins: int
    losses: int
    ties: int
    both_bad: int


@dataclass(frozen=True)
class VoteStats:
    """What the store holds, for the admin page and ``arena votes --stats``.

    Attributes
    ----------
    n_votes, n_voters:
        Votes recorded, distinct voters who cast them.
    outcomes:
        Votes per outcome label (every label present, possibly 0).
    battles_by_status:
        Battles per status (every status present, possibly 0).
    first_vote, last_vote:
        UTC times of the oldest and newest vote (None without votes).
    per_model:
        One :class:`ModelTally` per model that has votes, most voted first.
    identity_leaks:
        Votes flagged as identity leaks.
    """

    n_votes: int
    n_voters: int
    outcomes: dict[str, int]
    battles_by_status: dict[str, int]
    first_vote: datetime | None
    last_vote: datetime | None
    per_model: tuple[ModelTally, ...]
    identity_leaks: int


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns the stored UTC time without a zone
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def vote_stats(session: Session) -> VoteStats:
    """Count votes, voters, outcomes, battle statuses and per-model results in SQL."""
    totals = session.execute(
        select(
            func.count(Vote.id),
            func.count(func.distinct(Vote.voter_id)),
            func.min(Vote.created_at),
            func.max(Vote.created_at),
            func.count(Vote.id).filter(Vote.identity_leak.is_(True)),
        )
    ).one()
    statuses = dict.fromkeys((s.value for s in BattleStatus), 0)
    for status, count in session.execute(
        select(Battle.status, func.count()).group_by(Battle.status)
    ):
        statuses[status] = count
    names = dict(session.execute(select(Model.id, Model.name)).all())
    outcomes: Counter[str] = Counter(dict.fromkeys(OUTCOMES, 0))
    tallies: dict[str, Counter[str]] = {}
    by_pair = (
        select(Battle.model_a_id, Battle.model_b_id, Vote.outcome, func.count())
        .join(Battle, Vote.battle_id == Battle.id)
        .group_by(Battle.model_a_id, Battle.model_b_id, Vote.outcome)
    )
    a_won, b_won = Outcome.A.label, Outcome.B.label
    draws = {Outcome.TIE.label: "ties", Outcome.BOTH_BAD.label: "both_bad"}
    for a_id, b_id, outcome, count in session.execute(by_pair):
        outcomes[outcome] += count
        for model_id, won, lost in ((a_id, a_won, b_won), (b_id, b_won, a_won)):
            tally = tallies.setdefault(names[model_id], Counter())
            tally["votes"] += count
            tally[{won: "wins", lost: "losses", **draws}[outcome]] += count
    per_model = sorted(
        (
            ModelTally(
                model=name,
                votes=t["votes"],
                wins=t["wins"],
                losses=t["losses"],
                ties=t["ties"],
                both_bad=t["both_bad"],
            )
            for name, t in tallies.items()
        ),
        key=lambda t: (-t.votes, t.model),
    )
    return VoteStats(
        n_votes=totals[0],
        n_voters=totals[1],
        outcomes=dict(outcomes),
        battles_by_status=statuses,
        first_vote=_utc(totals[2]),
        last_vote=_utc(totals[3]),
        per_model=tuple(per_model),
        identity_leaks=int(totals[4]),
    )


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

    The live leaderboard needs no per-vote data (no answers, no times): the Bradley–Terry
    fit and its sandwich interval depend only on how often each ordered pair got each
    outcome, so one ``GROUP BY`` reads a few thousand rows instead of a million.

    Returns one row per group that has votes, columns :data:`COUNT_COLUMNS` (model
    names, the FastChat ``winner`` label, the conversation's stored category or None,
    the vote's anonymous and identity-leak flags, the number of votes). pandas is
    imported here, not with the module, so recording a vote never loads it.
    """
    import pandas as pd

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
