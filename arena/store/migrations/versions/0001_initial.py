"""Initial vote store: models, conversations, voters, battles, votes.

A frozen copy of the schema at this revision (it does not import
``arena.store.schema``, which will move on): later revisions change it with their own
``op`` calls. Constraint and index names are final (``op.f``), so the naming convention
of ``arena.store.schema`` is not applied to them a second time.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)
_STATUSES = "'pending', 'generating', 'ready', 'failed', 'voted'"
_OUTCOMES = "'model_a', 'model_b', 'tie', 'tie (bothbad)'"


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False)


def _updated_at() -> sa.Column[object]:
    return sa.Column("updated_at", _TS, server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    """Create the five tables, their constraints and the indexes the queries use."""
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("organization", sa.String(200), nullable=True),
        sa.Column("licence", sa.String(200), nullable=True),
        sa.Column("backend", _JSON, nullable=False),
        sa.Column("codename", sa.String(200), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("sampling_weight", sa.Float(), server_default=sa.text("1.0"), nullable=False),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("name", name=op.f("uq_models_name")),
        sa.UniqueConstraint("codename", name=op.f("uq_models_codename")),
        sa.CheckConstraint(
            "sampling_weight >= 0", name=op.f("ck_models_sampling_weight_nonnegative")
        ),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("turns", _JSON, nullable=False),
        sa.Column("language", sa.String(32), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "voters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voters")),
        sa.UniqueConstraint("token", name=op.f("uq_voters_token")),
    )
    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("model_a_id", sa.Integer(), nullable=False),
        sa.Column("model_b_id", sa.Integer(), nullable=False),
        sa.Column("answers_a", _JSON, nullable=False),
        sa.Column("answers_b", _JSON, nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("latency_a", sa.Float(), nullable=True),
        sa.Column("latency_b", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=True),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battles")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_battles_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["model_a_id"], ["models.id"], name=op.f("fk_battles_model_a_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["model_b_id"], ["models.id"], name=op.f("fk_battles_model_b_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"], ["voters.id"], name=op.f("fk_battles_voter_id_voters")
        ),
        sa.CheckConstraint("model_a_id <> model_b_id", name=op.f("ck_battles_distinct_models")),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name=op.f("ck_battles_status")),
    )
    op.create_index(op.f("ix_battles_status_created_at"), "battles", ["status", "created_at"])
    op.create_index(op.f("ix_battles_conversation_id"), "battles", ["conversation_id"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("battle_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("identity_leak", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.ForeignKeyConstraint(
            ["battle_id"], ["battles.id"], name=op.f("fk_votes_battle_id_battles")
        ),
        sa.ForeignKeyConstraint(["voter_id"], ["voters.id"], name=op.f("fk_votes_voter_id_voters")),
        sa.UniqueConstraint("battle_id", name=op.f("uq_votes_battle_id")),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name=op.f("ck_votes_outcome")),
    )
    op.create_index(op.f("ix_votes_created_at"), "votes", ["created_at"])
    op.create_index(op.f("ix_votes_voter_id"), "votes", ["voter_id"])


def downgrade() -> None:
    """Drop everything (loses every vote: only for development databases)."""
    for index, table in (
        ("ix_votes_voter_id", "votes"),
        ("ix_votes_created_at", "votes"),
        ("ix_battles_conversation_id", "battles"),
        ("ix_battles_status_created_at", "battles"),
    ):
        op.drop_index(op.f(index), table_name=table)
    for table in ("votes", "battles", "voters", "conversations", "models"):
        op.drop_table(table)
