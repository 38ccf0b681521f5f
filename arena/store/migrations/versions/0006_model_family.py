"""Model families: ``models.family``, the product line or variant group of a model.

The models file's ``family`` key (e.g. the variants an organization tests before it
releases one) is stored with each model, so ``arena audit`` can count the variants per
organization and family and show the selection bias of reporting the best of them. A
nullable column with no default: existing models have no family until the models file
gives one. It changes no other table.

Revision ID: 0006_model_family
Revises: 0005_battle_sources
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_model_family"
down_revision: str | None = "0005_battle_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable ``family`` column (an ``ALTER TABLE ... ADD COLUMN`` everywhere)."""
    op.add_column("models", sa.Column("family", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop the column (the families are lost; models and votes are untouched).

    In place on SQLite too (``ALTER TABLE ... DROP COLUMN``, SQLite 3.35+): rebuilding
    the table, as Alembic's batch mode would, fails on the battles' foreign keys.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE models DROP COLUMN family")
    else:
        op.drop_column("models", "family")
