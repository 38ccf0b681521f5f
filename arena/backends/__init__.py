"""Model backends shared by the voting web app and the evaluation harness.

A backend streams answers to chat conversations (:meth:`Backend.generate`), completes plain
prompts (:meth:`Backend.complete`) and scores ``(context, continuation)`` pairs
(:meth:`Backend.loglikelihood`). Backends are registered by name and imported only when a
model of that kind is made, so this package imports neither torch nor httpx::

    from arena.backends import Message, SamplingParams, create_backend, load_models

    models = {m.name: m for m in load_models()}          # the shipped default models file
    with create_backend(models["smollm2-135m-instruct"]) as model:
        for chunk in model.generate([Message("user", "Hi!")], SamplingParams(max_new_tokens=32)):
            print(chunk, end="", flush=True)

Built-in backends: ``transformers`` (local weights), ``openai`` (OpenAI-compatible servers),
``replay`` (pre-generated answers) and ``fake`` (deterministic, for tests).
"""

from __future__ import annotations

from arena.backends.base import (
    Backend,
    BackgroundLoad,
    BaseBackend,
    BatchGeneration,
    ChatRendering,
    LogLikelihood,
    MemorySizing,
    Message,
    ModelInfo,
    PrefixScoring,
    SamplingParams,
    StopFilter,
    TokenScoring,
    apply_stop,
    filter_stream,
)
from arena.backends.config import (
    ModelConfig,
    default_models_path,
    load_models,
    model_config,
    parse_models,
)
from arena.backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InvalidParams,
    MissingDependency,
    ModelsFileError,
    RequestRejected,
    UnsupportedOperation,
)
from arena.backends.registry import (
    BackendSpec,
    backend_identity,
    backend_spec,
    create_backend,
    for_harness,
    is_remote,
    known_backends,
    register_backend,
    request_pairs,
)
from arena.backends.transformers.weights import WeightsSource, resolve_source

__all__ = [
    "Backend",
    "BackendError",
    "BackendSpec",
    "BackendTimeout",
    "BackendUnavailable",
    "BackgroundLoad",
    "BaseBackend",
    "BatchGeneration",
    "ChatRendering",
    "InvalidParams",
    "LogLikelihood",
    "MemorySizing",
    "Message",
    "MissingDependency",
    "ModelConfig",
    "ModelInfo",
    "ModelsFileError",
    "PrefixScoring",
    "RequestRejected",
    "SamplingParams",
    "StopFilter",
    "TokenScoring",
    "UnsupportedOperation",
    "WeightsSource",
    "apply_stop",
    "backend_identity",
    "backend_spec",
    "create_backend",
    "default_models_path",
    "filter_stream",
    "for_harness",
    "is_remote",
    "known_backends",
    "load_models",
    "model_config",
    "parse_models",
    "register_backend",
    "request_pairs",
    "resolve_source",
]
