"""Entry point of the ``arena`` command.

Each command group lives in its own module exposing ``register(subparsers)``, which adds
its sub-parser(s) and sets ``func`` (a callable taking the parsed namespace and returning
an exit status). Errors a user can cause are raised as :class:`arena.errors.UserError`
and printed as one line, without a traceback.

A command pays only for what it runs: :func:`main` imports the one command-group module
the command line names (``arena leaderboard FILE`` never imports the vote store's
SQLAlchemy, ``arena db`` never imports pandas), and ``arena --help`` imports none of
them, listing the commands from :data:`COMMANDS`. The modules themselves import their
heavy dependencies inside the run functions, so even building every parser (an unknown
command, :func:`build_parser`) stays cheap. ``tests/cli/test_imports.py`` checks both.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from arena import __version__
from arena.errors import UserError

#: Command-group modules, imported lazily so ``arena --help`` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "arena.cli.leaderboard",
    "arena.cli.votes",
    "arena.cli.db",
    "arena.cli.serve",
    "arena.cli.eval",
    "arena.cli.judge",
    "arena.cli.standing",
    "arena.cli.audit",
    "arena.cli.history",
)

#: Every command: name -> (module that registers it, its one-line help). ``arena --help``
#: lists these without importing any module; a test checks them against what the
#: modules register. A command missing here still works (its module is found by
#: registering them all), it only costs the imports of every group.
COMMANDS: dict[str, tuple[str, str]] = {
    "leaderboard": (
        "arena.cli.leaderboard",
        "rate models from battle files and export the leaderboard",
    ),
    "matrix": (
        "arena.cli.leaderboard",
        "pairwise matrices: win rate, battle counts, predicted win probability",
    ),
    "votes": ("arena.cli.votes", "export the votes of the web app's database"),
    "db": ("arena.cli.db", "create or migrate the vote database"),
    "serve": ("arena.cli.serve", "start the voting web app"),
    "eval": ("arena.cli.eval", "run benchmark suites on models (and compare with arena ratings)"),
    "judge": (
        "arena.cli.judge",
        "judge battles: a judge model compares models' answers (and agreement with humans)",
    ),
    "standing": (
        "arena.cli.standing",
        "one model's rating, rank, ties, rank probabilities and votes still needed",
    ),
    "audit": (
        "arena.cli.audit",
        "integrity audit: data share, best-of-N selection, deprecation, duplicate prompts",
    ),
    "history": (
        "arena.cli.history",
        "stored leaderboard snapshots and a model's rating over time",
    ),
}


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="arena",
        description="Rank language models from pairwise battles, collect votes, "
        "run benchmark suites.",
    )
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    return parser, sub


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command group, or only the one holding ``command``.

    ``command=None`` (or a name not in :data:`COMMANDS`) registers every group, so an
    unknown command gets argparse's "invalid choice" message listing them all.
    """
    import importlib

    parser, sub = _top_parser()
    if command in COMMANDS:
        modules: Sequence[str] = (COMMANDS[command][0],)
    else:
        modules = COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _help_parser() -> argparse.ArgumentParser:
    """The top-level parser with each command listed from :data:`COMMANDS` (no imports)."""
    parser, sub = _top_parser()
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text)
    return parser


def _command_name(argv: Sequence[str]) -> str | None:
    """The command the arguments name (the first one not an option), or None.

    None too when a top-level option comes first (``arena -h leaderboard`` is the
    top-level help): the top-level options take no values.
    """
    for arg in argv:
        if not arg.startswith("-"):
            return arg
        if arg in ("--", "-h", "--help", "--version"):
            break
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_name(argv)
    if command is None:
        # `arena`, `arena --help`, `arena --version`: nothing to import
        _help_parser().parse_args(argv)
        return 2  # pragma: no cover (parse_args exits: help, version or "required")
    parser = build_parser(command)
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except UserError as exc:
        print(f"arena: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
