"""The fake backend: reproducible, configurable, implements every operation."""

from __future__ import annotations

import time

import pytest

from arena.backends import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    Message,
    SamplingParams,
    create_backend,
    model_config,
)
from arena.backends.fake import FakeBackend

ASK = [Message("user", "What is the capital of France?")]


def fake(**options: object) -> FakeBackend:
    backend = create_backend(model_config("fake-a", "fake", **options))
    assert isinstance(backend, FakeBackend)
    return backend


def test_same_prompt_same_answer_and_chunks_join_to_it() -> None:
    a, b = fake(), fake()
    params = SamplingParams()
    chunks = list(a.generate(ASK, params))
    assert len(chunks) > 3
    assert chunks == list(b.generate(ASK, params))
    answer = "".join(chunks)
    assert answer.endswith(".") and answer[0].isupper()


def test_seed_option_and_sampling_seed_change_the_answer() -> None:
    greedy = "".join(fake().generate(ASK, SamplingParams()))
    assert greedy != "".join(fake(seed=1).generate(ASK, SamplingParams()))
    s1 = "".join(fake().generate(ASK, SamplingParams(temperature=1.0, seed=1)))
    assert s1 == "".join(fake().generate(ASK, SamplingParams(temperature=1.0, seed=1)))
    assert s1 != "".join(fake().generate(ASK, SamplingParams(temperature=1.0, seed=2)))


def test_configured_answers_stop_and_max_tokens() -> None:
    model = fake(answers=["Paris is the capital. It is big."], chunk_words=2)
    assert list(model.generate(ASK, SamplingParams())) == [
        "Paris is ",
        "the capital. ",
        "It is ",
        "big.",
    ]
    assert "".join(model.generate(ASK, SamplingParams(stop=(". It",)))) == "Paris is the capital"
    assert "".join(model.generate(ASK, SamplingParams(max_new_tokens=2))) == "Paris is "
    assert "".join(model.complete("x", SamplingParams())) == "Paris is the capital. It is big."


def test_loglikelihood_is_deterministic_and_plausible() -> None:
    requests = [("Q: 2+2?\nA:", " 4"), ("Q: 2+2?\nA:", " 5"), ("", "three words here")]
    first = fake().loglikelihood(requests)
    assert first == fake().loglikelihood(requests)
    assert all(-15.0 <= r.logprob < 0 and isinstance(r.is_greedy, bool) for r in first)
    assert first != fake(seed=9).loglikelihood(requests)


@pytest.mark.parametrize(
    ("fail_with", "kind"),
    [("unavailable", BackendUnavailable), ("timeout", BackendTimeout), ("error", BackendError)],
)
def test_failures(fail_with: str, kind: type[Exception]) -> None:
    model = fake(fail_rate=1.0, fail_with=fail_with, fail_after=2, answers=["a b c d e"])
    stream = model.generate(ASK, SamplingParams())
    assert [next(stream), next(stream)] == ["a ", "b "]
    with pytest.raises(kind, match=r"model 'fake-a' \(generate\): fake"):
        next(stream)
    with pytest.raises(kind):
        model.loglikelihood([("a", "b")])


def test_fail_rate_picks_a_reproducible_share_of_prompts() -> None:
    model = fake(fail_rate=0.5)
    outcomes = []
    for i in range(200):
        try:
            list(model.complete(f"prompt {i}", SamplingParams()))
            outcomes.append(True)
        except BackendUnavailable:
            outcomes.append(False)
    assert 60 < sum(outcomes) < 140


def test_latency_and_background_load() -> None:
    model = fake(load_time=0.3, latency=0.05, answers=["one two three"])
    assert not model.ready
    start = time.monotonic()
    future = model.load_async()
    assert model.load_async() is future
    assert time.monotonic() - start < 0.2  # returned at once
    future.result(timeout=5)
    assert model.ready
    start = time.monotonic()
    assert "".join(model.generate(ASK, SamplingParams())) == "one two three"
    assert time.monotonic() - start >= 0.15


def test_closed_backend_refuses_to_load() -> None:
    model = fake(load_time=0.01)
    model.close()
    with pytest.raises(BackendError, match="closed"):
        model.load()
