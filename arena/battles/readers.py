"""Read battle files (FastChat/LMArena JSON, pair counts, CSV, Parquet) into :class:`Battles`.

Everything that can go wrong with a user's file raises :class:`BattleFileError`, whose
message names the file, the row or column, and what was expected, so the command line
can print it as one line. The required columns (``model_a``, ``model_b``, ``winner``)
are converted with vectorised factorisation only, never a Python loop over rows, so a
few million battles load in a fraction of a second; optional metadata and style
extraction from answer texts may loop.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.battles.style import STYLE_FEATURES, features_for_texts
from arena.battles.table import Battles
from arena.errors import BattleFileError, UserError
from arena.io import JsonlLineError, file_sha256, iter_jsonl
from arena.outcomes import PAIR_COUNT_COLUMNS, WINNER_CODES, WINNER_LABELS, Outcome

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMATS",
    "ColumnMap",
    "RawTable",
    "detect_format",
    "from_frame",
    "input_fingerprint",
    "read_battles",
    "read_table",
]

#: File formats :func:`read_battles` understands.
FORMATS: tuple[str, ...] = ("fastchat", "paircounts", "csv", "parquet")

#: Outcome spellings accepted in a ``winner`` column (after stripping and lower-casing).
_OUTCOME_LABELS: dict[str, Outcome] = WINNER_CODES  # FastChat's older spelling too
_ALLOWED_OUTCOMES = ", ".join(repr(label) for label in WINNER_LABELS)


_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

#: Largest count a row may carry: no arena has a trillion votes, and much larger numbers
#: lose precision as floats and overflow 64-bit sums (1e308 would wrap to a negative).
MAX_COUNT = 10**12
#: Default cap on what one gzip-compressed file may decompress to (a gzip bomb of a few
#: megabytes can expand to terabytes); :func:`read_battles` takes ``max_decompressed``
#: and the CLI ``--max-decompressed SIZE`` to raise it for a genuine larger file.
MAX_DECOMPRESSED_BYTES = 2 << 30

#: From this many rows on, the required columns are factorised on parallel threads.
_PARALLEL_ROWS = 100_000
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_HEAD_BYTES = 1 << 16


# ---------------------------------------------------------------------------- column map
@dataclass(frozen=True)
class ColumnMap:
    """Which of the user's columns hold each canonical field.

    Every field defaults to its canonical name, so only differing names need giving,
    e.g. ``ColumnMap(model_a="left", model_b="right")``. A column named by a field
    that the data lacks is simply absent (only ``model_a``, ``model_b`` and ``winner``
    are required). ``voter`` falls back to a ``judge`` column (FastChat's name).
    """

    model_a: str = "model_a"
    model_b: str = "model_b"
    winner: str = "winner"
    weight: str = "weight"
    count: str = "count"
    tstamp: str = "tstamp"
    anony: str = "anony"
    language: str = "language"
    category: str = "category"
    voter: str = "voter"
    prompt: str = "prompt"
    answer_a: str = "answer_a"
    answer_b: str = "answer_b"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str]) -> ColumnMap:
        """Build from ``{canonical field: user column}``, rejecting unknown fields.

        Raises
        ------
        UserError
            When a key is not a field name (the message lists the valid ones).
        """
        known = [f.name for f in fields(cls)]
        unknown = [key for key in mapping if key not in known]
        if unknown:
            raise UserError(
                f"unknown column field(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(known)}"
            )
        return cls(**{key: str(value) for key, value in mapping.items()})


# ---------------------------------------------------------------------------- error context
@dataclass(frozen=True)
class _Source:
    """Where rows come from, so errors can name the file and a row the user can find.

    ``rows`` says how rows are numbered (appended to every row-specific message);
    ``line_numbers`` maps 0-based record positions to the numbers reported (JSON Lines
    files report the line, since blank lines are skipped).
    """

    path: str
    rows: str
    line_numbers: tuple[int, ...] | None = None

    def fail(
        self, problem: str, *, index: int | None = None, column: str | None = None
    ) -> BattleFileError:
        """Build the error for ``problem`` at 0-based record ``index`` and/or ``column``."""
        if index is None:
            return BattleFileError(self.path, problem, column=column)
        row = index + 1 if self.line_numbers is None else self.line_numbers[index]
        return BattleFileError(self.path, f"{problem} ({self.rows})", row=row, column=column)


_FRAME_ROWS = "rows are counted from 1 in DataFrame order"
_CSV_ROWS = "rows are data rows counted from 1, the header line not counted"
_JSON_ROWS = "rows are the records of the JSON array counted from 1"
_JSONL_ROWS = "rows are line numbers in the file"
_TABLE_ROWS = "rows are counted from 1 in file order"


def _show(value: Any) -> str:
    """Quote a cell value for a message (empty cells say so)."""
    if _is_missing(value):
        return "an empty value"
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_missing(value: Any) -> bool:
    """Whether a scalar cell is missing (None, NaN, pandas NA/NaT)."""
    if value is None:
        return True
    pd = sys.modules.get("pandas")  # pandas' missing markers exist only once it is loaded
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return True
    return isinstance(value, float) and math.isnan(value)


def _one_line(exc: BaseException) -> str:
    """Squeeze a library's error message onto one line (the CLI prints one line)."""
    return " ".join(str(exc).split())


def _first(mask: NDArray[np.bool_]) -> int | None:
    """Position of the first True, or None."""
    return int(np.argmax(mask)) if mask.any() else None


# ---------------------------------------------------------------------------- factorising
def _arrow_values(values: pd.Series) -> Any | None:
    """Return the pyarrow ChunkedArray behind an Arrow-backed column, or None."""
    import pandas as pd

    dtype = values.dtype
    storage = getattr(dtype, "storage", None)
    if isinstance(dtype, pd.StringDtype) and storage == "pyarrow":
        return values.array.__arrow_array__()
    if isinstance(dtype, pd.ArrowDtype):
        return values.array.__arrow_array__()
    return None


#: Integer codes into a list of distinct values, -1 where a cell is missing.
_Codes = NDArray[np.integer[Any]]


def _dictionary_codes(encoded: Any) -> tuple[_Codes, list[Any]]:
    """Return the codes (-1 where missing) and dictionary of a dictionary ChunkedArray."""
    import pyarrow as pa

    chunks = encoded.chunks
    if not chunks:
        return np.empty(0, np.int32), []
    if any(not c.dictionary.equals(chunks[-1].dictionary) for c in chunks[:-1]):
        encoded = pa.table({"x": encoded}).unify_dictionaries().column("x")
        chunks = encoded.chunks
    parts = [
        np.asarray(c.indices.fill_null(-1)) if c.null_count else _numpy_view(c.indices)
        for c in chunks
    ]
    codes = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return codes, list(chunks[-1].dictionary.to_pylist())


def _numpy_view(array: Any) -> NDArray[Any]:
    """The values of a fixed-width numeric Arrow array without nulls, as numpy (no copy).

    Read from the data buffer directly: pyarrow's own ``to_numpy``/``__array__`` import
    pandas on first use (0.35 s), which a plain leaderboard run never needs.
    """
    if getattr(array, "num_chunks", None) is not None:  # a ChunkedArray
        parts = [_numpy_view(chunk) for chunk in array.chunks]
        if not parts:
            return np.empty(0, np.dtype(array.type.to_pandas_dtype()))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    dtype = np.dtype(array.type.to_pandas_dtype())
    buffer = array.buffers()[1]
    offset = array.offset * dtype.itemsize
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=offset)


def _factorize(values: pd.Series) -> tuple[_Codes, list[Any], bool]:
    """Return integer codes (-1 for missing), the distinct values, and whether all occur.

    Uses the cheapest route the column allows: categorical codes or a pyarrow
    dictionary as they are (their categories may include values that never occur,
    hence the flag), pyarrow hashing for Arrow strings, pandas otherwise.
    """
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), list(values.cat.categories), False
    arrow = _arrow_values(values)
    if arrow is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(arrow.type):
            return (*_dictionary_codes(arrow), False)
        if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
            return (*_dictionary_codes(pc.dictionary_encode(arrow)), True)
    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(codes), list(uniques), True


def _factorize_cells(
    values: pd.Series, src: _Source, column: str
) -> tuple[_Codes, list[Any], bool]:
    """Apply :func:`_factorize`, reporting a cell that is a list or object, not text."""
    try:
        return _factorize(values)
    except TypeError:
        for i, value in enumerate(values.array):
            if not isinstance(value, str | int | float | bool | None):
                raise src.fail(
                    f"{_show(value)} is not a single value; expected text", index=i, column=column
                ) from None
        raise


def _lookup(values: pd.Series, known: list[Any]) -> _Codes | None:
    """Return codes of an Arrow string column into ``known``, or None if one is not there.

    Looking values up in a short known list (``winner`` labels) is cheaper than
    hashing the column anew. Missing cells also give None, so the caller falls back to
    :func:`_factorize`, which reports them.
    """
    arrow = _arrow_values(values)
    if arrow is None or not known or not all(isinstance(k, str) for k in known):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
        return None
    found = pc.index_in(arrow, value_set=pa.array(known, type=arrow.type))
    if found.null_count:
        return None
    parts = [np.asarray(chunk) for chunk in found.chunks]
    if not parts:
        return np.empty(0, np.int32)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ---------------------------------------------------------------------------- required columns
def _side_codes(codes: _Codes, uniques: list[Any], models: dict[str, int]) -> NDArray[np.int32]:
    """Map one side's codes into the shared model list ``models`` (extended in place).

    Names are stripped of surrounding whitespace on the distinct values only, so it
    costs nothing per row; an empty name becomes -1 (missing). When the mapping is the
    identity the codes are reused without a pass over the rows.
    """
    table = np.full(len(uniques) + 1, -1, np.int32)  # last slot: code -1 (missing)
    for i, value in enumerate(uniques):
        name = "" if _is_missing(value) else str(value).strip()
        if name:
            table[i] = models.setdefault(name, len(models))
    if np.array_equal(table[:-1], np.arange(len(uniques))):
        return np.array(codes, dtype=np.int32)  # a writable copy, not a view of Arrow memory
    return table[codes]


def _model_codes(
    a: tuple[_Codes, list[Any]],
    b: tuple[_Codes, list[Any]],
    src: _Source,
    names: tuple[str, str],
) -> tuple[list[str], NDArray[np.int32], NDArray[np.int32]]:
    """Return the shared model list and per-side codes; reject missing names, self-battles."""
    models: dict[str, int] = {}
    sides = []
    for (codes, uniques), column in zip((a, b), names, strict=True):
        side = _side_codes(codes, uniques, models)
        bad = _first(side < 0)
        if bad is not None:
            raise src.fail("missing model name; expected a model name", index=bad, column=column)
        sides.append(side)
    same = _first(sides[0] == sides[1])
    if same is not None:
        model = list(models)[int(sides[0][same])]
        raise src.fail(
            f"{names[0]} and {names[1]} are the same model {model!r}; "
            "a battle needs two different models",
            index=same,
        )
    return list(models), sides[0], sides[1]


def _winner_codes(
    values: pd.Series, labels: list[str], src: _Source, column: str
) -> tuple[_Codes, list[Any], bool]:
    """Factorise the ``winner`` column, looking values up in ``labels`` when possible."""
    codes = _lookup(values, labels)
    return (
        (codes, list(labels), False) if codes is not None else _factorize_cells(values, src, column)
    )


def _factorize_required(
    frame: pd.DataFrame, cols: ColumnMap, labels: list[str], src: _Source
) -> list[tuple[_Codes, list[Any], bool]]:
    """Factorise ``model_a``, ``model_b`` and ``winner``, on three threads when long.

    pyarrow's hashing releases the GIL, so on a multi-core machine the three columns
    cost about as much as one; short frames skip the thread start-up.
    """
    a_col, b_col = _column(frame, cols.model_a), _column(frame, cols.model_b)
    w_col = _column(frame, cols.winner)
    assert a_col is not None and b_col is not None and w_col is not None
    tasks: list[Callable[[], tuple[_Codes, list[Any], bool]]] = [
        partial(_factorize_cells, a_col, src, cols.model_a),
        partial(_factorize_cells, b_col, src, cols.model_b),
        partial(_winner_codes, w_col, labels, src, cols.winner),
    ]
    if len(frame) < _PARALLEL_ROWS or _arrow_values(a_col) is None:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]  # first column's error first


def _required_codes(
    frame: pd.DataFrame, cols: ColumnMap, outcome_map: Mapping[str, str] | None, src: _Source
) -> tuple[list[str], NDArray[np.int32], NDArray[np.int32], NDArray[np.int8], bool]:
    """Return models, side codes, outcomes, and whether some listed model may be unused."""
    labels = list(
        dict.fromkeys([*(k for k in outcome_map or {} if isinstance(k, str)), *_OUTCOME_LABELS])
    )
    a, b, winner = _factorize_required(frame, cols, labels, src)
    models, model_a, model_b = _model_codes(a[:2], b[:2], src, (cols.model_a, cols.model_b))
    outcome = _outcomes(winner[:2], src, cols.winner, outcome_map)
    return models, model_a, model_b, outcome, not (a[2] and b[2])


def _canonical_outcome(value: Any, outcome_map: Mapping[str, str] | None) -> Outcome | None:
    """Return the outcome a raw ``winner`` value stands for, or None when unknown."""
    if _is_missing(value):
        return None
    text = str(value).strip()
    if outcome_map is not None:
        for key in (value, text):
            if isinstance(key, str) and key in outcome_map:
                return _OUTCOME_LABELS[outcome_map[key].strip().lower()]
    return _OUTCOME_LABELS.get(text.lower())


def _check_outcome_map(outcome_map: Mapping[str, str] | None) -> None:
    """Reject an outcome map whose targets are not canonical labels."""
    for key, label in (outcome_map or {}).items():
        if str(label).strip().lower() not in _OUTCOME_LABELS:
            raise UserError(
                f"outcome map sends {key!r} to {label!r}; expected one of {_ALLOWED_OUTCOMES}"
            )


def _outcomes(
    factorized: tuple[_Codes, list[Any]],
    src: _Source,
    column: str,
    outcome_map: Mapping[str, str] | None,
) -> NDArray[np.int8]:
    """Outcome codes of the ``winner`` column; unknown or missing values are errors."""
    codes, uniques = factorized
    table = np.full(len(uniques) + 1, -2, np.int8)  # -2: missing, -1: unknown value
    for i, value in enumerate(uniques):
        outcome = _canonical_outcome(value, outcome_map)
        table[i] = -2 if _is_missing(value) else (-1 if outcome is None else int(outcome))
    result = table[codes]
    expected = f"expected one of {_ALLOWED_OUTCOMES}"
    if outcome_map:
        expected += f" or a key of the outcome map ({', '.join(map(repr, outcome_map))})"
    unknown = result == -1
    if unknown.any():
        rows = np.flatnonzero(unknown)
        distinct, first = np.unique(codes[rows], return_index=True)
        ordered = distinct[np.argsort(first)]
        shown = ", ".join(repr(uniques[int(c)]) for c in ordered[:3])
        more = f" and {len(ordered) - 3} more" if len(ordered) > 3 else ""
        raise src.fail(
            f"unknown outcome value(s) {shown}{more}, the first at this row; {expected}",
            index=int(rows[0]),
            column=column,
        )
    missing = _first(result == -2)
    if missing is not None:
        raise src.fail(f"missing outcome; {expected}", index=missing, column=column)
    return result


# ---------------------------------------------------------------------------- optional columns
def _numbers(values: pd.Series) -> NDArray[np.float64]:
    """Convert a column to floats, NaN where a cell is missing or not a number."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        values = pd.to_numeric(values.astype(object), errors="coerce")
    return np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), np.float64)  # writable


def _counts(values: pd.Series, src: _Source, column: str) -> NDArray[np.int64]:
    """Row multiplicities: whole numbers in ``[0, MAX_COUNT]`` (zero rows are dropped later).

    A count that is missing, negative, fractional, infinite or above :data:`MAX_COUNT` is
    an error naming its row and column, never a row silently dropped or wrapped around.
    """
    import pandas as pd

    if pd.api.types.is_signed_integer_dtype(values.dtype) and not values.hasnans:
        counts = np.array(values.to_numpy(np.int64), np.int64)  # writable copy
        bad = _first((counts < 0) | (counts > MAX_COUNT))
    else:
        try:
            numbers = _numbers(values)
        except (OverflowError, ValueError):  # e.g. integers beyond 64 bits in an object column
            numbers = np.array([_number_or_nan(v) for v in values.array], np.float64)
        with np.errstate(invalid="ignore"):
            bad = _first(
                ~np.isfinite(numbers)
                | (numbers < 0)
                | (numbers != np.floor(numbers))
                | (numbers > MAX_COUNT)
            )
        counts = np.where(np.isfinite(numbers) & (numbers <= MAX_COUNT), numbers, 0).astype(
            np.int64
        )
    if bad is not None:
        raise src.fail(
            f"count {_show(values.iloc[bad])} is not a whole number >= 0 "
            f"(at most {MAX_COUNT:,})",
            index=bad,
            column=column,
        )
    return counts


def _number_or_nan(value: Any) -> float:
    """One cell as a float (inf when too large for one), NaN when it is not a number."""
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except OverflowError:
        return math.inf
    except (TypeError, ValueError):
        return math.nan


def _weights(values: pd.Series, src: _Source, column: str) -> NDArray[np.float64]:
    """Per-battle weights: numbers in ``[0, MAX_COUNT]`` (squares of larger ones overflow)."""
    try:
        weights = _numbers(values)
    except (OverflowError, ValueError):
        weights = np.array([_number_or_nan(v) for v in values.array], np.float64)
    with np.errstate(invalid="ignore"):
        bad = _first(~np.isfinite(weights) | (weights < 0) | (weights > MAX_COUNT))
    if bad is not None:
        raise src.fail(
            f"weight {_show(values.iloc[bad])} is not a finite number >= 0 "
            f"(at most {MAX_COUNT:,})",
            index=bad,
            column=column,
        )
    return weights


def _epoch_seconds(stamps: pd.Series) -> NDArray[np.float64]:
    """Seconds since the epoch of a datetime column (naive times are taken as UTC)."""
    import pandas as pd

    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return np.array(seconds.to_numpy(dtype=np.float64, na_value=np.nan), np.float64)


def _timestamps(values: pd.Series, src: _Source, column: str) -> NDArray[np.float64]:
    """Timestamps as epoch seconds from numbers or ISO date/time strings (NaN if empty)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _epoch_seconds(values)
    seconds = _numbers(values)
    rest = ~values.isna().to_numpy() & np.isnan(seconds)
    if rest.any():
        parsed = pd.to_datetime(
            values[rest].astype(str), utc=True, errors="coerce", format="ISO8601"
        )
        converted = _epoch_seconds(parsed)
        bad = _first(np.isnan(converted))
        if bad is not None:
            index = int(np.flatnonzero(rest)[bad])
            raise src.fail(
                f"timestamp {_show(values.iloc[index])} is neither seconds since the epoch "
                "nor an ISO date/time such as 2024-05-01 or 2024-05-01T12:30:00Z",
                index=index,
                column=column,
            )
        seconds[rest] = converted
    bad = _first(np.isinf(seconds))
    if bad is not None:
        raise src.fail(
            "timestamp is infinite; expected seconds since the epoch", index=bad, column=column
        )
    return seconds


def _flag(value: Any) -> bool | None:
    """Read a yes/no cell as a bool, or None when it is not one."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _flags(values: pd.Series, src: _Source, column: str) -> NDArray[np.bool_]:
    """Read the anonymous-battle flag: bools, 0/1 or true/false/yes/no strings."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values.dtype) and not values.hasnans:
        return values.to_numpy(bool)
    codes, uniques, _ = _factorize(values)
    table = np.zeros(len(uniques) + 1, np.int8)
    for i, value in enumerate(uniques):
        flag = _flag(value)
        table[i] = -1 if flag is None else int(flag)
    table[-1] = -1
    result = table[codes]
    bad = _first(result < 0)
    if bad is not None:
        raise src.fail(
            f"{_show(values.iloc[bad])} is not a yes/no value; expected true/false or 1/0",
            index=bad,
            column=column,
        )
    return result.astype(bool)


def _tag_tuple(value: Any) -> tuple[str, ...] | None:
    """Parse the category tags of one cell; None when the cell is not tags."""
    if _is_missing(value):
        return ()
    if isinstance(value, str):
        return tuple(tag.strip() for tag in value.split(";") if tag.strip())
    if isinstance(value, list | tuple | np.ndarray):
        if not all(isinstance(tag, str) for tag in value):
            return None
        return tuple(tag.strip() for tag in value if tag.strip())
    return None


def _tags(values: pd.Series, src: _Source, column: str) -> pd.Series:
    """Read category tags as tuples, from strings (';'-separated) or lists of strings."""
    import pandas as pd

    result = np.empty(len(values), dtype=object)
    cache: dict[str, tuple[str, ...] | None] = {}  # few distinct strings, many rows
    for i, value in enumerate(values.array):
        if isinstance(value, str):
            tags = cache.get(value)
            if tags is None:
                tags = cache.setdefault(value, _tag_tuple(value))
        else:
            tags = _tag_tuple(value)
        if tags is None:
            raise src.fail(
                f"{_show(value)} is not a category; expected a string, "
                "';'-separated tags or a list of strings",
                index=i,
                column=column,
            )
        result[i] = tags
    return pd.Series(result, dtype=object)


def _lmarena_tags(value: Any, is_code: Any) -> tuple[str, ...]:
    """Category tags from LMArena's ``category_tag`` dict (and ``is_code`` flag).

    ``{"math_v0.1": {"math": true}, "if_v0.1": {"if": false, ...}, "criteria_v0.1":
    {7 booleans}}`` gives ``("math",)`` plus ``"hard_6"`` when at least 6 of the
    "hard prompt" criteria hold (LMArena's Hard Prompts category) and ``"coding"`` when
    ``is_code`` is true.
    """
    tags: list[str] = []
    if isinstance(value, dict):
        for family, leaves in value.items():
            if not isinstance(leaves, dict):
                continue
            name = str(family).split("_v")[0]
            if name == "criteria":
                if sum(v is True for v in leaves.values()) >= 6:
                    tags.append("hard_6")
            elif leaves.get(name) is True:
                tags.append(name)
    if isinstance(is_code, bool | np.bool_) and bool(is_code):
        tags.append("coding")
    return tuple(tags)


def _text(values: pd.Series) -> pd.Series:
    """Convert a metadata column to strings, keeping missing cells missing."""
    return values.astype("str").reset_index(drop=True)


# ---------------------------------------------------------------------------- conversations
def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of parts with ``text`` fields."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple | np.ndarray):
        parts = (p.get("text", "") if isinstance(p, Mapping) else p for p in content)
        return "\n".join(p for p in parts if isinstance(p, str))
    return "" if _is_missing(content) else str(content)


def _messages(value: Any, src: _Source, index: int, column: str) -> list[Mapping[str, Any]]:
    """One conversation cell as a list of ``{"role", "content"}`` messages."""
    if _is_missing(value):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise src.fail(
                f"conversation is not valid JSON ({exc.msg}); expected a list of "
                '{"role": ..., "content": ...} messages',
                index=index,
                column=column,
            ) from None
        except (RecursionError, ValueError) as exc:
            raise src.fail(
                f"conversation cannot be read ({_json_limit(exc)}); expected a list of "
                '{"role": ..., "content": ...} messages',
                index=index,
                column=column,
            ) from None
    if isinstance(value, list | tuple | np.ndarray) and all(
        isinstance(m, Mapping) and "role" in m and "content" in m for m in value
    ):
        return list(value)
    raise src.fail(
        'expected a list of {"role": ..., "content": ...} messages', index=index, column=column
    )


def _conversations(
    values: pd.Series, src: _Source, column: str
) -> tuple[list[str | None], list[str]]:
    """First user turn and joined assistant turns of every conversation in a column."""
    prompts: list[str | None] = []
    answers: list[str] = []
    for i, value in enumerate(values.array):
        messages = _messages(value, src, i, column)
        user = [_content_text(m["content"]) for m in messages if m["role"] == "user"]
        prompts.append(user[0] if user else None)
        answers.append(
            "\n\n".join(_content_text(m["content"]) for m in messages if m["role"] == "assistant")
        )
    return prompts, answers


def _metadata_side(meta: Any, side: str) -> list[float] | None:
    """Return one side's four style features from FastChat ``conv_metadata``, or None.

    Header/list/bold entries are dicts of counts per level in LMArena's data (summed) or
    plain numbers.
    """
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except (RecursionError, ValueError):  # JSONDecodeError is a ValueError
            return None
    if not isinstance(meta, Mapping):
        return None
    keys = (
        f"sum_assistant_{side}_tokens",
        f"header_count_{side}",
        f"list_count_{side}",
        f"bold_count_{side}",
    )
    out: list[float] = []
    for key in keys:
        value = meta.get(key)
        if isinstance(value, Mapping):
            value = sum(v for v in value.values() if isinstance(v, int | float) and v is not None)
        if not isinstance(value, int | float) or _is_missing(value):
            return None
        out.append(float(value))
    return out


def _metadata_style(values: pd.Series) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Style features from ``conv_metadata``, or None unless every row has them."""
    sides: list[list[list[float]]] = [[], []]
    for meta in values.array:
        for side, rows in zip("ab", sides, strict=True):
            feats = _metadata_side(meta, side)
            if feats is None:
                return None
            rows.append(feats)
    shape = (len(values), len(STYLE_FEATURES))
    return (
        np.asarray(sides[0], np.float64).reshape(shape),
        np.asarray(sides[1], np.float64).reshape(shape),
    )


def _explicit_style(
    frame: pd.DataFrame, src: _Source
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Style features from ``tokens_a, headers_a, ..., bold_b`` columns, if all are present."""
    sides = []
    for side in "ab":
        names = [f"{feature}_{side}" for feature in STYLE_FEATURES]
        if not all(name in frame.columns for name in names):
            return None
        block = []
        for name in names:
            numbers = _numbers(frame[name])
            with np.errstate(invalid="ignore"):
                bad = _first(~np.isfinite(numbers) | (numbers < 0))
            if bad is not None:
                raise src.fail(
                    f"style feature {_show(frame[name].iloc[bad])} is not a finite number >= 0",
                    index=bad,
                    column=name,
                )
            block.append(numbers)
        sides.append(np.column_stack(block))
    return sides[0], sides[1]


# ---------------------------------------------------------------------------- frames
def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """Column ``name`` when present (first one if duplicated), else None."""
    import pandas as pd

    if name not in frame.columns:
        return None
    column = frame[name]
    return column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column


def _found(frame: pd.DataFrame) -> str:
    """List the columns of a frame, for 'missing column' messages."""
    names = [str(c) for c in frame.columns]
    shown = ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")
    return shown or "none"


def _require(frame: pd.DataFrame, names: Sequence[str], src: _Source, what: str) -> None:
    """Raise unless every column in ``names`` is present."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise src.fail(
            f"missing required column(s) {', '.join(map(repr, missing))}; {what} "
            f"(columns found: {_found(frame)})",
            column=missing[0],
        )


def _is_pair_counts(frame: pd.DataFrame, winner: str) -> bool:
    """Whether a frame holds pair counts rather than single battles.

    Either count column without a winner column is enough, so that a file missing the
    other one is told which column it lacks rather than that it has no winner.
    """
    return winner not in frame.columns and bool({"wins_a", "wins_b"} & set(frame.columns))


def _pair_count_battles(frame: pd.DataFrame, src: _Source, cols: ColumnMap) -> Battles:
    """One row per (pair, outcome) with its count; zero counts dropped, unordered.

    ``wins_a`` and ``wins_b`` are required; ``tie`` and ``tie_bothbad`` default to 0.
    """
    if len(frame) == 0:
        raise src.fail("no data rows; expected one row per model pair")
    _require(
        frame,
        (cols.model_a, cols.model_b, "wins_a", "wins_b"),
        src,
        f"a pair-count file needs {cols.model_a}, {cols.model_b}, wins_a, wins_b "
        "and optionally tie, tie_bothbad",
    )
    a_col, b_col = _column(frame, cols.model_a), _column(frame, cols.model_b)
    assert a_col is not None and b_col is not None
    names, model_a, model_b = _model_codes(
        _factorize_cells(a_col, src, cols.model_a)[:2],
        _factorize_cells(b_col, src, cols.model_b)[:2],
        src,
        (cols.model_a, cols.model_b),
    )
    n = len(frame)
    counts = np.zeros((n, len(Outcome)), np.int64)
    for outcome, spellings in enumerate(PAIR_COUNT_COLUMNS):
        name = next((s for s in spellings if s in frame.columns), None)
        column = None if name is None else _column(frame, name)
        if name is not None and column is not None:
            counts[:, outcome] = _counts(column, src, name)
    flat = counts.ravel()
    keep = flat > 0
    if not keep.any():
        raise src.fail("every count is 0; expected at least one battle")
    rows = np.repeat(np.arange(n), len(Outcome))[keep]
    outcomes = np.tile(np.arange(len(Outcome), dtype=np.int8), n)[keep]
    return Battles.from_codes(
        names, model_a[rows], model_b[rows], outcomes, count=flat[keep], ordered=False
    ).compact()


def _style_columns(
    frame: pd.DataFrame, src: _Source, cols: ColumnMap, *, need_prompts: bool, want_style: bool
) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64]] | None, pd.Series | None]:
    """Return per-side style features and prompts from conversations (each may be None).

    Style sources, first usable wins: explicit ``tokens_a ... bold_b`` columns, FastChat
    ``conv_metadata`` (when every row has it), ``answer_a``/``answer_b`` texts,
    ``conversation_a``/``conversation_b``. Conversations are only parsed when they are
    needed, for prompts (``need_prompts``) or style, since that loops over rows. With
    ``want_style`` false no features are computed (None).
    """
    import pandas as pd

    style = _explicit_style(frame, src) if want_style else None
    metadata = _column(frame, "conv_metadata")
    if want_style and style is None and metadata is not None:
        style = _metadata_style(metadata)
    answer_a, answer_b = _column(frame, cols.answer_a), _column(frame, cols.answer_b)
    if want_style and style is None and answer_a is not None and answer_b is not None:
        style = (features_for_texts(answer_a.array), features_for_texts(answer_b.array))
    conv_a, conv_b = _column(frame, "conversation_a"), _column(frame, "conversation_b")
    style_from_conversations = (
        want_style and style is None and conv_a is not None and conv_b is not None
    )
    if conv_a is None or not (need_prompts or style_from_conversations):
        return style, None
    first_turns, answers_a = _conversations(conv_a, src, "conversation_a")
    if style_from_conversations and conv_b is not None:
        answers_b = _conversations(conv_b, src, "conversation_b")[1]
        style = (features_for_texts(answers_a), features_for_texts(answers_b))
    return style, pd.Series(first_turns, dtype="str")


def _meta(frame: pd.DataFrame, src: _Source, cols: ColumnMap) -> dict[str, Any]:
    """Convert the metadata columns present in the frame to their canonical types."""
    import pandas as pd

    meta: dict[str, Any] = {}
    converters: dict[str, Callable[[pd.Series, _Source, str], Any]] = {
        "tstamp": _timestamps,
        "anony": _flags,
        "category": _tags,
    }
    for field in ("tstamp", "anony", "language", "category", "voter", "prompt"):
        name = getattr(cols, field)
        column = _column(frame, name)
        if column is None and field == "voter":
            name, column = "judge", _column(frame, "judge")
        if column is None:
            continue
        convert = converters.get(field)
        meta[field] = _text(column) if convert is None else convert(column, src, name)
    tag_dicts = _column(frame, "category_tag")
    if "category" not in meta and tag_dicts is not None:
        code = _column(frame, "is_code")
        flags = [None] * len(frame) if code is None else list(code.array)
        meta["category"] = pd.Series(
            [_lmarena_tags(v, c) for v, c in zip(tag_dicts.array, flags, strict=True)], dtype=object
        )
    return meta


def _battles(
    frame: pd.DataFrame,
    src: _Source,
    columns: ColumnMap | None,
    outcome_map: Mapping[str, str] | None,
    style: bool = True,
) -> Battles:
    """Convert a frame of single battles (or of pair counts) to :class:`Battles`."""
    import pandas as pd

    cols = columns or ColumnMap()
    _check_outcome_map(outcome_map)
    if _is_pair_counts(frame, cols.winner):
        return _pair_count_battles(frame, src, cols)
    if len(frame) == 0:
        raise src.fail("no data rows; expected at least one battle")
    required = (cols.model_a, cols.model_b, cols.winner)
    _require(frame, required, src, f"a battle file needs {', '.join(required)}")
    names, model_a, model_b, outcome, unused = _required_codes(frame, cols, outcome_map, src)

    count_col, weight_col = _column(frame, cols.count), _column(frame, cols.weight)
    count = None if count_col is None else _counts(count_col, src, cols.count)
    weight = None if weight_col is None else _weights(weight_col, src, cols.weight)
    meta = _meta(frame, src, cols)
    features, prompts = _style_columns(
        frame, src, cols, need_prompts="prompt" not in meta, want_style=style
    )
    if prompts is not None:
        meta["prompt"] = prompts
    n = len(frame)
    battles = Battles.from_codes(
        names,
        model_a,
        model_b,
        outcome,
        count=count,
        weight=weight,
        meta=pd.DataFrame(meta, index=pd.RangeIndex(n)) if meta else None,
        style_a=None if features is None else features[0],
        style_b=None if features is None else features[1],
        style_names=STYLE_FEATURES if features is not None else (),
        ordered=count is None or bool((count == 1).all()),
    )
    if count is not None and not (count > 0).all():
        if not (count > 0).any():
            raise src.fail("every count is 0; expected at least one battle", column=cols.count)
        return battles.take(count > 0)
    return battles.compact() if unused else battles


def from_frame(
    df: pd.DataFrame,
    *,
    source: str = "<DataFrame>",
    columns: ColumnMap | None = None,
    outcome_map: Mapping[str, str] | None = None,
    style: bool = True,
) -> Battles:
    """Convert a DataFrame of battles to a validated :class:`Battles` table.

    Parameters
    ----------
    df:
        One battle per row with ``model_a``, ``model_b``, ``winner`` (labels
        ``model_a | model_b | tie | tie (bothbad)``, FastChat's ``tie(bothbad)`` too),
        and optionally ``weight``, ``count``, ``tstamp`` (epoch seconds or ISO date/time),
        ``anony``, ``language``, ``category`` (string, ';'-separated string or list),
        ``voter`` (or ``judge``), ``prompt``, answers ``answer_a``/``answer_b`` or FastChat
        ``conversation_a``/``conversation_b`` and ``conv_metadata``, or explicit style
        columns ``tokens_a, headers_a, list_items_a, bold_a`` and their ``_b`` twins.
        A frame with ``wins_a``/``wins_b`` instead of ``winner`` is read as pair counts.
    source:
        What to call the data in error messages (a file name when read from a file).
    columns:
        Which of ``df``'s columns hold each field, when they are not the canonical names.
    outcome_map:
        Raw ``winner`` values to canonical labels, e.g. ``{"left": "model_a",
        "right": "model_b", "tie": "tie"}``; values not in the map may still be
        canonical labels.
    style:
        Compute the style features (False skips them when the fit will not use them).

    Returns
    -------
    Battles
        Rows with count 0 are dropped; ``ordered`` is False when counts aggregate
        several battles.

    Raises
    ------
    BattleFileError
        Naming the source, the row (counted from 1 in frame order) or column, and what
        was expected.
    UserError
        When ``outcome_map`` sends a value to something other than a canonical label.
    """
    return _battles(df, _Source(source, _FRAME_ROWS), columns, outcome_map, style)


# ---------------------------------------------------------------------------- files
def format_size(n: int) -> str:
    """A byte count for messages: ``2 GiB``, ``512 MiB``, ``1.5 KiB``."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:g} {unit}" if unit != "bytes" else f"{n} bytes"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def parse_size(text: str) -> int:
    """Parse ``4G``, ``512M``, ``100k``, ``1.5GiB`` or a plain byte count (> 0).

    Suffixes are binary (K = 1024). Raises ``ValueError`` with a message saying what was
    expected.
    """
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = raw, ""
    if raw and raw[-1] in "kmgt":
        number, unit = raw[:-1], raw[-1]
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0) or value * units[unit] > 1 << 60:
        raise ValueError(f"expected a size such as 4G, 512M or a number of bytes, got '{text}'")
    return max(1, int(value * units[unit]))


def _read_bytes(
    path: Path, limit: int | None = None, *, max_decompressed: int | None = None
) -> bytes:
    """Return the file's content, gunzipped when it is gzip-compressed (by magic bytes).

    ``limit`` reads only that many bytes (format detection). A gzip file that decompresses
    to more than ``max_decompressed`` bytes (default :data:`MAX_DECOMPRESSED_BYTES`) is an
    error, found without holding more than that in memory.
    """
    cap = MAX_DECOMPRESSED_BYTES if max_decompressed is None else max_decompressed
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if magic == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    if limit is not None:
                        return unzipped.read(limit)
                    data = unzipped.read(cap + 1)
                if len(data) > cap:
                    raise BattleFileError(
                        str(path),
                        f"decompresses to more than {format_size(cap)}, the limit for "
                        "compressed input; if the file is genuine, raise it with "
                        "--max-decompressed SIZE (read_battles(max_decompressed=...))",
                    )
                return data
            return raw.read() if limit is None else raw.read(limit)
    except FileNotFoundError:
        raise BattleFileError(str(path), "file not found") from None
    except IsADirectoryError:
        raise BattleFileError(str(path), "is a directory; expected a battle file") from None
    except PermissionError:
        raise BattleFileError(str(path), "permission denied; cannot read the file") from None
    except (gzip.BadGzipFile, EOFError, OSError, zlib.error) as exc:
        raise BattleFileError(
            str(path), f"cannot be decompressed ({_one_line(exc)}); expected a valid gzip file"
        ) from None
    except MemoryError:
        raise BattleFileError(
            str(path), "is too large to read into memory; lower --max-decompressed"
        ) from None


def _head_text(head: bytes) -> str | None:
    """Decode the start of a file, or return None when it is not UTF-8 text.

    A multi-byte character cut off at the end of ``head`` is not an error.
    """
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def detect_format(path: str | Path) -> str:
    """Detect the format of a battle file from its first bytes (gzip is looked through).

    ``[`` or ``{`` -> ``fastchat`` (JSON array or JSON Lines), Parquet magic ``PAR1`` ->
    ``parquet``, a CSV header with ``wins_a`` and ``wins_b`` (or one of them and no
    ``winner``) -> ``paircounts``, other text -> ``csv``.

    Raises
    ------
    BattleFileError
        When the file is missing, empty, or neither text nor Parquet.
    """
    path = Path(path)
    head = _read_bytes(path, _HEAD_BYTES)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    text = _head_text(head)
    if text is None or "\x00" in text:
        raise BattleFileError(
            str(path),
            "unrecognised file format; expected FastChat JSON/JSON Lines, CSV (UTF-8) or Parquet",
        )
    stripped = text.lstrip()
    if not stripped:
        raise BattleFileError(str(path), "file is empty; expected battles")
    if stripped[0] in "[{":
        return "fastchat"
    header = {name.strip().lower() for name in next(csv.reader([stripped.splitlines()[0]]), [])}
    counts = header & {"wins_a", "wins_b"}
    if len(counts) == 2 or (counts and "winner" not in header):
        return "paircounts"  # with one of the two, the other is then named as missing
    return "csv"


_DESCRIBED = {
    "fastchat": "JSON (format 'fastchat')",
    "parquet": "Parquet (format 'parquet')",
    "csv": "CSV text (format 'csv')",
    "paircounts": "a pair-count CSV (format 'paircounts')",
}
_FAMILY = {"fastchat": "json", "parquet": "parquet", "csv": "csv", "paircounts": "csv"}


def _check_claim(path: Path, fmt: str, detected: str) -> None:
    """Reject an explicit format the file's content contradicts."""
    if _FAMILY[fmt] != _FAMILY[detected]:
        wanted = {"json": "JSON", "parquet": "Parquet", "csv": "CSV"}[_FAMILY[fmt]]
        raise BattleFileError(
            str(path),
            f"format '{fmt}' was requested but the file is not {wanted}; "
            f"it looks like {_DESCRIBED[detected]}",
        )


def _read_csv(path: Path, max_decompressed: int | None = None) -> pd.DataFrame:
    """Read a CSV file; only empty cells are missing (a model may be called 'NA')."""
    import pandas as pd

    data = _read_bytes(path, max_decompressed=max_decompressed)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise BattleFileError(str(path), "file is empty; expected a CSV header and rows") from None
    except pd.errors.ParserError as exc:
        raise BattleFileError(str(path), f"is not valid CSV: {_one_line(exc)}") from None
    except UnicodeDecodeError:
        raise BattleFileError(str(path), "is not UTF-8 text; expected a UTF-8 CSV file") from None
    frame.columns = pd.Index([str(c).strip() for c in frame.columns])
    return frame


def _parquet_table(data: bytes, path: Path, cols: ColumnMap, style: bool = True) -> Any:
    """Read Parquet bytes as an Arrow table, with model and winner columns dictionary-encoded.

    Dictionary-encoded columns keep their integer codes, so millions of rows never
    become Python strings. Without ``style`` the style-feature columns are not read at all.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(io.BytesIO(data))
        wanted = {cols.model_a, cols.model_b, cols.winner}
        dictionary = [
            f.name
            for f in schema
            if f.name in wanted and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]
        skipped = set() if style else {f"{f}_{side}" for f in STYLE_FEATURES for side in "ab"}
        # ParquetFile, not pq.read_table: read_table goes through pyarrow.dataset, whose
        # import costs 0.2 s and pulls in pandas
        return pq.ParquetFile(io.BytesIO(data), read_dictionary=dictionary).read(
            columns=[f.name for f in schema if f.name not in skipped]
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BattleFileError(
            str(path), f"is not a valid Parquet file ({_one_line(exc)})"
        ) from None


def _read_parquet(
    path: Path, cols: ColumnMap, style: bool = True, max_decompressed: int | None = None
) -> pd.DataFrame:
    """Read a Parquet file as a frame (categoricals for the dictionary-encoded columns)."""
    data = _read_bytes(path, max_decompressed=max_decompressed)
    return _arrow_frame(_parquet_table(data, path, cols, style), path)


def _arrow_frame(table: Any, path: Path) -> pd.DataFrame:
    import pyarrow as pa

    try:
        frame: pd.DataFrame = table.to_pandas()
    except (pa.ArrowException, ValueError) as exc:
        raise BattleFileError(
            str(path), f"is not a valid Parquet file ({_one_line(exc)})"
        ) from None
    return frame


class _NotPlain(Exception):
    """The table needs :func:`_battles`' conversions or its error messages."""


def _special_columns(cols: ColumnMap) -> set[str]:
    """Columns that need :func:`_battles`' conversions when a table has them."""
    return {
        cols.count,
        cols.weight,
        cols.tstamp,
        cols.anony,
        cols.language,
        cols.category,
        cols.voter,
        "judge",
        cols.prompt,
        cols.answer_a,
        cols.answer_b,
        "conversation_a",
        "conversation_b",
        "conv_metadata",
        "category_tag",
        "is_code",
        *(name for spellings in PAIR_COUNT_COLUMNS for name in spellings),
    }


def _plain_battles(
    table: Any, cols: ColumnMap, outcome_map: Mapping[str, str] | None, style: bool
) -> Battles | None:
    """Battles straight from an Arrow table of plain single battles, or None.

    The common Parquet file holds ``model_a, model_b, winner`` and perhaps the eight
    style-feature columns, nothing else that needs converting. Such a table becomes
    :class:`Battles` from its dictionary codes with numpy alone, so a leaderboard of it
    never imports pandas (0.35 s of a 0.5 s run). Anything else (metadata, counts,
    weights, answers, a missing name, an unknown outcome, a bad style value, duplicated
    columns) returns None, and :func:`_battles` reads the table with its full checks and
    error messages, so both routes accept and refuse exactly the same files.
    """
    import pyarrow as pa

    names = list(table.column_names)
    required = (cols.model_a, cols.model_b, cols.winner)
    if len(set(names)) != len(names) or not set(required) <= set(names):
        return None
    if _special_columns(cols) & set(names) or table.num_rows == 0:
        return None
    factorized = []
    for name in required:
        column = table.column(name)
        if column.null_count or not pa.types.is_dictionary(column.type):
            return None
        if not pa.types.is_string(column.type.value_type) and not pa.types.is_large_string(
            column.type.value_type
        ):
            return None
        factorized.append(_dictionary_codes(column))
    models: dict[str, int] = {}
    sides = [_side_codes(codes, uniques, models) for codes, uniques in factorized[:2]]
    if (sides[0] < 0).any() or (sides[1] < 0).any() or (sides[0] == sides[1]).any():
        return None
    codes, uniques = factorized[2]
    lookup = np.full(len(uniques) + 1, -1, np.int8)
    for i, value in enumerate(uniques):
        outcome = _canonical_outcome(value, outcome_map)
        if outcome is not None:
            lookup[i] = int(outcome)
    outcome_codes = lookup[codes]
    if (outcome_codes < 0).any():
        return None
    try:
        features = _plain_style(table) if style else None
    except _NotPlain:
        return None
    battles = Battles.from_codes(
        list(models),
        sides[0],
        sides[1],
        outcome_codes,
        style_a=None if features is None else features[0],
        style_b=None if features is None else features[1],
        style_names=STYLE_FEATURES if features is not None else (),
    )
    return battles.compact()


def _plain_style(table: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """The eight style columns as ``(n, 4)`` blocks; None when not all are there.

    Raises :class:`_NotPlain` when a value needs :func:`_explicit_style`'s message
    (missing, negative, not finite, not a number).
    """
    import pyarrow as pa

    blocks = []
    for side in "ab":
        names = [f"{feature}_{side}" for feature in STYLE_FEATURES]
        if not all(name in table.column_names for name in names):
            return None
        block = []
        for name in names:
            column = table.column(name)
            kind = column.type
            if column.null_count or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise _NotPlain(name)
            numbers = _numpy_view(column).astype(np.float64)
            if not (np.isfinite(numbers) & (numbers >= 0)).all():
                raise _NotPlain(name)
            block.append(numbers)
        blocks.append(np.column_stack(block))
    return blocks[0], blocks[1]


def _json_limit(exc: BaseException) -> str:
    """Say which of JSON's safety limits a document hit (nesting depth or digit count)."""
    if isinstance(exc, RecursionError):
        return f"nested more than about {sys.getrecursionlimit()} levels deep"
    return _one_line(exc)  # e.g. "Exceeds the limit (4300 digits) for integer string ..."


def _json_records(path: Path, text: str) -> tuple[list[Any], _Source]:
    """Parse the records of a JSON array, a JSON Lines file, or a single JSON object."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BattleFileError(
                str(path),
                f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
                "expected a JSON array of battle objects",
            ) from None
        except (RecursionError, ValueError) as exc:
            raise BattleFileError(
                str(path), f"cannot be read as JSON ({_json_limit(exc)}); expected battles"
            ) from None
        return list(doc), _Source(str(path), _JSON_ROWS)
    records: list[Any] = []
    lines: list[int] = []
    try:
        for number, record in iter_jsonl(text.splitlines(), objects_only=False):
            records.append(record)
            lines.append(number)
    except JsonlLineError as exc:
        if not records and exc.invalid:  # maybe one pretty-printed object, not JSON Lines
            return _json_object(path, text), _Source(str(path), _TABLE_ROWS)
        raise BattleFileError(
            str(path),
            f"line is {exc.problem}; expected one JSON object per line "
            f"(JSON Lines; {_JSONL_ROWS})",
            row=exc.line,
        ) from None
    columnar = _columnar(records[0]) if len(records) == 1 else None
    if columnar is not None:
        return columnar, _Source(str(path), _TABLE_ROWS)
    return records, _Source(str(path), _JSONL_ROWS, tuple(lines))


def _json_object(path: Path, text: str) -> list[Any]:
    """Parse a whole-document JSON object: column-oriented, or one battle."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BattleFileError(
            str(path),
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; "
            "expected a JSON array of battles or one JSON object per line",
            row=exc.lineno,  # JSON Lines numbering: rows are lines
        ) from None
    except (RecursionError, ValueError) as exc:
        raise BattleFileError(
            str(path), f"cannot be read as JSON ({_json_limit(exc)}); expected battles"
        ) from None
    columnar = _columnar(doc)
    return [doc] if columnar is None else columnar


def _leaderbot_counts(doc: Any) -> list[Any] | None:
    """Pair-count records of leaderbot's ``{"models", "X", "Y"}`` layout, else None.

    ``X`` holds ``[i, j]`` model indices per pair, ``Y`` the pair's counts ``[wins of i,
    wins of j, ties, both-bad ties]`` (the ``tie``/``tie_bothbad`` entries may be absent):
    the layout of ``leaderbot/data/chatbotarena_20240814.json`` on PyPI. Malformed
    entries are left as they are, for the pair-count checks to report by row.
    """
    if not (isinstance(doc, dict) and set(doc) == {"models", "X", "Y"}):
        return None
    models, pairs, counts = doc["models"], doc["X"], doc["Y"]
    if not (isinstance(models, list) and isinstance(pairs, list) and isinstance(counts, list)):
        return None
    if len(pairs) != len(counts):
        return None

    def model(index: Any) -> Any:
        ok = isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(models)
        return models[index] if ok else None

    records: list[Any] = []
    for pair, count in zip(pairs, counts, strict=True):
        ij = pair if isinstance(pair, list) and len(pair) == 2 else [None, None]
        values = count if isinstance(count, list) else []
        record = {"model_a": model(ij[0]), "model_b": model(ij[1])}
        for k, column in enumerate(("wins_a", "wins_b", "tie", "tie_bothbad")):
            record[column] = values[k] if k < len(values) else 0
        records.append(record)
    return records


def _columnar(doc: Any) -> list[Any] | None:
    """Return the records of a column-oriented object (pandas ``to_json``), else None."""
    import pandas as pd

    leaderbot = _leaderbot_counts(doc)
    if leaderbot is not None:
        return leaderbot
    if not (
        isinstance(doc, dict) and doc and all(isinstance(v, dict | list) for v in doc.values())
    ):
        return None
    try:
        records: list[Any] = pd.DataFrame(doc).to_dict(orient="records")
    except ValueError:  # columns of different lengths: not a table
        return None
    return records


def _read_fastchat(
    path: Path, max_decompressed: int | None = None
) -> tuple[pd.DataFrame, _Source]:
    """Read a FastChat/LMArena JSON array or JSON Lines file as a frame."""
    import pandas as pd

    data = _read_bytes(path, max_decompressed=max_decompressed)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BattleFileError(str(path), "is not UTF-8 text; expected UTF-8 JSON") from None
    if not text.strip():
        raise BattleFileError(str(path), "file is empty; expected battles")
    if text.lstrip()[0] not in "[{":
        raise BattleFileError(
            str(path), "is not JSON; expected a JSON array '[...]' or one JSON object per line"
        )
    records, src = _json_records(path, text)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise src.fail(f"{_show(record)} is not a JSON object; expected one battle", index=i)
    return pd.DataFrame(records), src


def _read_one(
    path: Path,
    fmt: str | None,
    columns: ColumnMap | None,
    outcome_map: Mapping[str, str] | None,
    style: bool,
    max_decompressed: int | None = None,
) -> Battles:
    """Read one battle file in the given (or detected) format."""
    detected = detect_format(path)
    chosen = fmt or detected
    _check_claim(path, chosen, detected)
    cols = columns or ColumnMap()
    if chosen == "fastchat":
        frame, src = _read_fastchat(path, max_decompressed)
        return _battles(frame, src, cols, outcome_map, style)
    if chosen == "parquet":
        data = _read_bytes(path, max_decompressed=max_decompressed)
        table = _parquet_table(data, path, cols, style)
        plain = _plain_battles(table, cols, outcome_map, style)
        if plain is not None:
            return plain
        return _battles(
            _arrow_frame(table, path), _Source(str(path), _TABLE_ROWS), cols, outcome_map, style
        )
    frame = _read_csv(path, max_decompressed)
    src = _Source(str(path), _CSV_ROWS)
    if chosen == "paircounts":
        return _pair_count_battles(frame, src, cols)
    return _battles(frame, src, cols, outcome_map, style)


@dataclass(frozen=True)
class RawTable:
    """A battle file's rows as read, before any conversion or check (see :func:`read_table`).

    Attributes
    ----------
    frame:
        One record per row (pair-count files: ``wins_a``/``wins_b`` instead of ``winner``).
    format:
        The format the file was read as (one of :data:`FORMATS`).
    rows:
        How :meth:`row_number` numbers rows, for messages.
    line_numbers:
        JSON Lines: the file line of each record (blank lines are skipped), else None.
    """

    frame: pd.DataFrame
    format: str
    rows: str
    line_numbers: tuple[int, ...] | None = None

    def row_number(self, index: int) -> int:
        """The number a user finds 0-based record ``index`` under (line or row from 1)."""
        return index + 1 if self.line_numbers is None else self.line_numbers[index]


def read_table(path: str | Path, fmt: str | None = None) -> RawTable:
    """Read one battle file's rows without converting them, for callers that check rows.

    ``arena db import`` uses it to skip bad rows with a reason instead of refusing the
    file; :func:`from_frame` then converts what is left. Formats and ``fmt`` are as for
    :func:`read_battles`; an unreadable file raises :class:`BattleFileError`.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown battle file format {fmt!r}; expected one of {', '.join(FORMATS)}")
    detected = detect_format(path)
    chosen = fmt or detected
    _check_claim(path, chosen, detected)
    if chosen == "fastchat":
        frame, src = _read_fastchat(path)
        return RawTable(frame, chosen, src.rows, src.line_numbers)
    if chosen == "parquet":
        return RawTable(_read_parquet(path, ColumnMap()), chosen, _TABLE_ROWS)
    frame = _read_csv(path)
    if _is_pair_counts(frame, "winner"):
        chosen = "paircounts"
    return RawTable(frame, chosen, _CSV_ROWS)


def read_battles(
    paths: Sequence[str | Path] | str | Path,
    *,
    fmt: str | None = None,
    columns: ColumnMap | None = None,
    outcome_map: Mapping[str, str] | None = None,
    style: bool = True,
    max_decompressed: int | None = None,
) -> Battles:
    """Read one or more battle files into one :class:`Battles` table.

    Parameters
    ----------
    paths:
        Files to read, concatenated in order. Each may be gzip-compressed.
    fmt:
        One of :data:`FORMATS`; None detects each file's format from its content
        (:func:`detect_format`). An explicit format overrides detection, but a file whose
        content is plainly another format (e.g. CSV read as Parquet) is an error.
    columns, outcome_map:
        As for :func:`from_frame`.
    style:
        Read or compute the answers' style features (for style control). False skips them,
        which saves most of the reading time of files that carry answers or feature
        columns when the fit does not use them.
    max_decompressed:
        Largest size in bytes a gzip-compressed file may decompress to (default
        :data:`MAX_DECOMPRESSED_BYTES`, 2 GiB), so a small "gzip bomb" cannot exhaust
        memory.

    Raises
    ------
    BattleFileError
        For any unreadable or invalid file (names the file, row or column, expectation),
        including JSON nested deeper than the interpreter's recursion limit, numbers with
        more digits than Python converts, and counts above :data:`MAX_COUNT`.
    UserError
        For an unknown ``fmt`` or an invalid ``outcome_map``.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise UserError("no battle files given")
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown battle file format {fmt!r}; expected one of {', '.join(FORMATS)}")
    _check_outcome_map(outcome_map)
    if max_decompressed is not None and max_decompressed < 1:
        raise UserError(
            f"max_decompressed must be a positive number of bytes, got {max_decompressed}"
        )
    return Battles.concat(
        [_read_guarded(Path(p), fmt, columns, outcome_map, style, max_decompressed) for p in paths]
    )


def _read_guarded(
    path: Path,
    fmt: str | None,
    columns: ColumnMap | None,
    outcome_map: Mapping[str, str] | None,
    style: bool,
    max_decompressed: int | None,
) -> Battles:
    """:func:`_read_one`, with the interpreter's own limits turned into one-line errors.

    A hostile file can be nested so deep that some step after parsing recurses too far,
    or be too big for memory; both name the file instead of ending in a traceback.
    """
    try:
        return _read_one(path, fmt, columns, outcome_map, style, max_decompressed)
    except RecursionError:
        raise BattleFileError(
            str(path), "is nested too deeply to read (lists or objects inside each other)"
        ) from None
    except MemoryError:
        raise BattleFileError(str(path), "is too large to read into memory") from None


def input_fingerprint(path: str | Path) -> dict[str, str]:
    """``{"path", "sha256"}`` of a file's bytes as stored (hashed in 1 MiB chunks).

    Recorded with results so a leaderboard can be traced to the exact input files.
    """
    try:
        sha256 = file_sha256(path)
    except FileNotFoundError:
        raise BattleFileError(str(path), "file not found") from None
    except OSError as exc:
        raise BattleFileError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    return {"path": str(path), "sha256": sha256}
