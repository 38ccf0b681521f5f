"""One scheduled leaderboard snapshot per schedule slot: ``leaderboard_snapshots.schedule_slot``.

Several ``arena serve`` replicas on one database each run the snapshot schedule
(``ARENA_SNAPSHOT_EVERY_S``); without a claim both could store the same period's
board. A scheduled snapshot now records its slot (the Unix second its period began)
and a unique index on ``(source, schedule_slot)`` lets exactly one replica store it
(:func:`arena.store.snapshots.save_scheduled_snapshot`). Snapshots stored on demand keep
a NULL slot, which never collides. Existing rows are kept, with a NULL slot.

Revision ID: 0008_snapshot_slot_unique
Revises: 0007_leaderboard_snapshots
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_snapshot_slot_unique"
down_revision: str | None = "0007_leaderboard_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "uq_leaderboard_snapshots_schedule_slot"


def upgrade() -> None:
    """Add the nullable column (``ALTER TABLE ... ADD COLUMN``) and its unique index."""
    op.add_column(
        "leaderboard_snapshots", sa.Column("schedule_slot", sa.BigInteger(), nullable=True)
    )
    op.create_index(
        _INDEX, "leaderboard_snapshots", ["source", "schedule_slot"], unique=True
    )


def downgrade() -> None:
    """Drop the index and the column (the slots are lost; snapshots and votes are kept).

    In place on SQLite too (``ALTER TABLE ... DROP COLUMN``, SQLite 3.35+), as 0006 does.
    """
    op.drop_index(_INDEX, "leaderboard_snapshots")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE leaderboard_snapshots DROP COLUMN schedule_slot")
    else:
        op.drop_column("leaderboard_snapshots", "schedule_slot")
