"""The openai backend against servers that refuse, or cannot score: fail fast, never silently.

Against the real scripted HTTP server of http_server.py: a refusal (4xx but 429) is sent
once, a server that wants a string prompt gets one, the continuation's tokens are counted
from the server's own tokenisation (BOS, merged words), and a whole ``arena eval`` against a
server that cannot score sends a handful of requests and exits non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("httpx")

from arena.backends import (
    BackendError,
    BackendUnavailable,
    LogLikelihood,
    Message,
    RequestRejected,
    SamplingParams,
    UnsupportedOperation,
    create_backend,
    model_config,
)
from arena.backends.openai import OpenAIBackend, split_pair
from arena.cli.main import main
from tests.backends.http_server import ScriptedServer, chat_chunk, json_answer, sse

HELLO = [Message("user", "Say hello")]
MUST_BE_STRING = {"error": {"message": "prompt must be a string", "type": "invalid_request"}}


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


def echo(index: int, tokens: list[str], lps: list[float | None]) -> dict[str, Any]:
    """A /completions choice with echoed prompt log-probabilities (top-1 = the token)."""
    tops = [None if lp is None else {t: lp} for t, lp in zip(tokens, lps, strict=True)]
    return {
        "index": index,
        "text": "".join(tokens),
        "logprobs": {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops},
    }


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refusal_is_sent_once_and_never_retried(server: ScriptedServer, status: int) -> None:
    server.queue(*[json_answer({"error": {"message": f"refused {status}"}}, status=status)] * 4)
    with (
        make(server, max_retries=3) as backend,
        pytest.raises(RequestRejected, match=f"HTTP {status}.*refused {status}") as info,
    ):
        list(backend.generate(HELLO, SamplingParams()))
    assert info.value.status == status
    assert not isinstance(info.value, BackendUnavailable)  # callers do not retry it either
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_retried_with_backoff(
    server: ScriptedServer, status: int
) -> None:
    server.queue(
        json_answer({"error": "busy"}, status=status),
        json_answer({"error": "busy"}, status=status),
        sse([chat_chunk("ok", "stop")]),
    )
    with make(server, max_retries=2, backoff=0.1) as backend:
        assert list(backend.generate(HELLO, SamplingParams())) == ["ok"]
    first, second, third = (r.at for r in server.requests)
    assert second - first >= 0.04 and third - second >= 0.09  # 0.1 * 2**attempt, jittered


def test_a_server_that_wants_a_string_prompt_gets_one_per_request(server: ScriptedServer) -> None:
    server.queue(
        json_answer(MUST_BE_STRING, status=400),
        json_answer({"choices": [echo(0, ["Sky", " is"], [None, -2.0])]}),
        json_answer({"choices": [echo(0, ["Sky", " is", " blue"], [None, -2.0, -0.5])]}),
        json_answer({"choices": [echo(0, ["Sky", " is", " red"], [None, -2.0, -3.0])]}),
    )
    with make(server) as backend:
        got = backend.loglikelihood([("Sky is", " blue"), ("Sky is", " red")])
    assert got == [LogLikelihood(-0.5, True), LogLikelihood(-3.0, True)]
    prompts = [r.body["prompt"] for r in server.requests]
    texts = ["Sky is", "Sky is blue", "Sky is red"]
    assert prompts == [texts, *texts]


def test_an_empty_context_is_the_servers_bos_token(server: ScriptedServer) -> None:
    server.queue(
        json_answer({"choices": [echo(0, ["<s>"], [None]), echo(1, ["<s>", "Hi"], [None, -1.5])]}),
        json_answer({"choices": [echo(0, [], []), echo(1, ["Hi"], [None])]}),
    )
    with make(server) as backend:
        (got,) = backend.loglikelihood([("", "Hi")])
        assert got == LogLikelihood(-1.5, True)
        with pytest.raises(BackendError, match="adds no BOS token"):
            backend.loglikelihood([("", "Hi")])
    assert server.requests[0].body["prompt"] == ["", "Hi"]


def test_an_empty_prompt_refused_by_the_server_says_why(server: ScriptedServer) -> None:
    refused = {"error": {"message": "The decoder prompt cannot be empty", "code": 400}}
    server.queue(json_answer(refused, status=400))
    with (
        make(server) as backend,
        pytest.raises(RequestRejected, match=r"cannot be empty.*empty context.*adds no BOS"),
    ):
        backend.loglikelihood([("", "Hello")])
    assert len(server.requests) == 1


def test_the_continuation_is_what_follows_the_contexts_token_count(
    server: ScriptedServer,
) -> None:
    # the server adds a BOS token to both prompts, and merges "wor" + "ld" across the
    # boundary into one token: the continuation is the whole text's tokens after the
    # context's own count (3), as the transformers backend and lm-eval split it; character
    # offsets (which would also pick " world") are not used
    server.queue(
        json_answer(
            {
                "choices": [
                    echo(0, ["<s>", "Hello", " wor"], [None, -4.0, -6.0]),
                    echo(1, ["<s>", "Hello", " world", "!"], [None, -4.0, -1.0, -0.5]),
                ]
            }
        )
    )
    with make(server) as backend:
        (got,) = backend.loglikelihood([("Hello wor", "ld!")])
    assert got.logprob == pytest.approx(-0.5)  # "!" alone


def test_trailing_space_of_the_context_moves_to_the_continuation(server: ScriptedServer) -> None:
    assert split_pair("Answer: ", "Paris") == ("Answer:", " Paris")
    assert split_pair("Answer:", " Paris") == ("Answer:", " Paris")
    assert split_pair("  ", "x") == ("", "  x")
    server.queue(
        json_answer(
            {
                "choices": [
                    echo(0, ["Answer", ":"], [None, -1.0]),
                    echo(1, ["Answer", ":", " Paris"], [None, -1.0, -0.75]),
                ]
            }
        )
    )
    with make(server) as backend:
        (got,) = backend.loglikelihood([("Answer: ", "Paris")])
    assert got.logprob == pytest.approx(-0.75)
    assert server.requests[0].body["prompt"] == ["Answer:", "Answer: Paris"]


@pytest.mark.parametrize(
    ("full", "match"),
    [
        (echo(1, ["a", "b"], [None, 0.5]), "no valid log-probability"),  # > 0: not a log-prob
        (echo(1, ["a", "b"], [None, None]), "no valid log-probability"),
        ({"index": 1, "logprobs": {"tokens": ["a"], "token_logprobs": [], "top_logprobs": []}},
         "did not return prompt log-probabilities"),
        (echo(1, ["ab"], [None]), "adds no token"),  # the continuation merged into the context
    ],
)
def test_hostile_echoes_are_errors_not_scores(
    server: ScriptedServer, full: dict[str, Any], match: str
) -> None:
    context = echo(0, ["a"], [None])
    server.queue(json_answer({"choices": [context, full]}))
    with make(server) as backend, pytest.raises(BackendError, match=match):
        backend.loglikelihood([("a", "b")])


def test_eval_against_a_server_that_cannot_score_fails_fast_and_exits_non_zero(
    tmp_path: Path, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # what `transformers serve` answers to echo requests: 400 for every one of them
    server.queue(*[json_answer(MUST_BE_STRING, status=400)] * 200)
    models = tmp_path / "models.toml"
    models.write_text(
        f'[[models]]\nname = "ts"\nbackend = "openai"\nbase_url = "{server.url}"\n'
        'model = "m"\nbackoff = 0.01\n'
    )
    out = tmp_path / "run"
    argv = ["eval", "--suite", "smoke", "--task", "smoke_mc", "--no-store", "--no-progress"]
    rc = main([*argv, "--models", str(models), "--model", "ts", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    line = next(x for x in err.splitlines() if x.startswith("arena: error:"))
    assert "every sample failed (6 of 6)" in line and "prompt must be a string" in line
    # a handful of requests for 6 items (24 scored pairs), not one or more per pair: the
    # 2 batches in flight (one request's worth each) try next-token scoring once (refused:
    # not asked again), send a list and then strings, a single document or two more,
    # until the breaker stops the rest (the count depends on how the threads interleave)
    assert len(server.requests) <= 10, [r.body["prompt"] for r in server.requests]
    lines = (out / "samples" / "ts" / "smoke_mc.jsonl").read_text().splitlines()
    log = [json.loads(x) for x in lines]
    assert all("error" in r for r in log)
    assert any(r["error"].startswith("not sent:") for r in log)


def test_refusals_after_a_success_stay_about_their_own_request(server: ScriptedServer) -> None:
    from arena.harness import ModelRunner, RequestCache

    ok = json_answer({"choices": [echo(0, ["q"], [None]), echo(1, ["q", " a"], [None, -1.0])]})
    too_long = json_answer({"error": {"message": "prompt too long"}}, status=400)
    server.queue(ok, *[too_long] * 5, ok)
    config = model_config(
        "remote", "openai", base_url=server.url, model="m", backoff=0.01, next_token_logprobs=0
    )
    runner = ModelRunner(config, RequestCache(None), batch_size=1, concurrency=1)
    requests = [("q", f" a{i}") for i in range(7)]
    try:
        got = runner.loglikelihood(requests, [[i] for i in range(7)])
    finally:
        runner.close()
    assert "logprob" in got[0] and "logprob" in got[6]
    assert all("prompt too long" in g["error"] for g in got[1:6])  # each sent, none skipped
    assert len(server.requests) == 7


def test_unsupported_scoring_stops_at_once(server: ScriptedServer) -> None:
    from arena.harness import ModelRunner, RequestCache

    choices = [{"index": i, "text": "", "logprobs": None} for i in (0, 1)]
    no_logprobs = json_answer({"choices": choices})
    server.queue(*[no_logprobs] * 10)
    config = model_config(
        "remote", "openai", base_url=server.url, model="m", backoff=0.01, next_token_logprobs=0
    )
    runner = ModelRunner(config, RequestCache(None), batch_size=1, concurrency=1)
    try:
        got = runner.loglikelihood([("q", f" a{i}") for i in range(8)], [[i] for i in range(8)])
    finally:
        runner.close()
    assert len(server.requests) == 1
    assert all("did not return prompt log-probabilities" in g["error"] for g in got)
    assert isinstance(UnsupportedOperation("m", "loglikelihood", "x"), BackendError)
