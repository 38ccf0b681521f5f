"""``arena standing MODEL``: where one model stands, how surely, and the votes still needed."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from arena.errors import UserError

HELP_EPILOG = """\
The rating, interval and Rank (UB) are those of `arena leaderboard` (Bradley-Terry,
sandwich intervals); tied models are those whose interval overlaps the model's; rank
probabilities come from bootstrap refits; votes needed are projected from the
covariance (see arena/campaign/standing.py for the derivation).

Preview models (a codename in the votes database) appear under their codename and
their real name is not accepted, unless --admin is given and the admin password
(the deployment's $ARENA_ADMIN_PASSWORD) is typed when asked, or piped on stdin.

examples:
  arena standing llama-3.1-405b-instruct battles.json
  arena standing kestrel --database sqlite:///data/arena.db --format json
  arena standing our-preview --database postgresql+psycopg://arena@db/arena --admin
"""


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"confidence level must be a fraction strictly between 0 and 1, got {text}"
        )
    return value


def _rounds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not 2 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"expected 2 to 100000 rounds, got {value}")
    return value


def _anchor(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not sep or not name or not math.isfinite(rating):
        raise argparse.ArgumentTypeError(
            f"expected MODEL=RATING with a finite rating, got '{text}'"
        )
    return name, rating


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """INPUT files or ``--database``, and ``--models``, ``--admin``, ``--reweight``."""
    from arena.cli.db import add_database_argument

    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="battle files (or give --database)"
    )
    add_database_argument(parser)
    parser.add_argument(
        "--models",
        type=Path,
        metavar="FILE",
        help="models file giving organizations and families of the models of battle files",
    )
    parser.add_argument(
        "--admin",
        action="store_true",
        help="show preview models under their real names (asks for the admin password)",
    )
    parser.add_argument(
        "--reweight",
        action="store_true",
        help="weight database battles by 1 / their pair's recorded sampling probability "
        "(undoes the adaptive or weighted sampler)",
    )
    parser.add_argument(
        "--anonymous-only", action="store_true", help="only anonymous battles (anony = true)"
    )


def register(sub: Any) -> None:
    """Add ``arena standing``."""
    p = sub.add_parser(
        "standing",
        help="one model's rating, rank, ties, rank probabilities and votes still needed",
        description="Where MODEL stands overall and per category: rating and interval, "
        "Rank (UB), the models it is statistically tied with, the probability of each "
        "rank, and how many more battles, against which opponents, would separate it "
        "from each tied model.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="the model (a preview: its codename)")
    add_source_arguments(p)
    p.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="report this category (repeatable; default: every category the model played in)",
    )
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (0.95)")
    p.add_argument("--rounds", type=_rounds, default=200, help="bootstrap refits (200)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--anchor", type=_anchor, metavar="MODEL=RATING", help="fix one rating")
    p.add_argument("--format", choices=("md", "json"), default="md", help="output (md)")
    p.add_argument("--output", type=Path, metavar="PATH", help="write here, not to stdout")
    p.set_defaults(func=run)


def read_password() -> str:
    """The admin password, typed at the terminal or piped on stdin."""
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass("admin password: ")
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def load_source(args: argparse.Namespace) -> Any:
    """The :class:`arena.campaign.CampaignData` the arguments name (files or database)."""
    from arena.battles.filters import FilterSpec, apply_filters
    from arena.campaign.data import check_admin, load_database, load_files, reweighted

    if args.inputs and args.database:
        raise UserError("give battle files or --database, not both")
    if args.admin:
        if args.inputs:
            raise UserError("--admin applies to the votes database (battle files hide nothing)")
        check_admin(read_password())
    if args.inputs:
        if args.reweight:
            raise UserError("--reweight needs the votes database: files carry no sampling record")
        data = load_files([Path(p) for p in args.inputs], models_file=args.models)
    else:
        if args.models is not None:
            raise UserError("--models applies to battle files; the database knows its models")
        data = load_database(args.database, admin=args.admin)
        if args.reweight:
            data = reweighted(data)
    if args.anonymous_only:
        import dataclasses

        battles = apply_filters(data.battles, FilterSpec(anonymous_only=True), source=data.source)
        data = dataclasses.replace(data, battles=battles)
    return data


def write_text(text: str, output: Path | None) -> None:
    """Print ``text`` or write it atomically to ``output``."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from arena.io import write_atomic

    write_atomic(output, text.encode("utf-8"))
    print(f"arena: wrote {output}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Compute and print the standing; returns the exit status."""
    from arena.campaign.standing import model_standing, standing_markdown

    data = load_source(args)
    model = data.resolve(args.model)
    standing = model_standing(
        data.battles,
        model,
        categories=args.category,
        level=args.level,
        rounds=args.rounds,
        seed=args.seed,
        anchor=args.anchor,
    )
    if args.format == "json":
        body = {"source": data.source, "reweighted": bool(args.reweight), **standing.to_dict()}
        text = json.dumps(json_safe(body), indent=2, allow_nan=False)
    else:
        text = standing_markdown(standing, source=data.source)
    write_text(text, args.output)
    return 0


def json_safe(value: Any) -> Any:
    """``value`` with non-finite numbers (an unbounded interval side) as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return json_safe(value.item())
    return value
