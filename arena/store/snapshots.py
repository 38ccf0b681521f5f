"""Published leaderboards kept in the database: snapshots with their provenance.

``arena leaderboard ... --snapshot`` stores the table it printed with everything needed
to compute it again: the data hash, the method and its parameters (interval kind,
rounds, seed, level, anchor, scale, filters), the input files' hashes and the package
version (:meth:`arena.records.Leaderboard.metadata`). One row per snapshot
(``leaderboard_snapshots``) and one per model in it (``leaderboard_snapshot_rows``,
indexed by model, so a model's rating over time is one query). Rows are never updated.

The tables are declared here on the schema's ``Base`` (migration
``0007_leaderboard_snapshots``), so the migration check covers them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

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
    "save_snapshot",
]

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
    for position, row in enumerate(lb.table.to_dict(orient="records"), start=1):
        session.add(
            SnapshotRow(
                snapshot_id=snapshot.id,
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
    return int(snapshot.id)


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
