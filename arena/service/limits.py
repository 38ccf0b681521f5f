"""Limits on what a visitor may send: message length, number of turns, messages per minute.

The message rate is limited per session *and* per client address, with the counts in the
database (:class:`SharedRateLimiter`), so neither a new tab nor a second server replica
starts a visitor afresh. The client address is the TCP peer, or, only when the operator
configured a trusted proxy header and its number of hops, the address that header names
(:func:`client_address`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Sequence

from arena.service.errors import EmptyPrompt, PromptTooLong, RateLimited, TooManyTurns
from arena.store import SessionFactory
from arena.store import database_faults as store_faults
from arena.store import limits as store_limits

__all__ = [
    "SharedRateLimiter",
    "check_prompt",
    "check_turns",
    "clean_text",
    "client_address",
    "subject",
]


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


def client_address(
    peer: str | None,
    forwarded: str | None = None,
    *,
    trusted_hops: int = 0,
) -> str:
    """Who a request comes from, as a rate-limit key: an IP address, a /64, or ``local``.

    Parameters
    ----------
    peer:
        The TCP peer's address (Streamlit's ``st.context.ip_address``; None for a visitor
        on the same machine).
    forwarded:
        The value(s) of the configured proxy header (e.g. ``X-Forwarded-For``), comma
        separated, or None. Read only when ``trusted_hops`` > 0: a header anyone can
        send is never believed unless the operator said a proxy sets it.
    trusted_hops:
        How many proxies of the deployment append to that header: the client is the
        address that many places from the right (the ones left of it are whatever the
        client claimed). A missing or malformed entry falls back to the peer.

    IPv6 addresses are reduced to their /64 network (one subscriber usually holds a whole
    /64), IPv4-mapped IPv6 to the IPv4 address.
    """
    if trusted_hops > 0 and forwarded:
        entries = [e.strip() for e in forwarded.split(",") if e.strip()]
        if len(entries) >= trusted_hops:
            found = _normalise(entries[-trusted_hops])
            if found is not None:
                return found
    found = _normalise(peer) if peer else None
    return found or "local"


def _normalise(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def subject(kind: str, value: str) -> str:
    """The opaque key stored for ``value`` (a session token or an address): a digest."""
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:40]


class SharedRateLimiter:
    """At most ``limit`` events per subject in any ``window_s`` seconds, in the database.

    Every server process and tab sees the same counts (:mod:`arena.store.limits`). One
    write transaction per :meth:`hit`, one statement per key in it; expired counters are
    deleted about once a window by whichever process comes by.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        scope: str,
        window_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scope = scope
        self.window_s = window_s
        self._sessions = sessions
        self._clock = clock
        self._next_prune = 0.0
        self._lock = threading.Lock()

    def hit(self, keys: Sequence[tuple[str, str, int | None]]) -> None:
        """Count one event for each ``(kind, value, limit)`` or raise :class:`RateLimited`.

        Keys with a None limit are not counted. A refused event counts for no key (the
        transaction is rolled back).

        Raises
        ------
        RateLimited
            One key is at its limit (the message says how long to wait).
        arena.store.StoreError
            The database failed (the service turns it into a clear message).
        """
        now = self._clock()
        with self._lock:
            prune = now >= self._next_prune
            if prune:
                self._next_prune = now + self.window_s
        with store_faults(), self._sessions.begin() as session:
            if prune:
                store_limits.prune(session, now=now)
            for kind, value, limit in keys:
                if limit is None:
                    continue
                decision = store_limits.take(
                    session,
                    self.scope,
                    subject(kind, value),
                    limit=limit,
                    window_s=self.window_s,
                    now=now,
                )
                if not decision.allowed:
                    who = "this session" if kind == "session" else "your address"
                    wait = max(1, math.ceil(decision.retry_after))
                    raise RateLimited(  # (rolls back: a refused event counts for no key)
                        f"too many messages from {who}: at most {limit} every "
                        f"{self.window_s:g} s; try again in {wait} s",
                        retry_after=decision.retry_after,
                    )
