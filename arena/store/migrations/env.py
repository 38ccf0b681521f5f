"""Alembic environment: runs the migrations on the connection that arena hands over.

:func:`arena.store.migrate.upgrade` opens the connection, takes the migration lock
(PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``) and starts the transaction
before Alembic runs, so concurrent upgrades queue instead of failing. Running the
``alembic`` command line directly is supported for development (``alembic revision``),
with the URL taken from ``sqlalchemy.url`` or ``ARENA_DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from arena.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _version_table() -> str:
    from arena.store.migrate import VERSION_TABLE

    return config.get_main_option("version_table") or VERSION_TABLE


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transactional_ddl=True,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=_version_table(),
    )


def run_migrations_offline() -> None:
    """Write the migration SQL for ``sqlalchemy.url`` instead of running it (``--sql``)."""
    from arena.store.engine import database_url

    context.configure(
        url=config.get_main_option("sqlalchemy.url") or database_url(None),
        target_metadata=target_metadata,
        literal_binds=True,
        version_table=_version_table(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the handed-over connection, or on a new locked one."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from arena.store.migrate import locked_connection

    url = config.get_main_option("sqlalchemy.url")
    with locked_connection(url or None) as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
