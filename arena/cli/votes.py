"""``arena votes``: export every vote of the store in the FastChat battle layout."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from arena.cli.db import add_database_argument
from arena.errors import UserError
from arena.tables import format_from_suffix

#: The votes export's formats (those of :func:`arena.store.export.write_votes`; the store
#: is imported only when the command runs).
VOTE_FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")


def register(subparsers: Any) -> None:
    """Add ``arena votes``."""
    parser = subparsers.add_parser(
        "votes",
        help="export the votes of the web app's database",
        description=(
            "Export every vote in the FastChat / LMArena battle layout: model_a, model_b, "
            "winner, tstamp, anony, language, conversation_a, conversation_b, voter, "
            "identity_leak. CSV holds the conversations as JSON strings."
        ),
        epilog=(
            "examples:\n"
            "  arena votes > votes.csv\n"
            "  arena votes --format jsonl --output votes.jsonl\n"
            "  arena votes --database postgresql+psycopg://arena@db/arena --output v.parquet\n"
            "  arena votes --stats"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_database_argument(parser)
    parser.add_argument(
        "--format",
        choices=VOTE_FORMATS,
        default=None,
        help="file format (default: from the --output suffix, else csv)",
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        default=None,
        help="file to write, replaced atomically (default: standard output; parquet needs it)",
    )
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print vote counts (per outcome, status and model) instead of the votes",
    )
    parser.set_defaults(func=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != "-":
        return format_from_suffix(args.output, VOTE_FORMATS) or "csv"
    return "csv"


def run(args: argparse.Namespace) -> int:
    """Write the votes (or their statistics) and report the count on standard error."""
    from arena.store.engine import make_sessionmaker, open_engine
    from arena.store.export import write_votes, write_votes_file

    fmt = _format(args)
    to_stdout = args.output in (None, "-")
    if to_stdout and fmt == "parquet" and not args.stats:
        raise UserError("parquet is a binary format: give --output PATH to write it to a file")
    engine = open_engine(args.database)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            if args.stats:
                _print_stats(session)
                return 0
            if to_stdout:
                try:
                    count = write_votes(session, sys.stdout, fmt)
                    sys.stdout.flush()
                except BrokenPipeError:  # `arena votes | head`: the reader had enough
                    return 0
                print(f"arena: exported {_votes(count)}", file=sys.stderr)
            else:
                count = write_votes_file(session, args.output, fmt)
                print(f"arena: wrote {_votes(count)} to {args.output}", file=sys.stderr)
    finally:
        engine.dispose()
    return 0


def _votes(count: int) -> str:
    return f"{count} vote" if count == 1 else f"{count} votes"


def _print_stats(session: Any) -> None:
    from arena.store.votes import vote_stats

    stats = vote_stats(session)
    print(f"votes: {stats.n_votes} from {stats.n_voters} voters")
    if stats.first_vote and stats.last_vote:
        print(f"first: {stats.first_vote.isoformat()}  last: {stats.last_vote.isoformat()}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in stats.outcomes.items()))
    print("battles: " + ", ".join(f"{k} {v}" for k, v in stats.battles_by_status.items()))
    print(f"identity leaks: {stats.identity_leaks}")
    if stats.per_model:
        width = max(len(t.model) for t in stats.per_model)
        print(f"{'model':<{width}}  votes   wins losses   ties bothbad")
        for t in stats.per_model:
            print(
                f"{t.model:<{width}}  {t.votes:5d} {t.wins:6d} {t.losses:6d} "
                f"{t.ties:6d} {t.both_bad:7d}"
            )
