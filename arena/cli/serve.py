"""``arena serve``: start the voting web app (Streamlit) on a migrated vote database.

Before starting Streamlit the command checks everything a visitor would otherwise meet
as a broken page: the models file (read and checked strictly), the database (migrated to
the newest schema, safe when several servers start at once; ``--no-migrate`` only
checks it) and that Streamlit is installed. Each problem is one line and exit status 2.
Then the process becomes ``python -m streamlit run webapp/app.py``, with the options
passed to the app through ``ARENA_DATABASE_URL`` and ``ARENA_MODELS_FILE``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from arena.errors import UserError

__all__ = ["app_path", "main", "register", "run_serve", "streamlit_command"]


def app_path() -> Path:
    """The web app's entry point, ``webapp/app.py`` next to the ``arena`` package."""
    import arena

    return Path(arena.__file__).resolve().parents[1] / "webapp" / "app.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``arena serve``."""
    from arena.cli.db import add_database_argument

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (8501)")
    add_database_argument(parser)
    parser.add_argument(
        "--models",
        metavar="FILE",
        default=None,
        help="models file (TOML, [[models]] tables); default: the two offline models shipped",
    )
    parser.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database; stop if it is not at the newest schema",
    )


def register(subparsers: Any) -> None:
    """Add ``arena serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="start the voting web app",
        description=(
            "Start the voting web app (anonymous battles, side-by-side, leaderboard, "
            "admin). The database is migrated first unless --no-migrate. Set "
            "ARENA_ADMIN_PASSWORD to open the admin page."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run_serve)


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    """The Streamlit command line that serves ``app``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # An unexpected error's message could name a model: visitors get a generic
        # error, the server's log has the details.
        "--client.showErrorDetails",
        "type",
    ]


def _prepare(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    from arena.backends import load_models
    from arena.store import ENV_VAR, database_url, open_engine

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    app = app_path()
    if not app.is_file():
        raise UserError(f"the web app is missing ({app}): run arena serve from a source checkout")
    if importlib.util.find_spec("streamlit") is None:
        raise UserError(
            "the web app needs Streamlit, which is not installed: pip install 'arena[web]'"
        )
    models = None if args.models is None else str(Path(args.models).expanduser().resolve())
    load_models(models)  # a bad models file stops here, with its one-line message
    from arena.service import ServiceConfig

    ServiceConfig.from_env()  # so does a bad ARENA_* setting (a deadline, a cap, a limit)
    url = database_url(args.database)
    if not args.no_migrate:
        from arena.store import upgrade

        upgrade(url)
    open_engine(url).dispose()  # reachable and at the newest schema
    env = dict(os.environ)
    env[ENV_VAR] = url
    if models is not None:
        env["ARENA_MODELS_FILE"] = models
    else:
        env.pop("ARENA_MODELS_FILE", None)
    return streamlit_command(app, args.host, args.port), env


def run_serve(args: argparse.Namespace) -> int:
    """Check the set-up, then replace this process by the Streamlit server."""
    command, env = _prepare(args)
    print(f"arena: serving on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    os.execve(command[0], command, env)
    return 0  # pragma: no cover - execve does not return


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m arena.cli.serve``: the command alone (same options as ``arena serve``)."""
    parser = argparse.ArgumentParser(prog="arena serve", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_serve(args)
    except UserError as error:
        print(f"arena: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
