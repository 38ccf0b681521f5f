"""Ask one model many requests: cached, batched by length, retried, in parallel for servers.

:class:`ModelRunner` wraps one backend. Every request is looked up in the
:class:`~arena.harness._cache.RequestCache` first; the missing ones are sorted longest
first (for a server, grouped by shared prefix first, see :func:`prefix_order`), cut into
batches, sent, and stored after each batch. A batch that fails with a
transient error (:class:`~arena.backends.BackendUnavailable`) is retried with exponential
back-off; one that still fails is split into single requests so that only the failing ones
are recorded as failed (``{"error": ...}``), never dropped. A refusal (HTTP 4xx) is never
retried, and a server that refuses the first requests for good gets no more (see
:class:`_Breaker`): the rest are recorded as failed with that error, instead of being
refused one by one. Remote backends get a thread pool (``concurrency``); local ones run
batches one after the other (torch uses the cores).

The model is created, and loaded, only when a request is not in the cache, so resuming a
finished run does not load any weights. A fresh run knows every request will be asked, so
:meth:`ModelRunner.prefetch` starts loading (torch and transformers imports, weights) in a
background thread while the samples are still being prepared.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from arena.backends import (
    Backend,
    BackendError,
    BackendUnavailable,
    BatchGeneration,
    ChatRendering,
    MemorySizing,
    Message,
    ModelConfig,
    PrefixScoring,
    RequestRejected,
    SamplingParams,
    TokenScoring,
    UnsupportedOperation,
    backend_identity,
    create_backend,
    for_harness,
    is_remote,
    request_pairs,
)
from arena.harness._cache import RequestCache, request_key
from arena.harness._data import messages_json

__all__ = ["ModelRunner", "model_identity", "prefix_order"]

#: Memory one scoring or generation batch may use, at most (the rest is left to the system).
_BATCH_MEMORY_CAP = 2 << 30
#: Documents whose contexts start with the same characters are batched together.
PREFIX_CLUSTER_CHARS = 160
#: Largest automatic batch (documents per forward pass); larger batches gain nothing on CPU.
_AUTO_MAX_BATCH = 64

BackendFactory = Callable[[ModelConfig], Backend]


def model_identity(config: ModelConfig) -> dict[str, Any]:
    """What pins a model's answers: name, backend, options and (local weights) their SHA-256.

    The weights are hashed without loading them, so cached answers are found before (and
    instead of) loading the model.
    """
    options: dict[str, Any] = (
        dataclasses.asdict(config.options) if dataclasses.is_dataclass(config.options) else {}  # type: ignore[arg-type]
    )
    options.pop("batch_tokens", None)  # does not change answers
    ident: dict[str, Any] = {"name": config.name, "backend": config.backend, "options": options}
    ident.update(backend_identity(config))  # local weights: their hash
    return ident


def _available_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


#: Refusals in a row, before any success, after which the rest of an operation is not sent.
_REFUSALS_TO_STOP = 3


class _Breaker:
    """Stops sending an operation's requests once the server has shown it refuses them all.

    A refusal (:class:`~arena.backends.RequestRejected`, HTTP 4xx but 429) or an
    :class:`~arena.backends.UnsupportedOperation` is never retried, and a batch that fails
    with one is split into single requests so that only the bad ones fail. But a server
    that cannot do the operation at all (no prompt log-probabilities, a field it does not
    take) would then refuse every request one by one. So: a key or permission refusal (401,
    403) or an operation the backend says it cannot do stops at once; other refusals stop
    after :data:`_REFUSALS_TO_STOP` in a row while nothing has succeeded yet. The requests
    not sent are recorded as failed with that first error. Once a request has succeeded,
    refusals are taken as about their own request and never stop the rest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._succeeded = False
        self._refusals = 0
        self._first: BackendError | None = None
        self.reason: str | None = None

    def succeeded(self) -> None:
        with self._lock:
            self._succeeded = True

    def failed(self, exc: BackendError) -> None:
        if not isinstance(exc, UnsupportedOperation | RequestRejected):
            return  # transient (already retried) or malformed: about this request only
        with self._lock:
            if self._succeeded or self.reason is not None:
                return
            self._first = self._first or exc
            self._refusals += 1
            at_once = exc.status in (401, 403) or (
                isinstance(exc, UnsupportedOperation) and exc.status is None
            )
            if at_once or self._refusals >= _REFUSALS_TO_STOP:
                self.reason = (
                    f"not sent: the first {self._refusals} request(s) were refused for good, "
                    f"so the rest would be too: {self._first}"
                )


class ModelRunner:
    """Cached, batched access to one model; see the module docstring.

    Parameters
    ----------
    config:
        The model's entry of the models file.
    cache:
        Where answers are stored.
    batch_size:
        Documents per batch; None chooses from a memory estimate (local models) or 32.
    concurrency:
        Parallel requests to a remote backend (``openai``); local backends use 1.
    retries:
        Retries of a transiently failing batch before its requests are recorded as failed.
    factory:
        Makes the backend (tests pass their own).
    """

    def __init__(
        self,
        config: ModelConfig,
        cache: RequestCache,
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        factory: BackendFactory = create_backend,
    ):
        self.config = config
        self.cache = cache
        self.batch_size = batch_size
        self.remote = is_remote(config)
        self.concurrency = concurrency or (8 if self.remote else 1)
        self.retries = retries
        self.backoff = backoff
        self._factory = factory
        self._backend: Backend | None = None
        self.identity = model_identity(config)
        self.identity_hash = hashlib.sha256(
            json.dumps(self.identity, sort_keys=True, default=str).encode()
        ).hexdigest()
        self.load_seconds: float | None = None
        self._prefetch: threading.Thread | None = None
        self._prefetch_error: BaseException | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._load_lock = threading.Lock()  # one backend, even when worker threads race

    # -- the backend --------------------------------------------------------------------------

    def prefetch(self) -> None:
        """Start creating and loading a local backend in a background thread.

        For a run that will send requests (not a resumed one, whose answers may all be
        cached): the imports and the weights load while the caller prepares the samples,
        and the first request waits only for what is left. A load that fails is re-raised
        by the first use of :attr:`backend`. Remote backends have nothing to load.
        """
        if self.remote or self._backend is not None or self._prefetch is not None:
            return

        def load() -> None:
            try:
                backend = self._make_backend()
            except BaseException as exc:  # re-raised in the caller's thread
                self._prefetch_error = exc
                return
            with self._close_lock:
                if self._closed:  # the run stopped meanwhile: nobody else will close it
                    backend.close()
                else:
                    self._backend = backend

        self._prefetch = threading.Thread(target=load, name=f"load {self.config.name}", daemon=True)
        self._prefetch.start()

    def _make_backend(self) -> Backend:
        config = for_harness(self.config)  # the harness batches: one call, one pass
        start = time.perf_counter()
        backend = self._factory(config)
        backend.load()
        self.load_seconds = time.perf_counter() - start
        return backend

    @property
    def backend(self) -> Backend:
        """The backend, created and loaded on first use (or waited for, when prefetched).

        Thread-safe: the worker threads of a concurrent run that ask at once share the one
        backend the first of them makes.
        """
        backend = self._backend
        if backend is not None:
            return backend
        with self._load_lock:
            if self._backend is None and self._prefetch is not None:
                self._prefetch.join()
                self._prefetch = None
                error, self._prefetch_error = self._prefetch_error, None
                if error is not None:
                    raise error
            if self._backend is None:
                self._backend = self._make_backend()
            return self._backend

    def _backend_or_none(self) -> Backend | None:
        """The backend, or None when it cannot be made or loaded.

        For choosing a fast path before the requests are sent: a load that fails is then
        raised again by the first request, which records it as that request's error (and
        every other request's), as when the backend is loaded lazily.
        """
        try:
            return self.backend
        except BackendError:
            return None

    @property
    def loaded(self) -> bool:
        """Whether the backend was needed (and so loaded) in this run."""
        return self._backend is not None

    def close(self) -> None:
        """Release the backend (one still loading in the background is released when done)."""
        with self._close_lock:
            self._closed = True
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    def metadata(self) -> dict[str, Any]:
        """Model identity for the results: the backend's info, the chat template's hash."""
        meta_key = "model-meta:" + self.identity_hash
        if self._backend is None:
            stored = self.cache.get_many([meta_key]).get(meta_key)
            return stored if stored is not None else {"info": None, "chat_template_sha256": None}
        backend = self._backend
        template = backend.chat_template() if isinstance(backend, ChatRendering) else None
        meta = {
            "info": backend.info.metadata(),
            "chat_template_sha256": (
                hashlib.sha256(template.encode()).hexdigest() if isinstance(template, str) else None
            ),
        }
        self.cache.put_many({meta_key: meta})
        return meta

    def render_chat(self, turns: Sequence[Message]) -> str:
        """A conversation as the model's chat template writes it (for scoring under a template)."""
        backend = self.backend
        if not isinstance(backend, ChatRendering):
            raise BackendError(
                self.config.name,
                "loglikelihood",
                f"the '{self.config.backend}' backend cannot render a chat template; "
                "run without --chat-template",
            )
        text, _ = backend.render(list(turns))
        return str(text)

    # -- plumbing -----------------------------------------------------------------------------

    def _key(self, payload: dict[str, Any]) -> str:
        return request_key(self.identity_hash, payload)

    def _batch_docs(self, width_chars: int, n_cont_tokens: int) -> int:
        if self.batch_size is not None:
            return self.batch_size
        backend = None if self.remote else self._backend_or_none()
        if not isinstance(backend, MemorySizing):
            return 32
        per_doc = backend.document_bytes(width_chars, n_cont_tokens)
        budget = min(_BATCH_MEMORY_CAP, _available_memory() // 4)
        return max(1, min(_AUTO_MAX_BATCH, budget // max(1, per_doc)))

    def _with_retries(self, fn: Callable[[], Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except BackendUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(min(self.backoff * 2**attempt, 30.0))
        raise AssertionError("unreachable")

    def _run_batches(
        self,
        batches: list[list[int]],
        call: Callable[[list[int]], list[Any]],
        keys: list[str],
        results: list[Any],
        progress: Any,
    ) -> None:
        """Send batches (in parallel for remote backends); store answers after each batch."""
        breaker = _Breaker()

        def one(batch: list[int]) -> tuple[list[int], list[Any]]:
            if (reason := breaker.reason) is not None:
                return batch, [{"error": reason}] * len(batch)
            try:
                answers = self._with_retries(lambda: call(batch))
                breaker.succeeded()
                return batch, answers
            except BackendError as exc:
                breaker.failed(exc)
                if len(batch) == 1:
                    return batch, [{"error": str(exc)}]
            # isolate the failing requests
            out: list[Any] = []
            for i in batch:
                if (reason := breaker.reason) is not None:
                    out.append({"error": reason})
                    continue
                try:
                    out.extend(self._with_retries(functools.partial(call, [i])))
                    breaker.succeeded()
                except BackendError as exc:
                    breaker.failed(exc)
                    out.append({"error": str(exc)})
            return batch, out

        def store(batch: list[int], answers: list[Any]) -> None:
            fresh = {}
            for i, a in zip(batch, answers, strict=True):
                results[i] = a
                if "error" not in a:
                    fresh[keys[i]] = a
            self.cache.put_many(fresh)
            if progress is not None:
                progress.update(len(batch))

        if self.concurrency > 1 and len(batches) > 1:
            with ThreadPoolExecutor(self.concurrency) as pool:
                for batch, answers in pool.map(one, batches):
                    store(batch, answers)
        else:
            for b in batches:
                store(*one(b))

    def _cached(
        self, payloads: list[dict[str, Any]], progress: Any
    ) -> tuple[list[str], list[Any], list[int]]:
        keys = [self._key(p) for p in payloads]
        found = self.cache.get_many(keys)
        results: list[Any] = [found.get(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        if progress is not None:
            progress.update(len(payloads) - len(missing))
        return keys, results, missing

    # -- operations ---------------------------------------------------------------------------

    def loglikelihood(
        self,
        requests: Sequence[tuple[str, str]],
        groups: Sequence[Sequence[int]],
        progress: Any = None,
    ) -> list[dict[str, Any]]:
        """Score ``(context, continuation)`` pairs; ``groups`` are the requests of one document.

        Returns one ``{"logprob", "is_greedy"}`` (or ``{"error"}``) per request. Documents
        are batched whole, longest first, so a shared context is computed once per batch.
        """
        payloads = [{"op": "loglikelihood", "context": c, "continuation": x} for c, x in requests]
        keys, results, missing = self._cached(payloads, progress)
        if missing:
            todo = set(missing)
            docs = [[i for i in g if i in todo] for g in groups]
            docs = [d for d in docs if d]
            # documents that start alike go together (their shared prefix is computed once),
            # longest first within such a cluster
            docs.sort(
                key=lambda d: (
                    requests[d[0]][0][:PREFIX_CLUSTER_CHARS],
                    -max(len(requests[i][0]) + len(requests[i][1]) for i in d),
                )
            )
            batches = self._chunk_docs(docs, requests)
            fast = self._prefix_scorer()

            def call(batch: list[int]) -> list[Any]:
                chunk = [requests[i] for i in batch]
                out = fast(chunk) if fast is not None else self.backend.loglikelihood(chunk)
                return [{"logprob": r.logprob, "is_greedy": r.is_greedy} for r in out]

            self._run_batches(batches, call, keys, results, progress)
        return results

    def _prefix_scorer(self) -> Callable[[list[tuple[str, str]]], list[Any]] | None:
        if self.remote or os.environ.get("ARENA_EVAL_NO_PREFIX"):
            return None
        backend = self._backend_or_none()
        if not isinstance(backend, PrefixScoring) or not backend.prefix_scoring_supported():
            return None
        return lambda chunk: backend.loglikelihood_shared_prefix(chunk, batch_size=len(chunk))

    def _chunk_docs(
        self, docs: list[list[int]], requests: Sequence[tuple[str, str]]
    ) -> list[list[int]]:
        batches: list[list[int]] = []
        pos = 0
        while pos < len(docs):
            first = docs[pos]
            if self.remote and self.batch_size is None:
                # one batch = one HTTP request's worth (the backend's logprobs_batch pairs):
                # ``concurrency`` requests in flight along the prefix order, and the
                # progress bar moves per request, not once per 32 documents at the end
                per_request = request_pairs(self.config) or 16
                n = max(1, per_request // len(first))
            else:
                width = max(len(requests[i][0]) + len(requests[i][1]) for i in first)
                cont = max(len(requests[i][1]) for i in first) // 2 + 1
                n = self._batch_docs(width, cont * len(first))
            batches.append([i for d in docs[pos : pos + n] for i in d])
            pos += n
        return batches

    def generate(
        self,
        prompts: Sequence[str | Sequence[Message]],
        params: Sequence[SamplingParams],
        progress: Any = None,
    ) -> list[dict[str, Any]]:
        """Answer plain prompts (strings) or conversations (messages); ``{"text"}`` each.

        A conversation's cache key hashes it as :func:`~arena.harness._data.messages_json`
        writes it (``[[role, text], ...]``, the key stored answers were kept under).
        """
        payloads: list[dict[str, Any]] = []
        for p, sp in zip(prompts, params, strict=True):
            sampling = dataclasses.asdict(sp)
            if isinstance(p, str):
                payloads.append({"op": "complete", "prompt": p, "params": sampling})
            else:
                payloads.append(
                    {"op": "chat", "messages": messages_json(p), "params": sampling}
                )
        keys, results, missing = self._cached(payloads, progress)
        if not missing:
            return results
        if self.remote:  # a server caches shared prefixes: send those requests together
            texts = [p if isinstance(p, str) else json.dumps(messages_json(p)) for p in prompts]
            order = prefix_order(texts, missing)
        else:  # local batches: alike lengths pad least
            order = sorted(missing, key=lambda i: -len(json.dumps(payloads[i])))
        batched = self._batched_generator()

        if batched is not None:
            size = self.batch_size or 16
            batches = [order[s : s + size] for s in range(0, len(order), size)]

            def call(batch: list[int]) -> list[Any]:
                texts = batched([prompts[i] for i in batch], [params[i] for i in batch])
                return [{"text": t} for t in texts]
        else:
            batches = [[i] for i in order]

            def call(batch: list[int]) -> list[Any]:
                (i,) = batch
                p = prompts[i]
                if isinstance(p, str):
                    chunks: Iterator[str] = self.backend.complete(p, params[i])
                else:
                    chunks = self.backend.generate(p, params[i])
                return [{"text": "".join(chunks)}]

        self._run_batches(batches, call, keys, results, progress)
        return results

    def _batched_generator(
        self,
    ) -> Callable[[list[str | Sequence[Message]], list[SamplingParams]], list[str]] | None:
        if self.remote or os.environ.get("ARENA_EVAL_NO_BATCHGEN"):
            return None
        backend = self._backend_or_none()
        if not isinstance(backend, BatchGeneration):
            return None
        return backend.generate_batch

    def rolling(self, texts: Sequence[str], progress: Any = None) -> list[dict[str, Any]]:
        """Log-likelihood of whole texts (rolling windows over the context length)."""
        payloads = [{"op": "rolling", "text": t} for t in texts]
        keys, results, missing = self._cached(payloads, progress)
        if missing:
            order = sorted(missing, key=lambda i: -len(texts[i]))

            def call(batch: list[int]) -> list[Any]:
                return [rolling_loglikelihood(self.backend, texts[i]) for i in batch]

            self._run_batches([[i] for i in order], call, keys, results, progress)
        return results


def prefix_order(texts: Sequence[str], indices: Sequence[int]) -> list[int]:
    """``indices`` ordered so that texts sharing a beginning are sent one after the other.

    Texts are grouped by their first :data:`PREFIX_CLUSTER_CHARS` characters (the same few-shot
    context, the same instructions); the groups go longest text first, and so do the texts
    within each. A server with prefix caching (vLLM) then finds the shared prefix in its
    cache for all but the first requests of a group, which are in flight together (the
    concurrency window moves along the order); longest first keeps the slow ones from
    being left for the end.
    """
    groups: dict[str, list[int]] = {}
    for i in sorted(indices, key=lambda i: -len(texts[i])):
        groups.setdefault(texts[i][:PREFIX_CLUSTER_CHARS], []).append(i)
    return [i for group in groups.values() for i in group]


def rolling_windows(
    tokens: list[int], prefix: int, max_len: int, context_len: int = 1
) -> Iterator[tuple[list[int], list[int]]]:
    """Disjoint ``(context, continuation)`` token windows that predict every token once.

    lm-evaluation-harness's ``get_rolling_token_windows`` followed by ``make_disjoint_window``:
    the first window predicts up to ``max_len`` tokens after ``prefix``; each later window
    predicts the next ``max_len - context_len + 1`` tokens with as much context as fits.
    """
    if not tokens:
        return
    pred_len = max_len - context_len + 1
    first = min(max_len, len(tokens))
    yield [prefix], tokens[:first]
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, pred_len)
        end = predicted + n
        window = tokens[end - max_len - 1 : end - 1]
        yield window[: len(window) - (n - 1)], tokens[end - n : end]
        predicted += n


def rolling_loglikelihood(backend: Backend, text: str) -> dict[str, Any]:
    """Total log-likelihood of ``text`` and its token count.

    Backends that score token ids (``loglikelihood_tokens``) get lm-eval's rolling windows
    over their context length; others score ``("", text)`` whole.
    """
    if not isinstance(backend, TokenScoring):
        (r,) = backend.loglikelihood([("", text)])
        return {"logprob": r.logprob, "tokens": None}
    ids = backend.text_token_ids(text)
    max_len = int(backend.info.context_length or 2048)
    windows = list(rolling_windows(ids, backend.window_start_token(), max_len))
    scores = backend.loglikelihood_tokens(windows) if windows else []
    total = math.fsum(s.logprob for s in scores)
    return {"logprob": total, "tokens": len(ids)}
