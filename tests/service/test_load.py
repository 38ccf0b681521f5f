"""Load and crash tests through the service: 32 voter processes, and a SIGKILL mid-load.

* 32 spawned processes (fresh interpreters, like web-app workers) each open their own
  service and cast 100 votes start to finish (battle, both answers, vote), re-voting
  every 10th round: on SQLite and on PostgreSQL, no vote may be lost, none duplicated,
  every re-vote refused.
* Writer processes that print an acknowledgement after each committed vote are killed
  with SIGKILL in the middle of the load; every acknowledged vote must be in the
  database afterwards, and a restarted writer must carry on.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.store import Battle, Vote, make_engine, make_sessionmaker

from ._workers import voter_process
from .conftest import new_pg_database

WORKERS = 32
VOTES_EACH = 100
ROOT = Path(__file__).resolve().parents[2]


def stored_votes(url: str) -> dict[int, str]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            rows = session.execute(select(Vote.battle_id, Vote.outcome)).all()
            return {battle: outcome for battle, outcome in rows}
    finally:
        engine.dispose()


def _context() -> multiprocessing.context.ForkServerContext:
    """Fresh single-threaded processes, forked from a server that imported arena once.

    Like "spawn" (no state inherited from the test process and its threads) but without
    32 interpreters importing SQLAlchemy on two cores.
    """
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, multiprocessing.context.ForkServerContext)
    ctx.set_forkserver_preload(["tests.service._workers"])
    return ctx


def run_voters(url: str, models: Path) -> None:
    ctx = _context()
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=voter_process, args=(url, str(models), w, VOTES_EACH, barrier, results))
        for w in range(WORKERS)
    ]
    for p in procs:
        p.start()
    reports = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [e for _, _, _, errs in reports for e in errs]
    assert errors == [], errors[:5]
    acks = [ack for _, worker_acks, _, _ in reports for ack in worker_acks]
    assert len(acks) == WORKERS * VOTES_EACH
    assert sum(refused for _, _, refused, _ in reports) == WORKERS * VOTES_EACH // 10
    stored = stored_votes(url)
    assert len(stored) == len(acks)  # none lost, none extra
    assert len({battle for battle, _ in acks}) == len(acks)  # none duplicated
    assert all(stored[battle] == outcome for battle, outcome in acks)


@pytest.mark.slow
def test_32_voter_processes_on_sqlite(sqlite_url: str, models_file: Path) -> None:
    run_voters(sqlite_url, models_file)


@pytest.mark.slow
def test_32_voter_processes_on_postgresql(pg_server: str, models_file: Path) -> None:
    run_voters(new_pg_database(pg_server), models_file)


def _start_writer(url: str, models: Path, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.service._workers", url, str(models), tag],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _collect(proc: subprocess.Popen[str], acks: list[tuple[int, str]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        kind, battle, outcome = line.rstrip("\n").split(" ", 2)
        assert kind == "ACK"
        acks.append((int(battle), outcome))


def test_acknowledged_votes_survive_sigkill(sqlite_url: str, models_file: Path) -> None:
    writers = [_start_writer(sqlite_url, models_file, f"w{i}") for i in range(4)]
    acks: list[tuple[int, str]] = []
    readers = [threading.Thread(target=_collect, args=(w, acks)) for w in writers]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 120
    while len(acks) < 200:
        assert time.monotonic() < deadline, "the writers acknowledged too few votes"
        assert all(w.poll() is None for w in writers), writers[0].stderr.read()  # type: ignore[union-attr]
        time.sleep(0.02)
    for w in writers:
        os.kill(w.pid, signal.SIGKILL)  # in the middle of a battle or a vote
    for w in writers:
        assert w.wait(timeout=30) == -signal.SIGKILL
    for r in readers:
        r.join(timeout=30)
    stored = stored_votes(sqlite_url)
    missing = [(b, o) for b, o in acks if stored.get(b) != o]
    assert missing == []
    # Restarted, a writer carries on in the same database.
    again = _start_writer(sqlite_url, models_file, "restart")
    more: list[tuple[int, str]] = []
    reader = threading.Thread(target=_collect, args=(again, more))
    reader.start()
    deadline = time.monotonic() + 60
    while len(more) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    again.kill()
    again.wait(timeout=30)
    reader.join(timeout=30)
    assert len(more) >= 20
    stored = stored_votes(sqlite_url)
    assert all(stored.get(b) == o for b, o in acks + more)
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine, read_only=True)() as session:
        voted = session.scalar(select(func.count(Battle.id)).where(Battle.status == "voted"))
    engine.dispose()
    assert voted == len(stored)
