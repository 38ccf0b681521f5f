"""Spawned worker processes for the store tests: fresh interpreters, like web-app workers.

:class:`WorkerPool` starts them once per test session (starting 32 interpreters costs
more than the votes they cast); each test hands every worker a job and releases them
together through a barrier, so their writes really overlap.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any


def _serve(worker: int, jobs: Any, barrier: Any, results: Any) -> None:
    """Run jobs ``(function name, kwargs)`` from this module until ``None`` arrives."""
    import arena.store  # noqa: F401  - import before the first job, as a web worker would

    while (job := jobs.get()) is not None:
        name, kwargs = job
        try:
            results.put((worker, globals()[name](worker=worker, barrier=barrier, **kwargs)))
        except Exception as error:  # reported to the test, which fails on it
            results.put((worker, {"crash": f"{type(error).__name__}: {error}"}))
    # Every result was received by the pool; skip the interpreter's slow tear-down.
    os._exit(0)


class WorkerPool:
    """``size`` spawned processes that run one job each per :meth:`run`."""

    def __init__(self, size: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.size = size
        self.barrier = ctx.Barrier(size)
        self.results = ctx.Queue()
        self.jobs = [ctx.Queue() for _ in range(size)]
        self.procs = [
            ctx.Process(target=_serve, args=(w, self.jobs[w], self.barrier, self.results))
            for w in range(size)
        ]
        for p in self.procs:
            p.start()

    def run(self, name: str, per_worker: list[dict[str, Any]], timeout: float = 300) -> list[Any]:
        """Give worker ``w`` the job ``name(**per_worker[w])``; results in worker order."""
        for queue, kwargs in zip(self.jobs, per_worker, strict=True):
            queue.put((name, kwargs))
        answers = dict(self.results.get(timeout=timeout) for _ in range(self.size))
        return [answers[w] for w in range(self.size)]

    def close(self) -> None:
        for queue in self.jobs:
            queue.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()


def vote(
    worker: int, barrier: Any, url: str, battle_ids: list[int], outcomes: list[str]
) -> dict[str, Any]:
    """Vote on each battle in its own short transaction; report what happened to each."""
    from sqlalchemy import text

    from arena.store import AlreadyVoted, make_engine, make_sessionmaker, record_vote

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:  # connect before the start line
        session.execute(text("SELECT 1"))
        session.rollback()
    won: list[tuple[int, str]] = []
    duplicates: list[int] = []
    errors: list[str] = []
    barrier.wait()
    for battle_id, outcome in zip(battle_ids, outcomes, strict=True):
        try:
            with sessions.begin() as session:
                record_vote(session, battle_id, outcome, f"voter-{worker}")
            won.append((battle_id, outcome))
        except AlreadyVoted:
            duplicates.append(battle_id)
        except Exception as error:  # reported, the test fails on any
            errors.append(f"battle {battle_id}: {type(error).__name__}: {error}")
    engine.dispose()
    return {"won": won, "duplicates": duplicates, "errors": errors}


def upgrade(worker: int, barrier: Any, url: str) -> dict[str, Any]:
    """Run the migration at the same moment as every other worker."""
    from arena.store import upgrade as run_upgrade

    barrier.wait()
    return {"revision": run_upgrade(url).current}
