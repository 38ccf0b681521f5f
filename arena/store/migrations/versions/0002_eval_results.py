"""Evaluation results beside the votes: ``eval_runs`` and ``eval_results``.

One row per stored ``arena eval`` run (suite, suite hash, run directory, times, options,
package versions) and one per model x task x metric (value, 95 % interval, counts).
A frozen copy of the schema at this revision, written as in 0001 (final constraint
names through ``op.f``); it adds two tables and changes none of the vote tables.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the two tables and the indexes of their lookups (run, model and task)."""
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("run_dir", sa.Text(), nullable=False),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("suite_sha256", sa.String(64), nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("packages", _JSON, nullable=False),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_eval_runs_run_key")),
    )
    op.create_index(op.f("ix_eval_runs_suite"), "eval_runs", ["suite"])
    op.create_table(
        "eval_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("ci_lower", sa.Float(), nullable=True),
        sa.Column("ci_upper", sa.Float(), nullable=True),
        sa.Column("stderr", sa.Float(), nullable=True),
        sa.Column("ci_method", sa.String(32), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("n_failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_results")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["eval_runs.id"],
            name=op.f("fk_eval_results_run_id_eval_runs"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "run_id",
            "model",
            "task",
            "metric",
            name=op.f("uq_eval_results_run_id_model_task_metric"),
        ),
    )
    op.create_index(op.f("ix_eval_results_model_task"), "eval_results", ["model", "task"])


def downgrade() -> None:
    """Drop the two tables (loses the stored results; the votes are untouched)."""
    op.drop_index(op.f("ix_eval_results_model_task"), table_name="eval_results")
    op.drop_table("eval_results")
    op.drop_index(op.f("ix_eval_runs_suite"), table_name="eval_runs")
    op.drop_table("eval_runs")
