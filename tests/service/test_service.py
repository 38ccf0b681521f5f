"""The voting service end to end on SQLite with fake models: battles, turns, votes, failures."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.backends import ModelsFileError
from arena.service import (
    ArenaService,
    Choice,
    EmptyPrompt,
    NoModelsAvailable,
    PromptTooLong,
    RateLimited,
    Round,
    RoundClosed,
    ServiceError,
    TooManyTurns,
    UnknownRound,
)
from arena.store import (
    AlreadyVoted,
    Battle,
    BattleFailed,
    BattleNotReady,
    SchemaNotCurrent,
    StoreError,
    UnknownBattle,
    Vote,
    get_battle,
    get_models,
    make_sessionmaker,
    update_model,
)

from .conftest import SECRET_NAMES, battle_id, write_models

VOTER = "visitor-1"


def stored(service: ArenaService, ticket: str) -> Battle:
    with make_sessionmaker(service.engine)() as session:
        battle = get_battle(session, battle_id(ticket))
        _ = battle.conversation.turns, battle.model_a.name, battle.model_b.name
        return battle


def count_votes(service: ArenaService) -> int:
    with make_sessionmaker(service.engine)() as session:
        return int(session.scalar(select(func.count(Vote.id))) or 0)


def test_battle_stream_vote_reveal(service: ArenaService) -> None:
    round_ = service.start_battle(VOTER, "  Name three rivers.  ")
    assert round_.status == "generating" and round_.turns == ("Name three rivers.",)
    events = list(service.stream(round_, VOTER))
    sides = {e.side for e in events if e.kind == "text"}
    assert sides == {"a", "b"}
    assert events[-1].kind == "done"
    ready = events[-1].round
    assert ready is not None and ready.can_vote
    last_text = {e.side: e.text for e in events if e.kind == "text"}
    assert ready.answers_a == (last_text["a"],) and ready.answers_b == (last_text["b"],)
    battle = stored(service, ready.ticket)
    assert battle.status == "ready" and battle.anonymous
    assert battle.answers_a == list(ready.answers_a)
    assert battle.conversation.category == "general"

    voted = service.vote(ready, VOTER, Choice.B)
    assert voted.status == "voted" and voted.vote is not None
    assert voted.vote.outcome == "model_b" and not voted.vote.identity_leak
    labels = {"Alpha Chat", "Beta Chat", "kestrel"}  # the preview shows its codename
    assert {voted.vote.label_a, voted.vote.label_b} <= labels
    assert voted.labels == (voted.vote.label_a, voted.vote.label_b)
    assert stored(service, ready.ticket).status == "voted"


def test_no_model_name_reaches_the_caller_before_the_vote(service: ArenaService) -> None:
    round_ = service.start_battle(VOTER, "Who are you?")
    seen = [repr(round_)]
    for event in service.stream(round_, VOTER):
        seen.append(repr(event))
    ready = service.generate(service.follow_up(event.round, VOTER, "More?"), VOTER)  # type: ignore[arg-type]
    seen.append(repr(ready))
    seen.append(repr(service.availability()))
    text = "\n".join(seen)
    for name in (*SECRET_NAMES, "kestrel"):
        assert name not in text
    assert ready.labels is None


@pytest.mark.parametrize(
    ("choice", "outcome"),
    [
        ("A is better", "model_a"),
        ("B is better", "model_b"),
        ("Tie", "tie"),
        ("Both are bad", "tie (bothbad)"),
    ],
)
def test_each_button_records_its_outcome(service: ArenaService, choice: str, outcome: str) -> None:
    ready = service.generate(service.start_battle(VOTER, "hello"), VOTER)
    assert service.vote(ready, VOTER, choice).vote.outcome == outcome  # type: ignore[union-attr]
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(Vote.outcome)) == outcome


def test_multi_turn_conversation(service: ArenaService) -> None:
    first = service.generate(service.start_battle(VOTER, "first"), VOTER)
    second = service.follow_up(first, VOTER, "second")
    assert second.status == "generating" and second.turns == ("first", "second")
    with pytest.raises(RoundClosed):
        service.follow_up(second, VOTER, "third, too early")
    second = service.generate(second, VOTER)
    assert len(second.answers_a) == len(second.answers_b) == 2
    assert second.answers_a[0] == first.answers_a[0]
    battle = stored(service, second.ticket)
    assert battle.conversation.turns == ["first", "second"]
    assert battle.answers_a == list(second.answers_a)
    voted = service.vote(second, VOTER, Choice.TIE)
    with pytest.raises(RoundClosed, match="start a new round"):
        service.follow_up(voted, VOTER, "after the vote")


def test_turn_limit(make_service: Callable[..., ArenaService]) -> None:
    service = make_service(max_turns=2)
    round_ = service.generate(service.start_battle(VOTER, "1"), VOTER)
    round_ = service.generate(service.follow_up(round_, VOTER, "2"), VOTER)
    with pytest.raises(TooManyTurns, match="vote, then start a new round"):
        service.follow_up(round_, VOTER, "3")
    assert stored(service, round_.ticket).conversation.turns == ["1", "2"]


def test_regenerate_keeps_the_models_and_earlier_turns(service: ArenaService) -> None:
    first = service.generate(service.start_battle(VOTER, "one"), VOTER)
    two = service.generate(service.follow_up(first, VOTER, "two"), VOTER)
    again = service.regenerate(two, VOTER)
    assert again.ticket != two.ticket and again.status == "generating"
    assert again.answers_a == two.answers_a[:1]
    again = service.generate(again, VOTER)
    old, new = stored(service, two.ticket), stored(service, again.ticket)
    assert (new.model_a.name, new.model_b.name) == (old.model_a.name, old.model_b.name)
    assert new.conversation.turns == ["one", "two"]
    assert new.answers_a[0] == old.answers_a[0]
    service.vote(again, VOTER, Choice.A)
    assert old.status == "failed" and old.error == "replaced by a regenerated round"
    with pytest.raises(BattleNotReady):  # the replaced round's stale buttons vote nothing
        service.vote(two, VOTER, Choice.B)
    assert count_votes(service) == 1
    with pytest.raises(RoundClosed):
        service.regenerate(dataclasses.replace(again, status="voted"), VOTER)


def test_side_by_side_is_not_anonymous_and_shows_names(service: ArenaService) -> None:
    offered = service.side_by_side_models()
    assert [m.name for m in offered] == ["fake-alpha", "fake-beta"]  # never the preview
    round_ = service.start_side_by_side(VOTER, "fake-beta", "fake-alpha", "compare")
    assert round_.labels == ("Beta Chat", "Alpha Chat") and not round_.anonymous
    voted = service.vote(service.generate(round_, VOTER), VOTER, Choice.A)
    assert voted.vote is not None and voted.vote.label_a == "Beta Chat"
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(Vote.anonymous)) is False
    with pytest.raises(ServiceError, match="two different"):
        service.start_side_by_side(VOTER, "fake-alpha", "fake-alpha", "x")
    with pytest.raises(ServiceError, match="from the list"):
        service.start_side_by_side(VOTER, "fake-alpha", "fake-gamma", "x")


@pytest.mark.parametrize("prompt", ["", "   \n\t ", "\x00"])
def test_empty_prompt_is_refused_and_nothing_stored(service: ArenaService, prompt: str) -> None:
    with pytest.raises(EmptyPrompt, match="the message is empty"):
        service.start_battle(VOTER, prompt)
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(func.count(Battle.id))) == 0


def test_oversized_prompt_is_refused_and_nothing_stored(
    make_service: Callable[..., ArenaService],
) -> None:
    service = make_service(max_prompt_chars=100)
    with pytest.raises(PromptTooLong, match=r"101 characters long; the limit is 100"):
        service.start_battle(VOTER, "x" * 101)
    ok = service.generate(service.start_battle(VOTER, "y" * 100), VOTER)
    with pytest.raises(PromptTooLong):
        service.follow_up(ok, VOTER, "z" * 500)
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(func.count(Battle.id))) == 1
    assert stored(service, ok.ticket).conversation.turns == ["y" * 100]


def test_nul_characters_are_dropped(service: ArenaService) -> None:
    round_ = service.start_battle(VOTER, "a\x00b")
    assert round_.turns == ("ab",)


def test_vote_rules_are_enforced_by_the_database(service: ArenaService) -> None:
    ready = service.generate(service.start_battle(VOTER, "q"), VOTER)
    service.vote(ready, VOTER, Choice.A)
    with pytest.raises(AlreadyVoted, match="already has its vote"):
        service.vote(ready, VOTER, Choice.B)  # the same round, voted again (double click)
    ghost = Round(service._tickets.issue(9999, VOTER), anonymous=True, turns=("q",), status="ready")
    with pytest.raises(UnknownBattle, match="unknown"):
        service.vote(ghost, VOTER, Choice.A)
    pending = service.start_battle(VOTER, "not answered yet")
    with pytest.raises(BattleNotReady, match="wait until both answers"):
        service.vote(pending, VOTER, Choice.A)
    with pytest.raises(ServiceError, match="unknown vote"):
        service.vote(ready, VOTER, "A wins")
    assert count_votes(service) == 1
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(Vote.outcome)) == "model_a"


def test_tickets_cannot_be_forged_or_shared(service: ArenaService) -> None:
    ready = service.generate(service.start_battle(VOTER, "q"), VOTER)
    for ticket in ("r1-" + "0" * 32, "1", "", "r1-zz", ready.ticket + "0"):
        with pytest.raises(UnknownRound):
            service.vote(dataclasses.replace(ready, ticket=ticket), VOTER, Choice.A)
    with pytest.raises(UnknownRound):
        service.vote(ready, "someone-else", Choice.A)
    assert count_votes(service) == 0


def test_rate_limit_per_visitor(make_service: Callable[..., ArenaService]) -> None:
    service = make_service(rate_limit=2, rate_window_s=60.0)
    service.start_battle("v1", "1")
    service.start_battle("v1", "2")
    with pytest.raises(RateLimited, match="try again in") as caught:
        service.start_battle("v1", "3")
    assert 0 < caught.value.retry_after <= 90  # sliding estimate: up to 1.5 windows at limit 2
    service.start_battle("v2", "another visitor is not limited")


def test_identity_leak_marks_the_vote(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "fake-alpha"
backend = "fake"
organization = "Alpha Labs"
answers = ["I am a model made by Alpha Labs, happy to help."]

[[models]]
name = "fake-beta"
backend = "fake"
answers = ["Here is a plain answer."]
""",
        "leaky.toml",
    )
    service = make_service(models)
    voted = service.vote(
        service.generate(service.start_battle(VOTER, "who made you?"), VOTER), VOTER, "Tie"
    )
    assert voted.vote is not None and voted.vote.identity_leak
    with make_sessionmaker(service.engine)() as session:
        assert session.scalar(select(Vote.identity_leak)) is True


def test_backend_failure_fails_the_battle_and_the_service_keeps_serving(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "fake-broken"
backend = "fake"
fail_rate = 1.0
fail_after = 2

[[models]]
name = "fake-ok"
backend = "fake"

[[models]]
name = "fake-ok-2"
backend = "fake"
""",
        "broken.toml",
    )
    service = make_service(models)
    failures = 0
    for i in range(12):
        round_ = service.start_battle(VOTER, f"prompt {i}")
        events = list(service.stream(round_, VOTER))
        last = events[-1]
        assert last.round is not None
        battle = stored(service, round_.ticket)
        names = {battle.model_a.name, battle.model_b.name}
        if "fake-broken" in names:
            failures += 1
            assert last.kind == "failed" and last.round.status == "failed"
            assert "temporarily unavailable" in last.text and "start a new round" in last.text
            assert "fake-broken" not in last.text
            assert battle.status == "failed" and "fake-broken" in (battle.error or "")
            with pytest.raises(BattleNotReady, match="failed") as refused:
                service.vote(last.round, VOTER, Choice.A)
            assert isinstance(refused.value, BattleFailed)  # typed, not told by its text
        else:
            assert last.kind == "done"
            service.vote(last.round, VOTER, Choice.A)
    assert 0 < failures < 12
    assert count_votes(service) == 12 - failures


def test_model_that_fails_to_load_is_never_drawn(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "missing-weights"
backend = "transformers"
path = "does/not/exist"

[[models]]
name = "fake-a"
backend = "fake"

[[models]]
name = "fake-b"
backend = "fake"
""",
        "missing.toml",
    )
    service = make_service(models)
    deadline = time.monotonic() + 30
    while service.pool.state("missing-weights").state != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    states = {m.name: (m.state, m.error) for m in service.admin_models()}
    assert states["missing-weights"][0] == "failed"
    for i in range(6):
        ready = service.generate(service.start_battle(VOTER, f"p{i}"), VOTER)
        battle = stored(service, ready.ticket)
        assert {battle.model_a.name, battle.model_b.name} == {"fake-a", "fake-b"}


def test_loading_model_shows_loading_then_answers(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "slow"
backend = "fake"
load_time = 1.5

[[models]]
name = "fast"
backend = "fake"
""",
        "slow.toml",
    )
    service = make_service(models)
    assert service.availability().loading == 1
    round_ = service.start_battle(VOTER, "hi")
    events = list(service.stream(round_, VOTER))
    assert any(e.kind == "loading" for e in events)
    assert events[-1].kind == "done"
    assert service.availability().ready == 2


def test_leaving_mid_stream_keeps_answering_and_a_rerun_reattaches(
    service: ArenaService,
) -> None:
    round_ = service.start_battle(VOTER, "hi")
    events = service.stream(round_, VOTER)
    next(events)
    events.close()  # type: ignore[attr-defined]  # the page reran or the visitor left
    last = list(service.stream(round_, VOTER))[-1]  # the same answers, not a new battle
    assert last.kind == "done" and last.round is not None and last.round.can_vote
    assert stored(service, round_.ticket).status == "ready"
    service.vote(last.round, VOTER, Choice.A)
    assert count_votes(service) == 1


def test_no_pair_available(tmp_path: Path, make_service: Callable[..., ArenaService]) -> None:
    models = write_models(
        tmp_path,
        """
[[models]]
name = "preview-1"
backend = "fake"
codename = "owl"

[[models]]
name = "preview-2"
backend = "fake"
codename = "lark"
""",
        "previews.toml",
    )
    service = make_service(models)
    with pytest.raises(NoModelsAvailable, match="fewer than two models"):
        service.start_battle(VOTER, "hi")


def test_admin_changes_weights_codenames_and_reveals(service: ArenaService) -> None:
    service.update_model("fake-beta", weight=0.0)
    service.update_model("fake-alpha", active=False)
    with pytest.raises(NoModelsAvailable):
        service.start_battle(VOTER, "only the preview is left")
    service.update_model("fake-alpha", active=True)
    ready = service.generate(service.start_battle(VOTER, "hi"), VOTER)
    battle = stored(service, ready.ticket)
    assert {battle.model_a.name, battle.model_b.name} == {"fake-alpha", "fake-gamma"}
    service.reveal("fake-gamma")
    voted = service.vote(ready, VOTER, Choice.A)
    assert voted.vote is not None and "Gamma Chat" in (voted.vote.label_a, voted.vote.label_b)
    with pytest.raises(Exception, match="unknown model"):
        service.update_model("nope", weight=1.0)
    service.update_model("fake-beta", codename="owl")
    assert {m.name: m.codename for m in service.admin_models()}["fake-beta"] == "owl"
    assert "owl" in service.leak_detector.terms


def test_models_file_is_synced_and_missing_models_deactivated(
    tmp_path: Path, make_service: Callable[..., ArenaService]
) -> None:
    make_service()
    smaller = write_models(
        tmp_path,
        '[[models]]\nname = "fake-alpha"\nbackend = "fake"\nweight = 3.0\n\n'
        '[[models]]\nname = "fake-beta"\nbackend = "fake"\n',
        "two.toml",
    )
    service = make_service(smaller)
    rows = {m.name: m for m in service.admin_models()}
    assert rows["fake-alpha"].weight == 3.0 and rows["fake-alpha"].active
    assert not rows["fake-gamma"].active  # kept (its votes count) but not drawn


def test_malformed_models_file_is_one_clear_error_and_stores_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    bad = write_models(
        tmp_path, '[[models]]\nname = "x"\nbackend = "fake"\nseeed = 1\n', "bad.toml"
    )
    with pytest.raises(
        ModelsFileError, match=r"bad.toml, model #1 \('x'\), field 'seeed'.*did you mean 'seed'"
    ):
        ArenaService.open(sqlite_url, bad)
    from arena.store import list_models, make_engine

    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert list_models(session) == []
    engine.dispose()


def test_unmigrated_database_says_run_db_upgrade(tmp_path: Path, models_file: Path) -> None:
    with pytest.raises(SchemaNotCurrent, match="arena db upgrade"):
        ArenaService.open(f"sqlite:///{tmp_path / 'none.db'}", models_file)
    state = ArenaService.open(f"sqlite:///{tmp_path / 'new.db'}", models_file, migrate=True)
    state.close()


def test_vote_stats_and_export(service: ArenaService) -> None:
    for choice in (Choice.A, Choice.BOTH_BAD):
        service.vote(service.generate(service.start_battle(VOTER, "x"), VOTER), VOTER, choice)
    stats = service.vote_stats()
    assert stats.n_votes == 2 and stats.outcomes["tie (bothbad)"] == 1
    csv = service.export_votes("csv").decode()
    assert csv.startswith("model_a,model_b,winner") and csv.count("\n") == 3
    assert service.export_votes("jsonl").decode().count("\n") == 2


def test_admin_change_keeps_every_other_stored_column(service: ArenaService) -> None:
    with service._sessions() as session:
        (before,) = get_models(session, ["fake-beta"])
        kept = (before.display_name, before.organization, dict(before.backend), before.active)
    service.update_model("fake-beta", weight=2.5, codename="heron")
    with service._sessions() as session:
        (after,) = get_models(session, ["fake-beta"])
        assert (after.sampling_weight, after.codename) == (2.5, "heron")
        assert (after.display_name, after.organization, dict(after.backend), after.active) == kept
    with pytest.raises(StoreError, match="sampling_weight must be a number >= 0"):
        service.update_model("fake-beta", weight=-1.0)
    with pytest.raises(StoreError, match="codename"):  # another model's codename
        service.update_model("fake-alpha", codename="heron")
    with service._sessions() as session:
        with pytest.raises(StoreError, match="cannot change display_name"):
            update_model(session, "fake-beta", display_name="Beta")
        (unchanged,) = get_models(session, ["fake-beta"])
        assert (unchanged.sampling_weight, unchanged.codename) == (2.5, "heron")
