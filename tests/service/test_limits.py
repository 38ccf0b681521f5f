"""Abuse limits that hold across tabs, sessions and server processes.

Two service instances on one database stand for two ``arena serve`` replicas (SQLite
and PostgreSQL); new voter tokens from one address stand for new tabs. The admin gate
slows one client's wrong passwords and never the real admin's on another address.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from arena.service import AdminGate, ArenaService, RateLimited, ServiceError, client_address
from arena.service.admin import MemoryFailures, backoff_s

from .conftest import new_pg_database


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        ("203.0.113.7", None, 0, "203.0.113.7"),
        (None, None, 0, "local"),  # Streamlit says None for a visitor on this machine
        ("203.0.113.7", "198.51.100.1", 0, "203.0.113.7"),  # header not configured: ignored
        ("10.0.0.2", "198.51.100.1", 1, "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),  # the client's claim: ignored
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", 2, "198.51.100.1"),
        ("10.0.0.2", "not-an-address", 1, "10.0.0.2"),  # malformed: the peer
        ("10.0.0.2", "198.51.100.1", 2, "10.0.0.2"),  # fewer entries than hops: the peer
        ("2001:db8:1:2:aaaa::1", None, 0, "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.3", None, 0, "198.51.100.3"),
        ("10.0.0.2", "[2001:db8::5]:443", 1, "2001:db8::/64"),
        ("10.0.0.2", "198.51.100.4:5555", 1, "198.51.100.4"),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, hops: int, expected: str) -> None:
    assert client_address(peer, forwarded, trusted_hops=hops) == expected


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    return new_pg_database(request.getfixturevalue("pg_server"))


def test_limits_hold_across_replicas_and_tabs(
    make_service: Callable[..., ArenaService], shared_url: str
) -> None:
    limits = {"rate_limit": 3, "client_rate_limit": 5, "rate_window_s": 600.0}
    one = make_service(url=shared_url, **limits)
    two = make_service(url=shared_url, **limits)  # a second `arena serve` on the same store

    one.identify("tab-1", "198.51.100.1")
    two.identify("tab-1", "198.51.100.1")
    for svc in (one, two, one):
        svc.start_battle("tab-1", "hello")
    with pytest.raises(RateLimited, match="this session"):
        two.start_battle("tab-1", "hello")  # the session's 3 are spent, whichever replica
    # New tabs (new voter tokens) from the same address share its 5.
    two.identify("tab-2", "198.51.100.1")
    one.identify("tab-3", "198.51.100.1")
    two.start_battle("tab-2", "hello")
    one.start_battle("tab-3", "hello")
    with pytest.raises(RateLimited, match="your address") as caught:
        one.start_battle("tab-3", "hello")
    assert caught.value.retry_after > 0
    assert "try again in" in str(caught.value)
    # Another address is not affected.
    one.identify("tab-9", "203.0.113.9")
    one.start_battle("tab-9", "hello")


def test_refused_messages_count_for_nothing(make_service: Callable[..., ArenaService]) -> None:
    svc = make_service(rate_limit=2, client_rate_limit=3, rate_window_s=600.0)
    svc.identify("a", "198.51.100.1")
    svc.start_battle("a", "x")
    svc.start_battle("a", "x")
    for _ in range(5):
        with pytest.raises(RateLimited, match="this session"):
            svc.start_battle("a", "x")
    svc.identify("b", "198.51.100.1")
    svc.start_battle("b", "x")  # the address had 2 of 3, not 7
    with pytest.raises(RateLimited, match="your address"):
        svc.start_battle("b", "x")


def test_backoff_doubles_after_the_free_tries() -> None:
    assert [backoff_s(n, 3, 2.0, 20.0) for n in range(7)] == [0, 0, 0, 2, 4, 8, 16]
    assert backoff_s(50, 3, 2.0, 20.0) == 20.0


def test_admin_gate_slows_one_client_not_the_real_admin() -> None:
    now = [1000.0]
    gate = AdminGate("secret", free_tries=3, base_delay_s=10.0, clock=lambda: now[0])
    for _ in range(3):
        assert not gate.check("guess", "198.51.100.66")
    with pytest.raises(RateLimited, match="wait 10 s"):
        gate.check("guess", "198.51.100.66")
    with pytest.raises(RateLimited):
        gate.check("secret", "198.51.100.66")  # even the right one, from that address
    assert gate.check("secret", "203.0.113.1")  # the real admin elsewhere: let in at once
    now[0] += 10.0
    assert not gate.check("guess", "198.51.100.66")  # the 4th wrong try, after waiting
    with pytest.raises(RateLimited, match="wait 20 s"):  # the wait doubles
        gate.check("guess", "198.51.100.66")
    now[0] += 20.0
    assert gate.check("secret", "198.51.100.66")  # right, after the wait: count cleared
    assert not gate.check("guess", "198.51.100.66")  # back to free tries
    with pytest.raises(ServiceError, match="ARENA_ADMIN_PASSWORD"):
        AdminGate(None).check("secret")


def test_admin_failures_are_shared_by_replicas(
    make_service: Callable[..., ArenaService], shared_url: str
) -> None:
    one = make_service(url=shared_url)
    two = make_service(url=shared_url)
    gate = AdminGate("secret", free_tries=2, base_delay_s=600.0)
    assert not gate.check("a", "198.51.100.66", one.login_failures)
    assert not gate.check("b", "198.51.100.66", two.login_failures)
    for svc in (one, two):
        with pytest.raises(RateLimited, match="too many wrong passwords"):
            gate.check("secret", "198.51.100.66", svc.login_failures)
    assert gate.check("secret", "203.0.113.1", two.login_failures)


def test_memory_failures_forget() -> None:
    store = MemoryFailures()
    assert store.add("c", 0.0, 10.0) == 1 and store.add("c", 5.0, 10.0) == 2
    assert store.get("c", 6.0) == (2, 5.0)
    assert store.get("c", 16.0) == (0, 0.0) and store.add("c", 16.0, 10.0) == 1


def test_proxy_settings_from_the_environment() -> None:
    from arena.errors import UserError
    from arena.service import ServiceConfig

    config = ServiceConfig.from_env(
        {
            "ARENA_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
            "ARENA_TRUSTED_PROXY_HOPS": "2",
            "ARENA_CLIENT_RATE_LIMIT": "0",
        }
    )
    assert config.trusted_proxy_header == "X-Forwarded-For" and config.trusted_proxy_hops == 2
    assert config.client_rate_limit is None
    assert ServiceConfig.from_env({}).trusted_proxy_header is None  # no header trusted
    with pytest.raises(UserError, match="header name"):
        ServiceConfig.from_env({"ARENA_TRUSTED_PROXY_HEADER": "X-Forwarded-For: 1.2.3.4"})
    with pytest.raises(UserError, match="1 to 16"):
        ServiceConfig.from_env({"ARENA_TRUSTED_PROXY_HOPS": "0"})


def test_the_limiter_prunes_old_counters(make_service: Callable[..., ArenaService]) -> None:
    from sqlalchemy import func, select

    from arena.service import SharedRateLimiter
    from arena.store import RateBucket, make_sessionmaker

    svc = make_service()
    sessions = make_sessionmaker(svc.engine)
    now = [1_000_000.0]
    limiter = SharedRateLimiter(sessions, "message", 60.0, clock=lambda: now[0])
    for i in range(5):
        limiter.hit([("session", f"visitor-{i}", 10)])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 5
    now[0] += 3600.0  # an hour later, one more message: the old counters go
    limiter.hit([("session", "late", 10)])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 1
