"""Vote write latency under concurrent writer processes, on SQLite and PostgreSQL.

Each of ``--processes`` spawned processes (default 32, like web-app workers) casts
``--votes`` votes, each in its own transaction (``record_vote`` + commit), on battles
of its own; latency is the wall time from when the vote is due to its commit. Two loads:

* ``saturated``: every process votes back to back (closed loop). This measures the
  store's throughput; latency is then mostly queueing behind the other 31 processes
  (SQLite has one writer at a time; on a 2-core machine PostgreSQL is CPU-bound).
* ``--rate R`` (default 100 votes/s in total): votes arrive at random (Poisson) at
  that rate, spread over the processes (open loop, latency counted from the due time,
  so a stalled writer is not hidden). This is the latency a visitor sees; the goal is
  p99 <= 50 ms.

PostgreSQL runs as a private server (``arena.store.pgtemp``) with durable settings
(fsync on) unless ``--fast-pg``. Run from the project root::

    .venv/bin/python perf/bench_votes.py                  # both back ends, both loads
    .venv/bin/python perf/bench_votes.py --backends sqlite --rate 200 --votes 200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.store import OUTCOMES


def make_ready_battles(url: str, n: int) -> None:
    """Insert ``n`` ready battles in bulk (ids 1..n)."""
    from sqlalchemy import insert

    from arena.store import Battle, Conversation, make_engine, make_sessionmaker, upsert_models

    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        a, b = upsert_models(session, [{"name": "model-a"}, {"name": "model-b"}])
        for start in range(1, n + 1, 10_000):
            ids = range(start, min(n, start + 9_999) + 1)
            session.execute(
                insert(Conversation), [{"id": i, "text": "p", "turns": ["p"]} for i in ids]
            )
            session.execute(
                insert(Battle),
                [
                    {
                        "id": i,
                        "conversation_id": i,
                        "model_a_id": a.id,
                        "model_b_id": b.id,
                        "answers_a": ["A"],
                        "answers_b": ["B"],
                        "status": "ready",
                    }
                    for i in ids
                ],
            )
    engine.dispose()


def writer(
    url: str,
    worker: int,
    battle_ids: list[int],
    rate_per_process: float,
    barrier: Any,
    results: Any,
) -> None:
    """Vote on each battle; report per-vote latencies (seconds) and errors."""
    from sqlalchemy import text

    from arena.store import make_engine, make_sessionmaker, record_vote

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:  # connect before the clock starts
        session.execute(text("SELECT 1"))
        session.rollback()
    rng = random.Random(worker)
    latencies: list[float] = []
    errors: list[str] = []
    barrier.wait()
    due = time.perf_counter() + (rng.expovariate(rate_per_process) if rate_per_process else 0)
    for battle_id in battle_ids:
        if rate_per_process:
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        else:
            due = time.perf_counter()
        try:
            with sessions.begin() as session:
                record_vote(session, battle_id, OUTCOMES[battle_id % 4], f"voter-{worker}")
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
        latencies.append(time.perf_counter() - due)
        if rate_per_process:
            due += rng.expovariate(rate_per_process)
    engine.dispose()
    results.put((latencies, errors))


def run_load(url: str, processes: int, votes: int, rate: float, first_id: int) -> dict[str, Any]:
    """Spawn the writers on battles ``first_id ..``; return the latency summary."""
    import numpy as np

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    procs = []
    for w in range(processes):
        ids = list(range(first_id + w * votes, first_id + (w + 1) * votes))
        args = (url, w, ids, rate / processes if rate else 0.0, barrier, results)
        procs.append(ctx.Process(target=writer, args=args))
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    reports = [results.get(timeout=900) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join(timeout=60)
    lat = np.array([x for latencies, _ in reports for x in latencies]) * 1000
    errors = [e for _, errs in reports for e in errs]
    return {
        "votes": int(lat.size),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "votes_per_s": round(lat.size / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p90_ms": round(float(np.percentile(lat, 90)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(lat.max()), 1),
    }


@contextlib.contextmanager
def database(backend: str, fast_pg: bool) -> Iterator[str]:
    """A fresh migrated database of the back end; removed afterwards."""
    from arena.store import upgrade

    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="arena-bench-") as folder:
            url = f"sqlite:///{Path(folder) / 'arena.db'}"
            upgrade(url)
            yield url
        return
    from arena.store.pgtemp import temporary_postgres

    with temporary_postgres(durable=not fast_pg) as url:
        upgrade(url)
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--processes", type=int, default=32)
    parser.add_argument("--votes", type=int, default=100, help="votes per process and load")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop votes/s in total")
    parser.add_argument("--no-saturated", action="store_true", help="skip the closed loop")
    parser.add_argument("--fast-pg", action="store_true", help="PostgreSQL with fsync off")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    loads = ([] if args.no_saturated else [0.0]) + ([args.rate] if args.rate else [])
    per_load = args.processes * args.votes
    rows = []
    print(
        f"# {args.processes} writer processes x {args.votes} votes per load, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    header = f"{'backend':<11} {'load':<14} {'votes':>6} {'err':>4} {'votes/s':>8} "
    print(header + f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for backend in args.backends.split(","):
        with database(backend, args.fast_pg) as url:
            make_ready_battles(url, per_load * len(loads))
            for i, rate in enumerate(loads):
                summary = run_load(url, args.processes, args.votes, rate, 1 + i * per_load)
                load = "saturated" if not rate else f"{rate:g} votes/s"
                rows.append({"backend": backend, "load": load, **summary})
                print(
                    f"{backend:<11} {load:<14} {summary['votes']:>6} {summary['errors']:>4} "
                    f"{summary['votes_per_s']:>8} {summary['p50_ms']:>8} {summary['p90_ms']:>8} "
                    f"{summary['p99_ms']:>8} {summary['max_ms']:>8}",
                    flush=True,
                )
                if summary["first_error"]:
                    print(f"  first error: {summary['first_error']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
