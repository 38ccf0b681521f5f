"""The request cache: every answered request stored by the SHA-256 of what was asked.

A SQLite file (WAL mode) with one row per request: ``key`` is the hash of the model's
identity and the request's content (operation, prompt, continuation, sampling parameters),
``value`` the JSON answer. Answers are committed after every batch, so a run that is killed
loses at most the batch in flight, and ``--resume`` asks only what is not stored. Failed
requests are never stored, so a resumed run asks them again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["RequestCache", "request_key"]


def request_key(model_identity: str, payload: Mapping[str, Any]) -> str:
    """Content hash of one request to one model."""
    text = json.dumps({"model": model_identity, **payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestCache:
    """A persistent key -> JSON store, safe to share between the runner's threads.

    Parameters
    ----------
    path:
        The SQLite file (created with its directory when missing); ``None`` keeps the
        cache in memory only.
    """

    def __init__(self, path: Path | None):
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:", check_same_thread=False, timeout=30
        )
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The stored answers of those keys that are stored."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(
                    f"SELECT key, value FROM requests WHERE key IN ({marks})", chunk
                ):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: Mapping[str, Any]) -> None:
        """Store answers and commit (one transaction)."""
        if not items:
            return
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO requests VALUES (?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM requests").fetchone()
        return int(n)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
