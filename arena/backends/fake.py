"""The ``fake`` backend: reproducible answers and scores without any model, for tests and demos.

Everything is derived from a SHA-256 of the model's name, its ``seed`` option and the prompt,
so the same prompt always gets the same answer (and the same failure, when ``fail_rate`` is
set), and two fake models with different seeds disagree. Sampling with a ``seed`` gives a
reproducible answer per seed; sampling without one gives a fresh answer each call.

With the ``judge`` option the model is a predictable pairwise judge (MT-Bench layout): it
prefers the longer (or shorter) of the two answers it is shown, whatever their order, which
is what the tests of judge battles need to know the winners beforehand.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from collections.abc import Iterator, Sequence

from arena.backends.base import (
    BaseBackend,
    LogLikelihood,
    Message,
    ModelInfo,
    SamplingParams,
    filter_stream,
)
from arena.backends.config import ModelConfig
from arena.backends.errors import BackendError, BackendTimeout, BackendUnavailable
from arena.backends.options import FakeOptions

__all__ = ["FakeBackend", "fake_verdict"]

#: The two answers of a pairwise judge prompt: MT-Bench's single-turn and multi-turn layouts.
_JUDGED = (
    re.compile(
        r"\[The Start of Assistant (?P<side>[AB])'s Answer\]\n?(?P<text>.*?)\n?"
        r"\[The End of Assistant (?P=side)'s Answer\]",
        re.DOTALL,
    ),
    re.compile(
        r"<\|The Start of Assistant (?P<side>[AB])'s Conversation with User\|>(?P<text>.*?)"
        r"<\|The End of Assistant (?P=side)'s Conversation with User\|>",
        re.DOTALL,
    ),
)

_WORDS = (
    "the",
    "model",
    "answers",
    "this",
    "question",
    "with",
    "a",
    "short",
    "and",
    "careful",
    "reply",
    "about",
    "data",
    "evaluation",
    "ratings",
    "battles",
    "prompts",
    "tokens",
    "arena",
    "paris",
    "london",
    "river",
    "mountain",
    "seven",
    "blue",
    "quickly",
    "because",
    "however",
    "therefore",
    "example",
    "simple",
    "result",
    "people",
    "often",
    "think",
    "consider",
)


def fake_verdict(prompt: str, prefer: str) -> str | None:
    """The fake judge's answer to ``prompt``, or None when it holds no pair of answers.

    ``prefer`` is ``"longer"`` or ``"shorter"``: the verdict goes to that answer (counted
    in words), ``[[C]]`` when both are as long.
    """
    for pattern in _JUDGED:
        texts = {m["side"]: m["text"] for m in pattern.finditer(prompt)}
        if set(texts) == {"A", "B"}:
            a, b = len(texts["A"].split()), len(texts["B"].split())
            if a == b:
                return "Both answers are equally long. [[C]]"
            longer = "A" if a > b else "B"
            side = longer if prefer == "longer" else ("B" if longer == "A" else "A")
            return f"Assistant {side}'s answer is {prefer}. [[{side}]]"
    return None


class FakeBackend(BaseBackend):
    """Deterministic pseudo-model; see the module docstring."""

    def __init__(self, config: ModelConfig):
        opts: FakeOptions = config.options
        super().__init__(config.info(context_length=opts.context_length, source="fake"))
        self._opts = opts
        if opts.load_time == 0:
            self._loaded = True

    def _load(self) -> ModelInfo | None:
        time.sleep(self._opts.load_time)
        return None

    def _hash(self, *parts: str) -> int:
        text = "\x1f".join((self._info.name, str(self._opts.seed), *parts))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")

    def answer(self, prompt: str, params: SamplingParams) -> str:
        """The full answer to ``prompt`` (before stop sequences), as it would be streamed."""
        if params.greedy:
            salt = "greedy"
        elif params.seed is not None:
            salt = f"seed={params.seed}"
        else:
            salt = os.urandom(8).hex()
        h = self._hash("answer", salt, prompt)
        verdict = fake_verdict(prompt, self._opts.judge) if self._opts.judge else None
        if verdict is not None:
            text = verdict
        elif self._opts.answers:
            text = self._opts.answers[h % len(self._opts.answers)]
        else:
            rng = random.Random(h)
            n = 6 + h % 30
            words = [rng.choice(_WORDS) for _ in range(n)]
            words[0] = words[0].capitalize()
            text = " ".join(words) + "."
        pieces = re.findall(r"\S+\s*", text)
        return "".join(pieces[: params.max_new_tokens])

    def _failure(self, operation: str, prompt: str) -> BackendError | None:
        if self._opts.fail_rate == 0:
            return None
        if (self._hash("fail", prompt) % 1_000_000) / 1_000_000 >= self._opts.fail_rate:
            return None
        name = self._info.name
        if self._opts.fail_with == "timeout":
            return BackendTimeout(name, operation, "fake timeout (fail_rate option)")
        if self._opts.fail_with == "error":
            return BackendError(name, operation, "fake error (fail_rate option)")
        return BackendUnavailable(name, operation, "fake outage (fail_rate option)")

    def _stream(self, operation: str, prompt: str, params: SamplingParams) -> Iterator[str]:
        self.load()
        text = self.answer(prompt, params)
        failure = self._failure(operation, prompt)
        words = re.findall(r"\S+\s*|\s+", text)
        n = self._opts.chunk_words
        chunks = ["".join(words[i : i + n]) for i in range(0, len(words), n)]

        def produce() -> Iterator[str]:
            for i, chunk in enumerate(chunks):
                if failure is not None and i == self._opts.fail_after:
                    raise failure
                if i == 0 and self._opts.first_delay:
                    time.sleep(self._opts.first_delay)
                if i == self._opts.stall_after:
                    time.sleep(self._opts.stall_time)
                if self._opts.latency:
                    time.sleep(self._opts.latency)
                yield chunk
            if failure is not None:
                raise failure

        return filter_stream(produce(), params.stop)

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream a pseudo-answer keyed on the whole conversation."""
        prompt = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return self._stream("generate", prompt, params)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream a pseudo-continuation of ``prompt``."""
        return self._stream("complete", "\x00plain\x00" + prompt, params)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Pseudo-scores: per word, a log-probability in [-5, -0.1]; greedy for about 1 in 4."""
        self.load()
        out = []
        for context, continuation in requests:
            failure = self._failure("loglikelihood", context)
            if failure is not None:
                raise failure
            h = self._hash("loglikelihood", context, continuation)
            n_words = max(1, len(continuation.split()))
            per_word = 0.1 + (h % 10_000) / 10_000 * 4.9
            out.append(LogLikelihood(-per_word * n_words, (h >> 32) % 4 == 0))
        return out
