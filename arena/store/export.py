"""Reading every vote out of the store: FastChat battle layout, the ratings table, files.

The FastChat / LMArena battle layout has one row per vote::

    model_a, model_b, winner, tstamp, anony, language,
    conversation_a, conversation_b, voter, identity_leak

``winner`` is ``model_a | model_b | tie | tie (bothbad)``, ``tstamp`` seconds since the
epoch (UTC), ``conversation_*`` the list of ``{"role", "content"}`` messages each side
saw and wrote. In CSV the conversations are JSON strings; in JSON Lines they are
lists; in Parquet ``list<struct<role, content>>`` (as in the public arena data sets).

Votes are read with a streamed query (server-side cursor on PostgreSQL) in chunks of
plain rows, never one ORM object per vote, so a million votes export in seconds and
in bounded memory. Rows come in vote order (time, then id).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
from sqlalchemy import Float, Select, String, Text, cast, extract, select, type_coerce
from sqlalchemy.orm import Session

from arena.battles.table import WINNER_LABELS, Battles
from arena.errors import UserError
from arena.io import atomic_path
from arena.store.schema import Battle, Conversation, Model, Vote, Voter

__all__ = [
    "EXPORT_FORMATS",
    "VOTE_COLUMNS",
    "iter_votes",
    "votes_battles",
    "votes_frame",
    "write_votes",
    "write_votes_file",
]

#: Columns of :func:`votes_frame`, in order.
VOTE_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "winner",
    "tstamp",
    "anony",
    "language",
    "conversation_a",
    "conversation_b",
    "voter",
    "identity_leak",
)

#: File formats of :func:`write_votes`.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")

_CONVERSATION_COLUMNS = ("conversation_a", "conversation_b")
_EPOCH = pd.Timestamp(0, tz="UTC")
_DEFAULT_CHUNK = 20_000
#: One encoder for every row (``json.dumps`` with options builds a new one per call).
_JSON = json.JSONEncoder(ensure_ascii=False)


def _query(
    dialect: str, conversations: bool, include_identity_leaks: bool, categories: bool = False
) -> Select[Any]:
    """Plain columns, decoded in bulk per chunk rather than value by value by SQLAlchemy.

    The vote time comes as epoch seconds from PostgreSQL and as the stored UTC text from
    SQLite (parsed by pandas, vectorised); JSON documents come as text and are parsed
    one chunk per ``json.loads`` call.
    """
    if dialect == "postgresql":
        tstamp: Any = cast(extract("epoch", Vote.created_at), Float)
    else:
        tstamp = type_coerce(Vote.created_at, String)
    columns: list[Any] = [
        Battle.model_a_id,
        Battle.model_b_id,
        Vote.outcome,
        tstamp,
        Vote.anonymous,
        Conversation.language,
        Voter.token,
        Vote.identity_leak,
    ]
    if conversations:
        columns += [cast(c, Text) for c in (Conversation.turns, Battle.answers_a, Battle.answers_b)]
    if categories:
        columns.append(Conversation.category)  # last: the other columns keep their places
    query = (
        select(*columns)
        .select_from(Vote)
        .join(Battle, Vote.battle_id == Battle.id)
        .join(Conversation, Battle.conversation_id == Conversation.id)
        .join(Voter, Vote.voter_id == Voter.id)
        .order_by(Vote.created_at, Vote.id)
    )
    if not include_identity_leaks:
        query = query.where(Vote.identity_leak.is_(False))
    return query


def _json_list(texts: Sequence[str]) -> list[Any]:
    """Parse many JSON documents with one ``json.loads`` call."""
    return list(json.loads("[" + ",".join(texts) + "]"))


def _conversation(turns: Sequence[str], answers: Sequence[str]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": turn})
        if i < len(answers):
            messages.append({"role": "assistant", "content": answers[i]})
    return messages


def _epoch_seconds(values: Sequence[Any], dialect: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    if dialect == "postgresql":
        return np.asarray(values, dtype=np.float64)
    if not len(values):
        return np.empty(0, np.float64)
    # SQLite holds the UTC time as text, with or without fractional seconds.
    stamps = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
    # Whole microseconds first, then one division: the nearest double to the stored time.
    micros = np.asarray((stamps - _EPOCH) // pd.Timedelta(microseconds=1), dtype=np.int64)
    return micros / 1e6


def _iter_columns(
    session: Session,
    *,
    conversations: bool,
    include_identity_leaks: bool,
    chunk_size: int,
    categories: bool = False,
) -> Iterator[dict[str, Any]]:
    """Chunks of votes as ``{column: list or array}``, the raw material of every output."""
    connection = session.connection()  # Core rows: no ORM processing per row
    dialect = connection.dialect.name
    names = dict(connection.execute(select(Model.id, Model.name)).all())
    query = _query(dialect, conversations, include_identity_leaks, categories)
    result = connection.execute(query.execution_options(yield_per=chunk_size))
    for rows in result.partitions(chunk_size):
        cols = list(zip(*rows, strict=True))
        chunk: dict[str, Any] = {
            "model_a": [names[i] for i in cols[0]],
            "model_b": [names[i] for i in cols[1]],
            "winner": list(cols[2]),
            "tstamp": _epoch_seconds(cols[3], dialect),
            "anony": [bool(v) for v in cols[4]],
            "language": list(cols[5]),
        }
        if conversations:
            turns, answers_a, answers_b = (_json_list(cols[k]) for k in (8, 9, 10))
            chunk["conversation_a"] = list(map(_conversation, turns, answers_a))
            chunk["conversation_b"] = list(map(_conversation, turns, answers_b))
        chunk["voter"] = list(cols[6])
        chunk["identity_leak"] = [bool(v) for v in cols[7]]
        if categories:
            chunk["category"] = list(cols[-1])
        yield chunk


def _frame(
    chunk: dict[str, Any] | None, conversations: bool, categories: bool = False
) -> pd.DataFrame:
    columns = [c for c in VOTE_COLUMNS if conversations or c not in _CONVERSATION_COLUMNS]
    if categories:
        columns.append("category")
    if chunk is None:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return empty.astype({"tstamp": np.float64, "anony": bool, "identity_leak": bool})
    frame = pd.DataFrame(chunk, columns=columns)
    if categories:  # None stays None (pandas' text dtype would make it NaN)
        frame["category"] = pd.Series(chunk["category"], dtype=object, index=frame.index)
    return frame.astype({"tstamp": np.float64, "anony": bool, "identity_leak": bool})


def iter_votes(
    session: Session,
    *,
    conversations: bool = True,
    include_identity_leaks: bool = True,
    chunk_size: int = _DEFAULT_CHUNK,
    categories: bool = False,
) -> Iterator[pd.DataFrame]:
    """Every vote in the FastChat battle layout, as DataFrame chunks in vote order.

    Parameters
    ----------
    session:
        The caller's session (a read-only one is best: see
        :func:`arena.store.engine.make_sessionmaker`).
    conversations:
        Include ``conversation_a``/``conversation_b`` (the bulk of the data; the
        ratings need only the other columns).
    include_identity_leaks:
        Include votes flagged as identity leaks (their ``identity_leak`` is True).
    chunk_size:
        Rows per chunk (memory bound).
    categories:
        Add a last column ``category``: the conversation's stored category (set when
        the battle started, see :func:`arena.store.create_battle`), or None. Not part of
        the FastChat layout, so the exports leave it out.
    """
    for chunk in _iter_columns(
        session,
        conversations=conversations,
        include_identity_leaks=include_identity_leaks,
        chunk_size=chunk_size,
        categories=categories,
    ):
        yield _frame(chunk, conversations, categories)


def votes_frame(
    session: Session,
    *,
    conversations: bool = True,
    include_identity_leaks: bool = True,
) -> pd.DataFrame:
    """Every vote in the FastChat battle layout (columns :data:`VOTE_COLUMNS`), one frame."""
    parts = list(
        iter_votes(
            session, conversations=conversations, include_identity_leaks=include_identity_leaks
        )
    )
    if not parts:
        return _frame(None, conversations)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def votes_battles(session: Session, *, include_identity_leaks: bool = False) -> Battles:
    """Every vote as a :class:`Battles` table for the ratings engine, in vote order.

    Meta columns are ``tstamp``, ``anony``, ``language`` and ``voter``, so the
    leaderboard filters (time window, anonymous only, language) work on store data.
    Votes where a model revealed its identity are left out unless
    ``include_identity_leaks``: they are not blind comparisons (LMArena drops them too).
    """
    frame = votes_frame(session, conversations=False, include_identity_leaks=include_identity_leaks)
    outcome = pd.Categorical(frame["winner"], categories=list(WINNER_LABELS)).codes
    meta = pd.DataFrame(
        {
            "tstamp": frame["tstamp"].to_numpy(np.float64),
            "anony": frame["anony"].to_numpy(bool),
            "language": frame["language"].to_numpy(object),
            "voter": frame["voter"].to_numpy(object),
        }
    )
    return Battles.from_names(
        frame["model_a"].to_numpy(object),
        frame["model_b"].to_numpy(object),
        outcome.astype(np.int8),
        meta=meta,
        ordered=True,
    )


def _parquet_schema() -> Any:
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema(
        [
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("tstamp", pa.float64()),
            ("anony", pa.bool_()),
            ("language", pa.string()),
            ("conversation_a", pa.list_(message)),
            ("conversation_b", pa.list_(message)),
            ("voter", pa.string()),
            ("identity_leak", pa.bool_()),
        ]
    )


def _write_text(chunks: Iterator[dict[str, Any]], fmt: str, stream: TextIO) -> int:
    encode = _JSON.encode
    count = 0
    for chunk in chunks:
        n = len(chunk["winner"])
        if fmt == "jsonl":
            chunk = {**chunk, "tstamp": chunk["tstamp"].tolist()}
            rows = zip(*(chunk[c] for c in VOTE_COLUMNS), strict=True)
            stream.write(
                "".join(encode(dict(zip(VOTE_COLUMNS, r, strict=True))) + "\n" for r in rows)
            )
        else:
            frame = _frame(chunk, True)
            for column in _CONVERSATION_COLUMNS:
                frame[column] = list(map(encode, chunk[column]))
            frame.to_csv(stream, header=count == 0, index=False, lineterminator="\n")
        count += n
    if count == 0 and fmt == "csv":
        _frame(None, True).to_csv(stream, index=False, lineterminator="\n")
    return count


def write_votes(
    session: Session, stream: TextIO, fmt: str, *, chunk_size: int = _DEFAULT_CHUNK
) -> int:
    """Write every vote to a text stream as ``csv`` or ``jsonl``; returns the vote count."""
    if fmt not in ("csv", "jsonl"):
        raise UserError(f"cannot write {fmt!r} to a stream: use csv or jsonl, or write a file")
    chunks = _iter_columns(
        session, conversations=True, include_identity_leaks=True, chunk_size=chunk_size
    )
    return _write_text(chunks, fmt, stream)


def write_votes_file(
    session: Session, path: str | os.PathLike[str], fmt: str, *, chunk_size: int = _DEFAULT_CHUNK
) -> int:
    """Write every vote to ``path`` atomically (temporary file, then rename); returns the count.

    Readers of ``path`` see the old file or the complete new one, never a partial export,
    and a failed export leaves no stray file.
    """
    if fmt not in EXPORT_FORMATS:
        raise UserError(f"unknown export format {fmt!r}: expected {', '.join(EXPORT_FORMATS)}")
    target = Path(path)
    if not target.parent.is_dir():
        raise UserError(f"cannot write {target}: folder {target.parent} does not exist")
    chunks = _iter_columns(
        session, conversations=True, include_identity_leaks=True, chunk_size=chunk_size
    )
    with atomic_path(target) as tmp:
        if fmt == "parquet":
            count = _write_parquet(chunks, tmp)
        else:
            with tmp.open("w", encoding="utf-8", newline="") as stream:
                count = _write_text(chunks, fmt, stream)
    return count


def _write_parquet(chunks: Iterator[dict[str, Any]], path: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in chunks:
            arrays = [pa.array(chunk[f.name], type=f.type) for f in schema]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(chunk["winner"])
    return count
