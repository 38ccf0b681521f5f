"""The openai backend against a real HTTP server on 127.0.0.1 (see http_server.py)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("httpx")

from arena.backends import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    LogLikelihood,
    Message,
    SamplingParams,
    UnsupportedOperation,
    create_backend,
    model_config,
)
from arena.backends.openai import MAX_LINE_BYTES, OpenAIBackend, parse_retry_after
from tests.backends.http_server import (
    Flood,
    ScriptedServer,
    chat_chunk,
    drop_mid_stream,
    endless_line,
    flood,
    hang,
    json_answer,
    raw_answer,
    sse,
    text_chunk,
    trickle,
)

HELLO = [Message("user", "Say hello")]


def make(server: ScriptedServer, **options: Any) -> OpenAIBackend:
    # the echo path (next-token scoring, which sends a request of its own first, is
    # tested in test_openai_next_token.py)
    options = {
        "base_url": server.url,
        "model": "served-model",
        "backoff": 0.01,
        "next_token_logprobs": 0,
        **options,
    }
    backend = create_backend(model_config("remote", "openai", **options))
    assert isinstance(backend, OpenAIBackend)
    return backend


def test_streams_chat_chunks_and_sends_the_request(server: ScriptedServer) -> None:
    server.queue(
        sse(
            [
                {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
                chat_chunk("Hel"),
                chat_chunk("lo, "),
                chat_chunk("world"),
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"completion_tokens": 3}},
            ],
            delay=0.01,
        )
    )
    with make(server) as backend:
        params = SamplingParams(max_new_tokens=7, temperature=0.5, top_p=0.9, seed=3, stop=("!",))
        chunks = list(backend.generate(HELLO, params))
    assert chunks == ["Hel", "lo, ", "world"]
    (req,) = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.body == {
        "model": "served-model",
        "messages": [{"role": "user", "content": "Say hello"}],
        "max_tokens": 7,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 3,
        "stop": ["!"],
        "stream": True,
    }
    assert "authorization" not in {k.lower() for k in req.headers}


def test_stop_sequences_are_applied_even_if_the_server_ignores_them(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("Paris.\nUs"), chat_chunk("er: and then"), chat_chunk(" more")]))
    with make(server) as backend:
        out = list(backend.generate(HELLO, SamplingParams(stop=("\nUser:",))))
    assert "".join(out) == "Paris."


def test_complete_streams_from_completions(server: ScriptedServer) -> None:
    server.queue(sse([text_chunk(" Paris"), text_chunk(" is big")]))
    with make(server) as backend:
        assert "".join(backend.complete("The capital is", SamplingParams())) == " Paris is big"
    assert server.requests[0].path == "/v1/completions"
    assert server.requests[0].body["prompt"] == "The capital is"


def test_plain_json_answer_to_a_stream_request_is_accepted(server: ScriptedServer) -> None:
    server.queue(json_answer({"choices": [{"index": 0, "message": {"content": "Hi there"}}]}))
    with make(server) as backend:
        assert "".join(backend.generate(HELLO, SamplingParams())) == "Hi there"


def test_500_is_retried_then_succeeds(server: ScriptedServer) -> None:
    server.queue(json_answer({"error": {"message": "boom"}}, status=500), sse([chat_chunk("ok")]))
    with make(server, max_retries=2) as backend:
        assert list(backend.generate(HELLO, SamplingParams())) == ["ok"]
    assert len(server.requests) == 2


def test_429_honours_retry_after(server: ScriptedServer) -> None:
    server.queue(
        json_answer({"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "1"}),
        sse([chat_chunk("ok")]),
    )
    with make(server, max_retries=1, backoff=0.0) as backend:
        assert list(backend.generate(HELLO, SamplingParams())) == ["ok"]
    first, second = server.requests
    assert second.at - first.at >= 0.9


def test_retry_after_longer_than_max_backoff_gives_up_at_once(server: ScriptedServer) -> None:
    server.queue(json_answer({}, status=429, headers={"Retry-After": "120"}))
    with (
        make(server, max_retries=3, max_backoff=5) as backend,
        pytest.raises(BackendUnavailable, match=r"HTTP 429.*retry after 120 s.*max_backoff 5 s"),
    ):
        list(backend.generate(HELLO, SamplingParams()))
    assert len(server.requests) == 1


def test_persistent_503_raises_unavailable_after_all_tries(server: ScriptedServer) -> None:
    server.queue(*[json_answer({"error": "down"}, status=503)] * 3)
    with make(server, max_retries=2) as backend, pytest.raises(BackendUnavailable) as info:
        list(backend.generate(HELLO, SamplingParams()))
    message = str(info.value)
    assert "model 'remote' (generate)" in message
    assert "HTTP 503" in message and "after 3 tries" in message
    assert len(server.requests) == 3


def test_hanging_server_times_out(server: ScriptedServer) -> None:
    server.queue(hang(3), hang(3))
    start = time.monotonic()
    with (
        make(server, timeout=0.3, max_retries=1) as backend,
        pytest.raises(BackendTimeout, match="did not answer in time"),
    ):
        list(backend.generate(HELLO, SamplingParams()))
    assert time.monotonic() - start < 2.5
    assert len(server.requests) == 2


def test_stream_that_stalls_midway_times_out(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("a"), chat_chunk("b")], delay=1.5, done=False))
    with make(server, timeout=0.4) as backend:
        stream = backend.generate(HELLO, SamplingParams())
        assert next(stream) == "a"
        with pytest.raises(BackendTimeout, match="stream stopped"):
            list(stream)


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = model_config(
        "down",
        "openai",
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        max_retries=1,
        backoff=0.01,
    )
    with (
        create_backend(config) as backend,
        pytest.raises(BackendUnavailable, match=r"cannot reach http://127\.0\.0\.1"),
    ):
        list(backend.generate(HELLO, SamplingParams()))


def test_malformed_json_in_stream_quotes_an_excerpt(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("fine"), '{"choices": [oops'], done=False))
    with make(server) as backend:
        stream = backend.generate(HELLO, SamplingParams())
        assert next(stream) == "fine"
        with pytest.raises(BackendError, match=r"malformed JSON: '\{\"choices\": \[oops'"):
            next(stream)


def test_missing_fields_are_reported(server: ScriptedServer) -> None:
    server.queue(sse([{"id": "x", "object": "chat.completion.chunk"}]))
    with make(server) as backend, pytest.raises(BackendError, match="no 'choices' list"):
        list(backend.generate(HELLO, SamplingParams()))
    server.queue(sse([{"choices": [{"delta": {"content": 42}}]}]))
    with (
        make(server) as backend,
        pytest.raises(BackendError, match=r"expected a string at choices\[0\]\.delta\.content"),
    ):
        list(backend.generate(HELLO, SamplingParams()))


def test_error_event_midstream(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("a"), {"error": {"message": "model crashed"}}]))
    with make(server) as backend, pytest.raises(BackendError, match="model crashed"):
        list(backend.generate(HELLO, SamplingParams()))


def test_html_error_page_with_200_is_malformed(server: ScriptedServer) -> None:
    server.queue(
        raw_answer(b"<html><body>Bad gateway</body></html>", content_type="application/json")
    )
    with (
        make(server) as backend,
        pytest.raises(BackendError, match="malformed JSON: '<html><body>Bad gateway"),
    ):
        backend.loglikelihood([("a", "b")])


def test_client_errors_are_not_retried(server: ScriptedServer) -> None:
    server.queue(json_answer({"error": {"message": "bad model id"}}, status=404))
    with (
        make(server, max_retries=3) as backend,
        pytest.raises(BackendError, match=r"HTTP 404.*bad model id.*check base_url"),
    ):
        list(backend.generate(HELLO, SamplingParams()))
    assert len(server.requests) == 1


def test_unauthorized_hints_at_api_key_env(server: ScriptedServer) -> None:
    server.queue(json_answer({"error": "no key"}, status=401))
    with make(server) as backend, pytest.raises(BackendError, match="set api_key_env"):
        list(backend.generate(HELLO, SamplingParams()))


def test_api_key_comes_from_the_named_variable(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-test-123")
    server.queue(sse([chat_chunk("ok")]))
    with make(server, api_key_env="ARENA_TEST_KEY") as backend:
        list(backend.generate(HELLO, SamplingParams()))
    headers = {k.lower(): v for k, v in server.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer sk-test-123"


def test_unset_api_key_variable_is_a_clear_error(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARENA_TEST_KEY", raising=False)
    with pytest.raises(BackendError, match=r"model 'remote' \(configure\).*ARENA_TEST_KEY"):
        make(server, api_key_env="ARENA_TEST_KEY")


def _echo_choice(index: int, tokens: list[str], lps: list[float | None], top: list[Any]) -> Any:
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {
        "index": index,
        "text": "".join(tokens),
        "logprobs": {
            "tokens": tokens,
            "token_logprobs": lps,
            "text_offset": offsets,
            "top_logprobs": top,
        },
    }


def test_loglikelihood_from_echoed_prompt_logprobs(server: ScriptedServer) -> None:
    context = _echo_choice(0, ["The", " capital", " is"], [None, -5.0, -1.0], [None, {}, {}])
    context["logprobs"]["top_logprobs"] = [None, {" capital": -5.0}, {" is": -1.0}]
    paris = _echo_choice(
        1,
        ["The", " capital", " is", " Paris"],
        [None, -5.0, -1.0, -0.25],
        [None, {" capital": -5.0}, {" is": -1.0}, {" Paris": -0.25}],
    )
    london = _echo_choice(
        2,
        ["The", " capital", " is", " Lon", "don"],
        [None, -5.0, -1.0, -3.0, -0.5],
        [None, {" capital": -5.0}, {" is": -1.0}, {" Paris": -0.25}, {"don": -0.5}],
    )
    server.queue(json_answer({"choices": [london, context, paris]}))  # sorted by index
    with make(server) as backend:
        got = backend.loglikelihood([("The capital is", " Paris"), ("The capital is", " London")])
    assert got == [LogLikelihood(-0.25, True), LogLikelihood(-3.5, False)]
    body = server.requests[0].body
    # the shared context once, then each whole text: the continuation is what follows the
    # context's token count
    assert body["prompt"] == ["The capital is", "The capital is Paris", "The capital is London"]
    assert body["echo"] is True and body["max_tokens"] == 0 and body["logprobs"] == 1


def test_loglikelihood_batches_requests(server: ScriptedServer) -> None:
    def answer() -> Any:  # the context "a" alone, then "ab" whole
        return json_answer(
            {
                "choices": [
                    _echo_choice(0, ["a"], [None], [None]),
                    _echo_choice(1, ["a", "b"], [None, -1.0], [None, {"b": -1.0}]),
                ]
            }
        )

    server.queue(answer(), answer())
    with make(server, logprobs_batch=2) as backend:
        got = backend.loglikelihood([("a", "b")] * 3)
    assert got == [LogLikelihood(-1.0, True)] * 3
    assert [r.body["prompt"] for r in server.requests] == [["a", "ab"], ["a", "ab"]]


def test_loglikelihood_unsupported_by_the_server(server: ScriptedServer) -> None:
    server.queue(json_answer({"error": {"message": "echo is not supported"}}, status=400))
    with (
        make(server) as backend,
        pytest.raises(UnsupportedOperation, match=r"echo is not supported.*vLLM.*letter"),
    ):
        backend.loglikelihood([("a", "b")])
    server.queue(
        json_answer({"choices": [{"index": i, "text": "", "logprobs": None} for i in (0, 1)]})
    )
    with (
        make(server) as backend,
        pytest.raises(UnsupportedOperation, match="did not return prompt log-probabilities"),
    ):
        backend.loglikelihood([("a", "b")])


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- only whole answers end normally (hostile servers) -------------------------------------


def test_stream_without_done_or_finish_reason_is_not_a_whole_answer(
    server: ScriptedServer,
) -> None:
    server.queue(sse([chat_chunk("The answer is "), chat_chunk("")], done=False))
    with make(server, max_retries=0) as backend:
        stream = backend.generate(HELLO, SamplingParams())
        assert next(stream) == "The answer is "
        with pytest.raises(BackendUnavailable, match="ended before the answer was complete"):
            list(stream)


def test_finish_reason_without_done_is_a_whole_answer(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("Paris"), chat_chunk(".", "stop")], done=False))
    with make(server) as backend:
        assert "".join(backend.generate(HELLO, SamplingParams())) == "Paris."


def test_done_without_finish_reason_is_a_whole_answer(server: ScriptedServer) -> None:
    server.queue(sse([chat_chunk("Paris.")]))
    with make(server) as backend:
        assert "".join(backend.generate(HELLO, SamplingParams())) == "Paris."


@pytest.mark.parametrize("reason", ["abort", "content_filter", "error"])
def test_finish_reason_that_cuts_the_answer_short_raises(
    server: ScriptedServer, reason: str
) -> None:
    server.queue(sse([chat_chunk("The answer is "), chat_chunk("", reason)]))
    with (
        make(server) as backend,
        pytest.raises(BackendError, match=f"cut the answer short \\(finish_reason '{reason}'"),
    ):
        list(backend.generate(HELLO, SamplingParams()))


def test_connection_dropped_mid_answer_raises(server: ScriptedServer) -> None:
    server.queue(drop_mid_stream([chat_chunk("The answer is ")]))
    with make(server, max_retries=0) as backend:
        stream = backend.generate(HELLO, SamplingParams())
        assert next(stream) == "The answer is "
        with pytest.raises(BackendUnavailable, match="stream broke off"):
            list(stream)


def test_plain_completion_stream_must_end_too(server: ScriptedServer) -> None:
    server.queue(sse([text_chunk(" Paris is")], done=False))
    with make(server) as backend, pytest.raises(BackendUnavailable, match="mid-answer"):
        list(backend.complete("The capital is", SamplingParams()))


def test_flooding_server_is_cut_at_the_token_cap(server: ScriptedServer) -> None:
    record = Flood()
    server.queue(flood(record))  # 64 KB chunks every 10 ms, no end
    with make(server) as backend:
        chunks = list(backend.generate(HELLO, SamplingParams(max_new_tokens=5)))
    assert len(chunks) == 5 and all(len(c) == 64 * 1024 for c in chunks)
    assert record.ended.wait(10)  # the client hung up: the server's next writes failed
    assert record.chunks < 100  # of the 3000 it would have sent


def test_trickling_server_times_out_between_events(server: ScriptedServer) -> None:
    server.queue(trickle(every=0.05))  # bytes keep coming, a line never ends
    with (
        make(server, timeout=0.5) as backend,
        pytest.raises(BackendTimeout, match=r"no complete event for over 0\.5 s"),
    ):
        list(backend.generate(HELLO, SamplingParams()))


def test_endless_line_is_refused_with_bounded_memory(server: ScriptedServer) -> None:
    server.queue(endless_line())  # 12.5 MiB without a line end
    with (
        make(server) as backend,
        pytest.raises(BackendError, match=f"line over {MAX_LINE_BYTES >> 20} MiB"),
    ):
        list(backend.generate(HELLO, SamplingParams()))
