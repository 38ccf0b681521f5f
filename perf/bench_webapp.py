"""Leaderboard page latency with a large vote store (default: one million votes).

Fills a fresh database with ``--votes`` voted battles between ``--models`` models (bulk
inserts, five categories, answers with varied markdown), then measures:

* ``counts``: the one ``GROUP BY`` read of the live leaderboard (vote counts per pair,
  outcome, category and flags);
* ``refresh``: a full background refresh, i.e. counts + Bradley-Terry with sandwich
  intervals for every category + the two default charts;
* ``per-vote``: the from-scratch path the cache avoids (``votes_battles`` reading every
  vote, then ``compute_leaderboard``), for comparison;
* ``board``: what a page view costs in the service (a cache read), median of 1000;
* ``page``: the leaderboard page rendered by Streamlit (``AppTest``): ``page_cold_s`` is
  a fresh server's wait for its first snapshot (start-up only), ``page_median_s`` the
  median of 5 page views after that, what every visitor gets. The goal: <= 2 s;
* ``style`` (``--style``): the style-controlled refresh, which reads every answer.

Run from the project root::

    .venv/bin/python perf/bench_webapp.py                     # SQLite, 1M votes
    .venv/bin/python perf/bench_webapp.py --votes 100000 --backends sqlite,postgresql --style
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATEGORIES = ("coding", "math", "general", "general", "general")
ANSWERS = (
    "A short answer.",
    "# Title\n\nSome text with **bold** words.\n\n- one\n- two\n- three",
    "Plain prose, somewhat longer, explaining the idea in a few sentences. " * 3,
    "1. first\n2. second\n\n**Note**: done.",
    "```python\nprint('hi')\n```\nThat prints hi.",
)
OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")


def fill(url: str, n_votes: int, n_models: int, seed: int = 0) -> None:
    """Insert ``n_models`` models and ``n_votes`` voted battles in bulk (ids from 1)."""
    from sqlalchemy import insert

    from arena.store import (
        Battle,
        Conversation,
        Vote,
        Voter,
        make_engine,
        make_sessionmaker,
        upsert_models,
    )

    rng = random.Random(seed)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    strength = [rng.gauss(0, 1) for _ in range(n_models)]
    with sessions.begin() as session:
        models = upsert_models(
            session,
            [
                {
                    "name": f"model-{i:02d}",
                    "display_name": f"Model {i:02d}",
                    "organization": f"Org {i % 5}",
                    "backend": {"backend": "fake"},
                    "codename": f"preview-{i}" if i < 2 else None,
                }
                for i in range(n_models)
            ],
        )
        ids = [m.id for m in models]
        n_conv = 1000
        session.execute(
            insert(Conversation),
            [
                {
                    "id": c + 1,
                    "text": f"prompt {c}",
                    "turns": [f"prompt {c}"],
                    "category": CATEGORIES[c % len(CATEGORIES)],
                }
                for c in range(n_conv)
            ],
        )
        session.execute(insert(Voter), [{"id": v + 1, "token": f"voter-{v}"} for v in range(1000)])
    chunk = 50_000
    for start in range(0, n_votes, chunk):
        battles, votes = [], []
        for k in range(start, min(n_votes, start + chunk)):
            a, b = rng.sample(range(n_models), 2)
            diff = strength[a] - strength[b]
            u = rng.random()
            p_a = 0.8 / (1 + pow(10, -diff))
            outcome = 0 if u < p_a else (1 if u < 0.8 else (2 if u < 0.93 else 3))
            battles.append(
                {
                    "id": k + 1,
                    "conversation_id": k % n_conv + 1,
                    "model_a_id": ids[a],
                    "model_b_id": ids[b],
                    "answers_a": [ANSWERS[(k + a) % len(ANSWERS)]],
                    "answers_b": [ANSWERS[(k + b + 1) % len(ANSWERS)]],
                    "status": "voted",
                    "anonymous": True,
                }
            )
            votes.append(
                {
                    "id": k + 1,
                    "battle_id": k + 1,
                    "outcome": OUTCOMES[outcome],
                    "voter_id": k % 1000 + 1,
                    "anonymous": True,
                    "identity_leak": k % 500 == 0,
                }
            )
        with sessions.begin() as session:
            session.execute(insert(Battle), battles)
            session.execute(insert(Vote), votes)
        print(f"  inserted {min(n_votes, start + chunk):,} votes", end="\r", flush=True)
    print()
    engine.dispose()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    from arena.store import upgrade

    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="arena-bench-web-") as folder:
            url = f"sqlite:///{Path(folder) / 'arena.db'}"
            upgrade(url)
            yield url
        return
    from arena.store.pgtemp import temporary_postgres

    with temporary_postgres() as url:
        upgrade(url)
        yield url


def write_models_file(folder: Path, n_models: int) -> Path:
    path = folder / "models.toml"
    entries = []
    for i in range(n_models):
        codename = f'codename = "preview-{i}"\n' if i < 2 else ""
        entries.append(
            f'[[models]]\nname = "model-{i:02d}"\nbackend = "fake"\n'
            f'display_name = "Model {i:02d}"\norganization = "Org {i % 5}"\n{codename}'
        )
    path.write_text("\n".join(entries))
    return path


def bench(url: str, n_votes: int, n_models: int, style: bool) -> dict[str, Any]:
    from arena.leaderboard import compute_leaderboard
    from arena.service import ArenaService, ServiceConfig
    from arena.store import make_engine, make_sessionmaker, vote_counts, votes_battles

    result: dict[str, Any] = {"votes": n_votes, "models": n_models}
    engine = make_engine(url)
    read = make_sessionmaker(engine, read_only=True)
    with read() as session:
        result["counts_s"], counts = timed(lambda: vote_counts(session))
    result["count_rows"] = len(counts)
    with read() as session:
        started = time.perf_counter()
        per_vote = votes_battles(session)
        result["per_vote_read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    compute_leaderboard(per_vote, method="bt", ci="sandwich")
    result["per_vote_fit_s"] = time.perf_counter() - started
    del per_vote
    engine.dispose()

    with tempfile.TemporaryDirectory() as folder:
        models = write_models_file(Path(folder), n_models)
        config = ServiceConfig(leaderboard_ttl_s=3600.0)
        service = ArenaService.open(url, models, config)
        board = service.leaderboard
        result["refresh_s"], _ = timed(board.refresh)
        view = service.board()
        assert view is not None and view.leaderboard is not None, view
        result["leaderboard_votes"] = view.n_votes
        samples = []
        for _ in range(1000):
            started = time.perf_counter()
            service.board("coding")
            samples.append(time.perf_counter() - started)
        result["board_median_us"] = round(statistics.median(samples) * 1e6, 1)
        if style:
            result["style_refresh_s"], _ = timed(lambda: board.refresh(style_control=True))
        service.close()

        result.update(page_times(url, models))
    return result


def page_times(url: str, models: Path) -> dict[str, float]:
    """Render the leaderboard page with AppTest on a warm service (as a visitor would)."""
    from streamlit.testing.v1 import AppTest

    os.environ.update(
        ARENA_DATABASE_URL=url, ARENA_MODELS_FILE=str(models), ARENA_LEADERBOARD_TTL_S="3600"
    )
    app = str(ROOT / "webapp" / "app.py")
    started = time.perf_counter()
    at = AppTest.from_file(app, default_timeout=600).run()  # starts the service
    at.switch_page("views/leaderboard.py").run()
    while not at.dataframe:  # a cold server computes its first snapshot in the background
        assert not at.exception, [e.value for e in at.exception]
        assert time.perf_counter() - started < 600, "no leaderboard after 10 minutes"
        time.sleep(0.5)
        at.run()
    cold = time.perf_counter() - started
    runs = []
    for _ in range(5):
        seconds, _ = timed(lambda: at.run())
        runs.append(seconds)
        assert at.dataframe and not at.exception
    return {"page_cold_s": round(cold, 3), "page_median_s": round(statistics.median(runs), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument(
        "--style", action="store_true", help="also time the style-controlled refresh"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    import warnings

    from arena.leaderboard import ArenaWarning

    warnings.filterwarnings("ignore", category=ArenaWarning)
    rows = []
    print(f"# {args.votes:,} votes, {args.models} models, {os.cpu_count()} CPUs")
    for backend in args.backends.split(","):
        with database(backend) as url:
            seconds, _ = timed(lambda: fill(url, args.votes, args.models))
            print(f"{backend}: filled in {seconds:.1f} s")
            row = {"backend": backend, **bench(url, args.votes, args.models, args.style)}
            rows.append(row)
            for key, value in row.items():
                print(f"  {key:<20} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    failed = [r for r in rows if r["page_median_s"] > 2.0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
