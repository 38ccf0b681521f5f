"""Optional backend capabilities: which backends have them, and the harness using them.

The harness never names a backend kind: it asks ``isinstance(backend, Capability)`` and
takes the fast path exactly when the backend has it (batched generation, shared-prefix
scoring, token-window scoring, chat rendering, memory sizing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from arena.backends import (
    BatchGeneration,
    ChatRendering,
    LogLikelihood,
    MemorySizing,
    Message,
    ModelConfig,
    PrefixScoring,
    SamplingParams,
    TokenScoring,
    create_backend,
    for_harness,
    is_remote,
    model_config,
    request_pairs,
)
from arena.backends.fake import FakeBackend
from arena.harness import ModelRunner, RequestCache

CAPABILITIES = (BatchGeneration, ChatRendering, MemorySizing, PrefixScoring, TokenScoring)


def test_a_transformers_backend_has_every_capability_and_checking_loads_nothing(
    tiny_model_config: ModelConfig,
) -> None:
    backend = create_backend(tiny_model_config)
    try:
        assert all(isinstance(backend, c) for c in CAPABILITIES)
        assert not backend.ready  # isinstance only looks: the weights are not loaded
    finally:
        backend.close()


@pytest.mark.parametrize(
    "config",
    [
        model_config("f", "fake"),
        model_config("srv", "openai", base_url="http://127.0.0.1:9/v1", model="m"),
    ],
    ids=["fake", "openai"],
)
def test_other_backends_have_none_of_them(config: ModelConfig) -> None:
    backend = create_backend(config)
    try:
        assert not any(isinstance(backend, c) for c in CAPABILITIES)
    finally:
        backend.close()


def test_only_a_server_backend_is_remote() -> None:
    assert is_remote(model_config("srv", "openai", base_url="http://127.0.0.1:9/v1", model="m"))
    assert not is_remote(model_config("f", "fake"))


def test_what_a_harness_needs_before_the_backend_exists_comes_from_the_registry(
    tmp_path: Any,
) -> None:
    local = model_config("t", "transformers", path=str(tmp_path), batch_tokens=512)
    assert for_harness(local).options.batch_tokens == 1 << 30  # one call, one forward pass
    assert local.options.batch_tokens == 512  # the models file's own config is untouched
    fake = model_config("f", "fake")
    assert for_harness(fake) == fake
    srv = model_config(
        "srv", "openai", base_url="http://127.0.0.1:9/v1", model="m", logprobs_batch=5
    )
    assert request_pairs(srv) == 5
    assert request_pairs(fake) is None


class Batching(FakeBackend):
    """A fake backend with the batched-generation capability, counting its calls."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.batches: list[int] = []
        self.singles = 0

    def generate_batch(
        self, prompts: Sequence[str | Sequence[Message]], params: Sequence[SamplingParams]
    ) -> list[str]:
        self.batches.append(len(prompts))
        return [f"batched {p if isinstance(p, str) else p[-1].content}" for p in prompts]

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        self.singles += 1
        return super().complete(prompt, params)

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        self.singles += 1
        return super().generate(messages, params)


class PrefixScorer(FakeBackend):
    """A fake backend with shared-prefix scoring that says whether this model supports it."""

    def __init__(self, config: ModelConfig, supported: bool):
        super().__init__(config)
        self.supported = supported
        self.prefix_calls = 0

    def prefix_scoring_supported(self) -> bool:
        return self.supported

    def loglikelihood_shared_prefix(
        self, requests: Sequence[tuple[str, str]], batch_size: int
    ) -> list[LogLikelihood]:
        self.prefix_calls += 1
        return [LogLikelihood(-1.0, True) for _ in requests]


def run(backend: Any, call: str, *args: Any) -> Any:
    runner = ModelRunner(model_config("m", "fake"), RequestCache(None), factory=lambda c: backend)
    try:
        return getattr(runner, call)(*args)
    finally:
        runner.close()


def test_the_harness_batches_generation_exactly_when_the_backend_can(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompts: list[str | Sequence[Message]] = ["one", "two", [Message("user", "three")]]
    params = [SamplingParams(max_new_tokens=4)] * 3

    batching = Batching(model_config("m", "fake"))
    answers = run(batching, "generate", prompts, params)
    assert sorted(a["text"] for a in answers) == ["batched one", "batched three", "batched two"]
    assert (batching.batches, batching.singles) == ([3], 0)

    monkeypatch.setenv("ARENA_EVAL_NO_BATCHGEN", "1")  # the switch still turns it off
    off = Batching(model_config("m", "fake"))
    answers = run(off, "generate", prompts, params)
    assert (off.batches, off.singles) == ([], 3)
    assert not any(a["text"].startswith("batched") for a in answers)


@pytest.mark.parametrize("supported", [True, False])
def test_the_harness_scores_with_a_shared_prefix_exactly_when_supported(supported: bool) -> None:
    backend = PrefixScorer(model_config("m", "fake"), supported)
    requests = [("Question? Answer:", " A"), ("Question? Answer:", " B")]
    scores = run(backend, "loglikelihood", requests, [[0, 1]])
    assert (backend.prefix_calls > 0) == supported
    if supported:
        assert scores == [{"logprob": -1.0, "is_greedy": True}] * 2
    else:  # the backend's own loglikelihood
        assert all(s["logprob"] != -1.0 for s in scores)


def test_the_no_prefix_switch_turns_shared_prefix_scoring_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARENA_EVAL_NO_PREFIX", "1")
    backend = PrefixScorer(model_config("m", "fake"), supported=True)
    scores = run(backend, "loglikelihood", [("Question? Answer:", " A")], [[0]])
    assert backend.prefix_calls == 0
    assert scores[0]["logprob"] != -1.0  # the backend's own loglikelihood


def test_a_backend_without_chat_rendering_is_refused_with_a_clear_message() -> None:
    from arena.backends import BackendError

    with pytest.raises(BackendError, match="cannot render a chat template"):
        run(FakeBackend(model_config("m", "fake")), "render_chat", [Message("user", "hi")])

