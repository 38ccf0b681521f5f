"""Registrations of the built-in backends; each factory imports its implementation when called."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from arena.backends.options import FakeOptions, OpenAIOptions, ReplayOptions, TransformersOptions
from arena.backends.registry import register_backend
from arena.backends.transformers.weights import weights_identity

if TYPE_CHECKING:
    from arena.backends.base import Backend
    from arena.backends.config import ModelConfig


@register_backend("fake", options=FakeOptions)
def fake() -> Callable[[ModelConfig], Backend]:
    """Deterministic answers and scores, for tests and demos (no dependencies)."""
    from arena.backends.fake import FakeBackend

    return FakeBackend


@register_backend("replay", options=ReplayOptions)
def replay() -> Callable[[ModelConfig], Backend]:
    """Answers read from a JSONL file generated beforehand (no dependencies)."""
    from arena.backends.replay import ReplayBackend

    return ReplayBackend


@register_backend(
    "openai",
    options=OpenAIOptions,
    requires=("httpx",),
    extra="api",
    remote=True,
    request_pairs=lambda opts: int(opts.logprobs_batch),
)
def openai() -> Callable[[ModelConfig], Backend]:
    """Any OpenAI-compatible HTTP server (vLLM, TGI, Ollama, llama.cpp server, hosted APIs)."""
    from arena.backends.openai import OpenAIBackend

    return OpenAIBackend


@register_backend(
    "transformers",
    options=TransformersOptions,
    requires=("torch", "transformers"),
    extra="hf",
    identity=weights_identity,
    # a harness makes its own batches: no token budget of the backend's, one call one pass
    harness_options=lambda opts: dataclasses.replace(opts, batch_tokens=1 << 30),
)
def transformers() -> Callable[[ModelConfig], Backend]:
    """Local weights (Hugging Face directories or GGUF files) run in-process with PyTorch."""
    from arena.backends.transformers.backend import TransformersBackend

    return TransformersBackend
