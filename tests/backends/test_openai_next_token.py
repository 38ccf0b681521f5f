"""Single-token choices scored from the next token's top log-probabilities, one request per batch.

Against the scripted HTTP server of http_server.py. A document whose choices are all
short words (MMLU's " A" .. " D") is scored from one ``max_tokens = 1`` request with
``logprobs = next_token_logprobs`` for its context, instead of echoing ``context +
choice`` for every choice; the first time, the scores are checked against the echo, and
a server whose numbers differ, that refuses, or that answers without top log-probabilities
is echoed from then on. A choice not among the top tokens sends its document to the echo.
(Against vLLM itself, test_openai_engines.py compares these scores with the local backend.)
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("httpx")

from arena.backends import LogLikelihood, create_backend, model_config
from arena.backends.openai import OpenAIBackend, next_token_candidate
from tests.backends.http_server import ScriptedServer, json_answer

CONTEXT = "Q: 2+2?\nAnswer:"
CHOICES = (" A", " B", " C", " D")
#: The server's next-token log-probabilities after CONTEXT (the top ones).
TOP = {" A": -0.5, " B": -1.5, " C": -2.0, " D": -3.0, " The": -4.0}


def make(server: ScriptedServer, **options: Any) -> OpenAIBackend:
    options = {"base_url": server.url, "model": "served-model", "backoff": 0.01, **options}
    backend = create_backend(model_config("remote", "openai", **options))
    assert isinstance(backend, OpenAIBackend)
    return backend


def next_token(*tops: dict[str, Any]) -> Any:
    """A /completions answer of one generated token per prompt, with its top log-probs."""
    choices = [
        {"index": i, "text": " A", "logprobs": {"tokens": [" A"], "token_logprobs": [-0.5],
                                                "top_logprobs": [top]}}
        for i, top in enumerate(tops)
    ]
    return json_answer({"choices": choices})


def echo_of(context: str, choices: tuple[str, ...], top: dict[str, float]) -> Any:
    """The echo of ``context`` and of ``context + choice`` for each choice (as vLLM answers)."""
    best = max(top, key=lambda t: top[t])

    def choice(index: int, extra: str | None) -> dict[str, Any]:
        tokens: list[str] = ["Q: 2+2?\n", "Answer:"]
        lps: list[float | None] = [None, -1.0]
        tops: list[dict[str, float] | None] = [None, {"Answer:": -1.0}]
        if extra is not None:
            tokens.append(extra)
            lps.append(top[extra])
            tops.append({best: top[best], extra: top[extra]})
        return {"index": index, "text": "".join(tokens),
                "logprobs": {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops}}

    return json_answer(
        {"choices": [choice(0, None), *(choice(i + 1, c) for i, c in enumerate(choices))]}
    )


def expected(top: dict[str, float]) -> list[LogLikelihood]:
    best = max(top.values())
    return [LogLikelihood(top[c], top[c] == best) for c in CHOICES]


def test_candidates_are_one_short_word() -> None:
    assert next_token_candidate(" A") and next_token_candidate("B") and next_token_candidate(" 42")
    assert not next_token_candidate(" two words")
    assert not next_token_candidate("  A")  # two spaces: not one token's shape
    assert not next_token_candidate(" ")
    assert not next_token_candidate("")
    assert not next_token_candidate(" " + "x" * 17)
    assert not next_token_candidate(" A\n")


def test_a_question_is_one_request_after_the_first_check(server: ScriptedServer) -> None:
    pairs = [(CONTEXT + " ", c.strip()) for c in CHOICES]  # "Answer: " + "A": split as lm-eval
    server.queue(next_token(TOP), echo_of(CONTEXT, CHOICES, TOP))  # first: checked once
    other = {" A": -2.5, " B": -0.25, " C": -2.0, " D": -1.0}
    server.queue(next_token(other))  # from then on: one request per batch, no echo
    with make(server) as backend:
        first = backend.loglikelihood(pairs)
        second = backend.loglikelihood(pairs)
    assert first == expected(TOP)
    assert [s.is_greedy for s in second] == [False, True, False, False]
    assert [s.logprob for s in second] == [-2.5, -0.25, -2.0, -1.0]
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 3
    for body in (bodies[0], bodies[2]):
        assert body["prompt"] == CONTEXT and body["max_tokens"] == 1
        assert body["logprobs"] == 20 and not body.get("echo")
    assert bodies[1]["echo"] is True and len(bodies[1]["prompt"]) == 5


def test_scores_that_differ_from_the_echo_are_dropped_for_good(server: ScriptedServer) -> None:
    # a server whose top log-probabilities are not the model's (after a temperature, say)
    skewed = {t: lp / 2 for t, lp in TOP.items()}
    server.queue(next_token(skewed), echo_of(CONTEXT, CHOICES, TOP))
    server.queue(echo_of(CONTEXT, CHOICES, TOP))
    pairs = [(CONTEXT, c) for c in CHOICES]
    with make(server) as backend:
        assert backend.loglikelihood(pairs) == expected(TOP)  # the echo's, not the skewed
        assert backend.loglikelihood(pairs) == expected(TOP)
    assert [bool(r.body.get("echo")) for r in server.requests] == [False, True, True]


def test_a_choice_outside_the_top_sends_its_document_to_the_echo(server: ScriptedServer) -> None:
    other_context = "Q: 3+3?\nAnswer:"
    top_without_d = {t: lp for t, lp in TOP.items() if t != " D"}
    server.queue(next_token(TOP, top_without_d))  # CONTEXT found whole, the other is not
    server.queue(echo_of(CONTEXT, CHOICES, TOP))  # the check of CONTEXT's scores
    server.queue(echo_of(other_context, CHOICES, TOP))  # the other document, echoed
    pairs = [(CONTEXT, c) for c in CHOICES] + [(other_context, c) for c in CHOICES]
    with make(server) as backend:
        got = backend.loglikelihood(pairs)
    assert got == expected(TOP) * 2
    assert server.requests[0].body["prompt"] == [CONTEXT, other_context]
    assert server.requests[2].body["prompt"][0] == other_context  # all its choices echoed


@pytest.mark.parametrize(
    "answer",
    [
        json_answer({"error": {"message": "logprobs must be <= 5"}}, status=400),
        json_answer({"choices": [{"index": 0, "text": " A", "logprobs": None}]}),  # none given
        next_token({" A": 0.5, " B": -1.0}),  # not log-probabilities
        next_token({" A": "high"}),
        json_answer({"choices": []}),  # not one per prompt
    ],
)
def test_a_server_without_usable_top_logprobs_is_echoed(
    server: ScriptedServer, answer: Any
) -> None:
    server.queue(answer, echo_of(CONTEXT, CHOICES, TOP), echo_of(CONTEXT, CHOICES, TOP))
    pairs = [(CONTEXT, c) for c in CHOICES]
    with make(server) as backend:
        assert backend.loglikelihood(pairs) == expected(TOP)
        assert backend.loglikelihood(pairs) == expected(TOP)  # not asked again
    assert [bool(r.body.get("echo")) for r in server.requests] == [False, True, True]


def test_long_choices_and_next_token_logprobs_0_are_echoed_only(server: ScriptedServer) -> None:
    long_choices = (" the cat sat", " a dog ran")
    top = {c: -1.0 for c in long_choices}
    server.queue(echo_of(CONTEXT, long_choices, top))
    with make(server) as backend:
        backend.loglikelihood([(CONTEXT, c) for c in long_choices])
    server.queue(echo_of(CONTEXT, CHOICES, TOP))
    with make(server, next_token_logprobs=0) as backend:
        assert backend.loglikelihood([(CONTEXT, c) for c in CHOICES]) == expected(TOP)
    assert [bool(r.body.get("echo")) for r in server.requests] == [True, True]
