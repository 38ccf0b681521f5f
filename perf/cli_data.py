"""The battle file of ``perf/bench_cli.py``: the real Arena votes as one Parquet file.

``perf/out/arena_battles.parquet`` (git-ignored, ~25 MiB, written on first use in a few
seconds; ``python perf/cli_data.py --force`` rewrites it) holds the 1,670,250 battles of
the Chatbot Arena pair counts of 2024-08-14 (found through :mod:`arena.data`, as
``perf/bench_ratings.py`` reads them) expanded to one row per battle exactly as it does (:func:`bench_ratings.arena_battles`: row
order shuffled with a fixed seed, sides drawn at random), in the FastChat layout
``model_a, model_b, winner``.

**Style columns.** The real votes come as counts, without the answers, so they carry no
style features. Style control needs them, so the file also has the per-side columns
``tokens_a, tokens_b, headers_a, headers_b, list_items_a, list_items_b, bold_a, bold_b``
drawn the way ``perf/synth.py`` draws them for its synthetic log
(:func:`synth.style_features`: per-model verbosity correlated with strength, answer length
log-normal, markdown counts Poisson in proportion to length), with each model's strength
taken as its standardised log-odds of scoring (ties as half) in the counts. The outcomes
stay the real ones: the style fit then finds small coefficients, and costs exactly what a
fit of this size costs, which is what the benchmark measures. Every implementation reads
only the columns its task needs from the same file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

PERF = Path(__file__).resolve().parent
if str(PERF) not in sys.path:
    sys.path.insert(0, str(PERF))

import bench_ratings  # noqa: E402
import synth  # noqa: E402

PATH = PERF / "out" / "arena_battles.parquet"
STYLE_SEED = 20240814
STYLE_COLUMNS: tuple[str, ...] = tuple(
    f"{feature}_{side}" for feature in synth.FEATURES for side in ("a", "b")
)


def make_frame(seed: int = 0) -> pd.DataFrame:
    """The expanded battles with the synthetic style columns (nothing is written)."""
    df = bench_ratings.arena_battles(seed=seed)
    names, codes = np.unique(
        np.concatenate([df["model_a"].to_numpy(str), df["model_b"].to_numpy(str)]),
        return_inverse=True,
    )
    n = len(df)
    a, b = codes[:n], codes[n:]
    y = np.select(
        [df["winner"].to_numpy(str) == "model_a", df["winner"].to_numpy(str) == "model_b"],
        [1.0, 0.0],
        0.5,
    )
    k = len(names)
    score = np.bincount(a, y, k) + np.bincount(b, 1.0 - y, k)
    games = np.bincount(a, minlength=k) + np.bincount(b, minlength=k)
    rate = np.clip(score / games, 1e-3, 1 - 1e-3)
    strength = np.log(rate / (1 - rate))
    z = (strength - strength.mean()) / strength.std()
    side = synth.style_features(np.random.default_rng(STYLE_SEED), z, a, b)
    for feature in synth.FEATURES:
        df[f"{feature}_a"] = side["a"][feature]
        df[f"{feature}_b"] = side["b"][feature]
    return df


def write(force: bool = False) -> Path:
    """Write the Parquet file unless it is there; return its path."""
    if PATH.exists() and not force:
        return PATH
    df = make_frame()
    PATH.parent.mkdir(parents=True, exist_ok=True)
    tmp = PATH.with_suffix(".parquet.tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(PATH)
    return PATH


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rewrite even if present")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    path = write(force=args.force)
    df = pd.read_parquet(path)
    print(
        f"{path} ({path.stat().st_size / 2**20:.1f} MiB, {len(df):,} rows, "
        f"{df['model_a'].nunique()} models, {time.perf_counter() - t:.1f} s)"
    )
    print(df.head().to_string())


if __name__ == "__main__":
    main()
