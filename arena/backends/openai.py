"""The ``openai`` backend: any server that speaks the OpenAI HTTP API.

That covers vLLM, TGI, Ollama, the llama.cpp server and hosted APIs. Three endpoints are used:

- ``POST /chat/completions`` with ``"stream": true`` for :meth:`generate` (server-sent events,
  one ``data: {...}`` line per chunk, ended by ``data: [DONE]``);
- ``POST /completions`` with ``"stream": true`` for :meth:`complete`;
- ``POST /completions`` with ``"echo": true, "logprobs": 1, "max_tokens": 0`` for
  :meth:`loglikelihood`: the server returns the log-probability of every prompt token. The
  pair is split as the local ``transformers`` backend (and lm-evaluation-harness) splits it:
  the context's trailing whitespace moves to the continuation, the server tokenises the
  context alone and ``context + continuation`` whole (both in the same request), and the
  continuation's tokens are those of the whole text after the context's token count. So a
  BOS token the server adds counts in both (an empty context is sent too: its echo is the
  BOS token, or nothing, and then the first token cannot be scored), a token merged across
  the boundary belongs to the context wherever the context's own encoding covers it, and
  no character offsets are trusted (a byte-level token's decoded text may not map to
  characters). vLLM supports this; a server that does not gets a clear
  :class:`UnsupportedOperation` (run multiple choice by generated letter there). A prompt
  list is sent as a list; a server that answers it needs a string gets one per request.

Failures that may pass (connection errors, timeouts, HTTP 429 and 5xx) are retried up to
``max_retries`` times, waiting ``backoff * 2**attempt`` seconds with jitter, or the server's
``Retry-After`` when it sends one; a stream is never retried once text was emitted. A
refusal (HTTP 4xx other than 429) is never retried: it raises :class:`RequestRejected`
(or :class:`UnsupportedOperation` for log-likelihoods) with the status, at once. Every
answer is checked: malformed JSON or missing fields raise :class:`BackendError` quoting a
short excerpt of what the server sent.

Only whole answers end normally. A stream must end with a ``finish_reason`` (``stop``,
``length``, ...) or the ``[DONE]`` marker; one that ends without either (a dropped
connection, a server that died mid-answer, a proxy that cut it) raises
:class:`BackendUnavailable`, and a ``finish_reason`` that says the answer was cut short
(``abort``, ``error``, ``content_filter``, ...) raises :class:`BackendError`, so a
truncated answer is never taken for a complete one. What the server sends is bounded on
this side, whatever it does: at most ``max_new_tokens`` text pieces are read (then the
answer ends, as with the server's own token limit), a line may hold at most
:data:`MAX_LINE_BYTES`, one answer at most :data:`MAX_STREAM_BYTES`, and a stream that
sends bytes but no complete event for ``timeout`` seconds (a trickle) times out like one
that sends nothing.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
from collections.abc import Generator, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from arena.backends.base import (
    BaseBackend,
    LogLikelihood,
    Message,
    SamplingParams,
    filter_stream,
)
from arena.backends.config import ModelConfig
from arena.backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    RequestRejected,
    UnsupportedOperation,
)
from arena.backends.options import OpenAIOptions

__all__ = ["OpenAIBackend", "next_token_candidate", "parse_retry_after", "split_pair"]

#: Stop sequences sent to the server (OpenAI's limit); all of them are applied here anyway.
_MAX_SERVER_STOPS = 4
#: Longest line of a server-sent event stream accepted (a bigger one is an error).
MAX_LINE_BYTES = 1 << 20
#: Most bytes read for one streamed answer (more is an error: no answer needs that much).
MAX_STREAM_BYTES = 16 << 20
#: ``finish_reason`` values that mean the answer was cut short, not finished.
INCOMPLETE_REASONS = frozenset(
    {"abort", "aborted", "cancelled", "canceled", "error", "content_filter"}
)


def _excerpt(text: str | bytes, limit: int = 160) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def split_pair(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the continuation (lm-evaluation-harness's rule).

    ``"Answer: "`` + ``"Paris"`` becomes ``"Answer:"`` + ``" Paris"``: BPE tokenizers
    fold a space into the next word, so the continuation's tokens are the ones the model
    sees in the joined text.
    """
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        return context[:-n_spaces], context[-n_spaces:] + continuation
    return context, continuation


#: Longest continuation (after one leading space) tried as a single next token.
_NEXT_TOKEN_CHARS = 16


def next_token_candidate(continuation: str) -> bool:
    """Whether a continuation may be one token: a leading space at most, then one short word.

    Such a continuation (MMLU's " A", " yes", " 12") is looked up among the top
    log-probabilities of the token after its context; anything longer is echoed.
    """
    body = continuation[1:] if continuation.startswith(" ") else continuation
    return 0 < len(body) <= _NEXT_TOKEN_CHARS and not any(ch.isspace() for ch in body)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), if valid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN check


class OpenAIBackend(BaseBackend):
    """Client of an OpenAI-compatible server; see the module docstring."""

    def __init__(self, config: ModelConfig):
        opts: OpenAIOptions = config.options
        self._opts = opts
        super().__init__(
            config.info(
                context_length=opts.context_length, source=f"{opts.base_url} ({opts.model})"
            )
        )
        headers = {"User-Agent": "arena", "Accept-Encoding": "identity"}
        if opts.api_key_env is not None:
            key = os.environ.get(opts.api_key_env)
            if not key:
                raise BackendError(
                    config.name,
                    "configure",
                    f"the environment variable {opts.api_key_env} (api_key_env) is not set; "
                    "it must hold the server's API key",
                )
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            base_url=opts.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(opts.timeout, connect=opts.connect_timeout),
        )
        self._rng = random.Random()
        self._loaded = True
        #: Set once the server refused a list of prompts: it gets one string per request.
        self._string_prompts = False
        #: Whether single-token choices may be scored from next-token top log-probabilities:
        #: None until checked against the echo once (see :meth:`_check_next_token`).
        self._next_token_ok: bool | None = None

    # -- HTTP with retries ------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._opts.max_backoff, self._opts.backoff * 2**attempt)
        return self._rng.uniform(ceiling / 2, ceiling)

    def _send(self, operation: str, path: str, payload: dict[str, Any]) -> httpx.Response:
        """POST ``payload``; return the open (streaming) response of the first 2xx answer.

        Retries what may pass; raises :class:`BackendError` for what will not.
        """
        name, url = self._info.name, f"{self._opts.base_url.rstrip('/')}/{path}"
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                request = self._client.build_request("POST", path, json=payload)
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                error: BackendError = BackendTimeout(
                    name,
                    operation,
                    f"{url} did not answer in time ({type(exc).__name__}; timeout "
                    f"{self._opts.timeout:g} s, connect_timeout {self._opts.connect_timeout:g} s)",
                )
            except httpx.TransportError as exc:
                error = BackendUnavailable(
                    name, operation, f"cannot reach {url}: {type(exc).__name__}: {exc}"
                )
            else:
                status = response.status_code
                if status < 300:
                    return response
                try:
                    body = response.read()
                except httpx.HTTPError:
                    body = b""
                finally:
                    response.close()
                detail = f"{url} answered HTTP {status}: {_excerpt(body)}"
                if status == 429 or status >= 500:
                    error = BackendUnavailable(name, operation, detail)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                else:
                    raise self._client_error(operation, status, detail)
            if attempt >= self._opts.max_retries:
                if self._opts.max_retries:
                    raise type(error)(
                        name, operation, f"{error.problem} (after {attempt + 1} tries)"
                    )
                raise error
            if retry_after is not None and retry_after > self._opts.max_backoff:
                raise type(error)(
                    name,
                    operation,
                    f"{error.problem} (the server asked to retry after {retry_after:g} s, more "
                    f"than max_backoff {self._opts.max_backoff:g} s)",
                )
            time.sleep(self._delay(attempt, retry_after))
            attempt += 1

    def _client_error(self, operation: str, status: int, detail: str) -> BackendError:
        """The error of a refused request (4xx but 429): never retried, it would fail again."""
        name = self._info.name
        if status in (401, 403):
            hint = (
                f"; check the key in ${self._opts.api_key_env}"
                if self._opts.api_key_env
                else "; the server wants an API key: set api_key_env to the variable holding it"
            )
            return RequestRejected(name, operation, detail + hint, status=status)
        if operation == "loglikelihood" and status in (400, 404, 405, 422):
            return UnsupportedOperation(
                name,
                operation,
                f"{detail}; log-likelihoods need a /completions endpoint that returns prompt "
                "log-probabilities with echo=true and max_tokens=0 (vLLM does); without one, "
                "run multiple-choice tasks by generated letter (--multiple-choice letter)",
                status=status,
            )
        if status == 404:
            return RequestRejected(
                name,
                operation,
                f"{detail}; check base_url (it usually ends in /v1) and model",
                status=status,
            )
        return RequestRejected(name, operation, detail, status=status)

    def _post_json(self, operation: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._send(operation, path, payload)
        try:
            body = response.read()
        except httpx.TimeoutException:
            raise BackendTimeout(
                self._info.name, operation, f"the answer stopped for over {self._opts.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                self._info.name, operation, f"the answer broke off: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            response.close()
        return self._parse_object(operation, body)

    def _parse_object(self, operation: str, body: str | bytes) -> dict[str, Any]:
        try:
            obj = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BackendError(
                self._info.name, operation, f"the server sent malformed JSON: {_excerpt(body)}"
            ) from None
        if not isinstance(obj, dict):
            raise BackendError(
                self._info.name, operation, f"expected a JSON object, got {_excerpt(body)}"
            )
        if "error" in obj:
            raise BackendError(
                self._info.name,
                operation,
                f"the server reported an error: {_excerpt(json.dumps(obj['error']))}",
            )
        return obj

    # -- streaming --------------------------------------------------------------------------

    def _lines(self, operation: str, response: httpx.Response) -> Iterator[str]:
        """The stream's lines, with the size and trickle bounds of the module docstring."""
        name, limit = self._info.name, self._opts.timeout
        buffer = bytearray()
        total = 0
        last = time.monotonic()
        for data in response.iter_bytes():
            total += len(data)
            if total > MAX_STREAM_BYTES:
                raise BackendError(
                    name,
                    operation,
                    f"the server sent over {MAX_STREAM_BYTES >> 20} MiB for one answer; "
                    "the answer is refused",
                )
            buffer += data
            begin = 0
            while (end := buffer.find(b"\n", begin)) >= 0:
                yield bytes(buffer[begin:end]).rstrip(b"\r").decode("utf-8", errors="replace")
                begin = end + 1
                last = time.monotonic()
            del buffer[:begin]
            if len(buffer) > MAX_LINE_BYTES:
                raise BackendError(
                    name,
                    operation,
                    f"the server sent a line over {MAX_LINE_BYTES >> 20} MiB without an end: "
                    f"{_excerpt(bytes(buffer[:160]))}",
                )
            if time.monotonic() - last > limit:
                raise BackendTimeout(
                    name, operation, f"the stream sent no complete event for over {limit:g} s"
                )
        if buffer:
            yield bytes(buffer).rstrip(b"\r").decode("utf-8", errors="replace")

    def _events(
        self, operation: str, response: httpx.Response
    ) -> Generator[dict[str, Any] | None]:
        """Parse server-sent events (or one plain JSON answer) into JSON objects.

        ``None`` stands for the end marker (``[DONE]``, or the end of a whole JSON
        answer), after which nothing follows; a stream without one just stops.
        """
        name = self._info.name
        try:
            if response.headers.get("content-type", "").startswith("application/json"):
                yield self._parse_object(operation, response.read())
                yield None
                return
            data: list[str] = []
            for line in self._lines(operation, response):
                if line.startswith(":"):
                    continue
                if line:
                    field, _, value = line.partition(":")
                    if field == "data":
                        data.append(value[1:] if value.startswith(" ") else value)
                    continue
                if not data:
                    continue
                payload, data = "\n".join(data), []
                if payload.strip() == "[DONE]":
                    yield None
                    return
                yield self._parse_object(operation, payload)
            if data:
                payload = "\n".join(data)
                if payload.strip() == "[DONE]":
                    yield None
                    return
                yield self._parse_object(operation, payload)
        except httpx.TimeoutException:
            raise BackendTimeout(
                name, operation, f"the stream stopped for over {self._opts.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise BackendUnavailable(
                name, operation, f"the stream broke off: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            response.close()

    def _choice(self, operation: str, obj: dict[str, Any]) -> dict[str, Any] | None:
        choices = obj.get("choices")
        if not isinstance(choices, list):
            raise BackendError(
                self._info.name,
                operation,
                f"the server's answer has no 'choices' list: {_excerpt(json.dumps(obj))}",
            )
        if not choices:  # e.g. a final usage-only chunk
            return None
        choice = choices[0]
        if not isinstance(choice, dict):
            raise BackendError(
                self._info.name, operation, f"malformed choice: {_excerpt(json.dumps(obj))}"
            )
        return choice

    def _texts(
        self, operation: str, response: httpx.Response, chat: bool, max_pieces: int
    ) -> Iterator[str]:
        """The answer's text pieces; raises unless the server said the answer is whole."""
        name = self._info.name
        finished = False
        pieces = 0
        events = self._events(operation, response)
        try:
            for obj in events:
                if obj is None:  # [DONE]
                    finished = True
                    break
                choice = self._choice(operation, obj)
                if choice is None:
                    continue
                text: object
                if chat:
                    part = choice.get("delta", choice.get("message"))
                    text = part.get("content") if isinstance(part, dict) else ...
                else:
                    text = choice.get("text", ...)
                if text is not None and not isinstance(text, str):
                    where = "choices[0].delta.content" if chat else "choices[0].text"
                    got = _excerpt(json.dumps(obj))
                    raise BackendError(name, operation, f"expected a string at {where}: {got}")
                if text:
                    yield text
                    pieces += 1
                    if pieces >= max_pieces:  # the server ignores max_tokens: cut here
                        return
                reason = choice.get("finish_reason")
                if reason is not None:
                    if str(reason).lower() in INCOMPLETE_REASONS:
                        raise BackendError(
                            name,
                            operation,
                            f"the server cut the answer short (finish_reason {str(reason)!r})",
                        )
                    finished = True
        finally:
            events.close()
        if not finished:
            raise BackendUnavailable(
                name,
                operation,
                "the stream ended before the answer was complete (no finish_reason and no "
                "[DONE]): the connection dropped or the server stopped mid-answer",
            )

    def _payload(self, params: SamplingParams) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._opts.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
        }
        if params.seed is not None:
            payload["seed"] = params.seed
        if params.stop:
            payload["stop"] = list(params.stop[:_MAX_SERVER_STOPS])
        return payload

    def generate(self, messages: Sequence[Message], params: SamplingParams) -> Iterator[str]:
        """Stream a chat answer from ``/chat/completions``."""
        payload = self._payload(params)
        payload["messages"] = [m.to_dict() for m in messages]
        return self._stream("generate", "chat/completions", payload, params, chat=True)

    def complete(self, prompt: str, params: SamplingParams) -> Iterator[str]:
        """Stream a continuation from ``/completions``."""
        payload = self._payload(params)
        payload["prompt"] = prompt
        return self._stream("complete", "completions", payload, params, chat=False)

    def _stream(
        self,
        operation: str,
        path: str,
        payload: dict[str, Any],
        params: SamplingParams,
        *,
        chat: bool,
    ) -> Iterator[str]:
        def run() -> Iterator[str]:
            response = self._send(operation, path, payload)
            yield from self._texts(operation, response, chat, params.max_new_tokens)

        return filter_stream(run(), params.stop)

    # -- log-likelihoods --------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[LogLikelihood]:
        """Score pairs with echoed prompt log-probabilities from ``/completions``.

        Each batch sends every distinct context and every ``context + continuation`` once;
        see the module docstring for how the continuation's tokens are found.
        """
        name = self._info.name
        pairs = [split_pair(context, continuation) for context, continuation in requests]
        for i, (_, continuation) in enumerate(pairs):
            if not continuation:
                raise BackendError(name, "loglikelihood", f"request {i}: the continuation is empty")
        out: list[LogLikelihood] = []
        size = self._opts.logprobs_batch
        for start in range(0, len(pairs), size):
            batch = pairs[start : start + size]
            fast = self._by_next_token(batch)
            if self._next_token_ok is None and any(f is not None for f in fast):
                fast = self._check_next_token(batch, fast)
            rest = [k for k, score in enumerate(fast) if score is None]
            echoed = dict(zip(rest, self._by_echo([batch[k] for k in rest]), strict=True))
            out.extend(fast[k] or echoed[k] for k in range(len(batch)))
        return out

    def _by_echo(self, pairs: list[tuple[str, str]]) -> list[LogLikelihood]:
        """Score pairs from the echoed prompt log-probabilities of one request."""
        if not pairs:
            return []
        slots: dict[str, int] = {}
        for context, continuation in pairs:
            for text in (context, context + continuation):
                slots.setdefault(text, len(slots))
        echoed = self._echo(list(slots))
        out = []
        for context, continuation in pairs:
            n_ctx = len(echoed[slots[context]][0])
            out.append(self._score(continuation, n_ctx, echoed[slots[context + continuation]]))
        return out

    def _by_next_token(self, pairs: list[tuple[str, str]]) -> list[LogLikelihood | None]:
        """Scores of the pairs whose context's choices are all single next tokens, else None.

        One request asks, for every distinct context whose continuations are all short
        words (see :func:`next_token_candidate`), the top ``next_token_logprobs``
        log-probabilities of the token after it (``max_tokens = 1``, no echo): a choice
        found there is scored by its entry, greedy when it is the top one. That is one
        context's worth of work per document instead of one echoed ``context + choice``
        per choice (vLLM computes prompt log-probabilities without its prefix cache). A
        context with a choice not found there (several tokens, or not in the top) is left
        to the echo, all of its choices, so one document is scored one way. A server that
        refuses or ignores the request (no top log-probabilities) is not asked again.
        """
        scores: list[LogLikelihood | None] = [None] * len(pairs)
        if not self._opts.next_token_logprobs or self._next_token_ok is False:
            return scores
        groups: dict[str, list[int]] = {}
        for k, (context, _) in enumerate(pairs):
            groups.setdefault(context, []).append(k)
        contexts = [
            c
            for c, ks in groups.items()
            if c and all(next_token_candidate(pairs[k][1]) for k in ks)
        ]
        if not contexts:
            return scores
        payload = {
            "model": self._opts.model,
            "prompt": contexts[0] if len(contexts) == 1 else contexts,
            "max_tokens": 1,
            "logprobs": self._opts.next_token_logprobs,
            "temperature": 0.0,
        }
        try:
            obj = self._post_json("loglikelihood", "completions", payload)
        except BackendError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                self._next_token_ok = False  # e.g. more top log-probabilities than it allows
                return scores
            raise
        tops = self._next_token_tops(obj, len(contexts))
        if tops is None:
            self._next_token_ok = False
            return scores
        for context, top in zip(contexts, tops, strict=True):
            ks = groups[context]
            if not all(pairs[k][1] in top for k in ks):
                continue
            best = max(top.values())
            for k in ks:
                lp = top[pairs[k][1]]
                scores[k] = LogLikelihood(lp, lp >= best - 1e-6)
        return scores

    def _next_token_tops(self, obj: dict[str, Any], n: int) -> list[dict[str, float]] | None:
        """Each choice's ``top_logprobs[0]`` (token text -> log-probability); None if malformed."""
        choices = obj.get("choices")
        if not isinstance(choices, list) or len(choices) != n:
            return None
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        tops = []
        for choice in choices:
            logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
            top = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
            first = top[0] if isinstance(top, list) and top else None
            if not isinstance(first, dict) or not first:
                return None
            values = list(first.values())
            if not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v == v and v <= 0
                for v in values
            ) or not all(isinstance(t, str) for t in first):
                return None
            tops.append({t: float(v) for t, v in first.items()})
        return tops

    def _check_next_token(
        self, pairs: list[tuple[str, str]], fast: list[LogLikelihood | None]
    ) -> list[LogLikelihood | None]:
        """Once per backend: the next-token scores must equal the echo's, or they are dropped.

        A server whose top log-probabilities mean something else (after temperature or
        penalties), or whose tokenizer merges a choice into the context, would otherwise
        give wrong scores silently; this costs one echo request, once. Returns ``fast``,
        or, when they differ, the echo's scores in their place (and everything is echoed
        from then on).
        """
        found = {k: f for k, f in enumerate(fast) if f is not None}
        echo = dict(zip(found, self._by_echo([pairs[k] for k in found]), strict=True))
        self._next_token_ok = all(
            abs(echo[k].logprob - f.logprob) <= 1e-3 and echo[k].is_greedy == f.is_greedy
            for k, f in found.items()
        )
        return fast if self._next_token_ok else [echo.get(k) for k in range(len(fast))]

    def _echo(self, prompts: list[str]) -> list[tuple[list[Any], list[Any]]]:
        """``(token_logprobs, top_logprobs)`` of every prompt token, per prompt, in order.

        One request for the whole list; a server that takes only a string prompt (it
        answers 400/422 saying so) gets one request per prompt from then on.
        """
        if self._string_prompts and len(prompts) > 1:
            return [row for p in prompts for row in self._echo([p])]
        payload = {
            "model": self._opts.model,
            "prompt": prompts[0] if len(prompts) == 1 else prompts,
            "max_tokens": 0,
            "echo": True,
            "logprobs": 1,
            "temperature": 0.0,
        }
        try:
            obj = self._post_json("loglikelihood", "completions", payload)
        except BackendError as exc:
            if len(prompts) > 1 and exc.status in (400, 422) and "string" in exc.problem.lower():
                self._string_prompts = True
                return self._echo(prompts)
            if "" in prompts and exc.status in (400, 422):
                # an empty context is sent to count the server's BOS token; a tokenizer
                # without one leaves an empty prompt, which servers refuse (vLLM: "The
                # decoder prompt cannot be empty")
                raise RequestRejected(
                    self._info.name,
                    "loglikelihood",
                    f"{exc.problem.split('; ')[0]}; a continuation with an empty context "
                    "cannot be scored on this server (its tokenizer adds no BOS token to "
                    "condition the first token on): give a non-empty context",
                    status=exc.status,
                ) from None
            raise
        choices = obj.get("choices")
        if not isinstance(choices, list) or len(choices) != len(prompts):
            raise BackendError(
                self._info.name,
                "loglikelihood",
                f"expected {len(prompts)} choices, one per prompt: {_excerpt(json.dumps(obj))}",
            )
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        return [self._prompt_logprobs(c) for c in choices]

    def _prompt_logprobs(self, choice: Any) -> tuple[list[Any], list[Any]]:
        logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
        fields = ("tokens", "token_logprobs", "top_logprobs")
        if (
            not isinstance(logprobs, dict)
            or not all(isinstance(logprobs.get(f), list) for f in fields)
            or len({len(logprobs[f]) for f in fields}) != 1
        ):
            raise UnsupportedOperation(
                self._info.name,
                "loglikelihood",
                "the server did not return prompt log-probabilities (choices[].logprobs with "
                f"{', '.join(fields)}, one entry per token): {_excerpt(json.dumps(choice))}; "
                "log-likelihoods need echo=true with max_tokens=0, which vLLM supports; "
                "without them, run multiple choice by generated letter (--multiple-choice letter)",
            )
        return logprobs["token_logprobs"], logprobs["top_logprobs"]

    def _score(
        self, continuation: str, n_ctx: int, echoed: tuple[list[Any], list[Any]]
    ) -> LogLikelihood:
        name = self._info.name
        token_lps, tops = echoed
        if n_ctx >= len(token_lps):
            raise BackendError(
                name,
                "loglikelihood",
                f"the continuation {_excerpt(continuation)} adds no token to its context "
                "(the server's tokenizer merged it into the context's last token)",
            )
        total, greedy = 0.0, True
        for i in range(n_ctx, len(token_lps)):
            lp = token_lps[i]
            if not isinstance(lp, int | float) or isinstance(lp, bool) or lp != lp or lp > 0:
                problem = (
                    "the first prompt token has no log-probability (the server adds no BOS "
                    "token to condition it on); give a non-empty context"
                    if i == 0
                    else f"token {i} has no valid log-probability: {_excerpt(json.dumps(lp))}"
                )
                raise BackendError(name, "loglikelihood", problem)
            total += float(lp)
            top = tops[i]
            values = list(top.values()) if isinstance(top, dict) else []
            if not values or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values
            ):
                raise BackendError(
                    name,
                    "loglikelihood",
                    f"token {i} has no top_logprobs: {_excerpt(json.dumps(top))}",
                )
            greedy = greedy and float(lp) >= max(float(v) for v in values) - 1e-6
        return LogLikelihood(total, greedy)

    def close(self) -> None:
        """Close the HTTP connections."""
        super().close()
        self._client.close()
