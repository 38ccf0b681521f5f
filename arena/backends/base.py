"""The backend protocol and the typed records every backend takes and returns.

A backend answers three kinds of request, the ones the web app and the harness need:

- :meth:`Backend.generate`: a chat conversation in, the answer streamed out as text chunks;
- :meth:`Backend.complete`: a plain (non-chat) prompt in, its continuation streamed out;
- :meth:`Backend.loglikelihood`: ``(context, continuation)`` pairs in, the log-probability
  of each continuation and whether greedy decoding would have produced it (multiple choice).

Stop sequences are applied by every backend, and never emitted. Backends that take time to
load (local weights) load lazily on first use, or ahead of time in a background thread with
:meth:`Backend.load_async`, so a web page can answer while the model loads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple, Protocol, Self, runtime_checkable

from arena.backends.errors import BackendError, InvalidParams, UnsupportedOperation
from arena.errors import UserError

__all__ = [
    "ROLES",
    "Backend",
    "BackgroundLoad",
    "BaseBackend",
    "BatchGeneration",
    "ChatRendering",
    "LogLikelihood",
    "MemorySizing",
    "Message",
    "ModelInfo",
    "PrefixScoring",
    "Role",
    "SamplingParams",
    "StopFilter",
    "TokenScoring",
    "apply_stop",
    "filter_stream",
]

Role = Literal["system", "user", "assistant"]

#: The message roles every backend understands.
ROLES: tuple[str, ...] = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One turn of a chat conversation.

    Attributes
    ----------
    role:
        ``"system"``, ``"user"`` or ``"assistant"``.
    content:
        The turn's text.
    """

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise InvalidParams(
                f"message role must be one of {', '.join(ROLES)}, got {self.role!r}"
            )
        if not isinstance(self.content, str):
            raise InvalidParams(
                f"message content must be a string, got {type(self.content).__name__}"
            )

    def to_dict(self) -> dict[str, str]:
        """``{"role", "content"}``: the shape of chat APIs, chat templates and battle logs."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class SamplingParams:
    """How to decode an answer.

    Attributes
    ----------
    max_new_tokens:
        Upper bound on generated tokens (backends without a tokenizer approximate it).
    temperature:
        0 means greedy decoding; above 0, sampling from the tempered distribution.
    top_p:
        Nucleus sampling: sample from the smallest set of tokens whose probability
        reaches ``top_p`` (1.0 keeps all). Ignored when greedy.
    seed:
        Seed for sampling, so a sampled answer can be reproduced; None for a fresh draw.
    stop:
        Strings that end the answer; the answer is cut before the first one, which is
        never emitted.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int):
            raise InvalidParams(f"max_new_tokens must be an integer, got {self.max_new_tokens!r}")
        if self.max_new_tokens < 1:
            raise InvalidParams(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not self.temperature >= 0.0:
            raise InvalidParams(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidParams(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.stop, tuple) or not all(isinstance(s, str) for s in self.stop):
            raise InvalidParams(f"stop must be a tuple of strings, got {self.stop!r}")
        if any(s == "" for s in self.stop):
            raise InvalidParams("stop sequences must not be empty strings")

    @property
    def greedy(self) -> bool:
        """Whether decoding is deterministic argmax (temperature 0)."""
        return self.temperature == 0.0


class LogLikelihood(NamedTuple):
    """Score of one ``(context, continuation)`` pair.

    Attributes
    ----------
    logprob:
        Sum of the natural-log probabilities of the continuation's tokens given the context.
    is_greedy:
        Whether greedy decoding from the context would produce exactly those tokens.
    """

    logprob: float
    is_greedy: bool


@dataclass(frozen=True)
class ModelInfo:
    """What a model is, for leaderboards, battle records and result files.

    Attributes
    ----------
    name:
        Unique name in the models file (what battles and results refer to).
    backend:
        Registered backend name (``"transformers"``, ``"openai"``, ...).
    display_name:
        Human-readable name shown once a battle is decided.
    organization:
        Who made the model.
    codename:
        Anonymous name shown during battles instead of the real one, if any.
    licence:
        Licence of the weights or the service's terms.
    context_length:
        Longest prompt plus answer in tokens, when known.
    source:
        Where answers come from: a weights file or directory, a server URL and model id,
        a replay file.
    weights_sha256:
        Content hash of the local weights (the GGUF or safetensors file), which pins the
        model's identity; None for remote models, or before a lazy model is loaded.
    """

    name: str
    backend: str
    display_name: str
    organization: str = ""
    codename: str | None = None
    licence: str = ""
    context_length: int | None = None
    source: str | None = None
    weights_sha256: str | None = None

    def metadata(self) -> dict[str, Any]:
        """The record as a JSON-serialisable dict (what result files embed)."""
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """What every model backend does. Implementations are registered by name in the registry.

    Errors are :class:`~arena.backends.errors.BackendError` naming the model and the
    operation: :class:`~arena.backends.errors.UnsupportedOperation` when the backend cannot do
    it at all, :class:`~arena.backends.errors.BackendUnavailable` (and its subclass
    ``BackendTimeout``) when trying again later may work. The streaming methods may raise
    when called (bad prompt, model fails to load) or while being iterated (the connection
    drops); closing the iterator early stops the work behind it.
    """

    @property
    def info(self) -> ModelInfo:
        """Identity of the model (filled in further once a lazy model has loaded)."""
        ...

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and answers without a loading delay."""
        ...

    def load(self) -> None:
        """Load the model now, blocking; does nothing when already loaded."""
        ...

    def load_async(self) -> Future[None]:
        """Start loading in a background thread; the future completes when :attr:`ready`."""
        ...

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream the answer to a chat conversation as text chunks, stop sequences applied."""
        ...

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream the continuation of a plain prompt as text chunks, stop sequences applied."""
        ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Score each ``(context, continuation)`` pair, in the order given."""
        ...

    def close(self) -> None:
        """Release the model's resources (memory, connections); the backend is unusable after."""
        ...

    def __enter__(self) -> Self:
        """Use as a context manager that closes the backend on exit."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Close the backend."""
        ...


# ---------------------------------------------------------------------------- capabilities
# Optional abilities a backend may have beyond the three requests of :class:`Backend`. The
# harness asks ``isinstance(backend, Capability)`` and takes the fast path when it can; it
# never names a backend kind. Methods only (no properties): an ``isinstance`` check must
# not load a model.


@runtime_checkable
class BatchGeneration(Protocol):
    """Answers many requests in one padded batch (local weights), as an evaluation wants.

    Each answer equals what :meth:`Backend.complete` (a string) or
    :meth:`Backend.generate` (a conversation) gives for the same request.
    """

    def generate_batch(
        self, prompts: Sequence[str | Sequence[Message]], params: Sequence[SamplingParams]
    ) -> list[str]:
        """The answers to ``prompts`` (plain strings or conversations), in their order."""
        ...


@runtime_checkable
class TokenScoring(Protocol):
    """Scores token-id windows, for the rolling log-likelihood of whole texts.

    A text longer than the context is scored in disjoint windows (lm-evaluation-harness's
    rolling windows), which needs the model's own token ids.
    """

    def text_token_ids(self, text: str) -> list[int]:
        """The token ids of ``text``, without special tokens."""
        ...

    def window_start_token(self) -> int:
        """The token that stands before the first window (BOS, else EOS)."""
        ...

    def loglikelihood_tokens(
        self, pairs: Sequence[tuple[list[int], list[int]]]
    ) -> list[LogLikelihood]:
        """Score already-tokenized ``(context, continuation)`` pairs."""
        ...


@runtime_checkable
class PrefixScoring(Protocol):
    """Scores ``(context, continuation)`` pairs with each shared context computed once.

    Multiple choice asks for several continuations of one long (few-shot) context; a
    backend with this capability runs the context once for all of them. The scores equal
    :meth:`Backend.loglikelihood`'s.
    """

    def prefix_scoring_supported(self) -> bool:
        """Whether this model can be scored so (some architectures cannot)."""
        ...

    def loglikelihood_shared_prefix(
        self, requests: Sequence[tuple[str, str]], batch_size: int
    ) -> list[LogLikelihood]:
        """Score ``requests``; ``batch_size`` bounds the rows of one forward pass."""
        ...


@runtime_checkable
class ChatRendering(Protocol):
    """Writes a conversation as the model reads it (its chat template or transcript format)."""

    def render(self, messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
        """The prompt text of ``messages`` and the stop sequences its format implies."""
        ...

    def chat_template(self) -> str | None:
        """The chat template's source text (None: the model has none)."""
        ...


@runtime_checkable
class MemorySizing(Protocol):
    """Estimates the memory one scored document takes, so batches fit the machine."""

    def document_bytes(self, width_chars: int, n_cont_tokens: int) -> int:
        """Bytes one scored document takes in one forward pass (activations and logits).

        ``width_chars``: the document's length in characters; ``n_cont_tokens``: its
        continuation tokens, whose logits are kept.
        """
        ...


class BackgroundLoad:
    """A load run at most once in a daemon thread, its outcome kept in one future.

    ``start`` returns the same future on every call, so concurrent callers share one
    load; the load's exception, if any, is the future's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards _future, never held while loading
        self._future: Future[None] | None = None

    def start(self, load: Callable[[], None], name: str) -> Future[None]:
        """Run ``load`` in a thread called ``name`` unless it was started before."""
        with self._lock:
            if self._future is not None:
                return self._future
            future: Future[None] = Future()
            self._future = future

        def run() -> None:
            future.set_running_or_notify_cancel()
            try:
                load()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=run, name=name, daemon=True).start()
        return future


class BaseBackend:
    """Shared plumbing for backends: lazy and background loading, unsupported operations.

    Subclasses set :attr:`_info` in ``__init__``, override :meth:`_load` when they have
    something slow to load (it may return an updated :class:`ModelInfo`), and override the
    operations they support. Operations they do not support raise
    :class:`UnsupportedOperation` naming the model.
    """

    _info: ModelInfo

    def __init__(self, info: ModelInfo):
        self._info = info
        self._load_lock = threading.Lock()  # held while loading
        self._loaded = False
        self._load_error: UserError | None = None
        self._background = BackgroundLoad()
        self._closed = False

    # -- identity and loading -----------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        """Identity of the model."""
        return self._info

    @property
    def ready(self) -> bool:
        """Whether the model is loaded."""
        return self._loaded

    def _load(self) -> ModelInfo | None:
        """Do the slow part of loading; return an updated info, or None to keep it."""
        return None

    def load(self) -> None:
        """Load the model (once); a failed load is re-raised on every later call."""
        if self._loaded:
            return
        with self._load_lock:
            if self._closed:
                raise BackendError(self._info.name, "load", "the backend was closed")
            if self._loaded:
                return
            if self._load_error is not None:
                raise self._load_error
            try:
                info = self._load()
            except UserError as exc:
                self._load_error = exc
                raise
            except Exception as exc:
                self._load_error = BackendError(
                    self._info.name, "load", f"{type(exc).__name__}: {exc}"
                )
                raise self._load_error from exc
            if info is not None:
                self._info = info
            self._loaded = True

    def load_async(self) -> Future[None]:
        """Load in a daemon thread; calling again returns the same future."""
        return self._background.start(self.load, f"load-{self._info.name}")

    # -- operations -----------------------------------------------------------------------

    def _unsupported(self, operation: str, why: str) -> UnsupportedOperation:
        return UnsupportedOperation(
            self._info.name, operation, f"the '{self._info.backend}' backend {why}"
        )

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Chat generation; not supported unless a subclass says otherwise."""
        raise self._unsupported("generate", "cannot answer chat conversations")

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Plain-prompt completion; not supported unless a subclass says otherwise."""
        raise self._unsupported("complete", "cannot complete plain prompts")

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Log-likelihood scoring; not supported unless a subclass says otherwise."""
        raise self._unsupported("loglikelihood", "cannot score log-likelihoods")

    def close(self) -> None:
        """Mark the backend closed; subclasses free their resources too."""
        with self._load_lock:
            self._closed = True
            self._loaded = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._info.name!r}, ready={self.ready})"


# -- stop sequences ---------------------------------------------------------------------------


class StopFilter:
    """Cut a stream of text chunks before the first stop sequence, across chunk borders.

    Text that might be the start of a stop sequence is held back until the next chunk
    shows whether it is; so a stop sequence is never emitted, even in part.

    Parameters
    ----------
    stop:
        The stop sequences (empty strings are ignored).
    """

    def __init__(self, stop: Iterable[str]):
        self._stop = tuple(dict.fromkeys(s for s in stop if s))
        self._buffer = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Feed a chunk; return the text that is now safe to emit (may be empty)."""
        if self.stopped:
            return ""
        if not self._stop:
            return text
        self._buffer += text
        return self._drain(final=False)

    def flush(self) -> str:
        """End of stream: return what was held back, cut at a stop sequence if it has one."""
        return "" if self.stopped else self._drain(final=True)

    def _drain(self, *, final: bool) -> str:
        buf = self._buffer
        found = [i for i in (buf.find(s) for s in self._stop) if i >= 0]
        cut = min(found) if found else -1
        if not final:
            # A stop that starts before ``cut`` (or anywhere in the tail) but is not complete
            # yet may still appear: hold back from its start until the next chunk decides.
            longest = max(len(s) for s in self._stop)
            for j in range(max(0, len(buf) - longest + 1), cut if cut >= 0 else len(buf)):
                tail = buf[j:]
                if any(len(tail) < len(s) and s.startswith(tail) for s in self._stop):
                    self._buffer = tail
                    return buf[:j]
        self._buffer = ""
        if cut >= 0:
            self.stopped = True
            return buf[:cut]
        return buf


def apply_stop(text: str, stop: Iterable[str]) -> str:
    """Cut a whole text before the first stop sequence."""
    f = StopFilter(stop)
    return f.push(text) + f.flush()


class _Strip:
    """Drop the whitespace around a streamed text: leading at once, trailing at the end.

    Trailing whitespace of a chunk is held back until non-whitespace follows it, so what was
    emitted is always the stripped text so far.
    """

    def __init__(self) -> None:
        self._started = False
        self._held = ""

    def push(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        body = text.rstrip()
        if not body:
            self._held += text
            return ""
        out = self._held + body
        self._held = text[len(body) :]
        return out


def filter_stream(
    chunks: Iterable[str],
    stop: Iterable[str] | StopFilter,
    *,
    strip: bool = False,
) -> Iterator[str]:
    """Yield the non-empty chunks of ``chunks`` with stop sequences applied.

    Stops consuming ``chunks`` at the first stop sequence and closes it (when it is a
    generator), so the producer can stop working too. A stop sequence ends the answer
    wherever it appears: inside a chunk, across chunks, mid-line. With ``strip``, the
    whitespace at the start and at the end of the answer is dropped too (the separators of
    a transcript format such as ``Assistant: ...`` followed by a blank line and ``User:``).
    ``stop`` may be a :class:`StopFilter`, whose ``stopped`` then tells the caller afterwards
    whether a stop sequence ended the answer.
    """
    f = stop if isinstance(stop, StopFilter) else StopFilter(stop)
    trim = _Strip() if strip else None
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            out = f.push(chunk)
            if trim is not None:
                out = trim.push(out)
            if out:
                yield out
            if f.stopped:
                return
        tail = f.flush()
        if trim is not None:
            tail = trim.push(tail)
        if tail:
            yield tail
    finally:
        close: Callable[[], object] | None = getattr(iterator, "close", None)
        if close is not None:
            close()
