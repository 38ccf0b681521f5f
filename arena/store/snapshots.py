"""Published leaderboards kept in the database: snapshots with their provenance.

``arena leaderboard ... --snapshot`` stores the table it printed with everything needed
to compute it again: the data hash, the method and its parameters (interval kind,
rounds, seed, level, anchor, scale, filters), the input files' hashes and the package
version (:meth:`arena.records.Leaderboard.metadata`). One row per snapshot
(``leaderboard_snapshots``) and one per model in it (``leaderboard_snapshot_rows``,
indexed by model, so a model's rating over time is one query). Rows are never updated.

Scheduled snapshots (the web app's ``ARENA_SNAPSHOT_EVERY_S``) carry their schedule slot,
the Unix second at which their period began; a unique index on ``(source,
schedule_slot)`` keeps one snapshot per slot however many server replicas store them
(:func:`save_scheduled_snapshot`: the losers of the race store nothing).

The tables are declared here on the schema's ``Base`` (migrations
``0007_leaderboard_snapshots`` and ``0008_snapshot_slot_unique``), so the migration check
covers them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from arena.store._sql import upsert_insert
from arena.store.schema import Base, JSONDocument, Timestamp, utcnow

if TYPE_CHECKING:
    from arena.records import Leaderboard

__all__ = [
    "LeaderboardSnapshot",
    "SnapshotRow",
    "SnapshotSummary",
    "get_snapshot",
    "list_snapshots",
    "model_history",
    "newest_snapshot_digest",
    "next_slot",
    "save_scheduled_snapshot",
    "save_snapshot",
    "schedule_slot",
]

#: Name of the unique index that keeps one scheduled snapshot per source and slot.
SLOT_INDEX = "uq_leaderboard_snapshots_schedule_slot"

class LeaderboardSnapshot(Base):
    """One published leaderboard and its provenance (see the module docstring)."""

    __tablename__ = "leaderboard_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        Timestamp, default=utcnow, server_default=func.now(), index=True
    )
    label: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(32))
    data_sha256: Mapped[str] = mapped_column(String(64), index=True)
    n_battles: Mapped[int] = mapped_column(Integer)
    n_models: Mapped[int] = mapped_column(Integer)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    #: Start (Unix seconds) of the schedule period a scheduled snapshot belongs to; NULL
    #: for snapshots stored on demand (NULLs never collide in the unique index).
    schedule_slot: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index(SLOT_INDEX, "source", "schedule_slot", unique=True),)


class SnapshotRow(Base):
    """One model's line in a snapshot (NULL bounds: no interval, or an unbounded side)."""

    __tablename__ = "leaderboard_snapshot_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("leaderboard_snapshots.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(200), index=True)
    position: Mapped[int] = mapped_column(Integer)
    rank_ub: Mapped[int] = mapped_column(Integer)
    rating: Mapped[float] = mapped_column(Float)
    ci_lower: Mapped[float | None] = mapped_column(Float)
    ci_upper: Mapped[float | None] = mapped_column(Float)
    battles: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class SnapshotSummary:
    """A snapshot without its rows."""

    id: int
    created_at: datetime
    label: str | None
    source: str
    method: str
    data_sha256: str
    n_battles: int
    n_models: int
    provenance: dict[str, Any]


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def save_snapshot(
    session: Session, lb: Leaderboard, *, source: str, label: str | None = None
) -> int:
    """Store ``lb`` with its provenance; returns the snapshot id (caller commits)."""
    snapshot = LeaderboardSnapshot(
        label=label,
        source=source,
        method=lb.method,
        data_sha256=lb.data_sha256,
        n_battles=int(lb.n_battles),
        n_models=int(lb.n_models),
        provenance=_json_safe(lb.metadata()),
    )
    session.add(snapshot)
    session.flush()
    _add_rows(session, snapshot.id, lb)
    return int(snapshot.id)


def schedule_slot(now: float, every_s: float) -> int:
    """The slot of a schedule of period ``every_s`` holding the Unix time ``now`` (pure).

    A slot is named by the Unix second at which it began (``floor(now / every_s) *
    every_s``, rounded down to a second), so replicas with the same period agree on it
    whatever their start times.
    """
    return int(math.floor(now / every_s) * every_s)


def next_slot(now: float, every_s: float) -> tuple[float, int]:
    """When the slot after the one holding ``now`` begins (Unix time), and its name (pure).

    The name is :func:`schedule_slot`'s for any time inside that slot, computed from the
    slot's index, so float rounding of the instant cannot name it after its neighbour.
    """
    index = math.floor(now / every_s) + 1
    return index * every_s, int(index * every_s)


def save_scheduled_snapshot(
    session: Session,
    lb: Leaderboard,
    *,
    source: str,
    slot: int | None,
    label: str | None = "scheduled",
) -> int | None:
    """Store ``lb`` as the snapshot of schedule ``slot`` unless it is not needed.

    Returns None (nothing written) when the newest snapshot already has ``lb``'s data
    hash (the votes did not change), or when ``slot`` already has a snapshot of
    ``source``: the claim is one ``INSERT ... ON CONFLICT DO NOTHING`` on the unique
    ``(source, schedule_slot)`` index, so of several replicas storing the same slot at
    once exactly one stores it (on PostgreSQL a racing insert waits for the first to
    commit, then does nothing). A None ``slot`` (a snapshot asked for outside the
    schedule) claims nothing: only the data hash is checked. The caller commits.
    """
    if newest_snapshot_digest(session) == lb.data_sha256:
        return None
    table = LeaderboardSnapshot.__table__
    statement = (
        upsert_insert(session, table)  # type: ignore[arg-type]
        .values(
            created_at=utcnow(),
            label=label,
            source=source,
            method=lb.method,
            data_sha256=lb.data_sha256,
            n_battles=int(lb.n_battles),
            n_models=int(lb.n_models),
            provenance=_json_safe(lb.metadata()),
            schedule_slot=None if slot is None else int(slot),
        )
        .on_conflict_do_nothing(index_elements=["source", "schedule_slot"])
        .returning(table.c.id)
    )
    snapshot_id = session.scalar(statement)
    if snapshot_id is None:  # another replica stored this slot
        return None
    _add_rows(session, int(snapshot_id), lb)
    return int(snapshot_id)


def _add_rows(session: Session, snapshot_id: int, lb: Leaderboard) -> None:
    for position, row in enumerate(lb.table.to_dict(orient="records"), start=1):
        session.add(
            SnapshotRow(
                snapshot_id=snapshot_id,
                model=str(row["model"]),
                position=position,
                rank_ub=int(row["rank_ub"]),
                rating=float(row["rating"]),
                ci_lower=_finite(row["ci_lower"]),
                ci_upper=_finite(row["ci_upper"]),
                battles=int(row["battles"]),
            )
        )
    session.flush()


def newest_snapshot_digest(session: Session) -> str | None:
    """The ``data_sha256`` of the newest snapshot, or None when none is stored.

    The scheduled snapshot compares it with the live board's digest so that unchanged
    votes store nothing.
    """
    digest: str | None = session.scalar(
        select(LeaderboardSnapshot.data_sha256)
        .order_by(LeaderboardSnapshot.created_at.desc(), LeaderboardSnapshot.id.desc())
        .limit(1)
    )
    return digest


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _summary(s: LeaderboardSnapshot) -> SnapshotSummary:
    return SnapshotSummary(
        s.id,
        s.created_at,
        s.label,
        s.source,
        s.method,
        s.data_sha256,
        s.n_battles,
        s.n_models,
        dict(s.provenance or {}),
    )


def list_snapshots(session: Session) -> list[SnapshotSummary]:
    """Every snapshot, oldest first."""
    rows = session.scalars(
        select(LeaderboardSnapshot).order_by(
            LeaderboardSnapshot.created_at, LeaderboardSnapshot.id
        )
    )
    return [_summary(s) for s in rows]


def get_snapshot(
    session: Session, snapshot_id: int
) -> tuple[SnapshotSummary, list[SnapshotRow]]:
    """A snapshot and its rows (best first).

    Raises
    ------
    KeyError
        No snapshot has this id.
    """
    snapshot = session.get(LeaderboardSnapshot, snapshot_id)
    if snapshot is None:
        raise KeyError(snapshot_id)
    rows = list(
        session.scalars(
            select(SnapshotRow)
            .where(SnapshotRow.snapshot_id == snapshot_id)
            .order_by(SnapshotRow.position)
        )
    )
    return _summary(snapshot), rows


def model_history(session: Session, model: str) -> list[tuple[SnapshotSummary, SnapshotRow]]:
    """Each snapshot that rated ``model``, oldest first, with the model's row."""
    query = (
        select(LeaderboardSnapshot, SnapshotRow)
        .join(SnapshotRow, SnapshotRow.snapshot_id == LeaderboardSnapshot.id)
        .where(SnapshotRow.model == model)
        .order_by(LeaderboardSnapshot.created_at, LeaderboardSnapshot.id)
    )
    return [(_summary(s), r) for s, r in session.execute(query).all()]
