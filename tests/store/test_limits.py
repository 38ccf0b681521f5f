"""Rate-limit counters in the database: exact under concurrency, sliding, pruned.

Run on SQLite and PostgreSQL. The concurrency test has many threads, each with its own
connection, race for the last slots of one subject: exactly ``limit`` of them may win.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from arena.store import make_engine, make_sessionmaker, upgrade
from arena.store.limits import (
    RateBucket,
    clear_subject,
    failure_count,
    prune,
    record_failure,
    retry_after,
    take,
)
from arena.store.migrate import alembic_config, locked_connection

from .conftest import BACKENDS


@pytest.fixture
def limits(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as session:  # the shared PostgreSQL database keeps rows across tests
        session.execute(delete(RateBucket))
    return sessions


def _take(sessions: sessionmaker[Session], now: float, subject: str = "s", limit: int = 3) -> bool:
    with sessions.begin() as session:
        return take(session, "message", subject, limit=limit, window_s=10.0, now=now).allowed


def test_limit_holds_and_the_window_slides(limits: sessionmaker[Session]) -> None:
    t0 = 1_000_000.0  # a bucket boundary (window 10 s)
    assert [_take(limits, t0 + i) for i in range(4)] == [True, True, True, False]
    assert _take(limits, t0 + 3.5, subject="other")  # subjects are counted apart
    # 12 s later the previous bucket still weighs 80 %: 3 * 0.8 = 2.4, so no room yet.
    assert not _take(limits, t0 + 12.0)
    # At 16.7 s its weight is 0.33: 3 * 0.33 + 1 <= 3: one more.
    assert _take(limits, t0 + 16.7)
    # A burst across the boundary cannot double the limit.
    assert [_take(limits, t0 + 29.9 + i / 100, subject="burst") for i in range(3)] == [True] * 3
    assert not _take(limits, t0 + 30.1, subject="burst")


def test_refusal_says_how_long_to_wait(limits: sessionmaker[Session]) -> None:
    t0 = 2_000_000.0
    for i in range(3):
        _take(limits, t0 + i)
    with limits.begin() as session:
        decision = take(session, "message", "s", limit=3, window_s=10.0, now=t0 + 5.0)
    assert not decision.allowed
    # Next bucket at +10 s, where 3 hits weigh (1 - f) * 3 + 1 <= 3 from f = 1/3 on.
    assert decision.retry_after == pytest.approx(5.0 + 10.0 / 3)
    assert _take(limits, t0 + 5.0 + decision.retry_after + 0.01)


def test_retry_after_is_the_first_moment_the_estimate_fits() -> None:
    for previous, current, elapsed in [(5, 2, 0.1), (0, 3, 0.5), (3, 3, 0.9), (10, 0, 0.0)]:
        wait = retry_after(previous, current, elapsed, 3, 10.0)
        f = elapsed + wait / 10.0
        if f <= 1:
            assert previous * (1 - f) + current + 1 <= 3 + 1e-9
        else:
            assert current * (1 - (f - 1)) + 1 <= 3 + 1e-9


def test_concurrent_takes_never_exceed_the_limit(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        session.execute(delete(RateBucket))
    now = 3_000_005.0
    start = threading.Barrier(16)

    def attempt(_: int) -> int:
        start.wait()
        won = 0
        for _ in range(5):
            with sessions.begin() as session:
                decision = take(session, "message", "racer", limit=20, window_s=60.0, now=now)
                won += decision.allowed
        return won

    with ThreadPoolExecutor(16) as pool:
        wins = sum(pool.map(attempt, range(16)))
    assert wins == 20
    with sessions() as session:
        assert session.scalar(select(RateBucket.hits).where(RateBucket.subject == "racer")) == 20


def test_failures_count_expire_and_clear(limits: sessionmaker[Session]) -> None:
    with limits.begin() as session:
        assert [
            record_failure(session, "admin-login", "c", now=100.0 + i, forget_after_s=50.0)
            for i in range(3)
        ] == [1, 2, 3]
        assert failure_count(session, "admin-login", "c", now=110.0) == (3, 102.0)
        assert failure_count(session, "admin-login", "other", now=110.0) == (0, 0.0)
        assert failure_count(session, "admin-login", "c", now=200.0) == (0, 0.0)  # forgotten
        assert record_failure(session, "admin-login", "c", now=200.0, forget_after_s=50.0) == 1
        clear_subject(session, "admin-login", "c")
        assert failure_count(session, "admin-login", "c", now=200.0) == (0, 0.0)


def test_prune_deletes_only_expired_rows(limits: sessionmaker[Session]) -> None:
    for i in range(5):
        _take(limits, 4_000_000.0 + 10.0 * i, subject=f"s{i}")
    with limits.begin() as session:
        # Rows expire two windows after their bucket: at +20 s the first bucket's row.
        assert prune(session, now=4_000_000.0 + 20.5) == 1
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 4
        assert prune(session, now=5_000_000.0) == 4


def test_bad_arguments_are_refused(limits: sessionmaker[Session]) -> None:
    with limits.begin() as session, pytest.raises(ValueError, match="too long"):
        take(session, "message", "x" * 65, limit=1, window_s=1.0, now=1.0)
    with limits.begin() as session, pytest.raises(ValueError, match="bad rate limit"):
        take(session, "message", "x", limit=0, window_s=1.0, now=1.0)


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migration_0004_up_and_down(empty_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    script = ScriptDirectory.from_config(alembic_config()).get_revision("0004_rate_limits")
    assert script is not None and script.down_revision == "0003"
    assert upgrade(empty_url, "0003").current == "0003"
    assert upgrade(empty_url, "0004_rate_limits").current == "0004_rate_limits"
    engine = make_engine(empty_url)
    try:
        assert "rate_limits" in inspect(engine).get_table_names()
        with make_sessionmaker(engine).begin() as session:
            assert take(session, "message", "s", limit=1, window_s=1.0, now=5.0).allowed
        with locked_connection(empty_url) as conn:
            command.downgrade(alembic_config(conn), "0003")
        engine.dispose()
        assert "rate_limits" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
