"""Streaming two answers at once: one thread per side, events merged in arrival order.

:func:`stream_pair` knows nothing of battles or the store; the service turns its events
into stored answers or a failed battle.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from arena.backends import Backend, BackendTimeout, Message, SamplingParams

__all__ = ["PairEvent", "stream_pair"]

Side = Literal["a", "b"]


@dataclass(frozen=True)
class PairEvent:
    """``loading``, ``chunk`` (``text``), ``done`` (``latency`` seconds) or ``error``."""

    side: Side
    kind: Literal["loading", "chunk", "done", "error"]
    text: str = ""
    latency: float = 0.0
    error: BaseException | None = None


def _worker(
    side: Side,
    backend: Backend,
    messages: Sequence[Message],
    params: SamplingParams,
    events: queue.Queue[PairEvent],
    cancel: threading.Event,
) -> None:
    started = time.monotonic()
    try:
        if not backend.ready:
            events.put(PairEvent(side, "loading"))
        chunks = backend.generate(messages, params)
        try:
            for chunk in chunks:
                if cancel.is_set():
                    return
                if chunk:
                    events.put(PairEvent(side, "chunk", chunk))
        finally:
            close: Callable[[], object] | None = getattr(chunks, "close", None)
            if close is not None:
                close()
        events.put(PairEvent(side, "done", latency=time.monotonic() - started))
    except BaseException as error:  # reported to the consumer, which fails the battle
        events.put(PairEvent(side, "error", error=error))


def stream_pair(
    backends: tuple[Backend, Backend],
    conversations: tuple[Sequence[Message], Sequence[Message]],
    params: SamplingParams,
    timeout_s: float,
    *,
    names: tuple[str, str] = ("a", "b"),
) -> Iterator[PairEvent]:
    """Stream both sides concurrently; stop at the first error or after ``timeout_s``.

    Yields ``loading``/``chunk`` events as they come, a ``done`` event per side, or one
    ``error`` event (then stops; the other side is cancelled). A side still running at
    the deadline yields an ``error`` holding a :class:`BackendTimeout`. Closing the
    iterator early cancels both sides.
    """
    events: queue.Queue[PairEvent] = queue.Queue()
    cancel = threading.Event()
    sides: tuple[Side, Side] = ("a", "b")
    for side, backend, messages in zip(sides, backends, conversations, strict=True):
        threading.Thread(
            target=_worker,
            args=(side, backend, messages, params, events, cancel),
            name=f"answer-{side}",
            daemon=True,
        ).start()
    deadline = time.monotonic() + timeout_s
    pending: set[Side] = set(sides)
    try:
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                side = min(pending)
                name = names[sides.index(side)]
                error = BackendTimeout(
                    name, "generate", f"no complete answer after {timeout_s:g} s"
                )
                yield PairEvent(side, "error", error=error)
                return
            try:
                event = events.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue
            yield event
            if event.kind == "error":
                return
            if event.kind == "done":
                pending.discard(event.side)
    finally:
        cancel.set()
