"""Two server replicas on one PostgreSQL database behave as one arena.

Each test opens two :class:`ArenaService` instances, each with its own engine and
connection pool, on one database of the real PostgreSQL test server: what one replica
stores or changes, the other honours, within the documented bound
(:data:`arena.service.service.CATALOG_TTL_S` for admin changes; at once for votes,
rate limits and snapshot slots, which are claimed in the database).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from arena.service import ArenaService, Choice, NoModelsAvailable, RateLimited, Round
from arena.service.service import CATALOG_TTL_S
from arena.store import AlreadyVoted, get_battle, make_sessionmaker
from arena.store.snapshots import SnapshotSummary, list_snapshots, next_slot, schedule_slot

from .conftest import battle_id, new_pg_database, write_models

#: Alpha names the word "zephyr" in every answer: harmless until "zephyr" becomes a
#: model's codename, then an identity leak.
REPLICA_MODELS = """
[[models]]
name = "fake-alpha"
backend = "fake"
display_name = "Alpha Chat"
organization = "Alpha Labs"
answers = ["Greetings, zephyr here. The sky is blue because of Rayleigh scattering."]

[[models]]
name = "fake-beta"
backend = "fake"
display_name = "Beta Chat"
organization = "Beta Works"
answers = ["Sunlight scatters off the air; blue scatters most."]

[[models]]
name = "fake-gamma"
backend = "fake"
display_name = "Gamma Chat"
organization = "Gamma Inc"
codename = "kestrel"
"""

#: Longest a replica may take to honour another's admin change (catalog TTL + slack).
BOUND_S = CATALOG_TTL_S + 0.5

Replicas = tuple[ArenaService, ArenaService]


@pytest.fixture
def replicas(
    make_service: Callable[..., ArenaService], tmp_path: Path, request: pytest.FixtureRequest
) -> Replicas:
    """Two services (two engines) on one fresh PostgreSQL database, same models file."""
    url = new_pg_database(request.getfixturevalue("pg_server"))
    models = write_models(tmp_path, REPLICA_MODELS, "replicas.toml")
    return make_service(models, url), make_service(models, url)


def _names(svc: ArenaService, ticket: str) -> tuple[str, str]:
    with make_sessionmaker(svc.engine)() as session:
        battle = get_battle(session, battle_id(ticket))
        return battle.model_a.name, battle.model_b.name


def _vote_round(svc: ArenaService, voter: str, prompt: str, choice: Choice = Choice.A) -> Round:
    round_ = svc.generate(svc.start_battle(voter, prompt), voter)
    assert round_.status == "ready", round_.message
    return svc.vote(round_, voter, choice)


def test_weight_and_active_changes_reach_the_other_replica(replicas: Replicas) -> None:
    one, two = replicas
    drawn = {m for i in range(12) for m in _names(two, two.start_battle("v", f"p{i}").ticket)}
    assert drawn == {"fake-alpha", "fake-beta", "fake-gamma"}  # all drawable before
    one.update_model("fake-gamma", weight=0.0)
    one.update_model("fake-beta", active=False)
    time.sleep(BOUND_S)
    for i in range(15):  # only alpha is left: no pair can be drawn
        with pytest.raises(NoModelsAvailable, match="fewer than two models"):
            two.start_battle("v", f"after {i}")
    one.update_model("fake-beta", active=True)
    time.sleep(BOUND_S)
    pairs = {_names(two, two.start_battle("v", f"again {i}").ticket) for i in range(15)}
    assert all("fake-gamma" not in pair for pair in pairs)  # weight 0: never drawn
    assert {frozenset(p) for p in pairs} == {frozenset({"fake-alpha", "fake-beta"})}


def test_a_codename_set_on_one_replica_is_a_leak_word_and_a_label_on_the_other(
    replicas: Replicas,
) -> None:
    one, two = replicas
    before = _vote_round(two, "v", "Why is the sky blue?")
    assert before.vote is not None and not before.vote.identity_leak  # "zephyr" is no name yet
    assert set(before.labels or ()) <= {"Alpha Chat", "Beta Chat", "kestrel"}
    one.update_model("fake-alpha", codename="zephyr")
    time.sleep(BOUND_S)
    with_alpha: list[Round] = []
    for i in range(24):  # pairs are drawn at random: until alpha has been in two battles
        r = _vote_round(two, "v", f"Why is the sky blue? {i}")
        if r.vote is not None and "zephyr" in (r.labels or ()):
            with_alpha.append(r)
        if len(with_alpha) == 2:
            break
    assert with_alpha, "alpha was never drawn in 24 battles"
    for round_ in with_alpha:
        assert round_.vote is not None and round_.vote.identity_leak  # its answer names it
        assert "Alpha Chat" not in (round_.labels or ())  # revealed as the codename only
    one.reveal("fake-alpha")
    time.sleep(BOUND_S)
    revealed = [_vote_round(two, "v", f"again {i}") for i in range(6)]
    assert any("Alpha Chat" in (r.labels or ()) for r in revealed)
    assert all("zephyr" not in (r.labels or ()) for r in revealed)


def test_the_other_replicas_leaderboard_follows_a_new_codename(replicas: Replicas) -> None:
    one, two = replicas
    for i in range(8):
        _vote_round(one, "v", f"question {i}")
    deadline = time.monotonic() + 30
    view = two.board(wait=20)
    while (view is None or view.leaderboard is None) and time.monotonic() < deadline:
        time.sleep(0.2)
        view = two.board(wait=5)
    assert view is not None and view.leaderboard is not None
    assert "Alpha Chat" in set(view.table["Model"])
    one.update_model("fake-alpha", codename="zephyr")
    deadline = time.monotonic() + BOUND_S + 20  # the catalog TTL, then one refresh
    shown: dict[str, str] = {}
    while time.monotonic() < deadline:
        view = two.board(wait=1)
        if view is not None:
            shown = dict(zip(view.table["Model"], view.table["Organization"], strict=True))
        if "zephyr" in shown:
            break
        time.sleep(0.2)
    assert "Alpha Chat" not in shown
    assert shown.get("zephyr") == "Preview"  # a preview: its organization hidden too


def test_a_round_started_on_a_dead_replica_is_answered_and_voted_on_the_other(
    replicas: Replicas,
) -> None:
    one, two = replicas  # the same ARENA_SECRET: tickets hold on both
    started = one.start_battle("v", "Why is the sky blue?")
    one.close()  # the replica is gone before it answered
    round_ = two.generate(started, "v")
    assert round_.status == "ready"
    voted = two.vote(round_, "v", Choice.B)
    assert voted.status == "voted"
    with pytest.raises(AlreadyVoted):
        two.vote(round_, "v", Choice.A)  # one vote per battle, whichever replica
    assert two.vote_stats().n_votes == 1


def test_one_vote_per_battle_across_replicas(replicas: Replicas) -> None:
    one, two = replicas
    round_ = one.generate(one.start_battle("v", "hello"), "v")
    results: list[str] = []

    def cast(svc: ArenaService) -> None:
        try:
            svc.vote(round_, "v", Choice.A)
            results.append("stored")
        except AlreadyVoted:
            results.append("refused")

    threads = [threading.Thread(target=cast, args=(svc,)) for svc in (one, two, one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused", "refused", "refused", "stored"]
    assert one.vote_stats().n_votes == two.vote_stats().n_votes == 1


def test_rate_limits_count_on_both_replicas(
    make_service: Callable[..., ArenaService], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = new_pg_database(request.getfixturevalue("pg_server"))
    models = write_models(tmp_path, REPLICA_MODELS, "replicas.toml")
    limits = {"rate_limit": 4, "client_rate_limit": 100, "rate_window_s": 600.0}
    one, two = make_service(models, url, **limits), make_service(models, url, **limits)
    for svc in (one, two, one, two):
        svc.start_battle("tab", "hello")
    for svc in (one, two):
        with pytest.raises(RateLimited, match="this session"):
            svc.start_battle("tab", "hello")


@pytest.mark.parametrize("every", [1.0, 1.5, 7.0, 30.0, 3600.0])
def test_slots_are_the_same_on_every_replica_and_the_next_one_is_named_as_inside_it(
    every: float,
) -> None:
    for now in (1_800_000_000.0, 1_800_000_000.7, 1_800_000_004.49, 1_800_003_599.99):
        begins, slot = next_slot(now, every)
        assert now < begins <= now + every
        assert slot == schedule_slot(begins + every / 2, every)  # named as any time inside
        assert slot != schedule_slot(now, every)  # the next slot, not the current one
        assert slot - schedule_slot(now, every) == pytest.approx(every, abs=1)


@pytest.fixture(params=["postgresql", "sqlite"])
def any_replicas(
    make_service: Callable[..., ArenaService],
    tmp_path: Path,
    sqlite_url: str,
    request: pytest.FixtureRequest,
) -> Replicas:
    """Two services on one database, PostgreSQL or SQLite (the slot claim is per dialect)."""
    if request.param == "sqlite":
        url = sqlite_url
    else:
        url = new_pg_database(request.getfixturevalue("pg_server"))
    models = write_models(tmp_path, REPLICA_MODELS, "replicas.toml")
    return make_service(models, url), make_service(models, url)


def test_one_scheduled_snapshot_per_slot_whichever_replica_comes_first(
    any_replicas: Replicas,
) -> None:
    one, two = any_replicas
    for i in range(6):
        _vote_round(one, "v", f"question {i}")
    slot = schedule_slot(time.time(), 60.0)
    barrier = threading.Barrier(4)
    stored: list[int | None] = []
    failed: list[BaseException] = []

    def tick(svc: ArenaService) -> None:
        try:
            svc.leaderboard.refresh()
            barrier.wait()
            stored.append(svc.scheduled_snapshot(slot=slot))
        except BaseException as error:  # a race must not be an error
            failed.append(error)

    threads = [threading.Thread(target=tick, args=(svc,)) for svc in (one, two, one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed
    assert len([s for s in stored if s is not None]) == 1
    _vote_round(two, "v", "one more")  # the votes changed, but this slot is taken
    assert one.scheduled_snapshot(slot=slot) is None
    assert two.scheduled_snapshot(slot=slot + 60) is not None  # the next slot is free
    assert one.scheduled_snapshot(slot=slot + 120) is None  # no new votes since
    with make_sessionmaker(one.engine)() as session:
        snapshots = list_snapshots(session)
    assert [s.n_battles for s in snapshots] == [6, 7]


def test_the_schedule_ticks_on_slot_boundaries_and_stores_each_slot_once(
    make_service: Callable[..., ArenaService], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = new_pg_database(request.getfixturevalue("pg_server"))
    models = write_models(tmp_path, REPLICA_MODELS, "replicas.toml")
    voting = make_service(models, url)
    for i in range(4):
        _vote_round(voting, "v", f"question {i}")
    one = make_service(models, url, snapshot_every_s=1.0)
    make_service(models, url, snapshot_every_s=1.0)  # the second replica, same schedule
    deadline = time.monotonic() + 20
    snapshots: list[SnapshotSummary] = []
    while time.monotonic() < deadline:
        with make_sessionmaker(one.engine)() as session:
            snapshots = list_snapshots(session)
        if snapshots:
            break
        time.sleep(0.2)
    _vote_round(voting, "v", "one more")
    time.sleep(3.5)  # more ticks on both replicas, one more vote: one more snapshot
    with make_sessionmaker(one.engine)() as session:
        snapshots = list_snapshots(session)
    assert [s.n_battles for s in snapshots] == [4, 5]  # not one per replica per tick
