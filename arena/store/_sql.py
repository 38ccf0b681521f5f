"""Small SQL helpers shared by the store modules (dialect-specific statements)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """Start an ``INSERT`` with ``ON CONFLICT`` support for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def rowcount(session: Session, statement: Executable, params: dict[str, Any] | None = None) -> int:
    """Execute an ``UPDATE``/``INSERT`` and return how many rows it touched."""
    result = session.execute(statement, params)
    return cast(CursorResult[Any], result).rowcount


def violates(error: exc.IntegrityError, constraint: str, sqlite_columns: str) -> bool:
    """Whether an integrity error is the violation of one named unique constraint.

    PostgreSQL reports the constraint name; SQLite reports the columns
    (``UNIQUE constraint failed: votes.battle_id``), hence both are given.
    """
    orig = error.orig
    diag = getattr(orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name is not None:
        return bool(name == constraint)
    return f"constraint failed: {sqlite_columns}" in str(orig)
