"""Deadlines, caps, Stop and whole answers: generation against slow and hostile models.

Timings are kept short through the settings (deadlines of a fraction of a second); the
tests assert what happened (which deadline failed the battle, what was stored), never how
long it took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from arena.backends import Backend, Message, ModelConfig, SamplingParams, create_backend
from arena.backends.fake import FakeBackend
from arena.errors import UserError
from arena.service import ArenaService, Choice, ServiceConfig
from arena.service.generation import Deadlines
from arena.service.rounds import StreamEvent
from arena.store import BattleNotReady, get_battle, make_sessionmaker
from tests.backends.http_server import (
    Flood,
    ScriptedServer,
    chat_chunk,
    drop_mid_stream,
    flood,
    sse,
)

from .conftest import battle_id, write_models

VOTER = "visitor-g"
ANSWER = "one two three four five six seven eight nine ten eleven twelve."


def models(slow: str, fast: str = "") -> str:
    """Two fake models: ``slow`` gets the extra options (TOML lines), ``fast`` answers at once."""
    return f"""
[[models]]
name = "slow"
backend = "fake"
answers = ['{ANSWER}']
{slow}

[[models]]
name = "fast"
backend = "fake"
answers = ['{ANSWER}']
{fast}
"""


def stored(service: ArenaService, ticket: str) -> tuple[str, str | None, list[str], list[str]]:
    with make_sessionmaker(service.engine)() as session:
        b = get_battle(session, battle_id(ticket))
        return b.status, b.error, list(b.answers_a), list(b.answers_b)


def run(service: ArenaService, prompt: str = "hi") -> tuple[list[StreamEvent], str]:
    round_ = service.start_battle(VOTER, prompt)
    return list(service.stream(round_, VOTER)), round_.ticket


@pytest.fixture
def svc(tmp_path: Path, make_service: Callable[..., ArenaService]) -> Callable[..., ArenaService]:
    def make(slow: str, fast: str = "", **config: object) -> ArenaService:
        path = write_models(tmp_path, models(slow, fast), "deadlines.toml")
        return make_service(path, **config)

    return make


def test_a_slow_but_steady_answer_completes(svc: Callable[..., ArenaService]) -> None:
    # 12 chunks 0.15 s apart: 1.8 s in all, far past both deadlines, never idle past them.
    service = svc("latency = 0.15", first_token_timeout_s=0.6, idle_timeout_s=0.6)
    events, ticket = run(service)
    last = events[-1]
    assert last.kind == "done" and last.round is not None and last.round.can_vote
    status, _, answers_a, answers_b = stored(service, ticket)
    assert status == "ready" and ANSWER in answers_a + answers_b
    service.vote(last.round, VOTER, Choice.TIE)


def test_a_stalled_answer_fails_at_the_idle_deadline(svc: Callable[..., ArenaService]) -> None:
    service = svc("stall_after = 3\nstall_time = 5", first_token_timeout_s=5, idle_timeout_s=0.4)
    events, ticket = run(service)
    assert any(e.kind == "text" and e.text for e in events)  # text came, then stopped
    last = events[-1]
    assert last.kind == "failed" and last.round is not None and last.round.status == "failed"
    assert last.text == (
        "One of the models took too long to answer. This round is not counted: start a new round."
    )
    status, error, _, _ = stored(service, ticket)
    assert status == "failed" and "(slow)" in (error or "")
    assert "no new text for 0.4 s" in (error or "")
    with pytest.raises(BattleNotReady):
        service.vote(last.round, VOTER, Choice.A)


def test_no_first_token_fails_at_the_first_token_deadline(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("first_delay = 5", first_token_timeout_s=0.4, idle_timeout_s=5)
    events, ticket = run(service)
    assert events[-1].kind == "failed" and "took too long" in events[-1].text
    status, error, _, _ = stored(service, ticket)
    assert status == "failed" and "no first token within 0.4 s" in (error or "")


def test_the_first_token_deadline_starts_once_the_model_has_loaded(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("load_time = 1.0", first_token_timeout_s=0.4, idle_timeout_s=0.4)
    events, _ = run(service)
    loading = [e for e in events if e.kind == "loading"]
    assert loading and all(e.side is None for e in loading)  # never which side is loading
    assert events[-1].kind == "done"


def test_a_model_that_never_loads_fails_at_the_loading_deadline(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("load_time = 5", load_timeout_s=0.4)
    events, ticket = run(service)
    assert events[-1].kind == "failed"
    assert "did not finish loading within 0.4 s" in (stored(service, ticket)[1] or "")


def test_the_character_cap_ends_an_answer(svc: Callable[..., ArenaService]) -> None:
    service = svc("", max_answer_chars=20)
    events, ticket = run(service)
    assert events[-1].kind == "done"
    status, _, answers_a, answers_b = stored(service, ticket)
    assert status == "ready"
    assert [len(a) for a in answers_a + answers_b] == [20, 20]
    assert answers_a[0] == ANSWER[:20]


class Endless(FakeBackend):
    """A backend that ignores its token limit and never ends (as a hostile server would)."""

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        def forever() -> Iterator[str]:
            while True:
                yield "word "

        return forever()


def test_the_token_cap_is_enforced_on_this_side(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_models(tmp_path, models(""), "endless.toml")
    from arena.backends import load_models

    configs: dict[str, ModelConfig] = {c.name: c for c in load_models(path)}
    backends: dict[str, Backend] = {
        "slow": Endless(configs["slow"]),
        "fast": create_backend(configs["fast"]),
    }
    params = SamplingParams(max_new_tokens=7)
    config = ServiceConfig(rate_limit=None, secret=b"s", sampling=params)
    service = ArenaService.open(sqlite_url, path, config, backends=backends)
    try:
        events, ticket = run(service)
        assert events[-1].kind == "done"
        answers = stored(service, ticket)[2:]
        assert "word " * 7 in [a[0] for a in answers]
    finally:
        service.close()


def test_stop_ends_both_answers_and_the_round_takes_no_vote(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("latency = 0.2", "latency = 0.2")
    round_ = service.start_battle(VOTER, "hi")
    stream = service.stream(round_, VOTER)
    for event in stream:
        if event.kind == "text" and event.text:
            break
    service.stop(round_, VOTER)
    last = list(stream)[-1]
    assert last.kind == "stopped" and last.round is not None
    stopped = last.round
    assert stopped.status == "stopped" and not stopped.can_vote and stopped.can_regenerate
    assert stopped.partial is not None and any(stopped.partial)
    assert all(len(p) < len(ANSWER) for p in stopped.partial)
    assert stopped.message is not None and "no vote" in stopped.message
    status, error, _, _ = stored(service, round_.ticket)
    assert status == "failed" and "stopped by the visitor" in (error or "")
    with pytest.raises(BattleNotReady):  # the server refuses it, whatever the page shows
        service.vote(round_, VOTER, Choice.A)
    again = service.generate(service.regenerate(stopped, VOTER), VOTER)
    assert again.can_vote


def test_stop_after_both_answers_are_complete_changes_nothing(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("")
    round_ = service.start_battle(VOTER, "hi")
    ready = service.generate(round_, VOTER)
    service.stop(round_, VOTER)
    assert ready.can_vote
    service.vote(ready, VOTER, Choice.B)


def test_failure_messages_never_say_which_side(svc: Callable[..., ArenaService]) -> None:
    service = svc("fail_rate = 1.0\nfail_after = 2")
    sides = set()
    for i in range(12):
        events, ticket = run(service, f"prompt {i}")
        last = events[-1]
        assert last.kind == "failed"
        for text in (last.text, last.round.message if last.round else ""):
            assert "Model A" not in (text or "") and "Model B" not in (text or "")
            assert "side" not in (text or "").lower()
        sides.add((stored(service, ticket)[1] or "")[:6])
    assert sides == {"side A", "side B"}  # the failing model was on both sides


def test_concurrent_watchers_share_one_generation(svc: Callable[..., ArenaService]) -> None:
    service = svc("latency = 0.05")
    round_ = service.start_battle(VOTER, "hi")
    results: list[StreamEvent] = []

    def watch() -> None:
        results.append(list(service.stream(round_, VOTER))[-1])

    threads = [threading.Thread(target=watch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [r.kind for r in results] == ["done"] * 3
    assert len({r.round.answers_a if r.round else () for r in results}) == 1


# -- whole answers from a real HTTP server ---------------------------------------------------


@pytest.fixture
def http() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.close()


def openai_models(url: str) -> str:
    return f"""
[[models]]
name = "remote"
backend = "openai"
base_url = "{url}"
model = "served"
max_retries = 0

[[models]]
name = "local"
backend = "fake"
answers = ['{ANSWER}']
"""


@pytest.mark.parametrize("hostile", ["no end marker", "dropped connection"])
def test_a_truncated_answer_is_never_stored_as_ready_nor_voted(
    tmp_path: Path, make_service: Callable[..., ArenaService], http: ScriptedServer, hostile: str
) -> None:
    service = make_service(write_models(tmp_path, openai_models(http.url), "remote.toml"))
    action = (
        sse([chat_chunk("The answer is ")], done=False)
        if hostile == "no end marker"
        else drop_mid_stream([chat_chunk("The answer is ")])
    )
    http.queue(action)
    events, ticket = run(service, "What is 6 x 7?")
    last = events[-1]
    assert last.kind == "failed" and last.round is not None
    status, error, answers_a, answers_b = stored(service, ticket)
    assert status == "failed" and "(remote)" in (error or "")
    assert answers_a == [] and answers_b == []
    with pytest.raises(BattleNotReady):
        service.vote(last.round, VOTER, Choice.A)


def test_a_whole_remote_answer_is_voted(
    tmp_path: Path, make_service: Callable[..., ArenaService], http: ScriptedServer
) -> None:
    service = make_service(write_models(tmp_path, openai_models(http.url), "remote.toml"))
    http.queue(sse([chat_chunk("The answer is "), chat_chunk("42.", "stop")]))
    events, ticket = run(service, "What is 6 x 7?")
    assert events[-1].kind == "done" and events[-1].round is not None
    assert "The answer is 42." in stored(service, ticket)[2] + stored(service, ticket)[3]
    service.vote(events[-1].round, VOTER, Choice.A)


def test_a_flooding_server_is_cut_at_the_character_cap(
    tmp_path: Path, make_service: Callable[..., ArenaService], http: ScriptedServer
) -> None:
    record = Flood()
    service = make_service(
        write_models(tmp_path, openai_models(http.url), "remote.toml"), max_answer_chars=5000
    )
    http.queue(flood(record))  # 64 KB every 10 ms, never ending
    events, ticket = run(service)
    assert events[-1].kind == "done"
    answers = stored(service, ticket)[2] + stored(service, ticket)[3]
    assert sorted(len(a) for a in answers) == [len(ANSWER), 5000]
    assert all(len(e.text) <= 5000 for e in events)  # what the page got was bounded too
    assert record.ended.wait(10) and record.chunks < 100  # the connection was closed


def test_deadline_settings_are_checked() -> None:
    with pytest.raises(UserError, match="idle_s must be a number of seconds > 0"):
        Deadlines(idle_s=0)
    with pytest.raises(UserError, match="first_token_timeout_s must be > 0"):
        ServiceConfig(first_token_timeout_s=float("nan"))
    with pytest.raises(UserError, match="max_answer_chars must be >= 1"):
        ServiceConfig(max_answer_chars=0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ARENA_IDLE_TIMEOUT_S", "soon", r"\$ARENA_IDLE_TIMEOUT_S must be a number, got 'soon'"),
        ("ARENA_FIRST_TOKEN_TIMEOUT_S", "-1", r"must be a number of seconds > 0, got -1.0"),
        ("ARENA_LOAD_TIMEOUT_S", "inf", r"\$ARENA_LOAD_TIMEOUT_S must be a number of seconds"),
        ("ARENA_MAX_ANSWER_CHARS", "0", r"must be a number of characters > 0, got 0"),
        ("ARENA_MAX_NEW_TOKENS", "0", r"\$ARENA_MAX_NEW_TOKENS must be an integer >= 1"),
    ],
)
def test_generation_settings_from_the_environment_are_validated(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        ServiceConfig.from_env({name: value})


def test_generation_settings_from_the_environment() -> None:
    config = ServiceConfig.from_env(
        {
            "ARENA_FIRST_TOKEN_TIMEOUT_S": "12.5",
            "ARENA_IDLE_TIMEOUT_S": "3",
            "ARENA_LOAD_TIMEOUT_S": "90",
            "ARENA_MAX_NEW_TOKENS": "64",
            "ARENA_MAX_ANSWER_CHARS": "1000",
        }
    )
    assert config.deadlines == Deadlines(12.5, 3.0, 90.0, 1000)
    assert config.sampling.max_new_tokens == 64
    assert config.sampling.temperature == ServiceConfig().sampling.temperature


def test_a_vote_while_answering_is_refused_and_spoils_nothing(
    svc: Callable[..., ArenaService],
) -> None:
    service = svc("latency = 0.05", "latency = 0.05")
    round_ = service.start_battle(VOTER, "hi")
    stream = service.stream(round_, VOTER)
    for event in stream:
        if event.kind == "text" and event.text:
            break
    with pytest.raises(BattleNotReady, match="wait until both answers are complete"):
        service.vote(round_, VOTER, Choice.A)
    stream.close()  # type: ignore[attr-defined]  # the click reran the page
    last = list(service.stream(round_, VOTER))[-1]
    assert last.kind == "done" and last.round is not None  # still answering, then ready
    assert stored(service, round_.ticket)[0] == "ready"
    service.vote(last.round, VOTER, Choice.A)


def test_watchers_hear_that_answers_are_still_awaited(svc: Callable[..., ArenaService]) -> None:
    service = svc("first_delay = 2.5", first_token_timeout_s=10)
    events, _ = run(service)
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done"
    # The fast side is done within a second; the slow one says nothing for 2.5 s: the
    # watcher gets "waiting" events meanwhile (the page shows them and handles clicks).
    assert kinds.count("waiting") >= 1


def test_a_server_flooding_bytes_without_text_fails_at_the_first_token_deadline(
    tmp_path: Path, make_service: Callable[..., ArenaService], http: ScriptedServer
) -> None:
    record = Flood()
    service = make_service(
        write_models(tmp_path, openai_models(http.url), "remote.toml"), first_token_timeout_s=0.5
    )
    http.queue(flood(record, text=False))  # 64 KB SSE comments every 10 ms: no answer at all
    events, ticket = run(service)
    assert events[-1].kind == "failed" and "took too long" in events[-1].text
    status, error, _, _ = stored(service, ticket)
    assert status == "failed" and "no first token within 0.5 s" in (error or "")
    assert record.ended.wait(30)  # the client let go (at the latest at the 16 MiB bound)
    assert record.bytes < 20 * 2**20
