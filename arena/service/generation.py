"""Streaming two answers at once, under deadlines that suit slow hardware, behind the page.

Two layers, neither of which knows battles or the store:

- :func:`stream_pair` runs one thread per side and merges their events in arrival order.
  There is no total wall-clock deadline (a slow machine that streams steadily is not
  punished); instead each side has a **first-token** deadline (from the request, or from
  the moment its model finished loading), a **between-tokens** (idle) deadline, a
  **loading** deadline, and caps on the answer (characters, and text chunks as a
  client-side token count) that end the answer where they are reached. A side that misses
  a deadline is an ``error`` holding a :class:`~arena.backends.BackendTimeout`.
- :class:`PairJob` runs :func:`stream_pair` in a background thread and keeps a bounded
  snapshot of both answers, so a page can watch (and re-attach after a rerun) without
  owning the generation: closing a watcher never stops or fails the answers. The job's
  owner (the service) turns the outcome into a stored answer or a failed battle.

An answer is complete only when its backend's stream ended normally (every backend raises
on a truncated stream: see :mod:`arena.backends.openai`) or a cap ended it. A visitor's
Stop ends both sides at once; what was not complete by then stays incomplete.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from arena.backends import Backend, BackendTimeout, Message, SamplingParams
from arena.errors import UserError

__all__ = ["Deadlines", "PairEvent", "PairJob", "PairOutcome", "PairSnapshot", "stream_pair"]

Side = Literal["a", "b"]
SIDES: tuple[Side, Side] = ("a", "b")
#: Seconds between two checks of the deadlines and of a Stop request.
TICK_S = 0.05


@dataclass(frozen=True)
class Deadlines:
    """How long a side may take and how long its answer may grow.

    Attributes
    ----------
    first_token_s:
        Longest wait for the first text of an answer, counted from the request or, when
        the model was still loading, from the moment it was ready.
    idle_s:
        Longest pause between two pieces of text of one answer.
    load_s:
        Longest wait for a model that is still loading when its answer is asked for.
    max_chars:
        Characters at which an answer is cut (and ends, as with a token cap).
    """

    first_token_s: float = 60.0
    idle_s: float = 30.0
    load_s: float = 600.0
    max_chars: int = 8000

    def __post_init__(self) -> None:
        for name in ("first_token_s", "idle_s", "load_s"):
            value = getattr(self, name)
            if not value > 0:  # NaN fails too
                raise UserError(f"{name} must be a number of seconds > 0, got {value!r}")
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int):
            raise UserError(f"max_chars must be an integer, got {self.max_chars!r}")
        if self.max_chars < 1:
            raise UserError(f"max_chars must be >= 1, got {self.max_chars}")


@dataclass(frozen=True)
class PairEvent:
    """One step of :func:`stream_pair`.

    ``kind`` is ``loading`` (the side's model is still loading), ``chunk`` (``text``),
    ``done`` (the side's answer is complete; ``latency`` seconds; ``cut`` when a cap ended
    it), ``error`` (``error``; the stream ends) or ``stopped`` (a Stop request ended the
    stream; ``side`` is a side that was not complete yet).
    """

    side: Side
    kind: Literal["loading", "chunk", "done", "error", "stopped"]
    text: str = ""
    latency: float = 0.0
    cut: bool = False
    error: BaseException | None = None


def _worker(
    side: Side,
    backend: Backend,
    messages: Sequence[Message],
    params: SamplingParams,
    max_chars: int,
    events: queue.Queue[PairEvent],
    cancel: threading.Event,
) -> None:
    """Read one side's stream, cutting it at the caps; report through ``events``.

    At most ``max_chars`` characters and ``params.max_new_tokens`` non-empty chunks are
    passed on (a backend that ignores its own token limit is cut here), so what the
    queue holds is bounded whatever the backend sends.
    """
    started = time.monotonic()
    try:
        if not backend.ready:
            events.put(PairEvent(side, "loading"))
        chunks = backend.generate(messages, params)
        chars = pieces = 0
        cut = False
        try:
            for chunk in chunks:
                if cancel.is_set():
                    return
                if not chunk:
                    continue
                room = max_chars - chars
                if len(chunk) >= room:
                    chunk, cut = chunk[:room], True
                chars += len(chunk)
                pieces += 1
                if pieces >= params.max_new_tokens:
                    cut = True
                events.put(PairEvent(side, "chunk", chunk))
                if cut:
                    break
        finally:
            close: Callable[[], object] | None = getattr(chunks, "close", None)
            if close is not None:
                close()
        events.put(PairEvent(side, "done", latency=time.monotonic() - started, cut=cut))
    except BaseException as error:  # reported to the consumer, which fails the battle
        events.put(PairEvent(side, "error", error=error))


@dataclass
class _Clock:
    """Where one side stands against its deadlines (consumer thread only)."""

    since: float  # start of the current wait: request, end of loading, or last text
    loading: bool = False
    texted: bool = False


def stream_pair(
    backends: tuple[Backend, Backend],
    conversations: tuple[Sequence[Message], Sequence[Message]],
    params: SamplingParams,
    deadlines: Deadlines,
    *,
    names: tuple[str, str] = ("a", "b"),
    stop: threading.Event | None = None,
) -> Iterator[PairEvent]:
    """Stream both sides concurrently under ``deadlines``; see the module docstring.

    Yields ``loading``/``chunk`` events as they come and a ``done`` event per side; or,
    ending the stream, one ``error`` event (a side failed or missed a deadline: a
    :class:`BackendTimeout` naming the model in ``names``) or one ``stopped`` event
    (``stop`` was set). Whatever ends the stream, both sides are cancelled. Closing the
    iterator early cancels both sides too.
    """
    events: queue.Queue[PairEvent] = queue.Queue()
    cancel = threading.Event()
    for side, backend, messages in zip(SIDES, backends, conversations, strict=True):
        threading.Thread(
            target=_worker,
            args=(side, backend, messages, params, deadlines.max_chars, events, cancel),
            name=f"answer-{side}",
            daemon=True,
        ).start()
    start = time.monotonic()
    clocks = {side: _Clock(start) for side in SIDES}
    pending: set[Side] = set(SIDES)

    def late(side: Side, now: float) -> str | None:
        clock = clocks[side]
        if clock.loading:
            if backends[SIDES.index(side)].ready:
                clock.loading, clock.since = False, now  # the first-token wait starts now
            elif now - start > deadlines.load_s:
                return f"the model did not finish loading within {deadlines.load_s:g} s"
            return None
        if clock.texted:
            if now - clock.since > deadlines.idle_s:
                return f"the answer stalled: no new text for {deadlines.idle_s:g} s"
        elif now - clock.since > deadlines.first_token_s:
            return f"no first token within {deadlines.first_token_s:g} s"
        return None

    try:
        while pending:
            if stop is not None and stop.is_set():
                yield PairEvent(min(pending), "stopped")
                return
            now = time.monotonic()
            for side in sorted(pending):
                problem = late(side, now)
                if problem is not None:
                    error = BackendTimeout(names[SIDES.index(side)], "generate", problem)
                    yield PairEvent(side, "error", error=error)
                    return
            try:
                event = events.get(timeout=TICK_S)
            except queue.Empty:
                continue
            clock = clocks[event.side]
            if event.kind == "loading":
                clock.loading = True
            elif event.kind == "chunk":
                clock.loading, clock.texted, clock.since = False, True, time.monotonic()
            yield event
            if event.kind == "error":
                return
            if event.kind == "done":
                pending.discard(event.side)
    finally:
        cancel.set()


# -- a pair of answers behind the page ------------------------------------------------------


@dataclass(frozen=True)
class PairOutcome:
    """How a :class:`PairJob` ended.

    ``kind`` is ``done`` (both answers complete), ``failed`` (``side`` failed with
    ``error``) or ``stopped`` (a Stop request came before both were complete).
    ``texts`` are both answers as far as they came; ``complete`` says which are whole.
    """

    kind: Literal["done", "failed", "stopped"]
    texts: tuple[str, str]
    complete: tuple[bool, bool]
    latency: tuple[float, float] = (0.0, 0.0)
    cut: tuple[bool, bool] = (False, False)
    side: Side | None = None
    error: BaseException | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class PairSnapshot(Generic[T]):
    """What a watcher of a :class:`PairJob` may show now.

    ``loading`` says that some model is still loading (never which side: the page must
    not tell the visitor). ``ended`` is set once the job is over, and ``result`` is then
    the owner's result (None if the owner's ``finish`` raised).
    """

    version: int
    texts: tuple[str, str]
    complete: tuple[bool, bool]
    loading: bool
    ended: bool
    result: T | None


class PairJob(Generic[T]):
    """Both answers of one battle, produced in a background thread; see the module docstring.

    Parameters
    ----------
    backends, conversations, params, deadlines, names:
        As for :func:`stream_pair`.
    finish:
        Called once in the job's thread with the outcome (store the answers, or fail the
        battle); what it returns is the snapshots' ``result``. The job ends even when
        ``finish`` raises (its result is None then).
    clean:
        Applied to every chunk before it is kept (e.g. dropping NUL characters).
    """

    def __init__(
        self,
        backends: tuple[Backend, Backend],
        conversations: tuple[Sequence[Message], Sequence[Message]],
        params: SamplingParams,
        deadlines: Deadlines,
        finish: Callable[[PairOutcome], T],
        *,
        names: tuple[str, str] = ("a", "b"),
        clean: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._args = (backends, conversations, params, deadlines)
        self._names = names
        self._finish = finish
        self._clean = clean
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._version = 0
        self._texts: list[str] = ["", ""]
        self._complete = [False, False]
        self._loading = [False, False]
        self._result: T | None = None
        self._ended = False
        self.finished_at: float | None = None

    def start(self) -> PairJob[T]:
        """Start answering in a daemon thread; returns the job."""
        threading.Thread(target=self._run, name="pair-job", daemon=True).start()
        return self

    def stop(self) -> None:
        """Ask both sides to stop now (what is complete by then stays complete)."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the job to end; whether it has."""
        with self._changed:
            return self._changed.wait_for(lambda: self._ended, timeout)

    @property
    def running(self) -> bool:
        """Whether the job has not ended yet."""
        with self._changed:
            return not self._ended

    def snapshot(self) -> PairSnapshot[T]:
        """Both answers as they are now."""
        with self._changed:
            return self._snapshot()

    def _snapshot(self) -> PairSnapshot[T]:
        return PairSnapshot(
            self._version,
            (self._texts[0], self._texts[1]),
            (self._complete[0], self._complete[1]),
            any(self._loading),
            self._ended,
            self._result,
        )

    def wait(self, version: int, timeout: float) -> PairSnapshot[T]:
        """The snapshot after ``version`` changed, or after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != version, timeout)
            return self._snapshot()

    def _update(self, side: int, *, text: str = "", loading: bool = False) -> None:
        with self._changed:
            self._texts[side] += text
            self._loading[side] = loading
            self._version += 1
            self._changed.notify_all()

    def _run(self) -> None:
        latency = [0.0, 0.0]
        cut = [False, False]
        outcome: PairOutcome | None = None
        backends, conversations, params, deadlines = self._args
        try:
            for event in stream_pair(
                backends, conversations, params, deadlines, names=self._names, stop=self._stop
            ):
                i = SIDES.index(event.side)
                if event.kind == "loading":
                    self._update(i, loading=True)
                elif event.kind == "chunk":
                    self._update(i, text=self._clean(event.text))
                elif event.kind == "done":
                    latency[i], cut[i] = event.latency, event.cut
                    with self._changed:
                        self._complete[i] = True
                        self._loading[i] = False
                        self._version += 1
                        self._changed.notify_all()
                else:
                    kind: Literal["failed", "stopped"] = (
                        "failed" if event.kind == "error" else "stopped"
                    )
                    outcome = self._outcome(kind, latency, cut, event.side, event.error)
            if outcome is None:
                outcome = self._outcome("done", latency, cut)
        except BaseException as error:  # a bug or an interpreter shutdown: never a silent hang
            outcome = self._outcome("failed", latency, cut, "a", error)
        result: T | None = None
        try:
            result = self._finish(outcome)
        finally:
            with self._changed:
                self._result = result
                self._loading = [False, False]
                self._ended = True
                self.finished_at = time.monotonic()
                self._version += 1
                self._changed.notify_all()

    def _outcome(
        self,
        kind: Literal["done", "failed", "stopped"],
        latency: list[float],
        cut: list[bool],
        side: Side | None = None,
        error: BaseException | None = None,
    ) -> PairOutcome:
        with self._changed:
            texts = (self._texts[0], self._texts[1])
            complete = (self._complete[0], self._complete[1])
        return PairOutcome(
            kind, texts, complete, (latency[0], latency[1]), (cut[0], cut[1]), side, error
        )
