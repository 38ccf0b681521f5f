"""The ``replay`` backend: answers generated beforehand for a fixed prompt set, served from a file.

Use it to put a model into battles or suites without running it: generate its answers once
(anywhere), write them as JSONL, and replay them. Each line is either::

    {"prompt": "What is 2+2?", "answer": "4"}

or, with the ``prompts`` option pointing at a file of ``{"id": ..., "prompt": ...}`` lines::

    {"id": "q17", "answer": "4"}

Prompts are matched exactly after normalisation (Unicode NFC, runs of whitespace collapsed to
one space, ends stripped). Only single-turn conversations can be replayed (an optional system
turn is ignored). Answers are streamed word by word with stop sequences applied;
``max_new_tokens`` is not applied, as there is no tokenizer. Log-likelihoods are not available.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from arena.backends.base import BaseBackend, Message, SamplingParams, filter_stream
from arena.backends.config import ModelConfig
from arena.backends.errors import BackendError
from arena.backends.options import ReplayOptions
from arena.io import JsonlLineError, iter_jsonl

__all__ = ["ReplayBackend", "normalise_prompt"]


def normalise_prompt(text: str) -> str:
    """The lookup key of a prompt: NFC, whitespace runs collapsed to one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _read_jsonl(path: Path, model: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise BackendError(model, "load", f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(model, "load", f"{path}: cannot read the file: {exc}") from None
    try:
        yield from iter_jsonl(lines)
    except JsonlLineError as exc:
        raise BackendError(model, "load", f"{path}, {exc}") from None


class ReplayBackend(BaseBackend):
    """Serve pre-generated answers; the file is read and checked when the backend is made."""

    def __init__(self, config: ModelConfig):
        opts: ReplayOptions = config.options
        self._opts = opts
        self._path = config.resolve(opts.path)
        super().__init__(config.info(source=str(self._path)))
        self._answers = self._read(config)
        self._loaded = True

    def _read(self, config: ModelConfig) -> dict[str, str]:
        name = config.name
        prompts_by_id: dict[str, str] = {}
        prompts_path = config.resolve(self._opts.prompts) if self._opts.prompts else None
        if prompts_path is not None:
            for n, obj in _read_jsonl(prompts_path, name):
                pid, prompt = obj.get("id"), obj.get("prompt")
                if (
                    not isinstance(pid, str | int)
                    or isinstance(pid, bool)
                    or not isinstance(prompt, str)
                ):
                    raise BackendError(
                        name,
                        "load",
                        f'{prompts_path}, line {n}: expected {{"id": ..., "prompt": "..."}}',
                    )
                prompts_by_id[str(pid)] = prompt
        answers: dict[str, str] = {}
        for n, obj in _read_jsonl(self._path, name):
            where = f"{self._path}, line {n}"
            answer = obj.get("answer")
            if not isinstance(answer, str):
                raise BackendError(name, "load", f"{where}: expected a string 'answer'")
            if isinstance(obj.get("prompt"), str):
                prompt = obj["prompt"]
            elif "id" in obj:
                if prompts_path is None:
                    raise BackendError(
                        name,
                        "load",
                        f"{where}: answer keyed by id {obj['id']!r}, but the model has no "
                        '\'prompts\' option naming the file of {"id", "prompt"} lines',
                    )
                if str(obj["id"]) not in prompts_by_id:
                    raise BackendError(
                        name, "load", f"{where}: id {obj['id']!r} is not in {prompts_path}"
                    )
                prompt = prompts_by_id[str(obj["id"])]
            else:
                raise BackendError(name, "load", f"{where}: expected a string 'prompt' or an 'id'")
            key = normalise_prompt(prompt)
            if key in answers and answers[key] != answer:
                raise BackendError(
                    name, "load", f"{where}: a different answer for the same prompt came earlier"
                )
            answers[key] = answer
        if not answers:
            raise BackendError(name, "load", f"{self._path}: no answers in the file")
        return answers

    @property
    def prompts(self) -> tuple[str, ...]:
        """The (normalised) prompts this model can answer."""
        return tuple(self._answers)

    def _lookup(self, operation: str, prompt: str) -> str:
        key = normalise_prompt(prompt)
        if key not in self._answers:
            excerpt = key if len(key) <= 80 else key[:77] + "..."
            raise BackendError(
                self._info.name,
                operation,
                f"no pre-generated answer for the prompt {excerpt!r} in {self._path} "
                f"({len(self._answers)} prompts); replay models only answer their fixed prompt set",
            )
        return self._answers[key]

    def _stream(self, answer: str, params: SamplingParams) -> Iterator[str]:
        words = re.findall(r"\S+\s*|\s+", answer)
        n = self._opts.chunk_words

        def produce() -> Iterator[str]:
            for i in range(0, len(words), n):
                if self._opts.latency:
                    time.sleep(self._opts.latency)
                yield "".join(words[i : i + n])

        return filter_stream(produce(), params.stop)

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream the stored answer to a single-turn conversation."""
        turns = [m for m in messages if m.role != "system"]
        if len(turns) != 1 or turns[0].role != "user":
            raise BackendError(
                self._info.name,
                "generate",
                f"replay models answer single-turn prompts only, got {len(turns)} non-system turns",
            )
        return self._stream(self._lookup("generate", turns[0].content), params)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream the stored answer to a plain prompt."""
        return self._stream(self._lookup("complete", prompt), params)
