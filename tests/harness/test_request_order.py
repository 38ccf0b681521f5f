"""Requests to a server go out grouped by shared prefix; progress bars show rate and ETA.

A server with prefix caching (vLLM) computes a shared few-shot context once for the
requests in flight after the first one of a group; so the order in which
:class:`~arena.harness.ModelRunner` sends a server's requests keeps the requests
of one prefix together. Local backends keep their length order (alike lengths pad least).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from arena.backends import Message, ModelConfig, SamplingParams, create_backend, model_config
from arena.harness import (
    PREFIX_CLUSTER_CHARS,
    ModelRunner,
    RequestCache,
    RunOptions,
    evaluate,
    load_suite,
    prefix_order,
)

SUBJECTS = ("anatomy", "astronomy", "virology")


def fewshot(subject: str, question: str) -> str:
    """A prompt as a few-shot task writes it: a long shared context, then the question."""
    shots = "".join(f"Q: a {subject} question {k}?\nA: answer {k}\n\n" for k in range(5))
    return f"The following are questions about {subject}.\n\n{shots}Q: {question}\nA:"


def prefix_runs(prompts: Sequence[str]) -> int:
    """How many runs of equal prefix a sequence has (one per group when grouped)."""
    keys = [p[:PREFIX_CLUSTER_CHARS] for p in prompts]
    return sum(1 for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k)


def test_prefix_order_groups_by_prefix_longest_first() -> None:
    texts = [
        fewshot(s, "q" * n) for n, s in zip([3, 9, 1, 7, 5, 2], SUBJECTS * 2, strict=True)
    ]
    order = prefix_order(texts, range(len(texts)))
    assert sorted(order) == list(range(len(texts)))  # a permutation: nothing lost or repeated
    assert prefix_runs([texts[i] for i in order]) == len(SUBJECTS)
    # groups by their longest text, and longest first within each group
    assert order == [1, 4, 5, 2, 3, 0]
    # only the indices asked for (those not in the cache)
    assert sorted(prefix_order(texts, [5, 0, 2])) == [0, 2, 5]
    assert prefix_order(texts, []) == []


class Recorder:
    """A backend that records the prompts in the order they are sent (thread-safe)."""

    def __init__(self, config: ModelConfig):
        self._inner = create_backend(model_config(config.name, "fake"))
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        with self._lock:
            self.sent.append(prompt)
        return iter(["42"])

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        with self._lock:
            self.sent.append(messages[0].content)
        return iter(["42"])


def _run(config: ModelConfig, prompts: list[Any], concurrency: int) -> tuple[list[Any], Recorder]:
    made: list[Recorder] = []

    def factory(c: ModelConfig) -> Any:
        made.append(Recorder(c))
        return made[-1]

    runner = ModelRunner(config, RequestCache(None), concurrency=concurrency, factory=factory)
    params = [SamplingParams(max_new_tokens=8, temperature=0.0)] * len(prompts)
    try:
        answers = runner.generate(prompts, params)
    finally:
        runner.close()
    assert len(made) == 1  # one backend for the run, however many workers
    return answers, made[0]


def test_concurrent_workers_share_one_backend() -> None:
    made: list[Recorder] = []

    def slow_factory(c: ModelConfig) -> Any:
        time.sleep(0.2)  # every worker asks for the backend while the first is being made
        made.append(Recorder(c))
        return made[-1]

    remote = model_config("srv", "openai", base_url="http://127.0.0.1:9/v1", model="m")
    runner = ModelRunner(remote, RequestCache(None), concurrency=8, factory=slow_factory)
    prompts = [fewshot(SUBJECTS[k % 3], "why" * (k + 1)) for k in range(16)]
    try:
        answers = runner.generate(prompts, [SamplingParams(max_new_tokens=8)] * len(prompts))
    finally:
        runner.close()
    assert answers == [{"text": "42"}] * 16
    assert len(made) == 1
    assert sorted(made[0].sent) == sorted(prompts)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_servers_requests_are_sent_grouped_by_prefix(concurrency: int) -> None:
    # interleaved as a suite's rows come (subject after subject), lengths mixed
    prompts = [fewshot(SUBJECTS[k % 3], "why" * (k % 5 + 1)) for k in range(12)]
    assert prefix_runs(prompts) == 12
    remote = model_config("srv", "openai", base_url="http://127.0.0.1:9/v1", model="m")
    answers, backend = _run(remote, list(prompts), concurrency)
    assert answers == [{"text": "42"}] * 12  # every answer in its prompt's place
    assert sorted(backend.sent) == sorted(prompts)
    if concurrency == 1:
        assert prefix_runs(backend.sent) == len(SUBJECTS)
    else:  # the pool takes them in that order; at most the window's width reorders them
        assert prefix_runs(backend.sent) <= len(SUBJECTS) + 2 * concurrency

    # conversations too (the first turn carries the shared context)
    chats = [[Message("user", p)] for p in prompts]
    _, backend = _run(remote, chats, 1)
    assert prefix_runs(backend.sent) == len(SUBJECTS)


def test_a_local_backends_requests_keep_their_length_order() -> None:
    prompts = [fewshot(SUBJECTS[k % 3], "why" * (k % 5 + 1)) for k in range(9)]
    _, backend = _run(model_config("local", "fake"), list(prompts), 1)
    assert [len(p) for p in backend.sent] == sorted((len(p) for p in prompts), reverse=True)


#: tqdm's end state of a bar: "N/N [elapsed<remaining, rate unit/s]".
BAR = re.compile(r"(\d+)/\1 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?req/s\]")


def test_progress_bars_show_rate_and_eta_for_scoring_and_generation(
    fake_models: list[ModelConfig], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    options = RunOptions(progress=True, bootstrap_rounds=20)
    for task in ("smoke_mc", "smoke_gen"):  # log-likelihood scoring, then generation
        evaluate(
            load_suite("smoke"),
            fake_models[:1],
            output=tmp_path / task,
            options=dataclasses.replace(options, tasks=(task,)),
        )
        out, err = capfd.readouterr()
        bars = [line for line in re.split(r"[\r\n]", err) if f"| {task}" in line]
        assert bars, err
        assert BAR.search(bars[-1]), bars[-1]  # items/s and the ETA
        assert task not in out  # on stderr only: stdout stays for the table
