"""Rate-limit counters in the database, shared by every tab, session and server process.

A limit kept in one process's memory is reset by opening a new tab (a new session) or
by landing on another ``arena serve`` replica. These counters live in the vote database
instead (table ``rate_limits``, migration ``0004_rate_limits``), keyed by a *scope*
(what is limited: ``message``, ``admin-login``) and a *subject* (an opaque digest of who:
a session token or a client address, never stored in clear).

:func:`take` is one statement per check, atomic on SQLite (one writer at a time) and on
PostgreSQL (``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` locks the row, so two
replicas racing for the last slot cannot both get it). The window slides: the count of
the current fixed bucket plus the previous bucket's count weighted by how much of it
still overlaps the sliding window (Cloudflare's approximation), so a burst across a
bucket boundary cannot double the limit. Rows expire two windows after their bucket
(:func:`prune` deletes them; the service calls it about once a window).

The table is declared here, beside its queries, on the schema's ``Base`` (so the
migration check in ``tests/store/test_migrations.py`` covers it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import BigInteger, Float, Index, Integer, String, delete, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from arena.store._sql import rowcount
from arena.store.schema import Base

__all__ = [
    "RateBucket",
    "RateDecision",
    "clear_subject",
    "failure_count",
    "prune",
    "record_failure",
    "retry_after",
    "take",
]

#: Longest scope and subject names (subjects are hex digests, 64 characters at most).
MAX_SCOPE = 32
MAX_SUBJECT = 64


class RateBucket(Base):
    """Hits of one subject in one bucket (``floor(time / window)``) of one scope."""

    __tablename__ = "rate_limits"
    __table_args__ = (Index("ix_rate_limits_expires_at", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(MAX_SCOPE), primary_key=True)
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hits: Mapped[int] = mapped_column(Integer)
    #: Unix time of the last hit (the admin back-off counts from it).
    last_at: Mapped[float] = mapped_column(Float)
    #: Unix time after which the row is of no use (pruned).
    expires_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class RateDecision:
    """What :func:`take` decided: allowed, or refused with the seconds to wait."""

    allowed: bool
    retry_after: float = 0.0


# One statement: insert the bucket's first hit, or add one to it, only while the sliding
# estimate stays within the limit; RETURNING tells whether a row was written. (The SELECT
# needs its WHERE: SQLite reads "SELECT ... ON CONFLICT" ambiguously without one. The
# casts give PostgreSQL the parameters' types, which a bare SELECT list does not.)
_TAKE = text(
    """
    INSERT INTO rate_limits (scope, subject, bucket, hits, last_at, expires_at)
    SELECT CAST(:scope AS VARCHAR(32)), CAST(:subject AS VARCHAR(64)), CAST(:bucket AS BIGINT),
           1, CAST(:now AS FLOAT), CAST(:expires AS FLOAT)
    WHERE COALESCE((SELECT p.hits FROM rate_limits p WHERE p.scope = :scope
                    AND p.subject = :subject AND p.bucket = :previous), 0)
          * CAST(:carry AS FLOAT) + 1 <= :limit
    ON CONFLICT (scope, subject, bucket) DO UPDATE
    SET hits = rate_limits.hits + 1, last_at = excluded.last_at
    WHERE rate_limits.hits + 1 + COALESCE((SELECT p.hits FROM rate_limits p
                    WHERE p.scope = :scope AND p.subject = :subject
                    AND p.bucket = :previous), 0) * CAST(:carry AS FLOAT) <= :limit
    RETURNING hits
    """
)
_BOTH = text(
    "SELECT bucket, hits FROM rate_limits WHERE scope = :scope AND subject = :subject "
    "AND bucket IN (:previous, :bucket)"
)
# A failure counter: one row per subject (bucket 0), kept until it expires.
_FAIL = text(
    """
    INSERT INTO rate_limits (scope, subject, bucket, hits, last_at, expires_at)
    VALUES (:scope, :subject, 0, 1, :now, :expires)
    ON CONFLICT (scope, subject, bucket) DO UPDATE
    SET hits = CASE WHEN rate_limits.expires_at < excluded.last_at THEN 1
                    ELSE rate_limits.hits + 1 END,
        last_at = excluded.last_at, expires_at = excluded.expires_at
    RETURNING hits
    """
)


def _check(scope: str, subject: str) -> None:
    if not 0 < len(scope) <= MAX_SCOPE or not 0 < len(subject) <= MAX_SUBJECT:
        raise ValueError(f"rate-limit scope/subject too long or empty: {scope!r}, {subject!r}")


def retry_after(previous: int, current: int, elapsed: float, limit: int, window_s: float) -> float:
    """Seconds until one more hit fits the sliding estimate (pure; see the module).

    ``elapsed`` is the fraction of the current bucket gone by (0 to 1); ``previous`` and
    ``current`` are the two buckets' hits.
    """
    if current + 1 <= limit:  # the previous bucket's weight is what blocks
        if previous <= 0:
            return 0.0
        needed = 1.0 - (limit - current - 1) / previous
        return max(0.0, (needed - elapsed) * window_s)
    # Wait for the next bucket, where this one becomes the previous one.
    needed = max(0.0, 1.0 - (limit - 1) / current) if current else 0.0
    return (1.0 - elapsed) * window_s + needed * window_s


def take(
    session: Session, scope: str, subject: str, *, limit: int, window_s: float, now: float
) -> RateDecision:
    """Count one hit for ``subject`` unless it is over ``limit`` per ``window_s`` seconds.

    One statement when allowed (a refusal reads the two buckets again to say how long
    to wait). The caller commits; on SQLite use a write session (``BEGIN IMMEDIATE``).
    """
    _check(scope, subject)
    if limit < 1 or not window_s > 0 or not math.isfinite(now):
        raise ValueError(f"bad rate limit {limit} per {window_s} s at {now}")
    bucket = math.floor(now / window_s)
    elapsed = now / window_s - bucket
    params = {
        "scope": scope,
        "subject": subject,
        "bucket": bucket,
        "previous": bucket - 1,
        "now": now,
        "expires": (bucket + 2) * window_s,
        "carry": 1.0 - elapsed,
        "limit": limit,
    }
    if session.execute(_TAKE, params).first() is not None:
        return RateDecision(True)
    counts: dict[int, int] = {int(b): int(h) for b, h in session.execute(_BOTH, params).all()}
    wait = retry_after(
        counts.get(bucket - 1, 0), counts.get(bucket, 0), elapsed, limit, window_s
    )
    return RateDecision(False, max(wait, 0.001))


def record_failure(
    session: Session, scope: str, subject: str, *, now: float, forget_after_s: float
) -> int:
    """Count one failure (e.g. a wrong password) of ``subject``; returns the count so far.

    Failures are forgotten ``forget_after_s`` seconds after the last one.
    """
    _check(scope, subject)
    params = {
        "scope": scope,
        "subject": subject,
        "now": now,
        "expires": now + forget_after_s,
    }
    return int(session.execute(_FAIL, params).scalar_one())


def failure_count(session: Session, scope: str, subject: str, *, now: float) -> tuple[int, float]:
    """``(failures, time of the last one)`` of ``subject``; ``(0, 0.0)`` when none or expired."""
    _check(scope, subject)
    row = session.execute(
        select(RateBucket.hits, RateBucket.last_at).where(
            RateBucket.scope == scope,
            RateBucket.subject == subject,
            RateBucket.bucket == 0,
            RateBucket.expires_at >= now,
        )
    ).first()
    return (int(row[0]), float(row[1])) if row is not None else (0, 0.0)


def clear_subject(session: Session, scope: str, subject: str) -> None:
    """Forget every counter of ``subject`` in ``scope`` (e.g. after a right password)."""
    _check(scope, subject)
    session.execute(
        delete(RateBucket).where(RateBucket.scope == scope, RateBucket.subject == subject)
    )


def prune(session: Session, *, now: float) -> int:
    """Delete the expired counters of every scope; returns how many rows went."""
    return rowcount(session, delete(RateBucket).where(RateBucket.expires_at < now))
