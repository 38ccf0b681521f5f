"""``arena db``: create or migrate the vote database, and say which revision it is at."""

from __future__ import annotations

import argparse
from typing import Any

#: The variable :mod:`arena.store.engine` reads the database URL from (``ENV_VAR`` there;
#: a test keeps the two equal). Spelled out here so that building the parser of a store
#: command does not import SQLAlchemy: the store is imported by the run functions.
ENV_VAR = "ARENA_DATABASE_URL"


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--database URL`` option every store command takes."""
    parser.add_argument(
        "--database",
        metavar="URL",
        default=None,
        help=(
            "vote database: sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB "
            f"(default: ${ENV_VAR}, else sqlite:///data/arena.db in the working directory)"
        ),
    )


def register(subparsers: Any) -> None:
    """Add ``arena db upgrade`` and ``arena db current``."""
    db = subparsers.add_parser(
        "db",
        help="create or migrate the vote database",
        description="Create or migrate the vote database of the web app.",
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    actions.required = True

    upgrade = actions.add_parser(
        "upgrade",
        help="create the database or migrate it to the newest schema",
        description=(
            "Create the vote database (an SQLite file and its folder are created when "
            "missing) or migrate it to the newest schema. Safe to repeat and to run from "
            "several processes at once."
        ),
    )
    add_database_argument(upgrade)
    upgrade.set_defaults(func=run_upgrade)

    current = actions.add_parser(
        "current",
        help="print the schema revision of the database",
        description=(
            "Print the schema revision of the vote database and the newest one. "
            "Exit status 0 when it is up to date, 1 when `arena db upgrade` is needed."
        ),
    )
    add_database_argument(current)
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to head and report the revision it is at."""
    from arena.store.migrate import upgrade

    state = upgrade(args.database)
    if state.previous == state.current:
        print(f"{state.url}: already at revision {state.current} (head)")
    else:
        before = state.previous or "an empty database"
        print(f"{state.url}: upgraded from {before} to revision {state.current}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    """Print ``REVISION (head)`` or ``REVISION (head is HEAD: run arena db upgrade)``."""
    from arena.store.engine import check_connection, database_url, make_engine
    from arena.store.migrate import schema_state

    engine = make_engine(database_url(args.database))
    try:
        check_connection(engine)
        state = schema_state(engine)
    finally:
        engine.dispose()
    if state.is_current:
        print(f"{state.current} (head)")
        return 0
    print(f"{state.current or 'none'} (head is {state.head}: run `arena db upgrade`)")
    return 1
