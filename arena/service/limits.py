"""Limits on what a visitor may send: message length, number of turns, messages per minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from arena.service.errors import EmptyPrompt, PromptTooLong, RateLimited, TooManyTurns

__all__ = ["RateLimiter", "check_prompt", "check_turns", "clean_text"]


def clean_text(text: str) -> str:
    """Drop NUL characters, which PostgreSQL cannot store in text, and nothing else."""
    return text.replace("\x00", "")


def check_prompt(prompt: object, max_chars: int) -> str:
    """Return the message ready to store, or raise with what to do about it.

    Surrounding white space is kept out of the count and the stored text.

    Raises
    ------
    EmptyPrompt, PromptTooLong
    """
    if not isinstance(prompt, str):
        raise EmptyPrompt("the message must be text: type a question or a task")
    text = clean_text(prompt).strip()
    if not text:
        raise EmptyPrompt("the message is empty: type a question or a task, then send it")
    if len(text) > max_chars:
        raise PromptTooLong(
            f"the message is {len(text):,} characters long; the limit is {max_chars:,}: "
            "shorten it and send it again"
        )
    return text


def check_turns(turns: int, max_turns: int) -> None:
    """Raise :class:`TooManyTurns` when a conversation with ``turns`` user turns is full."""
    if turns >= max_turns:
        raise TooManyTurns(
            f"this round already has {turns} message(s), the most one round takes: "
            "vote, then start a new round"
        )


class RateLimiter:
    """At most ``limit`` events per key in any ``window_s`` seconds (sliding window).

    In memory, per process, thread-safe. Keys idle for a whole window are dropped, so
    memory stays bounded by the visitors active in the last window.
    """

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def hit(self, key: str) -> None:
        """Count one event for ``key``, or raise :class:`RateLimited` if over the limit."""
        self._take(key, record=True)

    def check(self, key: str) -> None:
        """Raise :class:`RateLimited` if ``key`` is at the limit, without counting an event."""
        self._take(key, record=False)

    def _take(self, key: str, *, record: bool) -> None:
        now = self._clock()
        with self._lock:
            self._sweep(now)
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                wait = max(events[0] + self.window_s - now, 0.0)
                raise RateLimited(
                    f"too many requests: at most {self.limit} every {self.window_s:g} s; "
                    f"try again in {max(1, round(wait))} s",
                    retry_after=wait,
                )
            if record:
                events.append(now)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window_s:
            return
        self._last_sweep = now
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window_s]
        for key in stale:
            del self._events[key]
