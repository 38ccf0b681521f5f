"""``arena leaderboard`` and ``arena matrix``: battle files in, tables and plots out."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from arena.errors import UserError

HELP_EPILOG = """\
input formats (detected from the file's content unless --input-format is given):
  fastchat    FastChat / LMArena battle logs, JSON array or JSONL (model_a, model_b,
              winner in model_a | model_b | tie | tie (bothbad); tstamp, anony, language,
              conversation_a/b used when present)
  paircounts  CSV of pair counts: model_a, model_b, wins_a, wins_b, tie, tie_bothbad
  csv,parquet battle rows; map your columns with --columns and outcomes with --outcomes

examples:
  arena leaderboard battles.jsonl --anchor mixtral-8x7b-instruct-v0.1=1114 --output lb.csv
  arena leaderboard votes.csv --columns model_a=left,model_b=right \
      --outcomes left=model_a,right=model_b,tie=tie
  arena leaderboard battles.jsonl --method elo --ci bootstrap --format md
  arena leaderboard battles.jsonl --style-control --plot ratings.png
  arena leaderboard --database sqlite:///data/arena.db --source all   # live + imported

--database URL rates what the web app's Leaderboard page rates: the anonymous live votes
without identity leaks (--source live), the battles loaded by `arena db import`
(--source imported), or both together (--source all), which puts the live models on the
public scale when a model links them; the command says when none does.
"""


def _anchor(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected MODEL=RATING, got '{text}'")
    try:
        rating = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rating in '{text}' is not a number") from None
    if not math.isfinite(rating):
        raise argparse.ArgumentTypeError(f"rating in '{text}' must be finite")
    return name, rating


def _mapping(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...], got '{text}'")
        out[key.strip()] = value.strip()
    return out


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {value}")
    return value


def _level(text: str) -> float:
    """A confidence level strictly between 0 and 1; percentages such as 95 are refused.

    Reading 95 as 95 % would also read 1.5 as 1.5 %, silently; a level must be written
    as a fraction, so one rule covers every input.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.95, got '{text}'") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"confidence level must be between 0 and 1 (exclusive), e.g. 0.95, got {text}; "
            "write a percentage as a fraction (95 % is 0.95)"
        )
    return value


def _size(text: str) -> int:
    from arena.battles.readers import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got '{text}'")
    return value


def _add_input_arguments(p: argparse.ArgumentParser) -> None:
    from arena.battles.readers import FORMATS
    from arena.battles.sources import SOURCE_CHOICES
    from arena.cli.db import add_database_argument

    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="battle files (several are concatenated); or none, with --database",
    )
    add_database_argument(p)
    p.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default=None,
        help="with --database: live votes, imported battles (arena db import) or all "
        "(default: all)",
    )
    p.add_argument("--input-format", choices=FORMATS, help="override format detection")
    p.add_argument(
        "--columns",
        type=_mapping,
        metavar="FIELD=COLUMN,...",
        help="which of your columns hold model_a, model_b, winner (and tstamp, language, ...)",
    )
    p.add_argument(
        "--outcomes",
        type=_mapping,
        metavar="VALUE=LABEL,...",
        help="map your outcome values to model_a | model_b | tie | tie (bothbad)",
    )
    p.add_argument(
        "--max-decompressed",
        type=_size,
        default=None,
        metavar="SIZE",
        help="largest size a gzip-compressed input may decompress to, e.g. 8G "
        "(default: 2G; a guard against gzip bombs)",
    )
    g = p.add_argument_group("filters")
    g.add_argument("--category", help="only battles tagged with this category")
    g.add_argument("--language", help="only battles in this language")
    g.add_argument(
        "--since", metavar="DATE", help="only battles at or after DATE (YYYY-MM-DD or ISO, UTC)"
    )
    g.add_argument("--until", metavar="DATE", help="only battles before DATE")
    g.add_argument(
        "--anonymous-only", action="store_true", help="only anonymous battles (anony = true)"
    )
    g.add_argument(
        "--exclude", action="append", default=[], metavar="MODEL", help="drop a model (repeatable)"
    )
    g.add_argument(
        "--min-battles",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="drop models with fewer than N battles",
    )
    g.add_argument(
        "--dedup-prompts",
        action="store_true",
        help="keep only the first battle of each identical prompt",
    )


def register(sub: Any) -> None:
    """Add the ``leaderboard`` and ``matrix`` commands."""
    from arena.records import CI_KINDS, METHODS
    from arena.report.exports import EXPORT_FORMATS

    p = sub.add_parser(
        "leaderboard",
        help="rate models from battle files and export the leaderboard",
        description="Rate models from pairwise battles (Bradley–Terry, Davidson or online Elo) "
        "with confidence intervals, and export the table.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_arguments(p)
    m = p.add_argument_group("model")
    m.add_argument("--method", choices=METHODS, default="bt", help="rating model (default: bt)")
    m.add_argument(
        "--ci",
        choices=CI_KINDS,
        default=None,
        help="interval: sandwich (default for bt/davidson), bootstrap, none (default for elo)",
    )
    m.add_argument(
        "--rounds", type=_positive_int, default=100, help="bootstrap rounds (default: 100)"
    )
    m.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    m.add_argument(
        "--level",
        type=_level,
        default=0.95,
        help="confidence level, a fraction in (0, 1) (default: 0.95)",
    )
    m.add_argument(
        "--anchor",
        type=_anchor,
        metavar="MODEL=RATING",
        help="fix one model's rating, e.g. mixtral-8x7b-instruct-v0.1=1114",
    )
    m.add_argument(
        "--style-control",
        action="store_true",
        help="control for answer length and markdown (bt only)",
    )
    m.add_argument("--k", type=_finite, default=4.0, help="online Elo K-factor (default: 4)")
    m.add_argument(
        "--scale", type=_finite, default=400.0, help="points per factor of base in odds (400)"
    )
    m.add_argument("--base", type=_finite, default=10.0, help="logistic base (10)")
    m.add_argument(
        "--offset", type=_finite, default=1000.0, help="rating of the average model (1000)"
    )
    o = p.add_argument_group("output")
    o.add_argument(
        "--format", choices=EXPORT_FORMATS, help="output format (default: from --output, else md)"
    )
    o.add_argument(
        "--output", type=Path, metavar="PATH", help="write here instead of standard output"
    )
    o.add_argument(
        "--plot", type=Path, metavar="PATH.png", help="also draw ratings with interval bars"
    )
    o.add_argument(
        "--heatmap", type=Path, metavar="PATH.png", help="also draw the pairwise win-rate heatmap"
    )
    _add_heatmap_top(o)
    o.add_argument("--quiet", action="store_true", help="no progress bar or warnings")
    o.add_argument(
        "--snapshot",
        nargs="?",
        const="",
        default=None,
        metavar="URL",
        help="also store the table and its provenance in the votes database (URL; default: "
        "the --database one, else the default database); list them with arena history",
    )
    p.set_defaults(func=run_leaderboard)

    q = sub.add_parser(
        "matrix",
        help="pairwise matrices: win rate, battle counts, predicted win probability",
        description="Compute a pairwise matrix between models (rows vs columns).",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_arguments(q)
    q.add_argument(
        "--kind",
        choices=("winrate", "counts", "predicted"),
        default="winrate",
        help="winrate: observed, ties as half; counts: battles; predicted: from BT ratings",
    )
    q.add_argument(
        "--format",
        choices=("csv", "json", "md"),
        help="output format (default: from --output, else csv)",
    )
    q.add_argument("--output", type=Path, metavar="PATH")
    q.add_argument("--heatmap", type=Path, metavar="PATH.png", help="also draw it as a heatmap")
    _add_heatmap_top(q)
    q.set_defaults(func=run_matrix)


#: The heatmap PNG shows the best rated models only, like the web page.
HEATMAP_TOP = 15


def _add_heatmap_top(group: Any) -> None:
    group.add_argument(
        "--heatmap-top",
        type=_non_negative_int,
        default=HEATMAP_TOP,
        metavar="N",
        help=f"the heatmap shows the N best rated models (default: {HEATMAP_TOP}, as on the "
        "web page; 0: all)",
    )


def _top(matrix: Any, n: int) -> Any:
    """The first ``n`` rows and columns of a model-ordered matrix (all when ``n`` is 0)."""
    if n <= 0 or n >= len(matrix.index):
        return matrix
    keep = list(matrix.index[:n])
    return matrix.loc[keep, [c for c in matrix.columns if c in set(keep)]]


def _database_battles(args: argparse.Namespace) -> tuple[Any, str | None]:
    """What the web app's Leaderboard page rates, from the store; and a bridging warning."""
    from arena.battles.sources import combine_sources
    from arena.store.engine import make_sessionmaker, open_engine
    from arena.store.export import votes_battles
    from arena.store.imports import imported_battles

    if args.inputs:
        raise UserError("give battle files or --database, not both")
    if getattr(args, "style_control", False):
        raise UserError(
            "--style-control needs the answers, which --database does not read: export the "
            "votes with `arena votes --output votes.jsonl` and rate that file"
        )
    source = args.source or "all"
    engine = open_engine(args.database)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            live = None
            if source != "imported":  # anonymous votes without identity leaks, as the page
                votes = votes_battles(session)
                if len(votes):
                    anonymous = votes.meta["anony"].to_numpy(bool)
                    live = votes.take(anonymous) if anonymous.any() else None
            imported = imported_battles(session) if source != "live" else None
    finally:
        engine.dispose()
    check = combine_sources(live, imported)
    if check.battles is None:
        what = {"live": "live votes", "imported": "imported battles", "all": "votes"}[source]
        raise UserError(
            f"the database has no {what} to rate"
            + (" (arena db import FILE --source NAME loads some)" if source != "live" else "")
        )
    return check.battles, check.message()


def _load(args: argparse.Namespace) -> tuple[Any, list[dict[str, str]], dict[str, Any]]:
    from arena.battles.filters import FilterSpec, apply_filters, parse_date
    from arena.battles.readers import ColumnMap, input_fingerprint, read_battles

    if args.source is not None and args.database is None:
        raise UserError("--source chooses among the database's battles: add --database URL")
    if args.database is not None:
        battles, unlinked = _database_battles(args)
        if unlinked is not None and not getattr(args, "quiet", False):
            print(f"arena: warning: {unlinked}", file=sys.stderr)
    elif not args.inputs:
        raise UserError("no battle files given: name one or more INPUT files, or --database URL")
    for path in args.inputs:
        if not Path(path).is_file():
            raise UserError(f"{path}: no such file")
    columns = ColumnMap.from_mapping(args.columns) if args.columns else None
    if args.database is None:
        battles = read_battles(
            [Path(p) for p in args.inputs],
            fmt=args.input_format,
            columns=columns,
            outcome_map=args.outcomes,
            style=bool(getattr(args, "style_control", False)),
            max_decompressed=args.max_decompressed,
        )
    spec = FilterSpec(
        category=args.category,
        language=args.language,
        since=parse_date(args.since) if args.since else None,
        until=parse_date(args.until) if args.until else None,
        anonymous_only=args.anonymous_only,
        exclude=tuple(args.exclude),
        min_battles=args.min_battles,
        dedup_prompts=args.dedup_prompts,
    )
    source = ", ".join(args.inputs) or "the database"
    battles = apply_filters(battles, spec, source=source)
    filters = {
        "category": args.category,
        "language": args.language,
        "since": args.since,
        "until": args.until,
        "anonymous_only": args.anonymous_only,
        "exclude": list(args.exclude),
        "min_battles": args.min_battles,
        "dedup_prompts": args.dedup_prompts,
    }
    inputs = [input_fingerprint(Path(p)) for p in args.inputs]
    if args.database is not None:
        from arena.store.engine import database_url, display_url

        filters["database"] = display_url(database_url(args.database))
        filters["source"] = args.source or "all"
    return battles, inputs, {k: v for k, v in filters.items() if v not in (None, False, [], 0)}


def _output_format(args: argparse.Namespace, default: str) -> str:
    from arena.report.exports import format_from_path

    if args.format:
        return str(args.format)
    if args.output is not None:
        guessed = format_from_path(args.output)
        if guessed is None:
            raise UserError(
                f"{args.output}: cannot tell the format from the extension; pass --format"
            )
        return guessed
    return default


def run_leaderboard(args: argparse.Namespace) -> int:
    """Compute and export a leaderboard; returns the exit status."""
    from arena.leaderboard import FitSpec, compute_leaderboard
    from arena.ratings.scale import RatingScale
    from arena.report.exports import write_leaderboard

    fmt = _output_format(args, "md")
    if fmt == "parquet" and args.output is None:
        raise UserError("--format parquet needs --output PATH (Parquet is binary)")
    for png in (args.plot, args.heatmap):
        if png is not None and png.suffix.lower() != ".png":
            raise UserError(f"{png}: plots are written as PNG; use a .png file name")
    try:
        scale = RatingScale(args.scale, args.base, args.offset)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    spec = FitSpec(  # checked here, before a large file is read
        method=args.method,
        ci=args.ci or ("none" if args.method == "elo" else "sandwich"),
        rounds=args.rounds,
        seed=args.seed,
        level=args.level,
        anchor=args.anchor,
        style_control=args.style_control,
        scale=scale,
        k_factor=args.k,
    )
    if args.method == "elo":
        from arena.ratings.elo import preload

        preload()  # the compiled Elo loop loads while the battles are read
    battles, inputs, filters = _load(args)

    def warn(text: str) -> None:
        if not args.quiet:
            print(f"arena: warning: {text}", file=sys.stderr)

    import warnings

    from arena.leaderboard import ArenaWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        lb = compute_leaderboard(
            battles,
            spec,
            progress=not args.quiet and sys.stderr.isatty(),
            inputs=inputs,
            filters=filters,
            on_warning=warn,
        )
    write_leaderboard(lb, args.output, fmt)
    if args.snapshot is not None:
        from arena.cli.history import store_snapshot

        store_snapshot(lb, args)
    if args.plot is not None:
        from arena.report.plots import plot_ratings

        plot_ratings(lb, args.plot)
    if args.heatmap is not None:
        from arena.battles.matrices import win_rate_matrix
        from arena.report.plots import plot_heatmap

        order = list(lb.table["model"])
        matrix = _top(win_rate_matrix(battles, order=order), args.heatmap_top)
        shown = "" if len(matrix) == lb.n_models else f", top {len(matrix)} of {lb.n_models}"
        plot_heatmap(
            matrix,
            args.heatmap,
            title=f"Win rate (row vs column), {lb.n_battles:,} battles{shown}",
            center=0.5,
            vmin=0.0,
            vmax=1.0,
        )
    if not args.quiet:
        from arena.report.notes import rank_note, style_control_refusal

        print(f"arena: note: {rank_note(lb, noun='battles')}", file=sys.stderr)
        few = style_control_refusal(lb.n_battles, lb.n_models, len(battles.style_names))
        if args.style_control and few is not None:  # the web page refuses; here: warn
            print(f"arena: warning: {few.replace('votes', 'battles')}", file=sys.stderr)
    if args.output is not None and not args.quiet:
        print(
            f"arena: wrote {lb.n_models} models, {lb.n_battles:,} battles to {args.output}",
            file=sys.stderr,
        )
    return 0


def run_matrix(args: argparse.Namespace) -> int:
    """Compute and export a pairwise matrix; returns the exit status."""
    import pandas as pd

    from arena.battles.matrices import count_matrix, predicted_win_matrix, win_rate_matrix
    from arena.io import write_atomic
    from arena.leaderboard import compute_leaderboard
    from arena.report.exports import render_matrix

    fmt = _output_format(args, "csv")
    battles, _, _ = _load(args)
    lb = compute_leaderboard(battles, method="bt", ci="none")
    order = list(lb.table["model"])
    matrix: pd.DataFrame
    if args.kind == "counts":
        matrix = count_matrix(battles, order=order)
    elif args.kind == "predicted":
        matrix = predicted_win_matrix(lb.table.set_index("model")["rating"], order=order)
    else:
        matrix = win_rate_matrix(battles, order=order)
    text = render_matrix(matrix, fmt)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text.encode())
    if args.heatmap is not None:
        from arena.report.plots import plot_heatmap

        titles = {
            "winrate": "Win rate (row vs column)",
            "counts": "Battles",
            "predicted": "Predicted win probability",
        }
        top = _top(matrix, args.heatmap_top)
        shown = "" if len(top) == len(matrix) else f" (top {len(top)} of {len(matrix)})"
        rates = args.kind != "counts"  # win rates and probabilities: 0..1 around 0.5
        plot_heatmap(
            top,
            args.heatmap,
            title=titles[args.kind] + shown,
            fmt=".2f" if rates else ".0f",
            center=0.5 if rates else None,
            vmin=0.0 if rates else None,
            vmax=1.0 if rates else None,
            cmap="RdBu" if rates else "Blues",
        )
    return 0
