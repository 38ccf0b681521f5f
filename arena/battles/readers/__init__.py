"""Read battle files (FastChat/LMArena JSON, pair counts, CSV, Parquet) into :class:`Battles`.

Everything that can go wrong with a user's file raises :class:`BattleFileError`, whose
message names the file, the row or column, and what was expected, so the command line
can print it as one line. The required columns (``model_a``, ``model_b``, ``winner``)
are converted with vectorised factorisation only, never a Python loop over rows, so a
few million battles load in a fraction of a second; optional metadata and style
extraction from answer texts may loop.

The package is split by job:

- :mod:`~arena.battles.readers.files`: formats and their detection, size limits (gzip
  bombs), the CSV / Parquet / JSON readers and the entry points below;
- :mod:`~arena.battles.readers.frames`: a DataFrame (or pair-count table) to battles;
- :mod:`~arena.battles.readers.columns`: the column map and the converters and checks of
  each column (factorised model names and outcomes, counts, weights, times, flags, tags);
- :mod:`~arena.battles.readers.conversations`: the conversations and the style features.
"""

from arena.battles.readers.columns import MAX_COUNT, ColumnMap
from arena.battles.readers.files import (
    FORMATS,
    MAX_DECOMPRESSED_BYTES,
    RawTable,
    detect_format,
    format_size,
    input_fingerprint,
    parse_size,
    read_battles,
    read_table,
)
from arena.battles.readers.frames import from_frame

__all__ = [
    "FORMATS",
    "MAX_COUNT",
    "MAX_DECOMPRESSED_BYTES",
    "ColumnMap",
    "RawTable",
    "detect_format",
    "format_size",
    "from_frame",
    "input_fingerprint",
    "parse_size",
    "read_battles",
    "read_table",
]
