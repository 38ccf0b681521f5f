"""Battle files: formats and their detection, size limits, readers, the public entry points.

Format detection by content (not only the suffix), the gzip-bomb guard, the CSV, Parquet
and JSON / JSON Lines readers, the pandas-free path for a plain Parquet file, and
:func:`read_battles`, :func:`read_table` and :func:`input_fingerprint`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arena.battles.style import STYLE_FEATURES
from arena.battles.table import Battles
from arena.errors import BattleFileError, UserError
from arena.io import JsonlLineError, file_sha256, iter_jsonl
from arena.outcomes import PAIR_COUNT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
from arena.battles.readers.columns import (
    _CSV_ROWS,
    _JSON_ROWS,
    _JSONL_ROWS,
    _TABLE_ROWS,
    ColumnMap,
    _canonical_outcome,
    _check_outcome_map,
    _dictionary_codes,
    _json_limit,
    _numpy_view,
    _one_line,
    _show,
    _side_codes,
    _Source,
)
from arena.battles.readers.frames import _battles, _is_pair_counts, _pair_count_battles

#: File formats :func:`read_battles` understands.
FORMATS: tuple[str, ...] = ("fastchat", "paircounts", "csv", "parquet")
#: Default cap on what one gzip-compressed file may decompress to (a gzip bomb of a few
#: megabytes can expand to terabytes); :func:`read_battles` takes ``max_decompressed``
#: and the CLI ``--max-decompressed SIZE`` to raise it for a genuine larger file.
MAX_DECOMPRESSED_BYTES = 2 << 30
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_HEAD_BYTES = 1 << 16


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
            f"line is {exc.problem}; expected one JSON object per line (JSON Lines; {_JSONL_ROWS})",
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


def _read_fastchat(path: Path, max_decompressed: int | None = None) -> tuple[pd.DataFrame, _Source]:
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
