"""Leaderboard history: ``leaderboard_snapshots`` and ``leaderboard_snapshot_rows``.

``arena leaderboard ... --snapshot`` stores the published table with its provenance
(data hash, method, parameters, seed, inputs; :mod:`arena.store.snapshots`); ``arena
history`` lists them and a model's rating over time. A frozen copy of the schema at this
revision; it changes no other table.

Revision ID: 0007_leaderboard_snapshots
Revises: 0006_model_family
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_leaderboard_snapshots"
down_revision: str | None = "0006_model_family"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create both tables and the indexes of their lookups (time, data hash, model)."""
    op.create_table(
        "leaderboard_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("n_battles", sa.Integer(), nullable=False),
        sa.Column("n_models", sa.Integer(), nullable=False),
        sa.Column("provenance", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leaderboard_snapshots")),
    )
    op.create_index(
        op.f("ix_leaderboard_snapshots_created_at"), "leaderboard_snapshots", ["created_at"]
    )
    op.create_index(
        op.f("ix_leaderboard_snapshots_data_sha256"), "leaderboard_snapshots", ["data_sha256"]
    )
    op.create_table(
        "leaderboard_snapshot_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rank_ub", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("ci_lower", sa.Float(), nullable=True),
        sa.Column("ci_upper", sa.Float(), nullable=True),
        sa.Column("battles", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["leaderboard_snapshots.id"],
            name=op.f("fk_leaderboard_snapshot_rows_snapshot_id_leaderboard_snapshots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leaderboard_snapshot_rows")),
    )
    op.create_index(
        op.f("ix_leaderboard_snapshot_rows_snapshot_id"),
        "leaderboard_snapshot_rows",
        ["snapshot_id"],
    )
    op.create_index(
        op.f("ix_leaderboard_snapshot_rows_model"), "leaderboard_snapshot_rows", ["model"]
    )


def downgrade() -> None:
    """Drop both tables (the stored snapshots are lost; votes are untouched)."""
    op.drop_index(op.f("ix_leaderboard_snapshot_rows_model"), "leaderboard_snapshot_rows")
    op.drop_index(op.f("ix_leaderboard_snapshot_rows_snapshot_id"), "leaderboard_snapshot_rows")
    op.drop_table("leaderboard_snapshot_rows")
    op.drop_index(op.f("ix_leaderboard_snapshots_data_sha256"), "leaderboard_snapshots")
    op.drop_index(op.f("ix_leaderboard_snapshots_created_at"), "leaderboard_snapshots")
    op.drop_table("leaderboard_snapshots")
