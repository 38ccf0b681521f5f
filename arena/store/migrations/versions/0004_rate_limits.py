"""Rate-limit counters shared by every server process: ``rate_limits``.

One row per (scope, subject, bucket): how many messages a session or a client address
sent in one window, or how many wrong admin passwords a client tried
(:mod:`arena.store.limits`). Rows expire within two windows. A frozen copy of the
schema at this revision, written as in 0001 to 0003 (final constraint names through
``op.f``); it adds one table and changes none of the others.

Revision ID: 0004_rate_limits
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rate_limits"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table and the index its pruning uses."""
    op.create_table(
        "rate_limits",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "subject", "bucket", name=op.f("pk_rate_limits")),
    )
    op.create_index("ix_rate_limits_expires_at", "rate_limits", ["expires_at"])


def downgrade() -> None:
    """Drop the table (only counters are lost: limits start afresh)."""
    op.drop_index("ix_rate_limits_expires_at", table_name="rate_limits")
    op.drop_table("rate_limits")
