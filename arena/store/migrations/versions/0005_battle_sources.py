"""Imported public battles beside the live votes: ``battle_imports`` and ``imported_battles``.

``arena db import FILE --source NAME`` records each file it loads (source name, SHA-256 of
the file's bytes and of its battles, format, tallies, skipped rows with reasons;
``(source, file_sha256)`` unique, so the same file twice adds nothing) and its battles
as counts per ``(model_a, model_b, outcome, anony, language)``. Both tables are read-only
once written: a trigger refuses every ``UPDATE`` (SQLite ``RAISE(ABORT)``, a PostgreSQL
trigger function); a whole import is removed by deleting its ``battle_imports`` row (its
battles go with it). A frozen copy of the schema at this revision, written as in
0001-0003; it changes no other table.

Revision ID: 0005_battle_sources
Revises: 0004_rate_limits
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_battle_sources"
down_revision: str | None = "0004_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)
_OUTCOMES = "'model_a', 'model_b', 'tie', 'tie (bothbad)'"
_READ_ONLY = ("battle_imports", "imported_battles")
_PG_FUNCTION = "arena_refuse_update"


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'imported battles are read-only (% on %)', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in _READ_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_read_only BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
            )
        return
    for table in _READ_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_read_only BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'imported battles are read-only (UPDATE on {table})'); "
            "END"
        )


def upgrade() -> None:
    """Create the two tables, their lookups (source, import) and the read-only triggers."""
    op.create_table(
        "battle_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("file_format", sa.String(32), nullable=False),
        sa.Column("n_battles", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_skipped", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped", _JSON, nullable=False),
        sa.Column("imported_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battle_imports")),
        sa.UniqueConstraint(
            "source", "file_sha256", name=op.f("uq_battle_imports_source_file_sha256")
        ),
    )
    op.create_index(op.f("ix_battle_imports_source"), "battle_imports", ["source"])
    op.create_index(op.f("ix_battle_imports_data_sha256"), "battle_imports", ["data_sha256"])
    op.create_table(
        "imported_battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("anony", sa.Boolean(), nullable=True),
        sa.Column("language", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_battles")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["battle_imports.id"],
            name=op.f("fk_imported_battles_import_id_battle_imports"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name=op.f("ck_imported_battles_outcome")),
        sa.CheckConstraint("count > 0", name=op.f("ck_imported_battles_count_positive")),
        sa.CheckConstraint(
            "model_a <> model_b", name=op.f("ck_imported_battles_distinct_models")
        ),
    )
    op.create_index(op.f("ix_imported_battles_import_id"), "imported_battles", ["import_id"])
    _create_triggers()


def downgrade() -> None:
    """Drop both tables (loses the imported battles; votes and results are untouched)."""
    for table in _READ_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_read_only" + (
            f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
        ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
    op.drop_index(op.f("ix_imported_battles_import_id"), table_name="imported_battles")
    op.drop_table("imported_battles")
    op.drop_index(op.f("ix_battle_imports_data_sha256"), table_name="battle_imports")
    op.drop_index(op.f("ix_battle_imports_source"), table_name="battle_imports")
    op.drop_table("battle_imports")
