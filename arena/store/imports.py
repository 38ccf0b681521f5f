"""Public battles in the votes database: ``arena db import FILE --source NAME``.

FastChat / LMArena battle logs (JSON array or JSON Lines, as ``arena leaderboard``
reads them), pair-count CSVs (``model_a, model_b, wins_a, wins_b, tie, tie_bothbad``) and
leaderbot's pair-count JSON are read with :mod:`arena.battles.readers` and stored as
*counts*: one ``imported_battles`` row per distinct ``(model_a, model_b, outcome, anony,
language)``. The ratings depend on nothing else (the fit and its sandwich interval need
how often each ordered pair got each outcome; the filters the page applies need the
anonymous flag), so 1.67 M Chatbot Arena battles take 13.6 k rows and load in about a
second, and the leaderboard reads them back with one query. What is given up, and
said in the README: per-battle times (online Elo, time windows) and answers (style
control) of imported battles.

Rules:

- **Idempotent**: a file is identified by the SHA-256 of its bytes. Importing it again
  under the same source adds nothing and says so; under another source it is refused
  (its battles would count twice).
- **Skipped rows are reported**, never silently dropped: a row with a missing or
  over-long model name, the same model on both sides, an unknown ``winner``, or counts
  that are not whole non-negative numbers (or all zero) is left out and counted under
  its reason with its first row numbers; the rest is imported.
- **Read-only**: the web app has no function that writes these tables, no battle or
  vote can refer to them, and the migration's triggers refuse any ``UPDATE``. A whole
  source is removed with :func:`remove_source` (``arena db remove-source NAME``).

The caller owns the session: import inside ``Session.begin()``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from arena.battles.readers import RawTable, input_fingerprint, read_table
from arena.battles.table import Battles
from arena.errors import UserError
from arena.outcomes import PAIR_COUNT_COLUMNS, WINNER_CODES, WINNER_LABELS
from arena.store.schema import BattleImport, ImportedBattle

__all__ = [
    "MAX_COUNT",
    "MAX_NAME_LENGTH",
    "SOURCE_PATTERN",
    "ImportReport",
    "ImportedSource",
    "import_battles",
    "imported_battles",
    "list_sources",
    "remove_source",
]

#: Longest model name stored (the column's width).
MAX_NAME_LENGTH = 200
#: Largest count of one stored row (a 32-bit integer column on every back end).
MAX_COUNT = 2**31 - 1
#: Source names: letters, digits and ``. _ - :`` (shown on the page and in exports).
SOURCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}"
#: Row numbers kept per skip reason, for the report.
_EXAMPLES = 5
#: ``winner`` label -> outcome code (the FastChat spellings of :mod:`arena.outcomes`).
_WINNERS: dict[str, int] = {label: int(code) for label, code in WINNER_CODES.items()}


@dataclass(frozen=True)
class ImportReport:
    """What one ``arena db import`` of one file did.

    Attributes
    ----------
    source, path, sha256, format:
        The source name, the file, the SHA-256 of its bytes, the format it was read as.
    already_imported:
        True when this file was imported under this source before: nothing was added,
        and the counts are those of the earlier import.
    n_battles:
        Battles imported (the sum of the stored counts).
    n_rows:
        Rows stored (distinct pair, outcome, anonymous flag and language).
    n_models:
        Distinct models among the imported battles.
    skipped:
        Reason -> ``{"rows": count, "first": [row numbers]}`` of the rows left out.
    seconds:
        Wall time of reading, checking and storing.
    """

    source: str
    path: str
    sha256: str
    format: str
    already_imported: bool
    n_battles: int
    n_rows: int
    n_models: int
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_skipped(self) -> int:
        """Rows left out, all reasons together."""
        return sum(int(v["rows"]) for v in self.skipped.values())

    def describe(self) -> str:
        """One paragraph for the command line."""
        if self.already_imported:
            return (
                f"{self.path}: already imported as source '{self.source}' (SHA-256 "
                f"{self.sha256[:12]}...): nothing added ({self.n_battles:,} battles stored)"
            )
        battles = "battle" if self.n_battles == 1 else "battles"
        text = (
            f"{self.path}: imported {self.n_battles:,} {battles} of {self.n_models} models "
            f"as source '{self.source}' ({self.n_rows:,} rows, {self.format}, "
            f"{self.seconds:.1f} s)"
        )
        if self.skipped:
            parts = []
            for reason, v in self.skipped.items():
                shown = ", ".join(map(str, v["first"]))
                more = ", ..." if v["rows"] > len(v["first"]) else ""
                plural = "s" if v["rows"] > 1 else ""
                parts.append(f"{v['rows']:,} row{plural} {reason} (row{plural} {shown}{more})")
            text += f"; skipped {self.n_skipped:,} rows: " + "; ".join(parts)
        return text


@dataclass(frozen=True)
class ImportedSource:
    """One source's imports, as :func:`list_sources` returns them."""

    source: str
    files: int
    n_battles: int
    n_skipped: int


class _Skips:
    """Collects skipped rows by reason (the first row numbers of each)."""

    def __init__(self, raw: RawTable) -> None:
        self._raw = raw
        self.by_reason: dict[str, dict[str, Any]] = {}

    def add(self, mask: np.ndarray[Any, Any], reason: str) -> None:
        index = np.flatnonzero(mask)
        if not len(index):
            return
        entry = self.by_reason.setdefault(reason, {"rows": 0, "first": []})
        entry["rows"] += len(index)
        room = _EXAMPLES - len(entry["first"])
        entry["first"] += [self._raw.row_number(int(i)) for i in index[:room]]


def _texts(values: pd.Series) -> pd.Series:
    """The column as Python objects, stripped strings where it holds text, else None."""
    if isinstance(values.dtype, pd.StringDtype):  # text or missing only: vectorised
        stripped = values.str.strip()
        texts = stripped.to_numpy(dtype=object)
        texts[stripped.isna().to_numpy(bool)] = None
        return pd.Series(texts, dtype=object)
    column = pd.Series(values.to_numpy(dtype=object), dtype=object)
    is_text = column.map(lambda v: isinstance(v, str)).to_numpy(bool)
    out = pd.Series(np.full(len(column), None, dtype=object), dtype=object)
    if is_text.any():
        out[is_text] = column[is_text].str.strip()
    return out


def _names(values: pd.Series | None, n: int) -> np.ndarray[Any, Any]:
    if values is None:
        return np.full(n, None, dtype=object)
    return np.asarray(_texts(values).to_numpy(dtype=object), dtype=object)


def _check_names(frame: pd.DataFrame, skips: _Skips) -> tuple[np.ndarray[Any, Any], ...]:
    n = len(frame)
    a = _names(frame.get("model_a"), n)
    b = _names(frame.get("model_b"), n)
    length_a = pd.Series(a, dtype=object).str.len().fillna(0).to_numpy()
    length_b = pd.Series(b, dtype=object).str.len().fillna(0).to_numpy()
    missing = (length_a == 0) | (length_b == 0)
    skips.add(missing, "without a model name on both sides")
    long = ~missing & ((length_a > MAX_NAME_LENGTH) | (length_b > MAX_NAME_LENGTH))
    skips.add(long, f"with a model name over {MAX_NAME_LENGTH} characters")
    same = ~missing & ~long & (a == b)
    skips.add(same, "with the same model on both sides")
    return a, b, ~(missing | long | same)


def _pair_count_battles(raw: RawTable, skips: _Skips) -> Battles | None:
    frame = raw.frame
    a, b, keep = _check_names(frame, skips)
    counts = np.zeros((len(frame), 4), np.int64)
    bad = np.zeros(len(frame), bool)
    huge = np.zeros(len(frame), bool)
    for k, spellings in enumerate(PAIR_COUNT_COLUMNS):
        name = next((s for s in spellings if s in frame.columns), None)
        if name is None:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        invalid = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
        bad |= invalid
        huge |= ~invalid & (values > MAX_COUNT)
        counts[:, k] = np.where(invalid | (values > MAX_COUNT), 0, values).astype(np.int64)
    skips.add(keep & bad, "whose counts are not whole numbers of at least 0")
    keep &= ~bad
    skips.add(keep & huge, f"with a count above {MAX_COUNT:,}")
    keep &= ~huge
    empty = keep & (counts.sum(axis=1) == 0)
    skips.add(empty, "whose counts are all 0")
    keep &= ~empty
    if not keep.any():
        return None
    rows = np.flatnonzero(keep)
    flat = counts[rows].ravel()
    nonzero = flat > 0
    return Battles.from_names(
        np.repeat(a[rows], 4)[nonzero],
        np.repeat(b[rows], 4)[nonzero],
        np.tile(np.arange(4, dtype=np.int8), len(rows))[nonzero],
        count=flat[nonzero],
        ordered=False,
    )


def _log_battles(raw: RawTable, skips: _Skips, path: Path) -> Battles | None:
    frame = raw.frame
    a, b, keep = _check_names(frame, skips)
    winner = frame.get("winner")
    if winner is None:
        raise UserError(
            f"{path}: no 'winner' column (nor wins_a/wins_b pair counts); expected FastChat "
            "battles (model_a, model_b, winner) or pair counts"
        )
    codes = (
        _texts(winner).str.lower().map(_WINNERS).fillna(-1).to_numpy(dtype=np.int64)
    )
    unknown = keep & (codes < 0)
    skips.add(unknown, f"whose winner is not one of {', '.join(WINNER_LABELS)}")
    keep &= codes >= 0
    if not keep.any():
        return None
    anony = _anonymous_flags(frame.get("anony"), len(frame))
    bad_flag = keep & (anony == _BAD_FLAG)
    skips.add(bad_flag, "whose anony is not true or false")
    keep &= ~bad_flag
    if not keep.any():
        return None
    language = frame.get("language")
    meta = pd.DataFrame(
        {
            "anony": pd.array(
                [None if v == _NO_FLAG else bool(v) for v in anony[keep]], dtype="boolean"
            ),
            "language": (
                [None] * int(keep.sum())
                if language is None
                else [v if isinstance(v, str) and v.strip() else None for v in language[keep]]
            ),
        }
    )
    return Battles.from_names(a[keep], b[keep], codes[keep].astype(np.int8), meta=meta)


_NO_FLAG, _BAD_FLAG = -1, -2
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def _flag(value: Any) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return _NO_FLAG
    if isinstance(value, bool | np.bool_):
        return int(bool(value))
    if isinstance(value, int | np.integer) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return 1 if text in _TRUE else 0 if text in _FALSE else _NO_FLAG if not text else _BAD_FLAG
    return _BAD_FLAG


def _anonymous_flags(values: pd.Series | None, n: int) -> np.ndarray[Any, Any]:
    """1 / 0 per row, ``_NO_FLAG`` when not given, ``_BAD_FLAG`` when unreadable."""
    if values is None:
        return np.full(n, _NO_FLAG, dtype=np.int64)
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return values.to_numpy(dtype=bool).astype(np.int64)  # the common case: all given
    column = pd.Series(values.to_numpy(dtype=object), dtype=object)
    return np.asarray(column.map(_flag).to_numpy(), dtype=np.int64)


def _aggregate(battles: Battles) -> pd.DataFrame:
    """One row per distinct (model_a, model_b, outcome, anony, language), counts summed."""
    names = np.asarray(battles.models, dtype=object)
    meta = battles.meta
    frame = pd.DataFrame(
        {
            "model_a": names[battles.model_a],
            "model_b": names[battles.model_b],
            "outcome": np.asarray(WINNER_LABELS, dtype=object)[battles.outcome],
            "anony": meta["anony"].astype(object).to_numpy() if "anony" in meta else None,
            "language": meta["language"].astype(object).to_numpy()
            if "language" in meta
            else None,
            "count": battles.count,
        }
    )
    frame["language"] = [
        v[:64] if isinstance(v, str) and v else None for v in frame["language"].array
    ]
    keys = ["model_a", "model_b", "outcome", "anony", "language"]
    grouped = frame.groupby(keys, dropna=False, sort=False)["count"].sum().reset_index()
    grouped["anony"] = [None if pd.isna(v) else bool(v) for v in grouped["anony"].array]
    grouped["language"] = [None if pd.isna(v) else v for v in grouped["language"].array]
    return grouped


def _data_sha256(rows: pd.DataFrame) -> str:
    """Hash of the battles themselves, whatever the file's format or row order.

    Two files holding the same battles (the Arena counts as CSV and as leaderbot's JSON)
    hash alike, so the second one is recognised and not counted twice.
    """
    keys = ["model_a", "model_b", "outcome", "anony", "language"]
    canonical = rows[[*keys, "count"]].astype(str).sort_values(keys, kind="stable")
    text = canonical.to_csv(index=False, header=False, lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def _check_source(source: str) -> str:
    import re

    if not re.fullmatch(SOURCE_PATTERN, source):
        raise UserError(
            f"source name {source!r} is not allowed: use 1-100 letters, digits and . _ - : "
            "(starting with a letter or digit), e.g. chatbot-arena-2024-08"
        )
    return source


def _earlier(session: Session, sha256: str) -> BattleImport | None:
    query = select(BattleImport).where(BattleImport.file_sha256 == sha256).limit(1)
    return session.scalars(query).first()


def import_battles(
    session: Session, path: str | Path, source: str, *, fmt: str | None = None
) -> ImportReport:
    """Import one battle file as source ``source`` (see the module docstring).

    Parameters
    ----------
    session:
        A session inside a transaction (``Session.begin()``); nothing is committed here.
    path:
        A FastChat/LMArena battle log (JSON, JSON Lines, CSV, Parquet, gzipped or not)
        or a pair-count file (CSV, leaderbot JSON).
    source:
        The name the leaderboard's source switch and exports use (:data:`SOURCE_PATTERN`).
    fmt:
        Override format detection (one of :data:`arena.battles.readers.FORMATS`).

    Raises
    ------
    UserError
        A bad source name, an unreadable file (:class:`arena.errors.BattleFileError`),
        a file already imported under another source, or a file with no usable row.
    """
    started = time.perf_counter()
    _check_source(source)
    file = Path(path)
    sha256 = input_fingerprint(file)["sha256"]
    earlier = _earlier(session, sha256)
    if earlier is not None and earlier.source != source:
        raise UserError(
            f"{file}: this file (SHA-256 {sha256[:12]}...) was already imported as source "
            f"'{earlier.source}'; importing it as '{source}' too would count its battles "
            f"twice (remove it first with `arena db remove-source {earlier.source}`)"
        )
    if earlier is not None:
        models = session.execute(
            select(ImportedBattle.model_a, ImportedBattle.model_b).where(
                ImportedBattle.import_id == earlier.id
            )
        ).all()
        return ImportReport(
            source,
            str(file),
            sha256,
            earlier.file_format,
            True,
            earlier.n_battles,
            earlier.n_rows,
            len({m for pair in models for m in pair}),
            dict(earlier.skipped),
            time.perf_counter() - started,
        )
    raw = read_table(file, fmt)
    skips = _Skips(raw)
    pair_counts = "winner" not in raw.frame.columns and {"wins_a", "wins_b"} <= set(
        raw.frame.columns
    )
    battles = _pair_count_battles(raw, skips) if pair_counts else _log_battles(raw, skips, file)
    if battles is None or battles.n_battles == 0:
        reasons = "; ".join(
            f"{v['rows']:,} row{'s' if v['rows'] > 1 else ''} {k}"
            for k, v in skips.by_reason.items()
        )
        raise UserError(
            f"{file}: no row could be imported" + (f" ({reasons})" if reasons else "")
        )
    rows = _aggregate(battles)
    if int(rows["count"].max()) > MAX_COUNT:
        raise UserError(f"{file}: a pair's count exceeds {MAX_COUNT:,}; split the file")
    data_sha256 = _data_sha256(rows)
    twin = session.scalars(
        select(BattleImport).where(BattleImport.data_sha256 == data_sha256).limit(1)
    ).first()
    if twin is not None:
        if twin.source != source:
            raise UserError(
                f"{file}: the same battles were already imported from {twin.file_name} as "
                f"source '{twin.source}'; importing them as '{source}' too would count them "
                f"twice (remove it first with `arena db remove-source {twin.source}`)"
            )
        return ImportReport(
            source,
            str(file),
            sha256,
            twin.file_format,
            True,
            twin.n_battles,
            twin.n_rows,
            battles.n_models,
            dict(twin.skipped),
            time.perf_counter() - started,
        )
    record = BattleImport(
        source=source,
        file_name=str(file),
        file_sha256=sha256,
        data_sha256=data_sha256,
        file_format="paircounts" if pair_counts else raw.format,
        n_battles=battles.n_battles,
        n_rows=len(rows),
        n_skipped=sum(int(v["rows"]) for v in skips.by_reason.values()),
        skipped=skips.by_reason,
    )
    session.add(record)
    session.flush()
    payload: list[dict[str, Any]] = [
        {
            "import_id": record.id,
            "model_a": a,
            "model_b": b,
            "outcome": outcome,
            "anony": anony,
            "language": language,
            "count": int(count),
        }
        for a, b, outcome, anony, language, count in zip(
            rows["model_a"], rows["model_b"], rows["outcome"], rows["anony"],
            rows["language"], rows["count"], strict=True,
        )
    ]
    session.execute(insert(ImportedBattle), payload)
    return ImportReport(
        source,
        str(file),
        sha256,
        record.file_format,
        False,
        battles.n_battles,
        len(rows),
        battles.n_models,
        skips.by_reason,
        time.perf_counter() - started,
    )


def imported_battles(
    session: Session, sources: Sequence[str] | None = None, *, anonymous_only: bool = True
) -> Battles | None:
    """The imported battles (of ``sources`` only when given) as aggregated battles.

    With ``anonymous_only`` (what the web app's leaderboard counts) battles the file
    marks as not anonymous are left out; those it says nothing about (pair counts) stay.
    Returns None when there are none. ``meta`` holds ``anony`` and ``language``.
    """
    query = (
        select(
            ImportedBattle.model_a,
            ImportedBattle.model_b,
            ImportedBattle.outcome,
            ImportedBattle.anony,
            ImportedBattle.language,
            func.sum(ImportedBattle.count),
        )
        .join(BattleImport, ImportedBattle.import_id == BattleImport.id)
        .group_by(
            ImportedBattle.model_a,
            ImportedBattle.model_b,
            ImportedBattle.outcome,
            ImportedBattle.anony,
            ImportedBattle.language,
        )
    )
    if sources is not None:
        query = query.where(BattleImport.source.in_(list(sources)))
    if anonymous_only:
        query = query.where(ImportedBattle.anony.is_not(False))
    rows = session.execute(query).all()
    if not rows:
        return None
    a, b, outcome, anony, language, count = (list(c) for c in zip(*rows, strict=True))
    codes = pd.Categorical(outcome, categories=list(WINNER_LABELS)).codes.astype(np.int8)
    meta = pd.DataFrame({"anony": pd.array(anony, dtype="boolean"), "language": language})
    return Battles.from_names(
        np.asarray(a, dtype=object),
        np.asarray(b, dtype=object),
        codes,
        count=np.asarray(count, dtype=np.int64),
        meta=meta,
        ordered=False,
    )


def list_sources(session: Session) -> list[ImportedSource]:
    """Every imported source with its number of files, battles and skipped rows."""
    query = (
        select(
            BattleImport.source,
            func.count(BattleImport.id),
            func.sum(BattleImport.n_battles),
            func.sum(BattleImport.n_skipped),
        )
        .group_by(BattleImport.source)
        .order_by(BattleImport.source)
    )
    return [
        ImportedSource(str(s), int(f), int(n or 0), int(k or 0))
        for s, f, n, k in session.execute(query).all()
    ]


def remove_source(session: Session, source: str) -> int:
    """Delete every import of ``source`` and its battles; returns the battles removed.

    Raises
    ------
    UserError
        No import has that source name.
    """
    ids = list(session.scalars(select(BattleImport.id).where(BattleImport.source == source)))
    if not ids:
        known = ", ".join(s.source for s in list_sources(session)) or "none"
        raise UserError(f"no imported source named {source!r} (imported sources: {known})")
    removed = session.scalar(
        select(func.coalesce(func.sum(BattleImport.n_battles), 0)).where(
            BattleImport.id.in_(ids)
        )
    )
    session.execute(delete(ImportedBattle).where(ImportedBattle.import_id.in_(ids)))
    session.execute(delete(BattleImport).where(BattleImport.id.in_(ids)))
    return int(removed or 0)
