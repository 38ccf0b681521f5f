"""``arena eval``: run a benchmark suite on models; ``arena eval report|table|suites``.

::

    arena eval --suite mmlu --model smollm2-135m-instruct --limit 200 --output runs/mmlu
    arena eval --suite smoke --models models.toml --model a --model b --batch-size auto
    arena eval --suite mmlu --model smollm2-135m-instruct --output runs/mmlu --resume
    arena eval table runs/mmlu/results.json --format latex
    arena eval report runs/mmlu/results.json --ratings leaderboard.csv
    arena eval suites

``arena eval judge ...`` is kept as another name of ``arena judge`` (:mod:`arena.cli.judge`,
which parses and runs it). A finished suite run is also stored in the database of
the arena votes (``--database``, else ``$ARENA_DATABASE_URL``, else ``data/arena.db``),
unless ``--no-store``; the database is migrated and opened before the run starts, so an
unreachable one is said at once rather than after hours of evaluation.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.cli.db import add_database_argument
from arena.errors import UserError

if TYPE_CHECKING:
    from arena.backends import Backend, ModelConfig


#: When set (to anything), each model's first request is logged on stderr with a
#: system-wide monotonic timestamp (``time.monotonic()``, Linux CLOCK_MONOTONIC), so a
#: caller that noted the same clock when it started the process reads the start-up:
#: ``perf/bench_eval_startup.py``. Nothing else changes.
TRACE_ENV = "ARENA_TRACE_FIRST_REQUEST"
_TRACE_PREFIX = "arena: first request"


def add_store_arguments(parser: argparse.ArgumentParser, what: str, kept_in: str) -> None:
    """``--database`` (as every store command takes it) and ``--no-store``; ``arena judge`` too."""
    add_database_argument(parser)
    parser.add_argument(
        "--no-store",
        action="store_true",
        help=f"do not store the {what} in the database ({kept_in} has them all)",
    )


def register(subparsers: Any) -> None:
    """Add ``arena eval`` and its sub-commands."""
    parser = subparsers.add_parser(
        "eval",
        help="run benchmark suites on models (and compare with arena ratings)",
        description=(
            "Run a benchmark suite on one or more models: one table of models x tasks with "
            "95 % intervals, per-sample logs, and every request cached so that --resume "
            "continues a killed run. The results are also stored in the database of the arena "
            "votes (see --database, --no-store). Code tasks run the model-written programs in "
            "a bubblewrap sandbox (Debian package 'bubblewrap'; see --unsandboxed-code). A run "
            "in which every sample failed exits with status 2. Sub-commands: 'arena eval table "
            "RESULTS' re-exports a table, 'arena eval report RESULTS --ratings FILE' compares "
            "suite scores with arena ratings, 'arena eval suites' lists the bundled suites; "
            "'arena eval judge' is another name of 'arena judge' (judge battles, see "
            "'arena judge -h')."
        ),
        epilog=(
            "examples:\n"
            "  arena eval --suite mmlu --model smollm2-135m-instruct --limit 200\n"
            "  arena eval --suite smoke --models models.toml --model a --model b -o runs/smoke\n"
            "  arena eval --suite mmlu --model smollm2-135m-instruct -o runs/mmlu --resume\n"
            "  arena eval table runs/mmlu/results.json --format latex\n"
            "  arena eval report runs/mmlu/results.json --ratings leaderboard.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suite", metavar="NAME|PATH", help="a bundled suite name or a suite .toml file"
    )
    parser.add_argument(
        "--models", metavar="FILE", default=None, help="models file (default: the shipped one)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        action="append",
        default=[],
        help="a model to evaluate (repeat for rivals)",
    )
    parser.add_argument(
        "--task",
        metavar="NAME",
        action="append",
        default=[],
        help="run only this task (repeatable)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        metavar="N",
        default=None,
        help="a seeded sample of N items of each task, stratified by subject (e.g. MMLU's "
        "57), recorded in results.json",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default=None,
        help="run directory (default: data/eval/SUITE-TIMESTAMP)",
    )
    parser.add_argument(
        "--batch-size",
        metavar="N|auto",
        default="auto",
        help="documents per batch (default: auto, from a memory estimate)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --output where it stopped"
    )
    parser.add_argument(
        "--chat-template", action="store_true", help="wrap prompts in each model's chat template"
    )
    parser.add_argument(
        "--fewshot-as-turns",
        action="store_true",
        help="few-shot examples as chat turns (with --chat-template)",
    )
    parser.add_argument(
        "--multiple-choice",
        choices=("loglikelihood", "letter"),
        default="loglikelihood",
        help="how multiple-choice tasks are run: score each choice's log-likelihood "
        "(default; metrics acc, acc_norm), or ask for the option's letter and parse the reply "
        "(for engines and chat APIs without prompt log-probabilities; metrics acc_letter, "
        "unparsed)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1234,
        help="seed of few-shot sampling, sampling and bootstrap (default 1234)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="parallel requests to remote models (default 8)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="retries of a failing request (default 2)",
    )
    parser.add_argument(
        "--format",
        choices=("csv", "json", "md", "latex"),
        default="md",
        help="table printed at the end (default md)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--unsandboxed-code",
        action="store_true",
        help="run code tasks' model-written programs WITHOUT the bubblewrap sandbox, with "
        "this command's privileges (recorded in the results); without it, code tasks are "
        "refused where the sandbox is not usable",
    )
    add_store_arguments(parser, "results", "the run directory")
    parser.set_defaults(func=run)
    _register_subcommands(parser)


def _register_subcommands(parser: argparse.ArgumentParser) -> None:
    """``arena eval table | report | suites | judge``: real sub-parsers, each with its -h."""
    from arena.cli import judge

    sub = parser.add_subparsers(
        dest="eval_command",
        metavar="{table,report,suites,judge}",
        title="sub-commands (instead of a run)",
    )
    table = sub.add_parser(
        "table",
        help="re-export the table of a run's results.json",
        description="Print (or write) the models x tasks table of a finished run.",
    )
    table.add_argument("results", help="results.json of a run")
    table.add_argument("--format", choices=("csv", "json", "md", "latex"), default="md")
    table.add_argument("--output", default=None, help="file to write (default: standard output)")
    table.set_defaults(func=_run_table)
    report = sub.add_parser(
        "report",
        help="compare a run's suite scores with arena ratings",
        description="Rank correlation of a run's suite scores with arena ratings.",
    )
    report.add_argument("results", help="results.json of a run")
    report.add_argument(
        "--ratings",
        required=True,
        action="append",
        help="a leaderboard CSV/JSON of 'arena leaderboard', or battle files",
    )
    report.add_argument(
        "--task", default=None, help="task to compare (default: the mean of the main metrics)"
    )
    report.add_argument(
        "--metric", default=None, help="metric of --task (default: its main metric)"
    )
    report.add_argument("--format", choices=("csv", "json", "md"), default="md")
    report.add_argument("--output", default=None, help="file to write (default: standard output)")
    report.set_defaults(func=_run_report)
    suites = sub.add_parser("suites", help="list the bundled suites and their tasks")
    suites.set_defaults(func=_run_suites)
    alias = sub.add_parser("judge", help="another name of 'arena judge'", **judge._texts())
    judge.add_arguments(alias)
    alias.set_defaults(func=judge.run)


def run(args: argparse.Namespace) -> int:
    """Run a suite (the sub-commands have their own functions)."""
    return _run_suite(args)


def _run_suites(args: argparse.Namespace) -> int:
    from arena.harness import bundled_suites, load_suite

    for name in bundled_suites():
        suite = load_suite(name)
        tasks = ", ".join(f"{t.name} ({t.kind})" for t in suite.tasks)
        print(f"{name}: {tasks}")
    return 0


def _run_table(args: argparse.Namespace) -> int:
    from arena.harness import read_results, render_results

    _emit(render_results(read_results(Path(args.results)), args.format), args.output)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from arena.harness import compare_with_ratings, read_results, render_report

    report = compare_with_ratings(
        read_results(Path(args.results)),
        [Path(p) for p in args.ratings],
        task=args.task,
        metric=args.metric,
    )
    _emit(render_report(report, args.format), args.output)
    return 0


def _emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        from arena.io import write_atomic

        write_atomic(Path(output), text.encode("utf-8"))


def _traced_factory() -> Callable[[ModelConfig], Backend]:
    """:func:`create_backend`, whose backends log their first request (see :data:`TRACE_ENV`).

    A request is any call that serves the evaluation once the model is loaded: scoring,
    generating, or encoding a request's text (the transformers path scores with its own
    batched forward pass after ``encode_pair``). Calls made while loading do not count.
    """
    import threading
    import time

    from arena.backends import create_backend

    def create(config: ModelConfig) -> Backend:
        backend = create_backend(config)
        loaded, said = threading.Event(), threading.Event()
        plain_load = backend.load

        def load() -> None:
            plain_load()
            loaded.set()

        def trace(operation: str, plain: Callable[..., Any]) -> Callable[..., Any]:
            def traced(*args: Any, **kwargs: Any) -> Any:
                if loaded.is_set() and not said.is_set():
                    said.set()
                    print(
                        f"{_TRACE_PREFIX} to {config.name} ({operation}) at monotonic "
                        f"{time.monotonic():.6f}",
                        file=sys.stderr,
                        flush=True,
                    )
                return plain(*args, **kwargs)

            return traced

        operations = (
            "loglikelihood",
            "generate",
            "complete",
            "encode_pair",
            "render",
            "generate_batch",  # the capabilities (arena.backends.base) a harness may use
            "loglikelihood_shared_prefix",
            "loglikelihood_tokens",
        )
        for operation in operations:
            plain = getattr(backend, operation, None)
            if callable(plain):
                setattr(backend, operation, trace(operation, plain))  # this instance only
        backend.load = load  # type: ignore[method-assign]  # this instance only
        return backend

    return create


def _run_suite(args: argparse.Namespace) -> int:
    from arena.backends import load_models
    from arena.harness import (
        RunOptions,
        deliver,
        evaluate,
        load_suite,
        render_results,
        task_kind,
    )
    from arena.store.evals import EvalStore

    if not args.suite:
        raise UserError(
            "--suite is required: a bundled suite name (see 'arena eval suites') or a .toml file"
        )
    if not args.model:
        raise UserError("name the model(s) to evaluate with --model NAME (repeat it for rivals)")
    if args.batch_size == "auto":
        batch: int | None = None
    else:
        try:
            batch = int(args.batch_size)
        except ValueError:
            raise UserError(
                f"--batch-size: expected a positive integer or 'auto', got {args.batch_size!r}"
            ) from None
        if batch < 1:
            raise UserError(f"--batch-size: expected a positive integer or 'auto', got {batch}")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit: expected a positive integer, got {args.limit}")
    suite = load_suite(args.suite)
    configs = {m.name: m for m in load_models(args.models)}
    missing = [m for m in args.model if m not in configs]
    if missing:
        raise UserError(
            f"model '{missing[0]}' is not in the models file; it has: {', '.join(configs)}"
        )
    if len(set(args.model)) != len(args.model):
        raise UserError("a model is named twice with --model")
    if args.resume and not args.output:
        raise UserError("--resume needs --output DIR (the run to continue)")
    output = (
        Path(args.output)
        if args.output
        else Path("data/eval") / (f"{suite.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    )
    options = RunOptions(
        limit=args.limit,
        tasks=tuple(args.task) or None,
        batch_size=batch,
        chat_template=args.chat_template,
        fewshot_as_turns=args.fewshot_as_turns,
        seed=args.seed,
        concurrency=args.concurrency,
        retries=args.retries,
        progress=not args.no_progress,
        unsandboxed_code=args.unsandboxed_code,
        multiple_choice=args.multiple_choice,
    )
    chosen = [t for t in suite.tasks if not args.task or t.name in args.task]
    if args.unsandboxed_code and any(task_kind(t).needs_sandbox for t in chosen):
        print(
            "warning: --unsandboxed-code: model-written code runs without a sandbox, "
            "with this command's privileges",
            file=sys.stderr,
        )
    sinks = [] if args.no_store else [EvalStore.open(args.database)]
    try:
        started = datetime.now(UTC)
        results = evaluate(
            suite,
            [configs[m] for m in args.model],
            output=output,
            options=options,
            resume=args.resume,
            **({"factory": _traced_factory()} if os.environ.get(TRACE_ENV) else {}),
        )
        sys.stdout.write(render_results(results, args.format))
        print(
            f"results in {output}/ (results.json, results.csv, results.md, samples/)",
            file=sys.stderr,
        )
        for line in deliver(results, output, started, sinks):
            print(line, file=sys.stderr)
    finally:
        for sink in sinks:
            sink.close()
    failed = sum(r.n_failed for r in results.results)
    if failed:
        print(
            f"warning: {failed} sample(s) failed after retries; see samples/*.jsonl",
            file=sys.stderr,
        )
    return 0
