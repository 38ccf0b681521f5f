"""Entry point of the ``arena`` command.

Each command group lives in its own module exposing ``register(subparsers)``, which adds
its sub-parser(s) and sets ``func`` (a callable taking the parsed namespace and returning
an exit status). Errors a user can cause are raised as :class:`arena.errors.UserError`
and printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from arena import __version__
from arena.errors import UserError

#: Command-group modules, imported lazily so ``arena --help`` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "arena.cli.leaderboard",
    "arena.cli.votes",
    "arena.cli.db",
    "arena.cli.serve",
    "arena.cli.eval",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered command group."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="arena",
        description="Rank language models from pairwise battles, collect votes, "
        "run benchmark suites.",
    )
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
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
