"""Synthetic Arena-like battle log for the ratings benchmark (data set (b)).

3,000,000 battles among 300 models by default, generated from known parameters:

* **True Bradley–Terry ratings** (Elo scale, mean 1000, sd 120).
* **Skewed pair frequencies**: model popularity is Zipf-like (``p_i ~ 1 / rank_i``, ranks
  loosely tied to rating, as popular models tend to be strong), both sides drawn from it,
  so the most popular pairs are seen thousands of times more often than rare ones.
* **Style features** per side, realistic non-negative counts: ``tokens`` (answer length,
  log-normal around a per-model verbosity), ``headers``, ``list_items``, ``bold``
  (Poisson, proportional to length with a per-model habit). Verbose models are somewhat
  stronger, so style is confounded with strength, as on the real Arena.
* **A true style effect** on the outcome: the logit is
  ``(r_a - r_b) * ln10 / 400 + sum_k beta_k * (f_a,k - f_b,k) / (f_a,k + f_b,k)``
  (the LMArena normalised-difference style features).
* **Ties**: 15 % of battles, more likely between close opponents; 40 % of them
  ``tie (bothbad)``. A decisive battle is won by A with the style-adjusted BT probability.

Rows are written in generation order ("vote order") to Parquet under ``perf/out/``
(git-ignored) with string model / winner columns and ``<feature>_a`` / ``<feature>_b``
integer columns; the true parameters go to a JSON file beside it.

Usage::

    python perf/synth.py            # write perf/out/synth_3000000x300.parquet (if missing)
    python perf/synth.py --force    # regenerate
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT_DIR = Path(__file__).resolve().parent / "out"
FEATURES: tuple[str, ...] = ("tokens", "headers", "list_items", "bold")
#: True style coefficients, per unit of normalised difference (a - b) / (a + b).
TRUE_BETA: dict[str, float] = {"tokens": 0.7, "headers": 0.2, "list_items": 0.15, "bold": 0.1}
TIE_SHARE = 0.15
BOTHBAD_SHARE_OF_TIES = 0.4
WINNER_LABELS = ("model_a", "model_b", "tie", "tie (bothbad)")


def synth_path(n_battles: int = 3_000_000, n_models: int = 300) -> Path:
    """Cache path of the Parquet file for these sizes."""
    return OUT_DIR / f"synth_{n_battles}x{n_models}.parquet"


def _norm_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    s = a + b
    out: np.ndarray = np.divide(a - b, s, out=np.zeros(len(s)), where=s != 0)
    return out


def style_features(
    rng: np.random.Generator, z_strength: np.ndarray, a: np.ndarray, b: np.ndarray
) -> dict[str, dict[str, np.ndarray]]:
    """Per-side style counts ``{"a": {feature: int32 array}, "b": {...}}`` for battles ``a, b``.

    Per-model habits: a verbosity correlated (~0.3) with the standardised strength
    ``z_strength`` (one value per model), so style is confounded with strength as on the
    real Arena; per battle, answer length log-normal around the model's verbosity and
    headers / list items / bold Poisson in proportion to length with a per-model rate.
    ``perf/bench_cli.py`` uses it to give the real Arena battles (which carry no texts)
    style columns.
    """
    n_models = len(z_strength)
    verbosity = 0.3 * z_strength + math.sqrt(1 - 0.3**2) * rng.normal(size=n_models)
    log_len = math.log(450.0) + 0.35 * verbosity
    habit = {
        "headers": rng.lognormal(0.0, 0.7, n_models) / 250.0,
        "list_items": rng.lognormal(0.0, 0.6, n_models) / 60.0,
        "bold": rng.lognormal(0.0, 0.8, n_models) / 120.0,
    }
    side: dict[str, dict[str, np.ndarray]] = {"a": {}, "b": {}}
    for s, m in (("a", a), ("b", b)):
        tokens = np.maximum(1, np.rint(rng.lognormal(log_len[m], 0.6))).astype(np.int32)
        side[s]["tokens"] = tokens
        for f, rate in habit.items():
            side[s][f] = rng.poisson(tokens * rate[m]).astype(np.int32)
    return side


def make_synthetic(
    n_battles: int = 3_000_000, n_models: int = 300, seed: int = 20240814
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Generate the battle log and its true parameters (nothing is written)."""
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}" for i in range(n_models)])
    rating = rng.normal(1000.0, 120.0, n_models)
    z_rating = (rating - rating.mean()) / rating.std()

    # Zipf-like popularity, loosely correlated with strength.
    order = np.argsort(-(z_rating + rng.normal(0.0, 1.5, n_models)))
    rank = np.empty(n_models)
    rank[order] = np.arange(1, n_models + 1)
    pop = 1.0 / rank
    pop /= pop.sum()

    a = rng.choice(n_models, size=n_battles, p=pop)
    b = rng.choice(n_models, size=n_battles, p=pop)
    clash = np.flatnonzero(a == b)
    while clash.size:  # redraw B for self-pairs
        b[clash] = rng.choice(n_models, size=clash.size, p=pop)
        clash = clash[a[clash] == b[clash]]

    side = style_features(rng, z_rating, a, b)
    logit = (rating[a] - rating[b]) * math.log(10.0) / 400.0
    for f in FEATURES:
        logit += TRUE_BETA[f] * _norm_diff(side["a"][f].astype(float), side["b"][f].astype(float))
    p = 1.0 / (1.0 + np.exp(-logit))

    closeness = 4.0 * p * (1.0 - p)
    q_tie = np.minimum(0.9, closeness * (TIE_SHARE / closeness.mean()))
    u = rng.random(n_battles)
    outcome = np.where(rng.random(n_battles) < p, 0, 1).astype(np.int8)
    tie = u < q_tie
    outcome[tie] = np.where(rng.random(int(tie.sum())) < BOTHBAD_SHARE_OF_TIES, 3, 2)

    cols: dict[str, object] = {
        "model_a": pd.array(names, dtype="str").take(a),
        "model_b": pd.array(names, dtype="str").take(b),
        "winner": pd.array(list(WINNER_LABELS), dtype="str").take(outcome),
    }
    for f in FEATURES:
        cols[f + "_a"] = side["a"][f]
        cols[f + "_b"] = side["b"][f]
    df = pd.DataFrame(cols)
    truth: dict[str, object] = {
        "seed": seed,
        "n_battles": n_battles,
        "n_models": n_models,
        "scale": "Elo: 400 per factor 10 in odds, mean 1000",
        "ratings": dict(zip(names.tolist(), rating.round(6).tolist(), strict=True)),
        "popularity": dict(zip(names.tolist(), pop.tolist(), strict=True)),
        "style_beta": TRUE_BETA,
        "style_feature": "(a - b) / (a + b) per feature",
        "tie_share": float(tie.mean()),
        "bothbad_share_of_ties": float((outcome == 3).sum() / max(1, tie.sum())),
    }
    return df, truth


def write_synthetic(
    n_battles: int = 3_000_000, n_models: int = 300, seed: int = 20240814, force: bool = False
) -> Path:
    """Write (unless cached) the Parquet file and its ``.truth.json``; return the path."""
    path = synth_path(n_battles, n_models)
    truth_path = path.with_suffix(".truth.json")
    if path.exists() and truth_path.exists() and not force:
        return path
    df, truth = make_synthetic(n_battles, n_models, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    df.to_parquet(tmp, index=False)
    tmp.replace(path)
    truth_path.write_text(json.dumps(truth, indent=1))
    return path


def synthetic_battles(
    n_battles: int = 3_000_000, n_models: int = 300, seed: int = 20240814
) -> pd.DataFrame:
    """The synthetic battle DataFrame (read from the Parquet cache, generated if missing)."""
    return pd.read_parquet(write_synthetic(n_battles, n_models, seed))


def synthetic_truth(n_battles: int = 3_000_000, n_models: int = 300) -> dict[str, object]:
    """True parameters written beside the cached Parquet file."""
    path = synth_path(n_battles, n_models).with_suffix(".truth.json")
    return dict(json.loads(path.read_text()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=3_000_000)
    ap.add_argument("--models", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20240814)
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    path = write_synthetic(args.battles, args.models, args.seed, force=args.force)
    df = pd.read_parquet(path)
    truth = synthetic_truth(args.battles, args.models)
    print(
        f"{path} ({path.stat().st_size / 2**20:.1f} MiB, {len(df):,} rows, "
        f"{time.perf_counter() - t:.1f} s)"
    )
    print(
        f"ties {truth['tie_share']:.3f}, both-bad share of ties "
        f"{truth['bothbad_share_of_ties']:.3f}"
    )
    print(df.head().to_string())
    print(df[[f + "_a" for f in FEATURES]].describe().round(1).to_string())


if __name__ == "__main__":
    main()
