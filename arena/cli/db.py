"""``arena db``: create or migrate the vote database, and import public battles.

``upgrade`` and ``current`` manage the schema; ``import``, ``sources`` and
``remove-source`` manage the public battles the leaderboard ranks the live models among.
"""

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
    """Add ``arena db upgrade``, ``current``, ``import``, ``sources`` and ``remove-source``."""
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
    _register_imports(actions)


IMPORT_EPILOG = """\
files (format detected from the content; --input-format overrides):
  FastChat / LMArena battle logs: JSON array or JSON Lines with model_a, model_b, winner
      (model_a | model_b | tie | tie (bothbad)), optionally anony and language
  pair counts: CSV with model_a, model_b, wins_a, wins_b, tie, tie_bothbad, or leaderbot's
      {"models", "X", "Y"} JSON
Rows that cannot be used (no model name, the same model on both sides, an unknown winner,
counts that are not whole numbers >= 0) are skipped and reported with their row numbers.
The same file twice adds nothing. Imported battles are read-only: the web app never
changes them; `arena db remove-source NAME` deletes a source.

examples:
  arena db import "$(python -m arena.data chatbotarena_20240814)" --source chatbot-arena
  arena db import clean_battle_20240814_public.json --source lmsys-2024-08
  arena db sources
  arena leaderboard --database sqlite:///data/arena.db --source all
"""


def _register_imports(actions: Any) -> None:
    from arena.battles.readers import FORMATS
    from arena.store.imports import SOURCE_PATTERN

    imp = actions.add_parser(
        "import",
        help="load public battle logs or pair counts as read-only, source-tagged battles",
        description=(
            "Load public battles (FastChat/LMArena logs or pair counts) into the vote "
            "database, tagged with a source name, so the leaderboard can rate the live "
            "votes and the public ones together (arena leaderboard --database URL "
            "--source all, and the web app's Leaderboard page)."
        ),
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="battle files to import")
    imp.add_argument(
        "--source",
        required=True,
        metavar="NAME",
        help=f"name of the source (pattern {SOURCE_PATTERN}), e.g. chatbot-arena",
    )
    imp.add_argument("--input-format", choices=FORMATS, help="override format detection")
    add_database_argument(imp)
    imp.set_defaults(func=run_import)

    sources = actions.add_parser(
        "sources",
        help="list the imported battle sources",
        description="List the imported sources: files, battles and skipped rows of each.",
    )
    add_database_argument(sources)
    sources.set_defaults(func=run_sources)

    remove = actions.add_parser(
        "remove-source",
        help="delete every battle imported under a source name",
        description="Delete every battle imported under NAME (live votes are untouched).",
    )
    remove.add_argument("name", metavar="NAME", help="the source name, as `arena db sources` lists")
    add_database_argument(remove)
    remove.set_defaults(func=run_remove_source)


def _migrated_sessions(url: str | None) -> Any:
    """Migrate (a no-op when current, as arena serve and arena eval do) and open the store."""
    from arena.store.engine import make_sessionmaker, open_engine
    from arena.store.migrate import upgrade

    upgrade(url)
    engine = open_engine(url)
    return engine, make_sessionmaker(engine)


def run_import(args: argparse.Namespace) -> int:
    """Import each file in its own transaction; report added, skipped and already-imported."""
    from pathlib import Path

    from arena.errors import UserError
    from arena.store.imports import import_battles

    for name in args.files:
        if not Path(name).is_file():
            raise UserError(f"{name}: no such file")
    engine, sessions = _migrated_sessions(args.database)
    try:
        for name in args.files:
            with sessions.begin() as session:
                report = import_battles(session, name, args.source, fmt=args.input_format)
            print(report.describe())
    finally:
        engine.dispose()
    return 0


def run_sources(args: argparse.Namespace) -> int:
    """Print one line per imported source."""
    from arena.store.imports import list_sources

    engine, sessions = _migrated_sessions(args.database)
    try:
        with sessions() as session:
            rows = list_sources(session)
    finally:
        engine.dispose()
    if not rows:
        print("no imported battles (arena db import FILE --source NAME adds some)")
    for row in rows:
        print(
            f"{row.source}: {row.n_battles:,} battles from {row.files} file"
            f"{'s' if row.files != 1 else ''}, {row.n_skipped:,} rows skipped"
        )
    return 0


def run_remove_source(args: argparse.Namespace) -> int:
    """Delete a source's imports in one transaction."""
    from arena.store.imports import remove_source

    engine, sessions = _migrated_sessions(args.database)
    try:
        with sessions.begin() as session:
            removed = remove_source(session, args.name)
    finally:
        engine.dispose()
    battles = "battle" if removed == 1 else "battles"
    print(f"removed source '{args.name}': {removed:,} imported {battles} deleted")
    return 0


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
