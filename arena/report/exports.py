"""Export a :class:`~arena.records.Leaderboard` as CSV, JSON, Markdown, LaTeX or Parquet.

Every export carries the leaderboard's provenance (:meth:`Leaderboard.metadata`: method,
parameters, data size, data hash, input file hashes, arena version) so that a file found
on its own still says how it was made, and :func:`read_leaderboard_metadata` reads that
provenance back from any of the formats.

Files are written atomically (a temporary file in the target directory, then
:func:`os.replace`: :func:`arena.io.write_atomic`), so a failed export never leaves a
half-written file behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from arena.errors import UserError
from arena.io import latex_escape, write_atomic  # re-exported: part of this module's API
from arena.records import Leaderboard
from arena.tables import (
    FILE_SUFFIXES,
    check_format,
    format_from_suffix,
    latex_tabular,
    markdown_table,
    md_escape,
    md_row,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSV_METADATA_COLUMNS",
    "CSV_METADATA_PREFIX",
    "EXPORT_FORMATS",
    "MATRIX_FORMATS",
    "PARQUET_METADATA_KEY",
    "PARQUET_STYLE_KEY",
    "TEXT_FORMATS",
    "ci_label",
    "format_from_path",
    "latex_escape",
    "read_leaderboard_csv",
    "read_leaderboard_metadata",
    "render_bytes",
    "render_leaderboard",
    "render_matrix",
    "write_atomic",
    "write_leaderboard",
]

#: Every format :func:`write_leaderboard` understands.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "json", "md", "latex", "parquet")

#: Formats that :func:`render_leaderboard` can produce as a string (and print to stdout).
TEXT_FORMATS: tuple[str, ...] = ("csv", "json", "md", "latex")

#: Provenance fields of the CSV export's header line, in this order (files written before
#: the header line carried them as constant trailing columns, which are still read).
#: ``params``, ``inputs``, ``extras`` and ``warnings`` hold compact JSON there.
CSV_METADATA_COLUMNS: tuple[str, ...] = (
    "method",
    "n_battles",
    "n_models",
    "data_sha256",
    "params",
    "inputs",
    "extras",
    "warnings",
    "arena_version",
)

#: Parquet schema-metadata key holding the leaderboard metadata as JSON.
PARQUET_METADATA_KEY: bytes = b"arena"

#: Parquet schema-metadata key holding the style coefficients as JSON records (if any).
PARQUET_STYLE_KEY: bytes = b"arena_style_coefficients"

#: Metadata fields stored as JSON text (in CSV cells and LaTeX comments).
_JSON_FIELDS: frozenset[str] = frozenset({"params", "inputs", "extras", "warnings"})

#: The first line of a CSV export: this prefix, then the metadata as one JSON object.
CSV_METADATA_PREFIX = "# arena-metadata: "

_MD_METADATA_RE = re.compile(r"<!-- arena-metadata: (\{.*?\}) -->")
_LATEX_COMMENT_RE = re.compile(r"^% ([a-z_0-9]+): (.*)$")


# ---------------------------------------------------------------------------- formats
def format_from_path(path: str | os.PathLike[str]) -> str | None:
    """Return the export format implied by a file name's suffix, or None if none is.

    The suffix is matched case-insensitively: ``.csv``, ``.json``, ``.md``/``.markdown``,
    ``.tex``/``.latex``, ``.parquet``/``.pq``. Lets the CLI infer ``--format`` from
    ``--output``.
    """
    return format_from_suffix(path, EXPORT_FORMATS)


def _check_format(fmt: str) -> str:
    """Normalise ``fmt`` to lower case; raise a :class:`UserError` naming the valid ones."""
    return check_format(fmt, EXPORT_FORMATS, "export")


# ---------------------------------------------------------------------------- values
def _jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types: NaN/inf/NA become None, numpy scalars Python.

    Strict JSON has no NaN, so missing intervals and undefined values must be null.
    """
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    pd = sys.modules.get("pandas")  # a pandas value can only exist once pandas is loaded
    if pd is not None and isinstance(value, pd.Timestamp):
        return value.isoformat()
    if pd is not None and pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return str(value)


def _dumps_compact(value: Any, *, ascii_only: bool = False) -> str:
    """Dump ``value`` as one line of strict JSON (no spaces) after :func:`_jsonable`."""
    return json.dumps(
        _jsonable(value), separators=(",", ":"), allow_nan=False, ensure_ascii=ascii_only
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of ``frame`` as JSON-ready dicts (column order kept, NaN as None)."""
    return [
        {str(col): _jsonable(val) for col, val in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _is_missing(value: Any) -> bool:
    """Tell whether a table cell holds no value (None, NaN, NA)."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(math.isnan(value))
    pd = sys.modules.get("pandas")  # pandas' NA/NaT exist only once pandas is loaded
    return pd is not None and bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _fmt_int(value: Any) -> str:
    """Format an integer cell, empty when missing."""
    return "" if _is_missing(value) else str(int(value))


def _fmt_signed_int(value: Any) -> str:
    """Format a rank change as ``+2``/``-1``/``0``, empty when missing."""
    if _is_missing(value):
        return ""
    change = int(value)
    return f"{change:+d}" if change else "0"


def _fmt_float(value: Any, digits: int = 2) -> str:
    """Format a float cell rounded to ``digits`` decimals, empty when missing."""
    return "" if _is_missing(value) else f"{float(value):.{digits}f}"


def _ci_offsets(rating: Any, lower: Any, upper: Any) -> tuple[float, float] | None:
    """Return ``(upper - rating, rating - lower)``, or None when the row has no interval."""
    if _is_missing(rating) or _is_missing(lower) or _is_missing(upper):
        return None
    return float(upper) - float(rating), float(rating) - float(lower)


def ci_label(params: Mapping[str, Any]) -> str:
    """Label the interval column ``95% CI``, or with the level in ``params["level"]``.

    Accepts a level as a fraction (0.9) or a percentage (90). The plots label their
    interval bars with it too.
    """
    level = params.get("level", 0.95)
    try:
        pct = float(level)
    except (TypeError, ValueError):
        return "95% CI"
    if not math.isfinite(pct) or pct <= 0:
        return "95% CI"
    if pct <= 1:
        pct *= 100
    return f"{round(pct, 6):g}% CI"


def _sorted_table(lb: Leaderboard) -> pd.DataFrame:
    """Sort the leaderboard table by rating, best first (stable, so ties keep order)."""
    return lb.table.sort_values("rating", ascending=False, kind="stable", na_position="last")


def _has_interval(table: pd.DataFrame) -> bool:
    """Tell whether at least one row has a confidence interval."""
    return bool((table["ci_lower"].notna() & table["ci_upper"].notna()).any())


# ---------------------------------------------------------------------------- CSV
def _render_csv(lb: Leaderboard) -> str:
    """Render the table as CSV after one header line holding the provenance once.

    The first line is ``# arena-metadata: {...}`` (:data:`CSV_METADATA_PREFIX`, then the
    metadata as compact JSON), written once instead of on every row (it holds the input
    hashes and every parameter, often longer than the table). ``pandas.read_csv(path,
    skiprows=1)`` or :func:`read_leaderboard_csv` give the table back; ratings keep full
    float precision. (``comment="#"`` is no substitute: it would cut a model name at a
    ``#``.)

    The rows are written from the table's columns with the :mod:`csv` module, cell for
    cell as ``DataFrame.to_csv`` writes them (shortest round-trip floats, empty cells for
    missing values, minimal quoting), so a leaderboard written as CSV needs no pandas.
    """
    names = list(lb.column_names)
    columns = [lb.column(name) for name in names]
    order = _rating_order(lb)
    out = io.StringIO()
    out.write(CSV_METADATA_PREFIX + _dumps_compact(_jsonable(lb.metadata())) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    cells = [_csv_cells(values[order]) for values in columns]
    writer.writerows(zip(*cells, strict=True))
    return out.getvalue()


def _rating_order(lb: Leaderboard) -> np.ndarray:
    """Row order best first (stable: equal ratings keep their order; missing ones last)."""
    rating = np.asarray(lb.column("rating"), dtype=np.float64)
    return np.argsort(-rating, kind="stable")


def _csv_cells(values: np.ndarray) -> list[str]:
    """One column's CSV cells, as pandas writes them."""
    if values.dtype.kind == "f":
        text = values.astype(str)  # numpy's shortest round-trip repr, as pandas uses
        return ["" if v != v else t for v, t in zip(values.tolist(), text.tolist(), strict=True)]
    if values.dtype.kind in "iub":
        return [str(v) for v in values.tolist()]
    return ["" if _is_missing(v) else str(v) for v in values.tolist()]


def read_leaderboard_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The table of a CSV export, with or without its ``# arena-metadata`` header line.

    Reads the exports of every arena version (older ones carried the provenance as
    trailing columns, which are dropped here) and plain CSV tables alike.
    """
    import pandas as pd

    file = Path(path)
    with file.open(encoding="utf-8") as handle:
        first = handle.readline()
    skip = 1 if first.startswith(CSV_METADATA_PREFIX) else 0
    frame = pd.read_csv(file, skiprows=skip, keep_default_na=False, na_values=[""])
    if skip == 0 and set(CSV_METADATA_COLUMNS) <= set(frame.columns):
        frame = frame.drop(columns=list(CSV_METADATA_COLUMNS))
    return frame


def _read_csv_metadata(path: Path) -> dict[str, Any]:
    """Read the provenance from a CSV export's header line (or an older file's first row)."""
    with path.open(newline="", encoding="utf-8") as handle:
        first = handle.readline()
        if first.startswith(CSV_METADATA_PREFIX):
            try:
                meta = json.loads(first[len(CSV_METADATA_PREFIX) :])
            except ValueError as exc:
                raise UserError(f"{path}: malformed arena metadata line ({exc})") from None
            if not isinstance(meta, dict):
                raise UserError(f"{path}: the arena metadata line is not a JSON object")
            return meta
        handle.seek(0)
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_METADATA_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path}: not an arena leaderboard CSV (missing columns {missing})")
        row = next(reader, None)
    if row is None:
        raise UserError(f"{path}: the leaderboard CSV has no rows, so no metadata")
    return _metadata_from_fields(path, row)


def _metadata_from_fields(path: Path, fields: Mapping[str, str]) -> dict[str, Any]:
    """Rebuild :meth:`Leaderboard.metadata` from per-field text (CSV cells, LaTeX comments)."""
    meta: dict[str, Any] = {}
    try:
        meta["arena_version"] = fields["arena_version"]
        meta["method"] = fields["method"]
        meta["params"] = json.loads(fields["params"])
        meta["n_battles"] = int(fields["n_battles"])
        meta["n_models"] = int(fields["n_models"])
        meta["data_sha256"] = fields["data_sha256"]
        meta["inputs"] = json.loads(fields["inputs"])
        meta["extras"] = json.loads(fields["extras"])
        meta["warnings"] = json.loads(fields["warnings"])
    except KeyError as exc:
        raise UserError(f"{path}: arena metadata lacks the field {exc.args[0]!r}") from None
    except ValueError as exc:
        raise UserError(f"{path}: malformed arena metadata ({exc})") from None
    return meta


# ---------------------------------------------------------------------------- JSON
def _render_json(lb: Leaderboard) -> str:
    """Render ``{"metadata", "leaderboard", "style_coefficients"}`` as strict JSON.

    NaN (e.g. a missing interval) is written as null so any JSON parser accepts it.
    """
    document = {
        "metadata": _jsonable(lb.metadata()),
        "leaderboard": _records(_sorted_table(lb)),
        "style_coefficients": (
            None if lb.style_coefficients is None else _records(lb.style_coefficients)
        ),
    }
    return json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _read_json_metadata(path: Path) -> dict[str, Any]:
    """Read the ``metadata`` object of a JSON export."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
        raise UserError(f"{path}: not an arena leaderboard JSON (no 'metadata' object)")
    meta: dict[str, Any] = document["metadata"]
    return meta


# ---------------------------------------------------------------------------- Markdown
def _md_code(text: str) -> str:
    """Wrap ``text`` in an inline code span, fenced with more backticks than it contains."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_metadata_comment(meta: Mapping[str, Any]) -> str:
    """Embed machine-readable provenance in an HTML comment (invisible once rendered).

    ``<`` and ``>`` are JSON-escaped so the payload can never close the comment early.
    """
    payload = _dumps_compact(meta).replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<!-- arena-metadata: {payload} -->"


def _md_table(table: pd.DataFrame, level_label: str) -> list[str]:
    """Render the leaderboard as GitHub-table lines."""
    with_ci = _has_interval(table)
    with_change = "rank_change" in table.columns
    header = ["Rank (UB)", "Model", "Rating"]
    align = ["---:", ":---", "---:"]
    if with_ci:
        header.append(level_label)
        align.append(":---:")
    header.append("Battles")
    align.append("---:")
    if with_change:
        header.append("Rank change")
        align.append("---:")
    lines = [md_row(header), md_row(align)]
    for row in table.to_dict("records"):
        cells = [_fmt_int(row["rank_ub"]), md_escape(str(row["model"])), _fmt_float(row["rating"])]
        if with_ci:
            offsets = _ci_offsets(row["rating"], row["ci_lower"], row["ci_upper"])
            text = "—" if offsets is None else f"+{offsets[0]:.2f} / -{offsets[1]:.2f}"
            flag = row.get("ci_flag")
            cells.append(f"{text} ({md_escape(flag)})" if isinstance(flag, str) and flag else text)
        cells.append(_fmt_int(row["battles"]))
        if with_change:
            cells.append(_fmt_signed_int(row["rank_change"]))
        lines.append(md_row(cells))
    return lines


def _md_style_table(coefs: pd.DataFrame) -> list[str]:
    """Render the style-control coefficients as GitHub-table lines."""
    lines = [
        md_row(["Feature", "Coefficient", "CI lower", "CI upper"]),
        md_row([":---", "---:", "---:", "---:"]),
    ]
    for row in coefs.to_dict("records"):
        lines.append(
            md_row(
                [
                    md_escape(str(row["feature"])),
                    _fmt_float(row["coefficient"], 4),
                    _fmt_float(row.get("ci_lower"), 4),
                    _fmt_float(row.get("ci_upper"), 4),
                ]
            )
        )
    return lines


def _render_markdown(lb: Leaderboard) -> str:
    """Render a GitHub Markdown report: table, provenance and style coefficients.

    Ratings and interval half-widths are rounded to two decimals for reading; the exact
    metadata is kept in an HTML comment so :func:`read_leaderboard_metadata` recovers it.
    """
    meta = lb.metadata()
    lines = _md_table(_sorted_table(lb), ci_label(lb.params))
    lines += [
        "",
        "**Provenance**",
        "",
        f"- Method: {_md_code(lb.method)}",
        f"- Parameters: {_md_code(_dumps_compact(lb.params))}",
        f"- Battles: {lb.n_battles:,}",
        f"- Models: {lb.n_models:,}",
        f"- Data SHA-256: {_md_code(lb.data_sha256)}",
    ]
    for item in lb.inputs:
        lines.append(
            f"- Input: {_md_code(str(item.get('path', '')))} "
            f"(SHA-256 {_md_code(str(item.get('sha256', '')))})"
        )
    if lb.extras:
        lines.append(f"- Extras: {_md_code(_dumps_compact(lb.extras))}")
    lines.append(f"- arena version: {_md_code(str(meta['arena_version']))}")
    for warning in lb.warnings:
        lines.append(f"- Warning: {md_escape(warning)}")
    if lb.style_coefficients is not None:
        lines += ["", "**Style coefficients**", "", *_md_style_table(lb.style_coefficients)]
    lines += ["", _md_metadata_comment(meta)]
    return "\n".join(lines) + "\n"


def _read_markdown_metadata(path: Path) -> dict[str, Any]:
    """Read the provenance from the ``arena-metadata`` comment of a Markdown export."""
    found = _MD_METADATA_RE.findall(path.read_text(encoding="utf-8"))
    if not found:
        raise UserError(f"{path}: no arena metadata comment found in this Markdown file")
    try:
        meta: dict[str, Any] = json.loads(found[-1])  # the last one: ours closes the file
    except ValueError as exc:
        raise UserError(f"{path}: malformed arena metadata ({exc})") from None
    return meta


# ---------------------------------------------------------------------------- LaTeX
# (cells are escaped with arena.io.latex_escape)


def _latex_comments(meta: Mapping[str, Any]) -> list[str]:
    """Write the provenance as ``% key: <json>`` lines, readable and parsed back exactly."""
    lines = [f"% arena leaderboard export (arena {meta['arena_version']})"]
    for key, value in meta.items():
        lines.append(f"% {key}: {_dumps_compact(value, ascii_only=True)}")
    return lines


def _render_latex(lb: Leaderboard) -> str:
    r"""Render a booktabs ``tabular`` after ``%`` comment lines holding the metadata.

    Needs ``\usepackage{booktabs}``. Intervals are written as ``$^{+x}_{-y}$`` around the
    rating, rounded to two decimals like the rating.
    """
    table = _sorted_table(lb)
    with_ci = _has_interval(table)
    with_change = "rank_change" in table.columns
    header = ["Rank (UB)", "Model", "Rating"]
    align = "rlr"
    if with_ci:
        header.append(latex_escape(ci_label(lb.params)))
        align += "c"
    header.append("Battles")
    align += "r"
    if with_change:
        header.append("Rank change")
        align += "r"
    rows: list[list[str]] = []
    for row in table.to_dict("records"):
        cells = [
            _fmt_int(row["rank_ub"]),
            latex_escape(str(row["model"])),
            _fmt_float(row["rating"]),
        ]
        if with_ci:
            offsets = _ci_offsets(row["rating"], row["ci_lower"], row["ci_upper"])
            text = "--" if offsets is None else f"$^{{+{offsets[0]:.2f}}}_{{-{offsets[1]:.2f}}}$"
            flag = row.get("ci_flag")
            if isinstance(flag, str) and flag:
                text += f" ({latex_escape(flag)})"  # the data cannot bound this rating
            cells.append(text)
        cells.append(_fmt_int(row["battles"]))
        if with_change:
            cells.append(_fmt_signed_int(row["rank_change"]).replace("-", "$-$"))
        rows.append(cells)
    lines = [*_latex_comments(lb.metadata()), *latex_tabular(header, rows, align, escape=False)]
    if lb.style_coefficients is not None:
        style_rows = [
            [
                latex_escape(str(r["feature"])),
                _fmt_float(r["coefficient"], 4),
                _fmt_float(r.get("ci_lower"), 4),
                _fmt_float(r.get("ci_upper"), 4),
            ]
            for r in lb.style_coefficients.to_dict("records")
        ]
        lines += [
            "",
            "% style coefficients",
            *latex_tabular(
                ["Feature", "Coefficient", "CI lower", "CI upper"], style_rows, "lrrr", escape=False
            ),
        ]
    return "\n".join(lines) + "\n"


def _read_latex_metadata(path: Path) -> dict[str, Any]:
    """Read the provenance from the leading ``% key: <json>`` comments of a LaTeX export."""
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("%"):
            break
        match = _LATEX_COMMENT_RE.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
    if not fields:
        raise UserError(f"{path}: no arena metadata comments found at the top of this LaTeX file")
    try:
        text_fields = {k: v if k in _JSON_FIELDS else str(json.loads(v)) for k, v in fields.items()}
    except ValueError as exc:
        raise UserError(f"{path}: malformed arena metadata ({exc})") from None
    return _metadata_from_fields(path, text_fields)


# ---------------------------------------------------------------------------- Parquet
def _parquet_bytes(lb: Leaderboard) -> bytes:
    """Encode the table as Parquet, metadata JSON under :data:`PARQUET_METADATA_KEY`.

    Style coefficients, when present, go under :data:`PARQUET_STYLE_KEY` as JSON records.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(_sorted_table(lb), preserve_index=False)
    schema_meta = dict(arrow.schema.metadata or {})
    schema_meta[PARQUET_METADATA_KEY] = _dumps_compact(lb.metadata()).encode()
    if lb.style_coefficients is not None:
        schema_meta[PARQUET_STYLE_KEY] = _dumps_compact(_records(lb.style_coefficients)).encode()
    arrow = arrow.replace_schema_metadata(schema_meta)
    sink = pa.BufferOutputStream()
    pq.write_table(arrow, sink)
    return bytes(sink.getvalue().to_pybytes())


def _read_parquet_metadata(path: Path) -> dict[str, Any]:
    """Read the ``arena`` schema-metadata JSON of a Parquet export."""
    import pyarrow.parquet as pq

    try:
        schema_meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from None
    if PARQUET_METADATA_KEY not in schema_meta:
        raise UserError(f"{path}: this Parquet file carries no arena metadata")
    meta: dict[str, Any] = json.loads(schema_meta[PARQUET_METADATA_KEY])
    return meta


# ---------------------------------------------------------------------------- public API
_TEXT_RENDERERS: dict[str, Callable[[Leaderboard], str]] = {
    "csv": _render_csv,
    "json": _render_json,
    "md": _render_markdown,
    "latex": _render_latex,
}

_METADATA_READERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "csv": _read_csv_metadata,
    "json": _read_json_metadata,
    "md": _read_markdown_metadata,
    "latex": _read_latex_metadata,
    "parquet": _read_parquet_metadata,
}


def render_leaderboard(lb: Leaderboard, fmt: str) -> str:
    """Render the leaderboard in a text format (``csv``, ``json``, ``md`` or ``latex``).

    Raises
    ------
    UserError
        For an unknown format, or ``parquet`` (binary: it needs a file, see
        :func:`write_leaderboard`).
    """
    norm = _check_format(fmt)
    if norm not in _TEXT_RENDERERS:
        raise UserError(f"'{fmt}' is a binary format and cannot be printed; give an output file")
    return _TEXT_RENDERERS[norm](lb)


def write_leaderboard(lb: Leaderboard, path: Path | None, fmt: str) -> None:
    """Export ``lb`` in format ``fmt`` to ``path`` (atomically), or to stdout when None.

    Raises
    ------
    UserError
        For an unknown format, Parquet without a path, a missing directory or an
        unwritable file.
    """
    norm = _check_format(fmt)
    if norm == "parquet" and path is None:
        raise UserError("parquet output needs a file path (it cannot go to stdout)")
    if path is None:
        sys.stdout.write(render_leaderboard(lb, norm))
        sys.stdout.flush()
        return
    write_atomic(Path(path), render_bytes(lb, norm))


def read_leaderboard_metadata(
    path: str | os.PathLike[str], fmt: str | None = None
) -> dict[str, Any]:
    """Read back the metadata embedded in an export written by :func:`write_leaderboard`.

    ``fmt`` defaults to the one implied by the file's suffix. The result equals
    ``lb.metadata()`` of the exported leaderboard (up to NaN, stored as None).

    Raises
    ------
    UserError
        If the format is unknown, the file is missing, or it carries no arena metadata.
    """
    file = Path(path)
    norm = fmt if fmt is not None else format_from_path(file)
    if norm is None:
        raise UserError(
            f"cannot tell the format of {file} from its suffix; expected one of "
            f"{', '.join(sorted(k for k, f in FILE_SUFFIXES.items() if f in EXPORT_FORMATS))}"
        )
    norm = _check_format(norm)
    if not file.is_file():
        raise UserError(f"{file}: no such file")
    try:
        return _METADATA_READERS[norm](file)
    except UnicodeDecodeError:
        raise UserError(f"{file}: not a UTF-8 text file") from None


def render_bytes(lb: Leaderboard, fmt: str) -> bytes:
    """Return the export's exact file content (UTF-8 text, or Parquet bytes).

    For callers that serve an export without touching the file system (e.g. a download).
    """
    norm = _check_format(fmt)
    return _parquet_bytes(lb) if norm == "parquet" else render_leaderboard(lb, norm).encode()


#: Formats :func:`render_matrix` produces.
MATRIX_FORMATS: tuple[str, ...] = ("csv", "json", "md")


def render_matrix(matrix: pd.DataFrame, fmt: str, *, digits: int = 4) -> str:
    """Render a pairwise matrix (rows vs columns, labelled by model) as CSV, JSON or Markdown.

    JSON is ``{row model: {column model: value or null}}``; Markdown rounds to ``digits``.
    """
    if fmt == "csv":
        return str(matrix.to_csv())
    if fmt == "json":
        doc = {
            str(row): {str(col): _jsonable(v) for col, v in values.items()}
            for row, values in matrix.to_dict(orient="index").items()
        }
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt == "md":
        rows = [
            [str(idx)] + [_fmt_float(v, digits) for v in row]
            for idx, row in zip(matrix.index, matrix.to_numpy(), strict=True)
        ]
        header = ["", *(str(c) for c in matrix.columns)]
        return "\n".join(markdown_table(header, rows, "l" + "r" * len(matrix.columns))) + "\n"
    raise UserError(f"matrices are exported as {', '.join(MATRIX_FORMATS)}, not '{fmt}'")
