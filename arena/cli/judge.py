"""``arena judge``: judge battles (auto-arena) on the command line; :mod:`arena.judge` does them.

::

    arena judge --models models.toml --judge big --model a --model b --limit 20
    arena judge --judge big --model a --model b --model c -o runs/judge --resume
    arena judge --judge big --model a --model b --human votes.csv --format json

``arena eval judge ...`` is the same command under its older name (:mod:`arena.cli.eval`
hands its arguments here). This module parses and prints; the checks, the run and the
report are :mod:`arena.judge`'s, and the battles printed are the ones in memory (the
files in the run directory are outputs for the user, never read back).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.cli.eval import add_store_arguments
from arena.errors import UserError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from arena.judge import JudgeRun

#: ``arena --help``'s line for the command (also :data:`arena.cli.main.COMMANDS`).
HELP = "judge battles: a judge model compares models' answers (and agreement with humans)"

DESCRIPTION = (
    "Judge battles (auto-arena): every model answers every prompt (MT-Bench's 80 questions "
    "by default, first turn), and the judge model compares the answers of every pair of "
    "models in MT-Bench's pairwise style, in both orders to cancel position bias. The "
    "model both orders prefer wins; when the orders disagree or either says tie, the "
    "battle is a tie. A judge output without [[A]], [[B]] or [[C]] is asked again "
    "(--retries) and then recorded as failed: it gives no battle, and the summary counts "
    "it. The battles go to DIR/judge_battles.jsonl in the FastChat layout (arena "
    "leaderboard reads it as is); the judge leaderboard is printed, and with --human the "
    "human one beside it, their Spearman rank correlation and how often judge and humans "
    "agree (per model pair: the majority winner; per battle: human votes on the same "
    "prompt). Answers and verdicts are cached in DIR, so --resume continues a killed run. "
    "The battles are also stored in the database of the arena votes (--database, "
    "--no-store), where the web app's leaderboard shows the judge's ratings beside the "
    "human ones; storing the same DIR again replaces its battles. 'arena eval judge' is "
    "the same command."
)

EPILOG = """\
examples:
  arena judge --models models.toml --judge big --model a --model b --limit 20
  arena judge --judge big --model a --model b --model c -o runs/judge --resume
  arena judge --judge big --model a --model b --human votes.csv --format json
  arena judge --judge big --model a --model b --prompts my_prompts.jsonl --second-turn

prompt files (JSON Lines, one question a line):
  {"question_id": 1, "category": "writing", "turns": ["first turn", "second turn"]}
  {"id": "q2", "prompt": "a one-turn question", "reference": "a reference answer"}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``arena judge`` (and of its alias ``arena eval judge``)."""
    parser.add_argument(
        "--judge", required=True, metavar="NAME", help="the judge model (any backend)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        action="append",
        default=[],
        help="a contestant (repeat: at least two); the judge may be one, with a warning",
    )
    parser.add_argument(
        "--models", metavar="FILE", default=None, help="models file (default: the shipped one)"
    )
    parser.add_argument(
        "--prompts",
        metavar="mtbench|FILE.jsonl",
        default="mtbench",
        help="prompt set: MT-Bench's 80 questions (default) or a JSONL file (see below)",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", default=None, help="first N prompts only"
    )
    parser.add_argument(
        "--second-turn",
        action="store_true",
        help="also judge the second turn of two-turn questions (separate battles, turn 2)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=None,
        help="run directory (default: data/eval/judge-TIMESTAMP)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --output where it stopped"
    )
    parser.add_argument(
        "--human",
        metavar="FILE",
        action="append",
        default=[],
        help="human battle file(s), e.g. from 'arena votes', to compare with (repeatable)",
    )
    parser.add_argument(
        "--format", choices=("md", "csv", "json"), default="md", help="report format (default md)"
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=1024,
        metavar="N",
        help="longest answer of a contestant (default 1024; the judge gets 2048)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="re-asks of a judge output without a verdict, and retries of a failing "
        "request (default 2)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="parallel requests to remote models (default 8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_store_arguments(parser, "battles", "DIR/judge_battles.jsonl")


def _texts() -> dict[str, Any]:
    """Description, epilog and formatter of the command's parser (both names share them)."""
    return {
        "description": textwrap.fill(DESCRIPTION, width=88),
        "epilog": EPILOG,
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }


def make_parser(prog: str) -> argparse.ArgumentParser:
    """A stand-alone parser of the command (``arena eval judge`` parses with it)."""
    parser = argparse.ArgumentParser(prog=prog, **_texts())
    add_arguments(parser)
    return parser


def register(subparsers: Any) -> None:
    """Add ``arena judge``."""
    parser = subparsers.add_parser("judge", help=HELP, **_texts())
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check everything before the first request, run the judge, print the report."""
    from arena.backends import load_models
    from arena.battles import read_battles
    from arena.judge import (
        JudgeOptions,
        check_contestants,
        judge_report,
        load_prompts,
        render_judge_report,
        run_judge,
    )

    options = JudgeOptions(
        second_turn=args.second_turn,
        max_new_tokens=args.max_new_tokens,
        retries=args.retries,
        concurrency=args.concurrency,
        progress=not args.no_progress,
    )
    warnings = check_contestants(args.judge, args.model)
    if args.resume and not args.output:
        raise UserError("--resume needs --output DIR (the run to continue)")
    configs = {m.name: m for m in load_models(args.models)}
    for role, name in [("judge", args.judge)] + [("model", m) for m in args.model]:
        if name not in configs:
            raise UserError(
                f"{role} '{name}' is not in the models file; it has: {', '.join(configs)}"
            )
    prompts = load_prompts(args.prompts, limit=args.limit)
    human = read_battles(args.human, style=False) if args.human else None
    output = (
        Path(args.output)
        if args.output
        else Path("data/eval") / f"judge-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from arena.store.evals import open_results_engine

    engine = None if args.no_store else open_results_engine(args.database)
    try:
        judged = run_judge(
            configs[args.judge],
            [configs[m] for m in args.model],
            prompts,
            output=output,
            options=options,
            resume=args.resume,
        )
        if engine is not None:
            _store(engine, output, judged)
    finally:
        if engine is not None:
            engine.dispose()
    summary = judged.summary()
    print(
        f"{summary['battles']} judge battles in {output / 'judge_battles.jsonl'}; "
        f"{summary['failed']} of {summary['comparisons']} comparisons failed "
        f"(see {output / 'judgments.jsonl'})",
        file=sys.stderr,
    )
    if not judged.battles:
        raise UserError(
            f"no judge battle to rate: all {summary['comparisons']} comparisons failed; "
            f"see {output / 'judgments.jsonl'} for why"
        )
    report = judge_report(
        judged.to_battles(), human, judge_frame=judged.frame_for_agreement(), summary=summary
    )
    sys.stdout.write(render_judge_report(report, args.format))
    return 0


def _store(engine: Engine, output: Path, judged: JudgeRun) -> None:
    """Store the run's battles under its directory (replacing an earlier store of it)."""
    from arena.store.engine import display_url, make_sessionmaker
    from arena.store.judge import store_judge_battles

    label = str(output.expanduser().resolve())
    with make_sessionmaker(engine).begin() as session:
        n = store_judge_battles(session, label, judged.judge, judged.battles)
    print(
        f"stored {n} judge battles of '{judged.judge}' in {display_url(engine.url)}",
        file=sys.stderr,
    )
