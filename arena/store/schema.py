"""Tables of the vote store (SQLAlchemy 2.0 typed ORM): votes, and evaluation results.

The arena votes (models, conversations, voters, battles, votes) and the results of
``arena eval`` runs (``eval_runs``, ``eval_results``) share one database, so ratings and
benchmark scores of the same models can be read side by side.

The schema is created and changed only by the Alembic migrations in
``arena/store/migrations`` (``arena db upgrade``), never by ``create_all()`` at start-up:
several web-app processes starting together would race to create the same tables.
``tests/store/test_migrations.py`` checks that the migrations build exactly these tables.

Times are stored in UTC. They are set by Python (microsecond resolution, which the
ratings engine needs to order votes) and, for rows written by hand, by the server.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from arena.outcomes import WINNER_LABELS

__all__ = [
    "OUTCOMES",
    "Base",
    "Battle",
    "BattleImport",
    "BattleStatus",
    "Conversation",
    "EvalResult",
    "EvalRun",
    "ImportedBattle",
    "JudgeBattle",
    "Model",
    "Vote",
    "Voter",
]

#: Vote outcomes, the FastChat ``winner`` labels (:data:`arena.outcomes.WINNER_LABELS`).
OUTCOMES: tuple[str, ...] = WINNER_LABELS


class BattleStatus(enum.StrEnum):
    """Life cycle of a battle: ``pending -> generating -> ready -> voted``, or ``failed``."""

    PENDING = "pending"
    GENERATING = "generating"
    READY = "ready"
    FAILED = "failed"
    VOTED = "voted"


#: Constraint names are fixed by convention so migrations can name them portably.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON documents: ``jsonb`` on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

#: Timestamps with time zone (PostgreSQL ``timestamptz``; SQLite stores UTC text).
Timestamp = DateTime(timezone=True)


def utcnow() -> datetime:
    """Return the current time in UTC (a callable default: run per row, not at import)."""
    return datetime.now(UTC)


def _sql_in(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


class Base(DeclarativeBase):
    """Declarative base of the vote store; its metadata is what migrations must match."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Model(Base):
    """A language model entered in the arena, as configured by the operator.

    ``name`` is the stable identifier used in votes and leaderboards. A ``codename``
    is what visitors see for an unreleased ("preview") model until it is announced.
    ``sampling_weight`` is the relative chance the battle sampler picks it; inactive
    models are kept (their votes still count) but no longer sampled. ``family`` groups
    the variants of one product line (migration 0006; ``arena audit``'s best-of-N check).
    """

    __tablename__ = "models"
    __table_args__ = (CheckConstraint("sampling_weight >= 0", name="sampling_weight_nonnegative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))
    licence: Mapped[str | None] = mapped_column(String(200))
    backend: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    codename: Mapped[str | None] = mapped_column(String(200), unique=True)
    # deferred: read only when asked for, so code that lists models also runs on a
    # database not yet migrated to 0006 (the migration tests write at old revisions)
    family: Mapped[str | None] = mapped_column(String(200), deferred=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    sampling_weight: Mapped[float] = mapped_column(Float, default=1.0, server_default=text("1.0"))
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class Conversation(Base):
    """The prompt of a battle: the user turns both models answered.

    ``text`` is the first user message (for display and search); ``turns`` is the list
    of every user message, ``turns[0] == text``. ``language`` and ``category`` feed the
    leaderboard filters.
    """

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    turns: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    language: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )


class Voter(Base):
    """A visitor who votes, known only by an opaque pseudonymous token (no account).

    The token is what the web app keeps in the visitor's session; it is exported with
    the votes (column ``voter``) to let analyses de-duplicate or down-weight heavy
    voters, so it must not double as a secret.
    """

    __tablename__ = "voters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )


class Battle(Base):
    """Two models answering one conversation, side A and side B, awaiting one vote.

    ``answers_a``/``answers_b`` hold one answer per user turn. ``anonymous`` is False in
    side-by-side mode, where the visitor chose the models and saw their names.
    """

    __tablename__ = "battles"
    __table_args__ = (
        CheckConstraint("model_a_id <> model_b_id", name="distinct_models"),
        CheckConstraint(f"status IN ({_sql_in(tuple(BattleStatus))})", name="status"),
        Index(None, "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    model_a_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    model_b_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    answers_a: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    answers_b: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    latency_a: Mapped[float | None] = mapped_column(Float)
    latency_b: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        String(16), default=BattleStatus.PENDING.value, server_default=BattleStatus.PENDING.value
    )
    error: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("voters.id"))
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    conversation: Mapped[Conversation] = relationship()
    model_a: Mapped[Model] = relationship(foreign_keys=[model_a_id])
    model_b: Mapped[Model] = relationship(foreign_keys=[model_b_id])


class Vote(Base):
    """The one vote of a battle (``UNIQUE (battle_id)`` makes a second one impossible).

    ``anonymous`` is copied from the battle at vote time; ``identity_leak`` marks votes
    where an answer revealed which model wrote it, which anonymous leaderboards drop.
    """

    __tablename__ = "votes"
    __table_args__ = (CheckConstraint(f"outcome IN ({_sql_in(OUTCOMES)})", name="outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    battle_id: Mapped[int] = mapped_column(ForeignKey("battles.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    voter_id: Mapped[int] = mapped_column(ForeignKey("voters.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now(), index=True
    )
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    identity_leak: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    battle: Mapped[Battle] = relationship()
    voter: Mapped[Voter] = relationship()


class EvalRun(Base):
    """One stored run of ``arena eval``: which suite, when, with which options and packages.

    ``run_key`` is the SHA-256 of the run directory (absolute) and the suite's hash: storing
    the same run again, e.g. after ``--resume``, finds this row and replaces its results
    instead of adding a copy. ``started_at``/``finished_at`` are those of the run's last
    session (a resumed run restarts the clock).
    """

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)
    run_dir: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(200), index=True)
    suite_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    options: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    packages: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class EvalResult(Base):
    """One metric of one model on one task of a stored run, with its interval.

    Metric values and interval bounds are NULL where the run had none (NaN: no sample
    answered). ``n`` counts the samples the metric was computed on, ``n_failed`` those of
    the task whose requests failed after retries.
    """

    __tablename__ = "eval_results"
    __table_args__ = (
        UniqueConstraint("run_id", "model", "task", "metric"),
        Index(None, "model", "task"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    ci_lower: Mapped[float | None] = mapped_column(Float)
    ci_upper: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    ci_method: Mapped[str | None] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)
    n_failed: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class JudgeBattle(Base):
    """One battle of an ``arena eval judge`` run: the judge's verdict on two answers.

    ``run_label`` names the run (its directory): storing a run again replaces its rows.
    ``winner`` is a FastChat label; ``question_id`` is kept as text (MT-Bench numbers and
    prompt-file ids alike), ``tstamp`` in seconds since the epoch.
    """

    __tablename__ = "judge_battles"
    __table_args__ = (CheckConstraint(f"winner IN ({_sql_in(OUTCOMES)})", name="winner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    judge: Mapped[str] = mapped_column(String(200), index=True)
    run_label: Mapped[str] = mapped_column(Text, index=True)
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    winner: Mapped[str] = mapped_column(String(16))
    question_id: Mapped[str | None] = mapped_column(String(200))
    turn: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    tstamp: Mapped[float | None] = mapped_column(Float)


class BattleImport(Base):
    """One battle file loaded by ``arena db import``: its source name, content hash, tallies.

    ``(source, file_sha256)`` is unique, so importing the same file again adds nothing;
    ``data_sha256`` hashes the battles themselves, so the same battles in another file
    (another format, another row order) are recognised too.
    ``skipped`` maps each reason a row was left out to ``{"rows": n, "first": [row, ...]}``
    (row numbers as the file's reader counts them). Rows are never updated once written
    (the migration installs triggers that refuse it); ``arena db remove-source`` deletes
    a whole source.
    """

    __tablename__ = "battle_imports"
    __table_args__ = (UniqueConstraint("source", "file_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    data_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(32))
    n_battles: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    skipped: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    imported_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now()
    )


class ImportedBattle(Base):
    """Imported battles, stored as counts: ``count`` battles of one pair with one outcome.

    Public logs and pair counts only feed the ratings, which depend on how often each
    ordered pair got each outcome (and, for the filters, whether the battle was
    anonymous and its language), so a file is stored one row per distinct ``(model_a,
    model_b, outcome, anony, language)``: the 1.67 M Chatbot Arena battles are 13,621 rows.
    Model names are plain text, not :class:`Model` rows: imported models are never sampled
    for battles, and no battle or vote of the web app can point at these rows. ``anony``
    is NULL when the file does not say (pair counts).
    """

    __tablename__ = "imported_battles"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_sql_in(OUTCOMES)})", name="outcome"),
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("model_a <> model_b", name="distinct_models"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("battle_imports.id", ondelete="CASCADE"), index=True
    )
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    anony: Mapped[bool | None] = mapped_column(Boolean)
    language: Mapped[str | None] = mapped_column(String(64))
