"""``arena history``: stored leaderboard snapshots, a model's rating over time, re-checks.

Snapshots are stored by ``arena leaderboard ... --snapshot`` (:func:`store_snapshot`)
with the leaderboard's provenance and the options of the command that made it, so
``arena history --verify ID`` can compute it again from the same inputs and say
whether it gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from arena.errors import UserError

HELP_EPILOG = """\
examples:
  arena leaderboard battles.json --snapshot            # store what it printed
  arena history                                        # every snapshot
  arena history gpt-4o-2024-05-13 --plot rating.png    # one model over time
  arena history --verify 3                             # recompute snapshot 3 and compare
"""

#: Options of ``arena leaderboard`` that only say where to write; not recorded.
_OUTPUT_OPTIONS = ("func", "output", "plot", "heatmap", "snapshot", "quiet", "format")
#: Largest difference (rating points) a recomputed snapshot may show.
TOLERANCE_POINTS = 1e-6


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def store_snapshot(lb: Any, args: argparse.Namespace) -> int:
    """Store ``lb`` as ``arena leaderboard --snapshot`` asked; returns the snapshot id."""
    from arena.store import make_sessionmaker, open_engine
    from arena.store.engine import database_url, display_url
    from arena.store.snapshots import save_snapshot

    url = args.snapshot or getattr(args, "database", None)
    options = {k: _plain(v) for k, v in vars(args).items() if k not in _OUTPUT_OPTIONS}
    options["inputs"] = [str(Path(p).resolve()) for p in options.get("inputs") or []]
    source = ", ".join(options["inputs"]) or "the votes database"
    engine = open_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:
            snapshot_id = save_snapshot(session, _with_options(lb, options), source=source)
    finally:
        engine.dispose()
    if not getattr(args, "quiet", False):
        where = display_url(database_url(url))
        print(f"arena: stored snapshot {snapshot_id} in {where}", file=sys.stderr)
    return snapshot_id


def _with_options(lb: Any, options: dict[str, Any]) -> Any:
    import dataclasses

    params = {**lb.params, "command_options": options}
    return dataclasses.replace(lb, params=params)


def recompute(options: dict[str, Any]) -> Any:
    """The leaderboard the recorded ``arena leaderboard`` options give now."""
    import warnings

    from arena.cli.leaderboard import _load
    from arena.leaderboard import ArenaWarning, compute_leaderboard
    from arena.ratings.scale import RatingScale

    ns = argparse.Namespace(**options)
    if ns.anchor is not None:
        ns.anchor = (str(ns.anchor[0]), float(ns.anchor[1]))
    for path in ns.inputs:
        if not Path(path).is_file():
            raise UserError(f"{path}: the snapshot's input file is gone; cannot recompute it")
    battles, inputs, filters = _load(ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        return compute_leaderboard(
            battles,
            method=ns.method,
            ci=ns.ci or ("none" if ns.method == "elo" else "sandwich"),
            rounds=ns.rounds,
            seed=ns.seed,
            level=ns.level,
            anchor=ns.anchor,
            style_control=ns.style_control,
            scale=RatingScale(ns.scale, ns.base, ns.offset),
            k_factor=ns.k,
            inputs=inputs,
            filters=filters,
        )


def register(sub: Any) -> None:
    """Add ``arena history``."""
    from arena.cli.db import add_database_argument

    p = sub.add_parser(
        "history",
        help="stored leaderboard snapshots and a model's rating over time",
        description="List the leaderboard snapshots stored by `arena leaderboard --snapshot`, "
        "show one model's rating over them, or recompute a snapshot from its provenance.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="show this model over time")
    add_database_argument(p)
    p.add_argument("--verify", type=int, metavar="ID", help="recompute snapshot ID and compare")
    p.add_argument("--format", choices=("md", "json"), default="md", help="output (md)")
    p.add_argument("--plot", type=Path, metavar="PATH.png", help="with MODEL: rating over time")
    p.set_defaults(func=run)


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def run(args: argparse.Namespace) -> int:
    """List, show or verify snapshots; returns the exit status (1: a verify mismatch)."""
    from arena.store import make_sessionmaker, open_engine
    from arena.store.snapshots import get_snapshot, list_snapshots, model_history

    if args.plot is not None and (args.model is None or args.plot.suffix.lower() != ".png"):
        raise UserError("--plot draws one model's rating over time: give MODEL and a .png path")
    if args.verify is not None and args.model is not None:
        raise UserError("give MODEL or --verify ID, not both")
    engine = open_engine(args.database)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            if args.verify is not None:
                try:
                    summary, rows = get_snapshot(session, args.verify)
                except KeyError:
                    raise UserError(f"no snapshot {args.verify} in this database") from None
                return _verify(summary, rows)
            if args.model is not None:
                history = model_history(session, args.model)
                if not history:
                    raise UserError(f"no snapshot rates a model named {args.model!r}")
                return _show_model(args, history)
            snapshots = list_snapshots(session)
    finally:
        engine.dispose()
    if args.format == "json":
        body = [
            {**vars(s), "created_at": s.created_at.isoformat(), "provenance": s.provenance}
            for s in snapshots
        ]
        print(json.dumps(_plain(body), indent=2))
        return 0
    if not snapshots:
        print("No snapshots yet: store one with `arena leaderboard ... --snapshot`.")
        return 0
    print("| id | stored | source | method | battles | models | data SHA-256 |")
    print("|---:|---|---|---|---:|---:|---|")
    for s in snapshots:
        print(
            f"| {s.id} | {_when(s.created_at)} | {s.source} | {s.method} | {s.n_battles:,} | "
            f"{s.n_models} | {s.data_sha256[:16]} |"
        )
    return 0


def _show_model(args: argparse.Namespace, history: list[Any]) -> int:
    points = []
    previous: int | None = None
    for summary, row in history:
        moved = "new" if previous is None else f"{previous - row.position:+d}"
        previous = row.position
        points.append(
            {
                "snapshot": summary.id,
                "stored": summary.created_at.isoformat(),
                "rating": row.rating,
                "ci_lower": row.ci_lower,
                "ci_upper": row.ci_upper,
                "rank_ub": row.rank_ub,
                "place": row.position,
                "battles": row.battles,
                "moved": moved,
            }
        )
    if args.format == "json":
        print(json.dumps(_plain({"model": args.model, "history": points}), indent=2))
    else:
        print(f"# {args.model} over {len(points)} snapshot(s)\n")
        print("| snapshot | stored | rating | CI | Rank (UB) | place | moved | battles |")
        print("|---:|---|---:|---|---:|---:|---:|---:|")
        for p in points:
            ci = (
                f"{p['ci_lower']:.1f} to {p['ci_upper']:.1f}"
                if p["ci_lower"] is not None and p["ci_upper"] is not None
                else "n/a"
            )
            print(
                f"| {p['snapshot']} | {p['stored'][:19]} | {p['rating']:.1f} | {ci} | "
                f"{p['rank_ub']} | {p['place']} | {p['moved']} | {p['battles']:,} |"
            )
    if args.plot is not None:
        _plot(args.model, history, args.plot)
        print(f"arena: wrote {args.plot}", file=sys.stderr)
    return 0


def _plot(model: str, history: list[Any], path: Path) -> None:
    from matplotlib.figure import Figure

    times = [s.created_at for s, _ in history]
    rating = [r.rating for _, r in history]
    low = [r.ci_lower if r.ci_lower is not None else r.rating for _, r in history]
    high = [r.ci_upper if r.ci_upper is not None else r.rating for _, r in history]
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.fill_between(times, low, high, alpha=0.25, color="#4c72b0", label="interval")
    ax.plot(times, rating, marker="o", color="#4c72b0", label="rating")
    ax.set_title(f"{model}: rating over {len(history)} snapshot(s)")
    ax.set_ylabel("rating")
    ax.legend(loc="best")
    fig.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")


def _verify(summary: Any, rows: list[Any]) -> int:
    options = (summary.provenance.get("params") or {}).get("command_options")
    if not options:
        raise UserError(
            f"snapshot {summary.id} records no command options (not stored by "
            "`arena leaderboard --snapshot`): it cannot be recomputed"
        )
    recorded = {i["path"]: i["sha256"] for i in summary.provenance.get("inputs", [])}
    lb = recompute(options)
    now = {i["path"]: i["sha256"] for i in lb.inputs}
    if lb.data_sha256 != summary.data_sha256:
        changed = [p for p in recorded if now.get(p) != recorded[p]]
        why = f" (changed files: {', '.join(changed)})" if changed else ""
        print(
            f"snapshot {summary.id}: the battles are not the same any more{why}: data SHA-256 "
            f"{lb.data_sha256[:16]} now, {summary.data_sha256[:16]} then; not reproducible"
        )
        return 1
    table = lb.table.reset_index(drop=True)
    worst = 0.0
    same_order = list(table["model"]) == [r.model for r in rows]
    for row, (_, new) in zip(rows, table.iterrows(), strict=False):
        for old, value in ((row.rating, new["rating"]), (row.ci_lower, new["ci_lower"]),
                           (row.ci_upper, new["ci_upper"])):
            if old is None:
                continue
            worst = max(worst, abs(float(old) - float(value)))
    ok = same_order and worst <= TOLERANCE_POINTS and len(rows) == len(table)
    verdict = "same numbers" if ok else "DIFFERENT numbers"
    print(
        f"snapshot {summary.id}: recomputed from its provenance: {verdict} (same data "
        f"SHA-256, {len(table)} models, largest difference {worst:.2e} points)"
    )
    return 0 if ok else 1
