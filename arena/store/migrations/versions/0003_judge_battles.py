"""Judge battles beside the votes: ``judge_battles``.

One row per battle of an ``arena eval judge`` run (judge model, run label, the two
models, the winner, question and turn, time), so the web app can show a judge
leaderboard beside the human one. A frozen copy of the schema at this revision, written
as in 0001 and 0002 (final constraint names through ``op.f``); it adds one table and
changes none of the others.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTCOMES = "'model_a', 'model_b', 'tie', 'tie (bothbad)'"


def upgrade() -> None:
    """Create the table and the indexes of its lookups (judge, run label)."""
    op.create_table(
        "judge_battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(200), nullable=False),
        sa.Column("run_label", sa.Text(), nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("winner", sa.String(16), nullable=False),
        sa.Column("question_id", sa.String(200), nullable=True),
        sa.Column("turn", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("tstamp", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_battles")),
        sa.CheckConstraint(f"winner IN ({_OUTCOMES})", name=op.f("ck_judge_battles_winner")),
    )
    op.create_index(op.f("ix_judge_battles_judge"), "judge_battles", ["judge"])
    op.create_index(op.f("ix_judge_battles_run_label"), "judge_battles", ["run_label"])


def downgrade() -> None:
    """Drop the table (loses the stored judge battles; votes and results are untouched)."""
    op.drop_index(op.f("ix_judge_battles_run_label"), table_name="judge_battles")
    op.drop_index(op.f("ix_judge_battles_judge"), table_name="judge_battles")
    op.drop_table("judge_battles")
