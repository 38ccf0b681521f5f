"""What the peers' command-line equivalents share: arguments, reading the file, the CSV.

``perf/cli_arena_rank.py``, ``perf/cli_evalica.py`` and ``perf/cli_fastchat.py`` are what
a user of each library would write to get a leaderboard from a battle file on the
command line: read the Parquet file with pandas (only the columns the task needs), call
the library the way its documentation does (through the adapters of ``perf/peers.py``,
the same code ``perf/bench_ratings.py`` times in one process), write ``model,rating``
(and ``ci_lower,ci_upper`` where the library computes them) as CSV. ``perf/bench_cli.py``
times each as a whole process, imports included, beside ``arena leaderboard``.

    python perf/cli_evalica.py elo perf/out/arena_battles.parquet --output elo.csv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PERF = Path(__file__).resolve().parent
if str(PERF) not in sys.path:
    sys.path.insert(0, str(PERF))

#: The columns of the battle file every task reads; ``style`` also reads these features.
BATTLE_COLUMNS = ["model_a", "model_b", "winner"]
STYLE_FEATURES = ("tokens", "headers", "list_items", "bold")
STYLE_COLUMNS = [f"{f}_{s}" for f in STYLE_FEATURES for s in ("a", "b")]


def main(peer: str, tasks: Mapping[str, Callable[..., Any]], argv: list[str] | None = None) -> int:
    """Parse ``TASK FILE --output CSV [--rounds N]``, run the task, write the ratings."""
    ap = argparse.ArgumentParser(
        prog=f"cli_{peer.replace('-', '_')}.py",
        description=f"{peer}: ratings from a battle file (model_a, model_b, winner).",
    )
    ap.add_argument("task", choices=sorted(tasks))
    ap.add_argument("input", type=Path, help="Parquet battle file")
    ap.add_argument("--output", type=Path, required=True, help="CSV to write")
    ap.add_argument("--rounds", type=int, default=100, help="bootstrap rounds (100)")
    args = ap.parse_args(argv)

    import pandas as pd

    columns = BATTLE_COLUMNS + (STYLE_COLUMNS if args.task == "style" else [])
    df = pd.read_parquet(args.input, columns=columns)
    fn = tasks[args.task]
    ratings = fn(df, rounds=args.rounds) if args.task == "bootstrap" else fn(df)
    out = pd.DataFrame({"model": ratings.index, "rating": ratings.to_numpy()})
    if "ci_lower" in ratings.attrs:
        out["ci_lower"] = ratings.attrs["ci_lower"].reindex(ratings.index).to_numpy()
        out["ci_upper"] = ratings.attrs["ci_upper"].reindex(ratings.index).to_numpy()
    out.sort_values("rating", ascending=False).to_csv(args.output, index=False)
    return 0
