"""Column converters: the column map, error context, and each column's conversion and checks.

The required columns (``model_a``, ``model_b``, ``winner``) are converted with vectorised
factorisation only, never a Python loop over rows, so a few million battles load in a
fraction of a second; the optional ones (counts, weights, timestamps, flags, tags) are
checked cell by cell where they must be. Every bad cell raises
:class:`~arena.errors.BattleFileError` naming the file, the row and what was expected.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.errors import BattleFileError, UserError
from arena.outcomes import WINNER_CODES, WINNER_LABELS, Outcome

if TYPE_CHECKING:
    import pandas as pd

#: Outcome spellings accepted in a ``winner`` column (after stripping and lower-casing).
_OUTCOME_LABELS: dict[str, Outcome] = WINNER_CODES  # FastChat's older spelling too
_ALLOWED_OUTCOMES = ", ".join(repr(label) for label in WINNER_LABELS)
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
#: Largest count a row may carry: no arena has a trillion votes, and much larger numbers
#: lose precision as floats and overflow 64-bit sums (1e308 would wrap to a negative).
MAX_COUNT = 10**12
#: From this many rows on, the required columns are factorised on parallel threads.
_PARALLEL_ROWS = 100_000


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


def _json_limit(exc: BaseException) -> str:
    """Say which of JSON's safety limits a document hit (nesting depth or digit count)."""
    if isinstance(exc, RecursionError):
        return f"nested more than about {sys.getrecursionlimit()} levels deep"
    return _one_line(exc)  # e.g. "Exceeds the limit (4300 digits) for integer string ..."


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """Column ``name`` when present (first one if duplicated), else None."""
    import pandas as pd

    if name not in frame.columns:
        return None
    column = frame[name]
    return column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column


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
            f"count {_show(values.iloc[bad])} is not a whole number >= 0 (at most {MAX_COUNT:,})",
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
            f"weight {_show(values.iloc[bad])} is not a finite number >= 0 (at most {MAX_COUNT:,})",
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
